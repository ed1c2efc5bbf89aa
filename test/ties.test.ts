// Equal scores are ranked by input index, everywhere a ranking is returned: rank(), every /rerank route, the
// retrieve-then-rerank pipeline (by first-stage rank). Exact ties come from a model whose classifier weights are
// zero: every pair then scores the classifier bias, bit for bit. Also: how far a pair's score moves between being
// scored alone and inside a batch (float rounding; the README states this figure).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Reranker } from '../src/model';
import { pipeline } from '../src/retrieve/pipeline';
import { startServer } from '../src/serve/server';
import { bertMiniDir, column, copyModel, loadFixture, maxAbsDiff, readSafetensorsHeader } from './helpers';

const documents = ['a two-pane file manager', 'a text editor', 'a music player daemon', 'a text editor', 'an image viewer', 'a C compiler'];
let tied: Reranker;

before(async () => {
  const dir = copyModel(bertMiniDir);
  const file = path.join(dir, 'model.safetensors');
  const { header, dataStart } = readSafetensorsHeader(file);
  const [start, end] = header['classifier.weight'].data_offsets;
  const bytes = fs.readFileSync(file);
  bytes.fill(0, dataStart + start, dataStart + end);
  fs.writeFileSync(file, bytes);
  tied = await Reranker.load(dir);
});

after(() => tied?.dispose());

test('the zeroed classifier gives one exact score to every pair (the premise of these tests)', async () => {
  const scores = await tied.score(documents.map((d) => ['text editor', d]));
  assert.equal(new Set(scores).size, 1, `scores: ${scores}`);
});

test('rank(): equal scores in input order, also with topK and sigmoid', async () => {
  assert.deepEqual((await tied.rank('text editor', documents)).map((r) => r.index), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual((await tied.rank('text editor', documents, { topK: 3, activation: 'sigmoid' })).map((r) => r.index), [0, 1, 2]);
});

test('every /rerank route: equal scores in input order', async () => {
  const server = await startServer({ model: tied, host: '127.0.0.1', port: 0 });
  try {
    const post = async (route: string, body: unknown) => {
      const res = await fetch(server.url! + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(res.status, 200);
      return res.json() as Promise<any>;
    };
    const query = 'text editor';
    assert.deepEqual((await post('/rerank', { query, documents })).ranked_documents.map((r: { index: number }) => r.index), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual((await post('/rerank', { query, documents, activation: 'sigmoid', top_n: 4 })).ranked_documents.map((r: { index: number }) => r.index), [0, 1, 2, 3]);
    assert.deepEqual((await post('/rerank', { query, texts: documents })).map((r: { index: number }) => r.index), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual((await post('/rerank', { query, texts: documents, raw_scores: true })).map((r: { index: number }) => r.index), [0, 1, 2, 3, 4, 5]);
    for (const route of ['/v1/rerank', '/v2/rerank']) {
      assert.deepEqual((await post(route, { model: 'm', query, documents })).results.map((r: { index: number }) => r.index), [0, 1, 2, 3, 4, 5], route);
    }
  } finally {
    await server.close();
  }
});

test('the pipeline (rrtrain search): equal rerank scores keep the first stage\'s order', async () => {
  const corpus = ['text editor for the terminal', 'a text editor', 'editor of images', 'music player', 'editor'];
  const p = await pipeline({ corpus, reranker: tied });
  const hits = await p.search('text editor', { topK: 5 });
  assert.ok(hits.length >= 3);
  assert.deepEqual(hits.map((h) => h.bm25Rank), hits.map((_, i) => i + 1));
  await p.dispose();
});

test('a pair scored alone and inside a batch: the same score up to float rounding (measured)', async () => {
  const model = await Reranker.load(bertMiniDir);
  try {
    const fixture = loadFixture(bertMiniDir);
    const pairs = fixture.eval.pairs;
    const batch = await model.score(pairs);
    const alone: number[] = [];
    for (const pair of pairs) alone.push((await model.score([pair]))[0]);
    const diff = maxAbsDiff(alone, batch);
    console.log(`# ${pairs.length} pairs: max |alone - in one batch| = ${diff.toExponential(2)} (transformers: ` +
      `${maxAbsDiff(column(fixture.eval.logits_single), column(fixture.eval.logits).slice(0, 6)).toExponential(2)} over its 6)`);
    assert.ok(diff < 1e-5, `${diff}`);
  } finally {
    model.dispose();
  }
});
