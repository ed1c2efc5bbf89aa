// The vector indexes against brute force in float64: the addon's exact index (cosine and dot, fp32 and fp16,
// past a chunk of 16,384 rows and a query block of 256), usearch's HNSW (recall, save / load / view), and the
// index folder (round trip, stale indexes refused).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { Rng } from '../src/data/rng';
import { corpusFromArray } from '../src/retrieve/corpus';
import { Embedder } from '../src/retrieve/embedder';
import { openIndexFolder, readIndexMetadata, writeIndexFolder } from '../src/retrieve/index-file';
import { densePrompts, embedCorpus } from '../src/retrieve/retriever';
import { ExactIndex, UsearchIndex, halfToFloat } from '../src/retrieve/vector-index';
import type { VectorHit, VectorMetric } from '../src/retrieve/vector-store';
import { fixturesDir, tempDir } from './helpers';

function randomVectors(rows: number, dimension: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(rows * dimension);
  for (let i = 0; i < out.length; i++) out[i] = rng.next() * 2 - 1;
  return out;
}

/** Brute force in float64: the k best rows per query, scores descending (ties by row). */
function bruteForce(stored: Float32Array, queries: Float32Array, dimension: number, metric: VectorMetric, k: number): { row: number; score: number }[][] {
  const rows = stored.length / dimension;
  const norm = (v: Float32Array, r: number) => Math.sqrt(v.subarray(r * dimension, (r + 1) * dimension).reduce((s, x) => s + x * x, 0));
  const out: { row: number; score: number }[][] = [];
  for (let q = 0; q < queries.length / dimension; q++) {
    const qn = metric === 'cosine' ? norm(queries, q) : 1;
    const scores: { row: number; score: number }[] = [];
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let c = 0; c < dimension; c++) dot += queries[q * dimension + c] * stored[r * dimension + c];
      scores.push({ row: r, score: metric === 'cosine' ? dot / (qn * norm(stored, r)) : dot });
    }
    scores.sort((a, b) => b.score - a.score || a.row - b.row);
    out.push(scores.slice(0, k));
  }
  return out;
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `doc-${i}`);

/** `expected` holds more than k per query, so a swap at the k-th place (two scores within the tolerance) is seen. */
function checkAgainst(found: VectorHit[][], expected: { row: number; score: number }[][], k: number, tolerance: number, what: string): void {
  assert.equal(found.length, expected.length, `${what}: one list per query`);
  found.forEach((hits, q) => {
    assert.equal(hits.length, Math.min(k, expected[q].length), `${what}: query ${q} length`);
    hits.forEach((h, j) => {
      assert.ok(Math.abs(h.score - expected[q][j].score) <= tolerance, `${what}: query ${q} hit ${j}: score ${h.score} vs ${expected[q][j].score}`);
      // The same document, unless two scores are within the tolerance (then either order is right).
      if (h.id !== `doc-${expected[q][j].row}`) {
        const other = expected[q].find((e) => `doc-${e.row}` === h.id);
        assert.ok(other && Math.abs(other.score - h.score) <= 2 * tolerance, `${what}: query ${q} hit ${j}: ${h.id}, expected doc-${expected[q][j].row}`);
      }
    });
    for (let j = 1; j < hits.length; j++) assert.ok(hits[j - 1].score >= hits[j].score, `${what}: sorted`);
  });
}

for (const metric of ['cosine', 'dot'] as const) {
  test(`ExactIndex ${metric}: equals brute force over 20,000 rows (two chunks) and 300 queries (two blocks); fp16 within 2e-3`, async () => {
    const dimension = 12;
    const rows = 20_000;
    const stored = randomVectors(rows, dimension, 1);
    const queries = randomVectors(300, dimension, 2);
    const expected = bruteForce(stored, queries, dimension, metric, 20);
    for (const storage of ['fp32', 'fp16'] as const) {
      const index = new ExactIndex({ dimension, metric, storage });
      try {
        // Added in uneven parts, so chunks fill across calls.
        await index.add(ids(rows).slice(0, 7_001), stored.subarray(0, 7_001 * dimension));
        await index.add(ids(rows).slice(7_001), stored.subarray(7_001 * dimension));
        assert.equal(await index.count(), rows);
        const found = await index.search(queries, 10);
        checkAgainst(found, expected, 10, storage === 'fp32' ? 1e-5 : 2e-3, `${metric} ${storage}`);
        // What is stored reads back: unit rows for cosine, the rows themselves for dot.
        const back = await index.storedAsFloat32();
        const row = 12_345;
        const scale = metric === 'cosine' ? Math.hypot(...stored.subarray(row * dimension, (row + 1) * dimension)) : 1;
        for (let c = 0; c < dimension; c++) {
          assert.ok(Math.abs(back[row * dimension + c] - stored[row * dimension + c] / scale) <= (storage === 'fp32' ? 1e-6 : 1e-3));
        }
      } finally {
        await index.close();
      }
    }
  });
}

test('ExactIndex: k past the size, an empty index, and argument errors that name the argument', async () => {
  const index = new ExactIndex({ dimension: 4 });
  try {
    assert.deepEqual(await index.search(new Float32Array(8), 3), [[], []]);
    await index.add(['a', 'b'], new Float32Array([1, 0, 0, 0, 0, 1, 0, 0]));
    const [hits] = await index.search(new Float32Array([1, 0.1, 0, 0]), 5);
    assert.deepEqual(hits.map((h) => h.id), ['a', 'b']);
    await assert.rejects(index.add(['a'], new Float32Array(4)), /ids\[0\] 'a' is already in the index/);
    await assert.rejects(index.add(['c'], new Float32Array(3)), /vectors has 3 values, not a multiple of the dimension 4/);
    await assert.rejects(index.add(['c', 'd'], new Float32Array(4)), /vectors has 1 rows of 4, expected 2/);
    await assert.rejects(index.add(['c'], new Float32Array([0, NaN, 0, 0])), /vectors\[1\] is NaN/);
    await assert.rejects(index.add(['c'], [1, 2, 3, 4] as never), /vectors must be a Float32Array/);
    await assert.rejects(index.search(new Float32Array(4), 0), /k must be a positive integer/);
    assert.equal(await index.count(), 2, 'a refused add stores nothing');
  } finally {
    await index.close();
  }
  await assert.rejects(index.search(new Float32Array(4), 1), /closed/);
  assert.throws(() => new ExactIndex({ dimension: 0 }), /options.dimension/);
  assert.throws(() => new ExactIndex({ dimension: 4, metric: 'l2' as never }), /options.metric/);
  assert.throws(() => new ExactIndex({ dimension: 4, storage: 'int8' as never }), /options.storage/);
});

test('halfToFloat: IEEE half bits', () => {
  assert.deepEqual([...halfToFloat(new Uint16Array([0x3c00, 0xc000, 0x0000, 0x7bff, 0x0001, 0x7c00]))], [1, -2, 0, 65504, 2 ** -24, Infinity]);
});

test('UsearchIndex: recall@10 against exact search, and save / load / view give the same results', async () => {
  const dimension = 16;
  const rows = 3_000;
  const stored = randomVectors(rows, dimension, 3);
  const queries = randomVectors(50, dimension, 4);
  const expected = bruteForce(stored, queries, dimension, 'cosine', 10);
  const index = new UsearchIndex({ dimension, metric: 'cosine', threads: 1 });
  await index.add(ids(rows), stored);
  const found = await index.search(queries, 10);
  let hit = 0;
  found.forEach((hits, q) => {
    const truth = new Set(expected[q].map((e) => `doc-${e.row}`));
    hit += hits.filter((h) => truth.has(h.id)).length;
    // Scores are cosine similarities (1 − usearch's distance).
    for (const h of hits) {
      const row = Number(h.id.slice(4));
      const exact = bruteForce(stored.subarray(row * dimension, (row + 1) * dimension), queries.subarray(q * dimension, (q + 1) * dimension), dimension, 'cosine', 1)[0][0].score;
      assert.ok(Math.abs(h.score - exact) < 1e-4, `usearch score ${h.score} vs ${exact}`);
    }
  });
  const recall = hit / (50 * 10);
  assert.ok(recall >= 0.95, `recall@10 ${recall}`);
  const file = path.join(tempDir('rrnative-usearch-'), 'graph.index');
  index.save(file);
  for (const view of [false, true]) {
    const reopened = UsearchIndex.open(file, ids(rows), { dimension, metric: 'cosine', view, threads: 1 });
    assert.deepEqual((await reopened.search(queries, 10)).map((h) => h.map((x) => x.id)), found.map((h) => h.map((x) => x.id)));
  }
  assert.throws(() => UsearchIndex.open(file, ids(rows - 1), { dimension, view: true }), /holds 3000 vectors but 2999 ids/);
  assert.throws(() => UsearchIndex.open(file, ids(rows), { dimension: 8, view: true }), /dimension 16, expected 8/);
});

const docs = [
  { id: 'd0', text: 'the cat sleeps on the warm mat' },
  { id: 'd1', text: 'a dog runs in the park' },
  { id: 'd2', text: 'stock markets fell sharply today' },
  { id: 'd3', text: 'a kitten naps beside the fire' },
  { id: 'd4', text: 'the recipe needs two eggs and flour' },
];

test('index folder: written and reopened (exact and usearch, fp32 and fp16); stale corpus, embedder or prompt refused', async () => {
  const embedder = await Embedder.load(path.join(fixturesDir, 'st-bert-mean-pub'));
  const other = await Embedder.load(path.join(fixturesDir, 'st-bert-cls-pub'));
  const corpus = corpusFromArray(docs);
  const dir = path.join(tempDir('rrnative-index-'), 'idx');
  try {
    const expected = await embedder.embed(corpus.texts, { prompt: densePrompts(embedder).document });
    for (const storage of ['fp32', 'fp16'] as const) {
      const index = new ExactIndex({ dimension: embedder.dimension, storage });
      await embedCorpus(embedder, corpus, index);
      const graph = new UsearchIndex({ dimension: embedder.dimension, storage });
      await graph.add(index.rowIds, await index.storedAsFloat32());
      const meta = await writeIndexFolder(dir, { embedder, documentPrompt: densePrompts(embedder).document, corpus, index, usearch: graph, usearchSettings: { connectivity: 16, expansionAdd: 128, expansionSearch: 256 } });
      await index.close();
      assert.equal(meta.storage, storage);
      assert.deepEqual(readIndexMetadata(dir).corpus, { name: corpus.name, fingerprint: meta.corpus.fingerprint, documents: 5 });
      assert.deepEqual(fs.readdirSync(dir).sort(), ['ids.json', 'index.json', 'usearch.index', 'vectors.safetensors']);
      for (const search of ['exact', 'usearch'] as const) {
        const { store } = await openIndexFolder(dir, { corpus, embedder, search, documentPrompt: densePrompts(embedder).document });
        const [hits] = await store.search(expected.slice(3 * embedder.dimension, 4 * embedder.dimension), 5);
        assert.equal(hits[0].id, 'd3', `${storage} ${search}: a document finds itself first`);
        assert.ok(Math.abs(hits[0].score - 1) < (storage === 'fp32' ? 1e-5 : 2e-3), `${storage} ${search}: self-similarity ${hits[0].score}`);
        await store.close();
      }
    }
    // Stale: another corpus (one text changed), another embedder, another document prompt.
    const changed = corpusFromArray(docs.map((d, i) => (i === 2 ? { ...d, text: d.text + '!' } : d)));
    await assert.rejects(openIndexFolder(dir, { corpus: changed, embedder }), /stale index: it was built over corpus .* rebuild it with `rrtrain index/);
    await assert.rejects(openIndexFolder(dir, { corpus, embedder: other }), /stale index: it was built with embedder .*st-bert-mean-pub.* but the embedder given is .*st-bert-cls-pub/);
    await assert.rejects(openIndexFolder(dir, { corpus, embedder, documentPrompt: 'passage: ' }), /stale index: its documents were embedded with the prompt "", but .*"passage: "/);
    // A folder that is not an index is never overwritten; a missing one is named.
    const notIndex = tempDir('rrnative-not-index-');
    fs.writeFileSync(path.join(notIndex, 'notes.txt'), 'mine');
    const index = new ExactIndex({ dimension: embedder.dimension });
    await embedCorpus(embedder, corpus, index);
    await assert.rejects(writeIndexFolder(notIndex, { embedder, documentPrompt: '', corpus, index }), /exists and is not an rrnative index folder/);
    const exactOnly = path.join(notIndex, 'exact-only');
    await writeIndexFolder(exactOnly, { embedder, documentPrompt: '', corpus, index });
    await assert.rejects(openIndexFolder(exactOnly, { corpus, embedder, search: 'usearch' }), /has no usearch graph; build it with `rrtrain index … --ann usearch`/);
    assert.equal(fs.readFileSync(path.join(notIndex, 'notes.txt'), 'utf8'), 'mine');
    await index.close();
    assert.throws(() => readIndexMetadata(notIndex), /not an rrnative index folder \(no index.json\)/);
  } finally {
    embedder.dispose();
    other.dispose();
  }
});
