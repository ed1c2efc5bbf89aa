// The model computes what Hugging Face transformers computes: golden outputs from test/fixtures/hf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as rr from '../src/index';
import { PairTokenizer, padBatch } from '../src/tokenize';
import { chunkOrder } from '../src/model';
import { TokenizePool } from '../src/tokenize-pool';
import path from 'node:path';
import { bertMiniDir, bf16CpuUnderIsaCap, column, copyModel, fixturesDir, loadFixture, maxAbsDiff, testDevice } from './helpers';

const fixture = loadFixture(bertMiniDir);

test('tokenizer.json gives the fixture token ids exactly', async () => {
  const tokenizer = await PairTokenizer.load(bertMiniDir);
  const encoded = await tokenizer.encodePairs(fixture.eval.pairs, fixture.max_length, true);
  const batch = padBatch(encoded, tokenizer.padTokenId);
  const width = fixture.eval.encoded.input_ids[0].length;
  assert.equal(batch.length, width);
  assert.deepEqual(Array.from(batch.inputIds), fixture.eval.encoded.input_ids.flat());
  assert.deepEqual(Array.from(batch.tokenTypeIds!), fixture.eval.encoded.token_type_ids.flat());
  assert.deepEqual(Array.from(batch.attentionMask), fixture.eval.encoded.attention_mask.flat());
});

test('tokenization on worker threads (score() on CUDA with many cores) gives the fixture token ids exactly', async () => {
  const pool = TokenizePool.start(bertMiniDir, 3);  // 24 pairs: slices of 8, each answered by its own worker
  try {
    const encoded = await pool.encodePairs(fixture.eval.pairs, fixture.max_length, true);
    const batch = padBatch(encoded, 0);
    assert.deepEqual(Array.from(batch.inputIds), fixture.eval.encoded.input_ids.flat());
    assert.deepEqual(Array.from(batch.tokenTypeIds!), fixture.eval.encoded.token_type_ids.flat());
    // Without truncation an over-long pair is named by its index in the whole call (here in the third slice).
    const pairs = fixture.eval.pairs.map((p, i) => (i === 20 ? [p[0], p[1].repeat(40)] as [string, string] : p));
    await assert.rejects(pool.encodePairs(pairs, 512, false, 100), { name: 'RangeError', message: /^pairs\[120\] is \d+ tokens long, over maxLength 512/ });
  } finally {
    await pool.close();
  }
});

test('the vocab.txt WordPiece fallback gives the same ids as tokenizer.json', async () => {
  const dir = copyModel(bertMiniDir, ['tokenizer.json']);
  const fallback = await PairTokenizer.load(dir);
  const encoded = await fallback.encodePairs(fixture.eval.pairs, fixture.max_length, true);
  const batch = padBatch(encoded, fallback.padTokenId);
  assert.deepEqual(Array.from(batch.inputIds), fixture.eval.encoded.input_ids.flat());
  assert.deepEqual(Array.from(batch.tokenTypeIds!), fixture.eval.encoded.token_type_ids.flat());
});

test(`fp32 logits on ${testDevice} match transformers within 1e-5 (scoreTokens, score, one at a time)`, async () => {
  const model = await rr.load(bertMiniDir, { maxLength: fixture.max_length, device: testDevice });
  try {
    const expected = column(fixture.eval.logits);
    const fromTokens = await model.scoreTokens({
      inputIds: fixture.eval.encoded.input_ids,
      attentionMask: fixture.eval.encoded.attention_mask,
      tokenTypeIds: fixture.eval.encoded.token_type_ids,
    });
    assert.ok(maxAbsDiff(column(fromTokens), expected) < 1e-5, `scoreTokens differs by ${maxAbsDiff(column(fromTokens), expected)}`);

    // Flat typed arrays with a shape are the same batch.
    const flat = await model.scoreTokens({
      inputIds: Int32Array.from(fixture.eval.encoded.input_ids.flat()),
      attentionMask: Int32Array.from(fixture.eval.encoded.attention_mask.flat()),
      tokenTypeIds: Int32Array.from(fixture.eval.encoded.token_type_ids.flat()),
      shape: [fixture.eval.encoded.input_ids.length, fixture.eval.encoded.input_ids[0].length],
    });
    assert.deepEqual(flat, fromTokens);

    const scores = await model.score(fixture.eval.pairs, { batchSize: 5 });
    assert.ok(maxAbsDiff(scores, expected) < 1e-5, `score differs by ${maxAbsDiff(scores, expected)}`);
    // forwardMany (one job for several batches; score() uses it on CUDA) gives each batch's forward().
    const tokenizer = await PairTokenizer.load(bertMiniDir);
    const encoded = await tokenizer.encodePairs(fixture.eval.pairs, fixture.max_length, true);
    const parts = [padBatch(encoded.slice(0, 10), tokenizer.padTokenId), padBatch(encoded.slice(10), tokenizer.padTokenId)];
    const many = await model.native.forwardMany(parts);
    assert.equal(many.length, 2);
    for (let i = 0; i < parts.length; i++) assert.deepEqual(many[i], await model.native.forward(parts[i]));
    assert.ok(maxAbsDiff([...many[0], ...many[1]], expected) < 1e-5);
    // batchSize 2: on CUDA tokenized in chunks of 16 pairs, so the 24 pairs cross a chunk boundary.
    const chunked = await model.score(fixture.eval.pairs, { batchSize: 2 });
    assert.ok(maxAbsDiff(chunked, expected) < 1e-5, `chunked score differs by ${maxAbsDiff(chunked, expected)}`);

    const single = column(fixture.eval.logits_single);
    const oneByOne: number[] = [];
    for (const pair of fixture.eval.pairs.slice(0, single.length)) oneByOne.push(...(await model.score([pair])));
    assert.ok(maxAbsDiff(oneByOne, single) < 1e-5, `one-at-a-time differs from HF by ${maxAbsDiff(oneByOne, single)}`);
    assert.ok(maxAbsDiff(oneByOne, scores.slice(0, single.length)) < 1e-5, 'batch and one-at-a-time scores disagree');

    const sig = await model.score(fixture.eval.pairs.slice(0, 3), { activation: 'sigmoid' });
    sig.forEach((s, i) => assert.ok(Math.abs(s - 1 / (1 + Math.exp(-expected[i]))) < 1e-6));
  } finally {
    model.dispose();
  }
});

test('rank() orders documents by score and keeps their indices', async () => {
  const model = await rr.load(bertMiniDir, { maxLength: fixture.max_length });
  try {
    const query = fixture.eval.pairs[0][0];
    const documents = fixture.eval.pairs.slice(0, 8).map((p) => p[1]);
    const scores = await model.score(documents.map((d) => [query, d] as const));
    const ranked = await model.rank(query, documents, { topK: 3 });
    assert.equal(ranked.length, 3);
    const order = scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 3).map(([, i]) => i);
    assert.deepEqual(ranked.map((r) => r.index), order);
    for (const r of ranked) {
      assert.equal(r.document, documents[r.index]);
      assert.equal(r.score, scores[r.index]);
    }
  } finally {
    model.dispose();
  }
});

interface EvalFixture {
  eval: { encoded: { input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] }; logits: number[] | number[][] };
}

for (const name of ['bert-mini-a', 'xlmr-pub', 'electra-pub', 'deberta-v3-pub']) {
  test(`${name}: bf16 CUDA logits within 1e-2 of transformers' fp32`, { skip: testDevice !== 'cuda' && 'bf16 runs on CUDA only (RRNATIVE_TEST_DEVICE=cuda)' }, async () => {
    const dir = path.join(fixturesDir, name);
    const { eval: e } = loadFixture<EvalFixture>(dir);
    const model = await rr.load(dir, { device: 'cuda' });
    try {
      const input = { inputIds: e.encoded.input_ids, attentionMask: e.encoded.attention_mask, tokenTypeIds: e.encoded.token_type_ids };
      const bf16 = column(await model.scoreTokens(input, { bf16: true }));
      const fp32 = column(await model.scoreTokens(input));
      const diff = maxAbsDiff(bf16, column(e.logits));
      assert.ok(diff < 1e-2, `bf16 differs from transformers' fp32 by ${diff}`);
      assert.ok(maxAbsDiff(bf16, fp32) > 0, 'bf16 gave bit-identical logits to fp32: autocast did not run');
      console.log(`# ${name}: bf16 max |diff| vs fp32 reference ${diff.toExponential(2)}`);
    } finally {
      model.dispose();
    }
  });
  test(`${name}: bf16 weights (dtype 'bf16') on ${testDevice}: logits within 1e-2 of transformers' fp32`, { skip: testDevice === 'cpu' && bf16CpuUnderIsaCap }, async () => {
    const dir = path.join(fixturesDir, name);
    const { eval: e } = loadFixture<EvalFixture>(dir);
    const model = await rr.load(dir, { device: testDevice, dtype: 'bf16' });
    try {
      const input = { inputIds: e.encoded.input_ids, attentionMask: e.encoded.attention_mask, tokenTypeIds: e.encoded.token_type_ids };
      const logits = column(await model.scoreTokens(input));
      const diff = maxAbsDiff(logits, column(e.logits));
      assert.ok(diff < 1e-2, `bf16 weights differ from transformers' fp32 by ${diff}`);
      assert.ok(diff > 1e-6, `bf16 weights gave fp32's logits (${diff}): the cast did not happen`);
      // options.bf16 changes nothing for a model that is bf16 already, on any device.
      assert.deepEqual(column(await model.scoreTokens(input, { bf16: true })), logits);
      console.log(`# ${name}: bf16 weights max |diff| vs fp32 reference ${diff.toExponential(2)}`);
    } finally {
      model.dispose();
    }
  });
}

test('score() on CUDA cuts its chunks from the pairs ordered by characters, longest first; input order otherwise', () => {
  const pairs: [string, string][] = [['q', 'aa'], ['q', 'aaaaaa'], ['qq', 'a'], ['q', 'aaaa'], ['q', 'aaaaaa']];
  assert.deepEqual(chunkOrder(pairs, 2, true), [1, 4, 3, 0, 2]);  // ties keep input order
  assert.deepEqual(chunkOrder(pairs, 5, true), [0, 1, 2, 3, 4]);  // one chunk: sorted by tokens later anyway
  assert.deepEqual(chunkOrder(pairs, 2, false), [0, 1, 2, 3, 4]); // without truncation errors name input indices
});
