// XLM-RoBERTa, ELECTRA and DeBERTa-v3: the logits transformers computed, save → load, and training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as rr from '../src/index';
import { parseConfig } from '../src/config/load';
import { train } from '../src/train/trainer';
import { trainWordPiece } from '../src/train/vocab';
import { bertMiniDir, column, copyModel, fixturesDir, loadFixture, maxAbsDiff, tempDir, testDevice } from './helpers';

interface EvalFixture {
  eval: { encoded: { input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] }; logits: number[] | number[][] };
}

const families = [
  { dir: 'xlmr-pub', modelType: 'xlm-roberta', architecture: 'XLMRobertaForSequenceClassification' },
  { dir: 'electra-pub', modelType: 'electra', architecture: 'ElectraForSequenceClassification' },
  { dir: 'deberta-v3-pub', modelType: 'deberta-v2', architecture: 'DebertaV2ForSequenceClassification' },
];

for (const family of families) {
  const dir = path.join(fixturesDir, family.dir);

  test(`${family.dir}: fp32 logits on ${testDevice} match transformers within 1e-5`, async () => {
    const fixture = loadFixture<EvalFixture>(dir);
    const model = await rr.load(dir, { device: testDevice });
    const { input_ids, attention_mask, token_type_ids } = fixture.eval.encoded;
    const logits = column(await model.scoreTokens({ inputIds: input_ids, attentionMask: attention_mask, tokenTypeIds: token_type_ids }));
    const diff = maxAbsDiff(logits, column(fixture.eval.logits));
    assert.ok(diff < 1e-5, `max |diff| ${diff}`);
    // Without a tokenizer in the folder, text scoring explains itself.
    await assert.rejects(model.score([['q', 'd']]), /no tokenizer\.json or vocab\.txt/);
    model.dispose();
  });

  test(`${family.dir}: save → load is bit-exact and keeps model_type and architectures`, async () => {
    const out = tempDir();
    const model = await rr.load(dir);
    await model.save(out);
    model.dispose();
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.equal(config.model_type, family.modelType);
    assert.deepEqual(config.architectures, [family.architecture]);
    const fixture = loadFixture<EvalFixture>(dir);
    const [a, b] = [await rr.load(dir), await rr.load(out)];
    const input = { inputIds: fixture.eval.encoded.input_ids, attentionMask: fixture.eval.encoded.attention_mask, tokenTypeIds: fixture.eval.encoded.token_type_ids };
    assert.deepEqual(await b.scoreTokens(input), await a.scoreTokens(input));
    const out2 = tempDir();
    await b.save(out2);
    [a, b].forEach((m) => m.dispose());
    assert.ok(fs.readFileSync(path.join(out, 'model.safetensors')).equals(fs.readFileSync(path.join(out2, 'model.safetensors'))));
  });

  test(`${family.dir}: a short training run from the fixture weights lowers the loss`, async () => {
    const work = tempDir();
    const model = copyModel(dir);
    // The fixtures ship no tokenizer: give the copy a WordPiece vocabulary that fits its 4,000-row embedding.
    const texts = loadFixture(bertMiniDir).eval.pairs.flat();
    await trainWordPiece(texts, model, { vocabSize: 4000 });
    const bce = loadFixture(bertMiniDir).train.listwise.batches.flatMap((b) => b.pairs);
    const data = path.join(work, 'grouped.jsonl');
    const groups = [];
    for (let i = 0; i < bce.length; i += 4) groups.push({ query: bce[i][0], positives: [bce[i][1]], negatives: bce.slice(i + 1, i + 4).map((p) => p[1]) });
    fs.writeFileSync(data, groups.map((g) => JSON.stringify(g)).join('\n') + '\n');
    const config = parseConfig(`
model: { path: ${model}, max_length: 40, config_overrides: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 } }
data: { train: { path: ${data} }, train_group_size: 4, shuffle: false, cache_dir: ${path.join(work, 'cache')} }
loss: listwise_ce
training: { output_dir: ${path.join(work, 'out')}, max_steps: 16, learning_rate: 3e-3, per_device_train_batch_size: 4, save_strategy: 'no', logging_steps: 1, device: ${testDevice} }
`, 'families.yaml');
    const result = await train(config, { progress: 'none', log: () => {} });
    const losses = result.history.filter((e) => 'loss' in e).map((e) => e.loss);
    const first = (losses[0] + losses[1]) / 2, last = (losses.at(-1)! + losses.at(-2)!) / 2;
    assert.ok(last < first * 0.9, `loss should fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    const saved = JSON.parse(fs.readFileSync(path.join(result.outputDir, 'config.json'), 'utf8'));
    assert.equal(saved.model_type, family.modelType);
    const trained = await rr.load(result.outputDir);
    assert.equal((await trained.score([['q', 'd']])).length, 1);
    trained.dispose();
  });
}

test('an unsupported model type is named, with the supported list', async () => {
  const dir = copyModel(bertMiniDir);
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'mpnet' }));
  await assert.rejects(rr.load(dir), /model_type "mpnet" is not supported \(supported: bert, roberta, xlm-roberta, electra, deberta-v2, modernbert, qwen3, qwen2\)/);
});

test('a folder with only a SentencePiece model says how to make tokenizer.json', async () => {
  const dir = copyModel(path.join(fixturesDir, 'deberta-v3-pub'));
  fs.writeFileSync(path.join(dir, 'spm.model'), 'not really');
  const model = await rr.load(dir);
  await assert.rejects(model.score([['q', 'd']]), /SentencePiece model \(spm\.model\).*save_pretrained.*tokenizer\.json/);
  model.dispose();
});
