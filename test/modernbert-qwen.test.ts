// ModernBERT and the Qwen decoder rerankers (Qwen3 / Qwen2 *ForSequenceClassification, Qwen3ForCausalLM scored by
// logit(yes) - logit(no) with Qwen3-Reranker's prompt): the logits transformers computed (test/fixtures/hf, README
// there; qwen3-reranker-* made by scripts/fixtures/make_qwen3_reranker.py), packed and padded, save → load, the
// prompt's token ids, and training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as rr from '../src/index';
import { addon } from '../src/native';
import { parseConfig } from '../src/config/load';
import { train } from '../src/train/trainer';
import { trainWordPiece } from '../src/train/vocab';
import { bertMiniDir, bf16CpuUnderIsaCap, column, copyModel, fixturesDir, loadFixture, maxAbsDiff, readSafetensorsHeader, shardModel, tempDir, testDevice } from './helpers';
import { withServer } from './serve-helpers';

interface PubFixture {
  inputs: { input_ids: number[][]; attention_mask: number[][] };
  outputs: { logits?: number[][]; last_logits_yes?: number[]; last_logits_no?: number[]; p_yes?: number[] };
  yes_token_id?: number;
  no_token_id?: number;
}

interface RerankerCase {
  instruction: string;
  pairs: [string, string][];
  input_ids_unpadded: number[][];
  truncated: boolean[];
  logit_yes: number[];
  logit_no: number[];
  p_yes: number[];
}
interface RerankerFixture {
  max_length: number;
  prefix: string;
  suffix: string;
  prefix_ids: number[];
  suffix_ids: number[];
  yes_token_id: number;
  no_token_id: number;
  cases: { default: RerankerCase; custom: RerankerCase };
  chat_template: { chat_template_matches_recipe: boolean };
}

const pub = [
  { dir: 'modernbert-pub', modelType: 'modernbert', architecture: 'ModernBertForSequenceClassification' },
  { dir: 'qwen3-seqcls-pub', modelType: 'qwen3', architecture: 'Qwen3ForSequenceClassification' },
  { dir: 'qwen2-seqcls-pub', modelType: 'qwen2', architecture: 'Qwen2ForSequenceClassification' },
  { dir: 'qwen3-causallm-pub', modelType: 'qwen3', architecture: 'Qwen3ForCausalLM' },
];
const rerankerDir = path.join(fixturesDir, 'qwen3-reranker-tiny');
const rerankerSeqClsDir = path.join(fixturesDir, 'qwen3-reranker-seqcls-tiny');

// The fixture's expected logits: the score head's, or logit(yes) - logit(no) for the causal LM.
function expected(f: PubFixture): number[] {
  if (f.outputs.logits) return column(f.outputs.logits);
  return f.outputs.last_logits_yes!.map((y, i) => y - f.outputs.last_logits_no![i]);
}

// The causal-LM fixture ships no tokenizer: its answer tokens are given as ids.
function loadOptions(dir: string, f: PubFixture): rr.LoadOptions {
  return f.yes_token_id === undefined ? {} : { answerTokens: { yes: f.yes_token_id, no: f.no_token_id! } };
}

async function withPacking<T>(on: boolean, run: () => Promise<T>): Promise<T> {
  const before = process.env.RRNATIVE_PACKING;
  if (on) delete process.env.RRNATIVE_PACKING;
  else process.env.RRNATIVE_PACKING = 'off';
  try {
    return await run();
  } finally {
    if (before === undefined) delete process.env.RRNATIVE_PACKING;
    else process.env.RRNATIVE_PACKING = before;
  }
}

for (const family of pub) {
  const dir = path.join(fixturesDir, family.dir);

  for (const packed of testDevice === 'cpu' ? [true, false] : [false]) {
    test(`${family.dir}: fp32 logits on ${testDevice}${testDevice === 'cpu' ? (packed ? ', packed tokens' : ', padded (RRNATIVE_PACKING=off)') : ''} match transformers within 1e-5`, async () => {
      const f = loadFixture<PubFixture>(dir);
      const model = await rr.load(dir, { device: testDevice, ...loadOptions(dir, f) });
      try {
        const before = addon().runtimeInfo().packedForwards;
        const logits = await withPacking(packed, async () =>
          column(await model.scoreTokens({ inputIds: f.inputs.input_ids, attentionMask: f.inputs.attention_mask })));
        const diff = maxAbsDiff(logits, expected(f));
        console.log(`# ${family.dir} ${packed ? 'packed' : 'padded'}: max |diff| ${diff.toExponential(2)}`);
        assert.ok(diff < 1e-5, `max |diff| ${diff}`);
        assert.equal(addon().runtimeInfo().packedForwards > before, packed && testDevice === 'cpu', 'the packed path ran exactly when it should');
        // Each row alone, unpadded, scores as it does in the (left- or right-) padded batch: the length-1 row too.
        for (let r = 0; r < f.inputs.input_ids.length; r++) {
          const ids = f.inputs.input_ids[r].filter((_, i) => f.inputs.attention_mask[r][i] === 1);
          const [alone] = column(await withPacking(packed, () => model.scoreTokens({ inputIds: [ids] })));
          assert.ok(Math.abs(alone - logits[r]) < 1e-5, `row ${r} (${ids.length} tokens) alone ${alone} vs in the batch ${logits[r]}`);
        }
      } finally {
        model.dispose();
      }
    });
  }

  test(`${family.dir}: bf16 weights on ${testDevice}: logits within 1e-2 of transformers' fp32`, { skip: testDevice === 'cpu' && bf16CpuUnderIsaCap }, async () => {
    const f = loadFixture<PubFixture>(dir);
    const model = await rr.load(dir, { device: testDevice, dtype: 'bf16', ...loadOptions(dir, f) });
    try {
      const logits = column(await model.scoreTokens({ inputIds: f.inputs.input_ids, attentionMask: f.inputs.attention_mask }));
      const diff = maxAbsDiff(logits, expected(f));
      console.log(`# ${family.dir} bf16: max |diff| ${diff.toExponential(2)}`);
      assert.ok(diff < 1e-2, `bf16 differs from transformers' fp32 by ${diff}`);
      assert.ok(diff > 0, 'bf16 gave fp32\'s logits exactly: it did not run in bf16');
    } finally {
      model.dispose();
    }
  });

  test(`${family.dir}: int8 products on the CPU stay within 4e-2 of transformers' fp32 (closer than PyTorch's own int8)`, async () => {
    const f = loadFixture<PubFixture>(dir);
    const model = await rr.load(dir, { dtype: 'int8', ...loadOptions(dir, f) });
    try {
      const before = addon().runtimeInfo().int8Products;
      const logits = column(await model.scoreTokens({ inputIds: f.inputs.input_ids, attentionMask: f.inputs.attention_mask }));
      const diff = maxAbsDiff(logits, expected(f));
      console.log(`# ${family.dir} int8: max |diff| ${diff.toExponential(2)} (logits up to ${Math.max(...expected(f).map(Math.abs)).toFixed(2)})`);
      assert.ok(addon().runtimeInfo().int8Products > before, 'int8 products ran');
      // These perturbed tiny models are hard on int8: PyTorch's own quantize_dynamic (per-tensor weights) is off by
      // 0.134 (qwen3-causallm-pub), 0.037 (qwen3-seqcls-pub) and 0.028 (modernbert-pub) on them; ours, per output
      // channel, by 2.8e-2, 1.6e-2 and 8.5e-3.
      assert.ok(diff < 4e-2, `int8 differs from transformers' fp32 by ${diff}`);
    } finally {
      model.dispose();
    }
  });

  test(`${family.dir}: save → load is bit-exact, with HF's names and class`, async () => {
    const f = loadFixture<PubFixture>(dir);
    const out = tempDir();
    const model = await rr.load(dir, loadOptions(dir, f));
    await model.save(out);
    const text = fs.readFileSync(path.join(out, 'config.json'), 'utf8');
    const config = JSON.parse(text);
    assert.equal(config.model_type, family.modelType);
    assert.deepEqual(config.architectures, [family.architecture]);
    // Float keys keep their point (transformers 5's strict config classes refuse 160000 for a float theta).
    assert.match(text, /_theta": \d+\.0,/);
    // Every tensor transformers stored, under its name and shape (a tied LM head is not stored, as HF does).
    const ours = readSafetensorsHeader(path.join(out, 'model.safetensors')).header;
    const theirs = readSafetensorsHeader(path.join(dir, 'model.safetensors')).header;
    assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort());
    for (const name of Object.keys(theirs)) assert.deepEqual(ours[name].shape, theirs[name].shape, name);
    const reloaded = await rr.load(out, loadOptions(out, f));
    const input = { inputIds: f.inputs.input_ids, attentionMask: f.inputs.attention_mask };
    assert.deepEqual(await reloaded.scoreTokens(input), await model.scoreTokens(input));
    const out2 = tempDir();
    await reloaded.save(out2);
    [model, reloaded].forEach((m) => m.dispose());
    assert.ok(fs.readFileSync(path.join(out, 'model.safetensors')).equals(fs.readFileSync(path.join(out2, 'model.safetensors'))));
  });
}

test('modernbert-pub: a 2-layer-window model keeps its window on packed rows longer than it', async () => {
  // The fixture's rows of 16, 17, 25, 31 and 44 tokens are longer than local_attention (16): with every layer made
  // global the logits move, so the window is what the matching logits above depend on.
  const dir = path.join(fixturesDir, 'modernbert-pub');
  const f = loadFixture<PubFixture>(dir);
  // One rope theta for both kinds of layer, so that only the window tells them apart.
  const windowed = await rr.load(dir, { configOverrides: { local_rope_theta: 160000 } });
  const global = await rr.load(dir, { configOverrides: { local_rope_theta: 160000, global_attn_every_n_layers: 1 } });
  const input = { inputIds: f.inputs.input_ids, attentionMask: f.inputs.attention_mask };
  const [a, b] = [column(await windowed.scoreTokens(input)), column(await global.scoreTokens(input))];
  [windowed, global].forEach((m) => m.dispose());
  const lengths = f.inputs.attention_mask.map((m) => m.reduce((s, v) => s + v, 0));
  lengths.forEach((length, r) => {
    if (length <= 9) assert.ok(Math.abs(a[r] - b[r]) < 1e-5, `row ${r} (${length} tokens) fits the window: the same either way`);
    else assert.ok(Math.abs(a[r] - b[r]) > 1e-4, `row ${r} (${length} tokens) is longer than the window: it must differ`);
  });
});

test('qwen3-causallm-pub: without a tokenizer the answer tokens must be given as ids', async () => {
  await assert.rejects(rr.load(path.join(fixturesDir, 'qwen3-causallm-pub')), /no tokenizer files, so the "yes" token's id is unknown: pass options\.answerTokens/);
  await assert.rejects(rr.load(path.join(fixturesDir, 'qwen3-causallm-pub'), { answerTokens: { yes: 320, no: 58 } }), /answerTokens\.yes: 320 is not a token id below vocab_size 320/);
  await assert.rejects(rr.load(path.join(fixturesDir, 'qwen3-seqcls-pub'), { answerTokens: { yes: 1, no: 2 } }), /answerTokens is for \*ForCausalLM rerankers/);
});

for (const name of ['default', 'custom'] as const) {
  test(`qwen3-reranker-tiny (${name} instruction): the prompt's token ids are the recipe's, and p_yes within 1e-5`, async () => {
    const f = loadFixture<RerankerFixture>(rerankerDir);
    const c = f.cases[name];
    const model = await rr.load(rerankerDir, { maxLength: f.max_length });
    try {
      assert.ok(f.chat_template.chat_template_matches_recipe);
      assert.equal(model.tokenizer.template?.prefix, f.prefix, 'the prefix rendered from the model\'s chat template');
      assert.equal(model.tokenizer.template?.suffix, f.suffix, 'the suffix (the empty think block) from the chat template');
      const encoded = await model.tokenizer.encodePairs(c.pairs, f.max_length, true, 0, name === 'custom' ? c.instruction : undefined);
      encoded.forEach((e, i) => assert.deepEqual(e.ids, c.input_ids_unpadded[i], `pair ${i}`));
      // The truncated pair was cut in the document: it is exactly max_length long and still ends with the suffix.
      c.truncated.forEach((cut, i) => {
        if (!cut) return;
        assert.equal(encoded[i].ids.length, f.max_length);
        assert.deepEqual(encoded[i].ids.slice(-f.suffix_ids.length), f.suffix_ids);
      });
      const keep = c.pairs.map((_, i) => i).filter((i) => c.pairs[i][1] !== '');  // score() refuses empty documents
      const options = name === 'custom' ? { instruction: c.instruction } : {};
      const pYes = await model.score(keep.map((i) => c.pairs[i]), { ...options, activation: 'sigmoid' });
      const diff = maxAbsDiff(pYes, keep.map((i) => c.p_yes[i]));
      const logits = await model.score(keep.map((i) => c.pairs[i]), options);
      const logitDiff = maxAbsDiff(logits, keep.map((i) => c.logit_yes[i] - c.logit_no[i]));
      console.log(`# qwen3-reranker-tiny ${name}: p_yes max |diff| ${diff.toExponential(2)}, yes - no ${logitDiff.toExponential(2)}`);
      assert.ok(diff < 1e-5 && logitDiff < 1e-5, `p_yes ${diff}, logits ${logitDiff}`);
      // rank() takes the instruction too.
      const documents = keep.map((i) => c.pairs[i][1]);
      const ranked = await model.rank(c.pairs[0][0], documents, options);
      assert.equal(ranked[0].score, Math.max(...await model.score(documents.map((d) => [c.pairs[0][0], d] as [string, string]), options)));
    } finally {
      model.dispose();
    }
  });
}

test('qwen3-reranker-tiny: without a chat template the recipe\'s own strings give the same ids', async () => {
  const dir = copyModel(rerankerDir);
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  delete config.chat_template;
  fs.writeFileSync(configFile, JSON.stringify(config));
  const f = loadFixture<RerankerFixture>(rerankerDir);
  const model = await rr.load(dir, { maxLength: f.max_length });
  const encoded = await model.tokenizer.encodePairs(f.cases.default.pairs, f.max_length, true);
  model.dispose();
  encoded.forEach((e, i) => assert.deepEqual(e.ids, f.cases.default.input_ids_unpadded[i], `pair ${i}`));
});

test('qwen3-reranker-seqcls-tiny: the *-seq-cls conversion with template qwen3-reranker scores as the yes/no model, and a saved folder keeps its prompt', async () => {
  const f = loadFixture<RerankerFixture>(rerankerDir);
  const pairs = f.cases.custom.pairs.filter((p) => p[1] !== '');
  const instruction = f.cases.custom.instruction;
  const causal = await rr.load(rerankerDir, { maxLength: f.max_length });
  const plain = await rr.load(rerankerSeqClsDir, { maxLength: f.max_length });
  const seqcls = await rr.load(rerankerSeqClsDir, { maxLength: f.max_length, template: 'qwen3-reranker', instruction });
  const want = await causal.score(pairs, { instruction });
  const got = await seqcls.score(pairs);
  assert.ok(maxAbsDiff(got, want) < 1e-5, `seq-cls ${got} vs yes - no ${want}`);
  assert.ok(maxAbsDiff(await plain.score(pairs), want) > 1e-3, 'without the prompt the seq-cls model scores other inputs');
  await assert.rejects(plain.score(pairs, { instruction }), /options\.instruction needs a model with a prompt template/);
  const out = tempDir();
  await seqcls.save(out);
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  assert.deepEqual(saved.rrnative_prompt, { template: 'qwen3-reranker', instruction });
  for (const file of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'tokenizer.json']) assert.ok(fs.existsSync(path.join(out, file)), file);
  const reloaded = await rr.load(out, { maxLength: f.max_length });
  assert.deepEqual(await reloaded.score(pairs), got);
  const named = await rr.load(out, { maxLength: f.max_length, template: 'qwen3-reranker' });
  assert.equal(named.tokenizer.instruction, instruction, 'naming the same template keeps the saved instruction');
  [causal, plain, seqcls, reloaded, named].forEach((m) => m.dispose());
});

test('qwen3-reranker-tiny: what the prompt cannot do is refused, naming the option', async () => {
  const model = await rr.load(rerankerDir);
  const pairs: [string, string][] = [['q', 'a document']];
  await assert.rejects(model.score(pairs, { longDocuments: 'chunk' }), /longDocuments 'chunk' is not supported with the qwen3-reranker prompt template/);
  await assert.rejects(model.score(pairs, { truncationDirection: 'left' }), /truncationDirection 'left' is not supported with the qwen3-reranker prompt template/);
  await assert.rejects(model.score(pairs, { instruction: 3 as never }), /options\.instruction must be a string/);
  await assert.rejects(model.score([['q', 'word '.repeat(400)]], { truncation: false }),
    /pairs\[0\] is \d+ tokens long in the qwen3-reranker prompt, over maxLength \d+, and truncation is off/);
  model.dispose();
  await assert.rejects(rr.load(bertMiniDir, { instruction: 'x' }), /options\.instruction needs a prompt template/);
  await assert.rejects(rr.load(bertMiniDir, { template: 'qwen3-reranker' }), /the tokenizer has no <\|im_start\|> token/);
  const noYes = copyModel(rerankerDir);
  await assert.rejects(rr.load(noYes, { answerTokens: { yes: 'definitely', no: 'no' } }), /the tokenizer has no "definitely" token \(options\.answerTokens\.yes\)/);
});

test('an unsupported model type names the supported list, the new families included', async () => {
  const dir = copyModel(path.join(fixturesDir, 'qwen3-seqcls-pub'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'llama' }));
  await assert.rejects(rr.load(dir), /model_type "llama" is not supported \(supported: .*modernbert, qwen3, qwen2\)/);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, num_key_value_heads: 4 }));
  await assert.rejects(rr.load(dir), /num_key_value_heads: 4 must divide num_attention_heads \(6\)/);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, rope_scaling: { rope_type: 'yarn', factor: 4 } }));
  await assert.rejects(rr.load(dir), /only "default" RoPE is supported, got rope_type "yarn"/);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['Qwen3ForTokenClassification'] }));
  await assert.rejects(rr.load(dir), /"Qwen3ForTokenClassification" is not a reranker class/);
});

// A short run of the trainer from fixture weights: the loss falls and the saved folder loads again.
async function trainBriefly(modelDir: string, extraModel: string, steps: number, lr: number): Promise<{ losses: number[]; outputDir: string }> {
  const work = tempDir();
  const pairs = loadFixture(bertMiniDir).train.bce.batches.flatMap((b) => b.pairs);
  const data = path.join(work, 'pairs.jsonl');
  fs.writeFileSync(data, pairs.map(([query, document, label]) => JSON.stringify({ query, document, label })).join('\n') + '\n');
  const config = parseConfig(`
model: { path: ${modelDir}, max_length: 64${extraModel} }
data: { train: { path: ${data} }, shuffle: false, cache_dir: ${path.join(work, 'cache')} }
loss: bce
training: { output_dir: ${path.join(work, 'out')}, max_steps: ${steps}, learning_rate: ${lr}, per_device_train_batch_size: 8, save_strategy: 'no', logging_steps: 1, device: ${testDevice} }
`, 'decoders.yaml');
  const result = await train(config, { progress: 'none', log: () => {} });
  return { losses: result.history.filter((e) => 'loss' in e).map((e) => e.loss as number), outputDir: result.outputDir };
}

function assertFalls(losses: number[]): void {
  const first = (losses[0] + losses[1]) / 2, last = (losses.at(-1)! + losses.at(-2)!) / 2;
  assert.ok(last < first * 0.9, `loss should fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
}

test('modernbert-pub: a short training run from the fixture weights lowers the loss (packed, windowed attention backward)', async () => {
  const model = copyModel(path.join(fixturesDir, 'modernbert-pub'));
  await trainWordPiece(loadFixture(bertMiniDir).eval.pairs.flat(), model, { vocabSize: 320 });
  const before = addon().runtimeInfo().packedAttentionCalls;
  const { losses, outputDir } = await trainBriefly(model, '', 12, 2e-3);
  assertFalls(losses);
  if (testDevice === 'cpu') assert.ok(addon().runtimeInfo().packedAttentionCalls > before, 'trained on packed tokens');
  const config = JSON.parse(fs.readFileSync(path.join(outputDir, 'config.json'), 'utf8'));
  assert.deepEqual(config.architectures, ['ModernBertForSequenceClassification']);
  const trained = await rr.load(outputDir);
  assert.equal((await trained.score([['q', 'd']])).length, 1);
  trained.dispose();
});

test('qwen3-reranker-tiny: training the yes/no form (loss on logit(yes) - logit(no)) lowers the loss and saves a Qwen3ForCausalLM', async () => {
  const { losses, outputDir } = await trainBriefly(rerankerDir, ', instruction: "Is the package description about the query?"', 12, 2e-3);
  assertFalls(losses);
  const config = JSON.parse(fs.readFileSync(path.join(outputDir, 'config.json'), 'utf8'));
  assert.deepEqual(config.architectures, ['Qwen3ForCausalLM']);
  assert.equal(config.rrnative_prompt.instruction, 'Is the package description about the query?');
  assert.ok(!('lm_head.weight' in readSafetensorsHeader(path.join(outputDir, 'model.safetensors')).header), 'the tied LM head is not stored');
  const trained = await rr.load(outputDir);
  assert.equal(trained.tokenizer.instruction, 'Is the package description about the query?');
  trained.dispose();
});

test('qwen3-reranker-seqcls-tiny: training the seq-cls form in the prompt lowers the loss', async () => {
  const { losses } = await trainBriefly(rerankerSeqClsDir, ', template: qwen3-reranker', 12, 2e-3);
  assertFalls(losses);
});

test('serve: /rerank takes a Qwen3-Reranker instruction, Cohere ignores what it cannot express, a plain model refuses one', async () => {
  const model = await rr.load(rerankerDir);
  const query = 'What is the capital of China?';
  const documents = ['The capital of China is Beijing.', 'Gravity is a force that attracts two bodies towards each other.'];
  const instruction = 'Find the passage that names a city';
  const post = (port: number, route: string, body: unknown) => fetch(`http://127.0.0.1:${port}${route}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  await withServer(model, {}, async (_server, port) => {
    const info = await (await fetch(`http://127.0.0.1:${port}/info`)).json() as Record<string, unknown>;
    assert.equal(info.prompt_template, 'qwen3-reranker');
    const withInstruction = await (await post(port, '/rerank', { query, documents, instruction })).json() as { ranked_documents: { index: number; score: number }[] };
    const direct = await model.score(documents.map((d) => [query, d] as [string, string]), { instruction });
    for (const r of withInstruction.ranked_documents) assert.equal(r.score, direct[r.index]);
    const plain = await (await post(port, '/rerank', { query, documents })).json() as { ranked_documents: { index: number; score: number }[] };
    assert.notEqual(plain.ranked_documents.find((r) => r.index === 0)!.score, direct[0], 'the instruction changes the prompt');
    const chunk = await post(port, '/rerank', { query, documents, long_documents: 'chunk' });
    assert.equal(chunk.status, 400);
    assert.match(JSON.stringify(await chunk.json()), /not supported with this model's qwen3-reranker prompt template/);
    const cohere = await (await post(port, '/v1/rerank', { query, documents, max_chunks_per_doc: 2 })).json() as { meta: { warnings?: string[] } };
    assert.match(cohere.meta.warnings?.join(' ') ?? '', /max_chunks_per_doc is ignored/);
  });
  model.dispose();
  const bert = await rr.load(bertMiniDir);
  await withServer(bert, {}, async (_server, port) => {
    const res = await post(port, '/rerank', { query: 'q', documents: ['d'], instruction: 'x' });
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(await res.json()), /instruction needs a prompt-template model/);
  });
  bert.dispose();
});

test('a sharded checkpoint (model.safetensors.index.json + shards, as Qwen3-Reranker-4B/-8B ship) loads as the single file does', async () => {
  const dir = path.join(fixturesDir, 'qwen3-seqcls-pub');
  const f = loadFixture<PubFixture>(dir);
  const sharded = shardModel(dir, 3);
  const input = { inputIds: f.inputs.input_ids, attentionMask: f.inputs.attention_mask };
  const [a, b] = [await rr.load(dir), await rr.load(sharded)];
  assert.deepEqual(await b.scoreTokens(input), await a.scoreTokens(input));
  // Saved, it is one model.safetensors again.
  const out = tempDir();
  await b.save(out);
  [a, b].forEach((m) => m.dispose());
  assert.ok(fs.existsSync(path.join(out, 'model.safetensors')) && !fs.existsSync(path.join(out, 'model.safetensors.index.json')));
  // A shard missing, or the index naming no file: named.
  fs.rmSync(path.join(sharded, 'model-00002-of-00003.safetensors'));
  await assert.rejects(rr.load(sharded), /model\.safetensors\.index\.json: shard model-00002-of-00003\.safetensors is missing from the folder/);
  fs.writeFileSync(path.join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: {} }));
  await assert.rejects(rr.load(sharded), /"weight_map" must be an object of tensor name -> shard file/);
  // The same tensor in two shards is an error, not a silent pick.
  const twice = shardModel(dir, 2);
  const index = JSON.parse(fs.readFileSync(path.join(twice, 'model.safetensors.index.json'), 'utf8'));
  fs.copyFileSync(path.join(twice, 'model-00001-of-00002.safetensors'), path.join(twice, 'model-00003-of-00003.safetensors'));
  index.weight_map.extra = 'model-00003-of-00003.safetensors';
  fs.writeFileSync(path.join(twice, 'model.safetensors.index.json'), JSON.stringify(index));
  await assert.rejects(rr.load(twice), /is also in/);
});
