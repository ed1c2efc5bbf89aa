// Embeddings equal sentence-transformers' encode() (6.0.1 for test/fixtures/st, the public st-*-pub fixtures in
// test/fixtures/hf): the tokenizer path (texts → ids), prompts, every pooling mode, Normalize, and the fallback.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { Embedder } from '../src/retrieve/embedder';
import { bf16CpuUnderIsaCap, fixturesDir, repoRoot, testDevice } from './helpers';

const TOLERANCE = 1e-5;

function maxAbsDiff(actual: Float32Array, expected: number[][]): number {
  assert.equal(actual.length, expected.length * expected[0].length, 'embedding matrix size');
  let worst = 0;
  expected.forEach((row, r) => row.forEach((v, c) => { worst = Math.max(worst, Math.abs(actual[r * row.length + c] - v)); }));
  return worst;
}

function fixture(dir: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(dir, 'fixture.json'), 'utf8'));
}

for (const name of ['st-bert-mean-pub', 'st-bert-cls-pub', 'st-xlmr-mean-pub']) {
  test(`${name}: embed(texts) is sentence-transformers' encode(texts) within 1e-5`, async () => {
    const dir = path.join(fixturesDir, name);
    const f = fixture(dir);
    const embedder = await Embedder.load(dir, { device: testDevice });
    try {
      assert.equal(embedder.dimension, f.outputs.sentence_embedding[0].length);
      const diff = maxAbsDiff(await embedder.embed(f.texts, { batchSize: 3 }), f.outputs.sentence_embedding);
      console.log(`# ${name}: max abs diff ${diff.toExponential(2)}`);
      assert.ok(diff <= TOLERANCE, `max abs diff ${diff}`);
      if (f.outputs.sentence_embedding_query) {
        const query = maxAbsDiff(await embedder.embed(f.texts, { promptName: 'query' }), f.outputs.sentence_embedding_query);
        assert.ok(query <= TOLERANCE, `query prompt: max abs diff ${query}`);
        const literal = maxAbsDiff(await embedder.embed(f.texts, { prompt: f.prompt }), f.outputs.sentence_embedding_query);
        assert.ok(literal <= TOLERANCE, `literal prompt: max abs diff ${literal}`);
        // The empty 'document' prompt is skipped, as sentence-transformers does.
        const document = maxAbsDiff(await embedder.embed(f.texts, { promptName: 'document' }), f.outputs.sentence_embedding);
        assert.ok(document <= TOLERANCE, `document prompt: max abs diff ${document}`);
      }
    } finally {
      embedder.dispose();
    }
  });
}

test('bf16 weights: embeddings within 1e-2 of sentence-transformers (fp32)', { skip: bf16CpuUnderIsaCap }, async () => {
  for (const name of ['st-bert-mean-pub', 'st-xlmr-mean-pub']) {
    const dir = path.join(fixturesDir, name);
    const f = fixture(dir);
    const embedder = await Embedder.load(dir, { device: testDevice, dtype: 'bf16' });
    try {
      const diff = maxAbsDiff(await embedder.embed(f.texts), f.outputs.sentence_embedding);
      console.log(`# ${name}: bf16 max abs diff ${diff.toExponential(2)}`);
      assert.ok(diff <= 1e-2, `${name} bf16: max abs diff ${diff}`);
    } finally {
      embedder.dispose();
    }
  }
});

test('embed() checks its arguments and names them', async () => {
  const embedder = await Embedder.load(path.join(fixturesDir, 'st-bert-cls-pub'));
  try {
    await assert.rejects(embedder.embed('a text' as never), /texts must be an array of strings/);
    await assert.rejects(embedder.embed(['a', 3 as never]), /texts\[1\] must be a string/);
    await assert.rejects(embedder.embed(['a'], { promptName: 'nope' }), /options.promptName 'nope' is not one of the embedder's prompts \(query, document\)/);
    await assert.rejects(embedder.embed(['a'], { prompt: 'x', promptName: 'query' }), /give one/);
    await assert.rejects(embedder.embed(['a'], { batchSize: 0 }), /options.batchSize/);
    await assert.rejects(embedder.embed(['a'], { normalize: false }), /Normalize module/);
    assert.equal((await embedder.embed([])).length, 0);
  } finally {
    embedder.dispose();
  }
  await assert.rejects(Embedder.load(path.join(repoRoot, 'no-such-folder')), /no such model folder|not a model folder/);
});

// Folders made by test/fixtures/st/make_fixtures.py with sentence-transformers 6.0.1 (README there).
const stDir = path.join(repoRoot, 'test', 'fixtures', 'st');
const made = fs.existsSync(stDir) ? fs.readdirSync(stDir).filter((d) => fs.existsSync(path.join(stDir, d, 'fixture.json'))) : [];
for (const name of made) {
  test(`test/fixtures/st/${name}: embeddings, with each prompt, within 1e-5 of sentence-transformers 6.0.1`, async () => {
    const dir = path.join(stDir, name);
    const f = fixture(dir);
    const embedder = await Embedder.load(dir, { device: testDevice });
    try {
      const plain = maxAbsDiff(await embedder.embed(f.texts, { batchSize: 3 }), f.embeddings);
      const diffs = [`encode ${plain.toExponential(2)}`];
      assert.ok(plain <= TOLERANCE, `encode(texts): max abs diff ${plain}`);
      for (const key of Object.keys(f).filter((k) => k.startsWith('embeddings_'))) {
        const which = key.slice('embeddings_'.length);
        const options = which === 'prompt_literal' ? { prompt: f.prompt_literal ?? 'search: ' } : { promptName: which };
        const diff = maxAbsDiff(await embedder.embed(f.texts, options), f[key]);
        diffs.push(`${which} ${diff.toExponential(2)}`);
        assert.ok(diff <= TOLERANCE, `${key}: max abs diff ${diff}`);
      }
      console.log(`# st/${name}: max abs diff ${diffs.join(', ')}`);
    } finally {
      embedder.dispose();
    }
  });
}
