// The second suite (RRNATIVE_HF_PYTHON, see modelcard.test.ts): folders rrnative saves for ModernBERT, Qwen3 and
// Qwen2 load in transformers unchanged — the class config.json names, no missing or unexpected tensors — and give
// rrnative's logits; the Qwen3ForCausalLM one gives logit(yes) - logit(no) at the last position, as
// Qwen3-Reranker's recipe reads it. One of them is trained by rrtrain first, so the weights are rrnative's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as rr from '../../src/index';
import { parseConfig } from '../../src/config/load';
import { train } from '../../src/train/trainer';
import { bertMiniDir, column, fixturesDir, loadFixture, maxAbsDiff, tempDir } from '../helpers';

const python = process.env.RRNATIVE_HF_PYTHON;
const skip = python ? false : 'RRNATIVE_HF_PYTHON is not set (bash ../shared/peers/setup-hf-peers.sh makes the venv and prints its python)';

interface PubFixture {
  inputs: { input_ids: number[][]; attention_mask: number[][] };
  yes_token_id?: number;
  no_token_id?: number;
}

// transformers' logits for `ids` on the folder: the score head's, or yes - no at the last position.
function transformersLogits(dir: string, ids: number[][], mask: number[][], yesNo?: [number, number]): { logits: number[]; architecture: string; missing: string[]; unexpected: string[] } {
  const script = `
import json, sys, torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification
dir, ids, mask, yes_no = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
arch = AutoConfig.from_pretrained(dir).architectures[0]
cls = AutoModelForCausalLM if arch.endswith('ForCausalLM') else AutoModelForSequenceClassification
model, info = cls.from_pretrained(dir, attn_implementation='eager', output_loading_info=True)
model.eval()
with torch.no_grad():
    out = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).logits
logits = (out[:, -1, yes_no[0]] - out[:, -1, yes_no[1]]) if yes_no else out[:, 0]
print(json.dumps({'logits': logits.tolist(), 'architecture': type(model).__name__, 'missing': sorted(info['missing_keys']), 'unexpected': sorted(info['unexpected_keys'])}))
`;
  const run = spawnSync(python!, ['-c', script, dir, JSON.stringify(ids), JSON.stringify(mask), JSON.stringify(yesNo ?? null)], {
    encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_VERBOSITY: 'error' }, timeout: 300_000,
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!);
}

const folders = [
  { dir: 'modernbert-pub', architecture: 'ModernBertForSequenceClassification' },
  { dir: 'qwen3-seqcls-pub', architecture: 'Qwen3ForSequenceClassification' },
  { dir: 'qwen2-seqcls-pub', architecture: 'Qwen2ForSequenceClassification' },
  { dir: 'qwen3-causallm-pub', architecture: 'Qwen3ForCausalLM' },
];

for (const folder of folders) {
  test(`${folder.dir}: the folder rrnative saves loads in transformers as ${folder.architecture} and gives rrnative's logits`, { skip }, async () => {
    const source = path.join(fixturesDir, folder.dir);
    const f = loadFixture<PubFixture>(source);
    const yesNo: [number, number] | undefined = f.yes_token_id === undefined ? undefined : [f.yes_token_id, f.no_token_id!];
    const model = await rr.load(source, yesNo ? { answerTokens: { yes: yesNo[0], no: yesNo[1] } } : {});
    const out = tempDir();
    await model.save(out);
    const ours = column(await model.scoreTokens({ inputIds: f.inputs.input_ids, attentionMask: f.inputs.attention_mask }));
    model.dispose();
    const theirs = transformersLogits(out, f.inputs.input_ids, f.inputs.attention_mask, yesNo);
    assert.equal(theirs.architecture, folder.architecture);
    assert.deepEqual(theirs.missing, [], 'transformers initialised no tensor afresh');
    assert.deepEqual(theirs.unexpected, [], 'and found none it did not know');
    const diff = maxAbsDiff(ours, theirs.logits);
    console.log(`# ${folder.dir}: rrnative's saved folder in transformers, max |diff| ${diff.toExponential(2)}`);
    assert.ok(diff < 1e-5, `max |diff| ${diff}`);
  });
}

test('qwen3-reranker-tiny trained by rrtrain: transformers loads the Qwen3ForCausalLM it saved and scores its prompts as rrnative does', { skip }, async () => {
  const work = tempDir();
  const pairs = loadFixture(bertMiniDir).train.bce.batches.flatMap((b) => b.pairs);
  const data = path.join(work, 'pairs.jsonl');
  fs.writeFileSync(data, pairs.map(([query, document, label]) => JSON.stringify({ query, document, label })).join('\n') + '\n');
  const result = await train(parseConfig(`
model: { path: ${path.join(fixturesDir, 'qwen3-reranker-tiny')}, max_length: 96 }
data: { train: { path: ${data} }, cache_dir: ${path.join(work, 'cache')} }
training: { output_dir: ${path.join(work, 'out')}, max_steps: 3, learning_rate: 1e-3, per_device_train_batch_size: 8, save_strategy: 'no', logging_steps: 1, device: cpu }
`, 'hf-decoders.yaml'), { progress: 'none', log: () => {} });
  const model = await rr.load(result.outputDir);
  const probe = pairs.slice(0, 6).map(([q, d]) => [q, d] as [string, string]);
  const encoded = await model.tokenizer.encodePairs(probe, model.maxLength, true);
  const ours = await model.score(probe);
  const yesNo: [number, number] = [model.tokenizer.tokenId('yes')!, model.tokenizer.tokenId('no')!];
  model.dispose();
  // Left-padded, as transformers' Qwen rerankers batch.
  const length = Math.max(...encoded.map((e) => e.ids.length));
  const ids = encoded.map((e) => [...new Array<number>(length - e.ids.length).fill(0), ...e.ids]);
  const mask = encoded.map((e) => [...new Array<number>(length - e.ids.length).fill(0), ...new Array<number>(e.ids.length).fill(1)]);
  const theirs = transformersLogits(result.outputDir, ids, mask, yesNo);
  assert.equal(theirs.architecture, 'Qwen3ForCausalLM');
  assert.deepEqual([theirs.missing, theirs.unexpected], [[], []]);
  const diff = maxAbsDiff(ours, theirs.logits);
  console.log(`# trained qwen3-reranker-tiny in transformers: max |diff| ${diff.toExponential(2)}`);
  assert.ok(diff < 1e-5, `max |diff| ${diff}`);
});
