// The LanceDB adapter against real embedded LanceDB (@lancedb/lancedb, a dev dependency): LanceDbVectorStore's
// search equals brute force (cosine and dot, ids and scores), reopening, the errors; RrnativeLanceReranker in a
// hybrid (vector + full-text) query, its _relevance_score the cross-encoder's own score of each pair.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Reranker } from '../src/model';
import { LanceDbVectorStore, RrnativeLanceReranker } from '../src/retrieve/lancedb';
import type { VectorMetric } from '../src/retrieve/vector-store';
import { bertMiniDir, repoRoot, tempDir } from './helpers';

const DIM = 16;

/** A seeded uniform generator (mulberry32), values in [-1, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

function randomVectors(rows: number, seed: number): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length: rows * DIM }, next);
}

/** Brute force, in float64: the k best (id, similarity) of `query` among `vectors`. */
function bruteForce(ids: string[], vectors: Float32Array, query: Float32Array, k: number, metric: VectorMetric) {
  const norm = (v: Float32Array, o: number) => Math.sqrt(Array.from({ length: DIM }, (_, j) => v[o + j] ** 2).reduce((s, x) => s + x, 0));
  const qn = norm(query, 0);
  const all = ids.map((id, i) => {
    let dot = 0;
    for (let j = 0; j < DIM; j++) dot += vectors[i * DIM + j] * query[j];
    return { id, score: metric === 'cosine' ? dot / (norm(vectors, i * DIM) * qn) : dot };
  });
  return all.sort((x, y) => y.score - x.score).slice(0, k);
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), re: RegExp): Promise<void> {
  const run = typeof p === 'function' ? (async () => p())() : p;
  await assert.rejects(run, (err: Error) => {
    assert.match(err.message, re);
    return true;
  });
}

const N = 200;
const ids = Array.from({ length: N }, (_, i) => `doc-${i}`);
const vectors = randomVectors(N, 7);
const queries = randomVectors(5, 99);

for (const metric of ['cosine', 'dot'] as const) {
  test(`LanceDbVectorStore (${metric}): top-10 equals brute force, ids and scores`, async () => {
    const uri = path.join(tempDir('rrnative-lance-'), 'db');
    const store = await LanceDbVectorStore.open({ uri, table: `vecs_${metric}`, dimension: DIM, metric });
    assert.equal(store.dimension, DIM);
    assert.equal(store.metric, metric);
    assert.equal(await store.count(), 0);
    assert.deepEqual(await store.search(queries, 10), [[], [], [], [], []]);  // no table yet
    assert.equal(store.lanceTable, undefined);
    // Two adds: the first creates the table, the second appends.
    await store.add(ids.slice(0, 120), vectors.subarray(0, 120 * DIM));
    await store.add(ids.slice(120), vectors.subarray(120 * DIM));
    assert.equal(await store.count(), N);

    const found = await store.search(queries, 10);
    assert.equal(found.length, 5);
    for (let q = 0; q < 5; q++) {
      const expected = bruteForce(ids, vectors, queries.subarray(q * DIM, (q + 1) * DIM), 10, metric);
      assert.deepEqual(found[q].map((h) => h.id), expected.map((h) => h.id), `query ${q}: ids`);
      found[q].forEach((h, j) => {
        assert.ok(Math.abs(h.score - expected[j].score) <= 1e-5, `query ${q} hit ${j}: score ${h.score} != ${expected[j].score}`);
      });
    }
    // k past the row count: every row, still in order.
    const everything = await store.search(queries.subarray(0, DIM), N + 50);
    assert.equal(everything[0].length, N);
    for (let j = 1; j < N; j++) assert.ok(everything[0][j - 1].score >= everything[0][j].score);
    await store.close();
    await store.close();  // twice is fine
    await rejectsWith(store.count(), /closed/);
  });
}

test('LanceDbVectorStore: reopening reads the dimension and count; a dimension mismatch names the table and both', async () => {
  const uri = path.join(tempDir('rrnative-lance-'), 'db');
  const first = await LanceDbVectorStore.open({ uri, table: 'docs', dimension: DIM });
  await first.add(ids, vectors);
  const before = await first.search(queries, 10);
  await first.close();

  const reopened = await LanceDbVectorStore.open({ uri, table: 'docs' });  // dimension read from the table
  assert.equal(reopened.dimension, DIM);
  assert.equal(await reopened.count(), N);
  assert.deepEqual(await reopened.search(queries, 10), before);
  await reopened.add(['extra'], randomVectors(1, 5));
  assert.equal(await reopened.count(), N + 1);
  await reopened.close();

  const same = await LanceDbVectorStore.open({ uri, table: 'docs', dimension: DIM, create: false });
  assert.equal(await same.count(), N + 1);
  await same.close();

  await rejectsWith(LanceDbVectorStore.open({ uri, table: 'docs', dimension: 8 }), /table 'docs' holds 16-dimensional vectors in 'vector', but options\.dimension is 8/);
  await rejectsWith(LanceDbVectorStore.open({ uri, table: 'docs', idColumn: 'doc_id' }), /no id column 'doc_id' \(options\.idColumn\); its columns: 'id', 'vector'/);
  await rejectsWith(LanceDbVectorStore.open({ uri, table: 'docs', vectorColumn: 'emb' }), /no vector column 'emb' \(options\.vectorColumn\)/);
  await rejectsWith(LanceDbVectorStore.open({ uri, table: 'docs', vectorColumn: 'id', idColumn: 'vector' }), /column 'id' is Utf8, not a fixed-size list of floats/);
});

test('LanceDbVectorStore: bad options and arguments are errors that name them', async () => {
  const uri = path.join(tempDir('rrnative-lance-'), 'db');
  const open = (o: unknown) => LanceDbVectorStore.open(o as Parameters<typeof LanceDbVectorStore.open>[0]);
  await rejectsWith(open(undefined), /options must be an object/);
  await rejectsWith(open({ table: 't', dimension: 4 }), /options\.uri must be a string, got undefined/);
  await rejectsWith(open({ uri: '', table: 't', dimension: 4 }), /options\.uri is an empty string/);
  await rejectsWith(open({ uri, table: 7, dimension: 4 }), /options\.table must be a string, got number 7/);
  await rejectsWith(open({ uri, table: 't', dimension: 0 }), /options\.dimension must be a positive integer/);
  await rejectsWith(open({ uri, table: 't', dimension: 2.5 }), /options\.dimension must be an integer/);
  await rejectsWith(open({ uri, table: 't', dimension: 4, metric: 'l2' }), /options\.metric must be one of 'cosine', 'dot', got the string "l2"/);
  await rejectsWith(open({ uri, table: 't', dimension: 4, idColumn: '' }), /options\.idColumn is an empty string/);
  await rejectsWith(open({ uri, table: 't', dimension: 4, vectorColumn: 3 }), /options\.vectorColumn must be a string/);
  await rejectsWith(open({ uri, table: 't', dimension: 4, idColumn: 'v', vectorColumn: 'v' }), /options\.idColumn and options\.vectorColumn are both 'v'/);
  await rejectsWith(open({ uri, table: 't', dimension: 4, create: 'yes' }), /options\.create must be a boolean/);
  await rejectsWith(open({ uri, table: 't', dimension: 4, concurrency: 0 }), /options\.concurrency must be a positive integer/);
  await rejectsWith(open({ uri, table: 't' }), /options\.dimension is required: LanceDB table 't' does not exist yet/);
  await rejectsWith(open({ uri, table: 't', dimension: 4, create: false }), /LanceDB table 't' does not exist at .* \(options\.create is false\)/);

  const store = await LanceDbVectorStore.open({ uri, table: 't', dimension: 4 });
  await rejectsWith(store.add(['a'], new Float32Array(3)), /vectors has 3 values, not a multiple of the dimension 4/);
  await rejectsWith(store.add(['a', 'b'], new Float32Array(4)), /vectors has 1 rows of 4, expected 2/);
  await rejectsWith(store.add(['a', 1] as unknown as string[], new Float32Array(8)), /ids\[1\] must be a string, got number 1/);
  await rejectsWith(store.add(['a'], [1, 2, 3, 4] as unknown as Float32Array), /vectors must be a Float32Array/);
  await rejectsWith(store.add(['a'], Float32Array.of(1, NaN, 0, 0)), /vectors\[1\] is NaN/);
  await store.add([], new Float32Array(0));
  assert.equal(store.lanceTable, undefined, 'an empty add() creates nothing');
  await store.add(['a'], Float32Array.of(1, 0, 0, 0));
  await rejectsWith(store.search(new Float32Array(4), 0), /k must be a positive integer/);
  await rejectsWith(store.search(new Float32Array(5), 1), /queries has 5 values/);
  await store.close();
  await rejectsWith(store.add(['b'], new Float32Array(4)), /closed/);
});

// ---------------------------------------------------------------------------------------------------------
// The reranker

const TEXTS = [
  'the cat sat on the mat',
  'a cat chased the mouse around the house',
  'dogs and cats living together',
  'my cat sleeps all day in the sun',
  'stock markets fell sharply on monday',
  'the recipe needs two cups of flour',
  'cats purr when they are content',
  'the mouse hid under the floorboards',
  'a quick brown fox jumps over the lazy dog',
  'the weather today is sunny and warm',
  'feeding a stray cat every morning',
  'lancedb stores vectors in the lance format',
];

test('RrnativeLanceReranker in a LanceDB hybrid query: _relevance_score is the cross-encoder score, sorted', async () => {
  const model = await Reranker.load(bertMiniDir);
  try {
    const db = await lancedb.connect(path.join(tempDir('rrnative-lance-'), 'db'));
    const vecs = randomVectors(TEXTS.length, 3);
    const table = await db.createTable('docs', TEXTS.map((text, i) => ({ id: `d${i}`, text, vector: Array.from(vecs.subarray(i * DIM, (i + 1) * DIM)) })));
    await table.createIndex('text', { config: lancedb.Index.fts() });
    const queryVector = randomVectors(1, 11);
    const queryText = 'cat';

    const hybrid = (reranker: RrnativeLanceReranker, limit = 20) =>
      table.query().nearestTo(queryVector).fullTextSearch(queryText).rerank(reranker).limit(limit).toArray();

    const rows = await hybrid(new RrnativeLanceReranker({ model }));
    // The union of the vector hits (limit 20: every row) and the 'cat' matches, each row once.
    assert.equal(rows.length, TEXTS.length);
    assert.equal(new Set(rows.map((r) => r.id)).size, TEXTS.length);
    for (const r of rows) {
      assert.equal(typeof r._relevance_score, 'number');
      assert.ok(!('_distance' in r) && !('_score' in r), `returnScore 'relevance' drops _distance/_score: ${Object.keys(r)}`);
      assert.equal(r.text, TEXTS[Number(r.id.slice(1))], 'the row keeps its columns');
      assert.equal(r.vector.length, DIM);
    }
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1]._relevance_score >= rows[i]._relevance_score, `sorted at ${i}`);
    const own = await model.score(rows.map((r) => [queryText, r.text] as [string, string]));
    rows.forEach((r, i) => assert.ok(Math.abs(r._relevance_score - own[i]) <= 1e-5, `row ${i}: ${r._relevance_score} != ${own[i]}`));
    // ...and it is the cross-encoder's order, not LanceDB's: the best-scored text of the whole corpus is first.
    const corpusScores = await model.score(TEXTS.map((t) => [queryText, t] as [string, string]));
    assert.equal(rows[0].text, TEXTS[corpusScores.indexOf(Math.max(...corpusScores))]);

    // The query's limit applies to each search (LanceDB hands the reranker the vector top 3 and the full-text top 3),
    // and again to the reranked rows: 3 rows, in the cross-encoder's order of those candidates.
    const top3 = await hybrid(new RrnativeLanceReranker({ model }), 3);
    assert.equal(top3.length, 3);
    const top3Own = await model.score(top3.map((r) => [queryText, r.text] as [string, string]));
    top3.forEach((r, i) => assert.ok(Math.abs(r._relevance_score - top3Own[i]) <= 1e-5));
    for (let i = 1; i < 3; i++) assert.ok(top3[i - 1]._relevance_score >= top3[i]._relevance_score);

    // No full-text match: LanceDB passes an empty batch, the vector hits are reranked alone.
    const noMatch = await table.query().nearestTo(queryVector).fullTextSearch('zebra').rerank(new RrnativeLanceReranker({ model })).limit(4).toArray();
    assert.equal(noMatch.length, 4);
    const noMatchOwn = await model.score(noMatch.map((r) => ['zebra', r.text] as [string, string]));
    noMatch.forEach((r, i) => assert.ok(Math.abs(r._relevance_score - noMatchOwn[i]) <= 1e-5));

    // returnScore 'all' keeps LanceDB's (normalized) _distance and _score, null where the other search lacks the row.
    const all = await hybrid(new RrnativeLanceReranker({ model, returnScore: 'all', scoreOptions: { activation: 'sigmoid' } }));
    assert.equal(all.length, TEXTS.length);
    assert.ok(all.every((r) => '_distance' in r && '_score' in r));
    assert.ok(all.some((r) => r._score === null), 'rows only the vector search found have no _score');
    assert.ok(all.every((r) => r._relevance_score > 0 && r._relevance_score < 1), 'sigmoid scores');
    assert.deepEqual(all.map((r) => r.id), rows.map((r) => r.id), 'sigmoid keeps the order');

    // rerankVector on a plain vector search's Arrow table (no _rowid there: deduplicated by text).
    const reranker = new RrnativeLanceReranker({ model });
    const vectorHits = await table.vectorSearch(queryVector).limit(5).toArrow();
    const batch = await reranker.rerankVector(queryText, vectorHits);
    assert.equal(batch.numRows, 5);
    assert.deepEqual(batch.schema.fields.map((f) => f.name), ['id', 'text', 'vector', '_relevance_score']);
    assert.equal(String(batch.schema.fields[3].type), 'Float32');
    const texts = Array.from({ length: 5 }, (_, i) => batch.getChild('text')!.get(i) as string);
    const relevance = Array.from(batch.getChild('_relevance_score')!.toArray() as Float32Array);
    const expected = await model.score(texts.map((t) => [queryText, t] as [string, string]));
    relevance.forEach((s, i) => assert.ok(Math.abs(s - expected[i]) <= 1e-5));
    assert.deepEqual([...relevance].sort((x, y) => y - x), relevance);
    const ftsHits = await table.search(queryText, 'fts').limit(5).toArrow();
    assert.ok((await reranker.rerankFts(queryText, ftsHits)).numRows > 0);

    // Errors.
    await rejectsWith(hybrid(new RrnativeLanceReranker({ model, column: 'body' })), /no column 'body' \(options\.column\)/);
    assert.throws(() => new RrnativeLanceReranker({} as never), /options\.model must be a cross-encoder with a score\(pairs\) method/);
    assert.throws(() => new RrnativeLanceReranker({ model, returnScore: 'none' as never }), /options\.returnScore must be one of 'relevance', 'all'/);
    assert.throws(() => new RrnativeLanceReranker({ model, column: '' }), /options\.column is an empty string/);
    table.close();
    db.close();
  } finally {
    model.dispose();
  }
});

test('LanceDbVectorStore over a table with a text column: search by its vectors, add to it', async () => {
  const uri = path.join(tempDir('rrnative-lance-'), 'db');
  const db = await lancedb.connect(uri);
  const vecs = randomVectors(TEXTS.length, 3);
  const table = await db.createTable('docs', TEXTS.map((text, i) => ({ doc: `d${i}`, text, embedding: Array.from(vecs.subarray(i * DIM, (i + 1) * DIM)) })));
  table.close();
  db.close();
  const store = await LanceDbVectorStore.open({ uri, table: 'docs', idColumn: 'doc', vectorColumn: 'embedding', metric: 'dot' });
  assert.equal(store.dimension, DIM);
  const hits = await store.search(vecs.subarray(2 * DIM, 3 * DIM), 3);
  const expected = bruteForce(TEXTS.map((_, i) => `d${i}`), vecs, vecs.subarray(2 * DIM, 3 * DIM), 3, 'dot');
  assert.deepEqual(hits[0].map((h) => h.id), expected.map((h) => h.id));
  hits[0].forEach((h, j) => assert.ok(Math.abs(h.score - expected[j].score) <= 1e-5));
  // The text column is nullable (created from JS rows), so rows of (id, vector) alone go in.
  await store.add(['new'], randomVectors(1, 4));
  assert.equal(await store.count(), TEXTS.length + 1);
  await store.close();
});

test('LanceDbVectorStore without @lancedb/lancedb installed: an error that says how to install it', async () => {
  const Module = require('node:module') as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request: string, ...rest: unknown[]) {
    if (request === '@lancedb/lancedb') throw Object.assign(new Error(`Cannot find module '${request}'`), { code: 'MODULE_NOT_FOUND' });
    return resolve.call(this, request, ...rest);
  };
  try {
    await rejectsWith(LanceDbVectorStore.open({ uri: tempDir(), table: 't', dimension: 4 }), /needs the @lancedb\/lancedb package, which is not installed: npm install @lancedb\/lancedb/);
  } finally {
    Module._resolveFilename = resolve;
  }
});

test('the pipeline over a LanceDB table: embedCorpus fills it, the dense first stage searches it as it searches the exact index', async () => {
  const { Embedder } = await import('../src/retrieve/embedder');
  const { corpusFromArray } = await import('../src/retrieve/corpus');
  const { DenseRetriever, embedCorpus } = await import('../src/retrieve/retriever');
  const { pipeline } = await import('../src/retrieve/pipeline');
  const embedder = await Embedder.load(path.join(repoRoot, 'test', 'fixtures', 'st', 'bert-mean-noprompt'));
  const model = await Reranker.load(bertMiniDir, { maxLength: 64 });
  const corpus = corpusFromArray(['the cat sleeps on the mat', 'a dog runs', 'stock markets fell', 'a kitten naps', 'two eggs and flour'].map((text, i) => ({ id: `d${i}`, text })));
  const store = await LanceDbVectorStore.open({ uri: path.join(tempDir('rrnative-lance-pipe-'), 'db'), table: 'docs', dimension: embedder.dimension, metric: 'cosine' });
  try {
    await embedCorpus(embedder, corpus, store);
    assert.equal(await store.count(), 5);
    const lance = await DenseRetriever.create(corpus, embedder, { store });
    const exact = await DenseRetriever.create(corpus, embedder);
    const [a] = await lance.search(['a cat on a mat'], 5);
    const [b] = await exact.search(['a cat on a mat'], 5);
    assert.deepEqual(a.map((h) => h.index), b.map((h) => h.index));
    a.forEach((h, i) => assert.ok(Math.abs(h.score - b[i].score) < 1e-5));
    const p = await pipeline({ corpus, retriever: lance, reranker: model });
    const hits = await p.search('a cat on a mat', { retrieveK: 3, topK: 3 });
    assert.equal(hits.length, 3);
    await p.dispose();
    await exact.dispose();
    await lance.dispose();  // the store was given: left open
    assert.equal(await store.count(), 5);
  } finally {
    await store.close();
    embedder.dispose();
    model.dispose();
  }
});
