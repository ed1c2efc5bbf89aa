// Dense and hybrid first stages against what they are defined as: dense = brute-force similarity of the
// embedder's query and document vectors (with their prompts); hybrid = RRF (k 60, 1-based) or linear fusion of the
// BM25 and dense lists, by hand. Then the pipeline, mining and the CLI commands over them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { Reranker } from '../src/model';
import { Bm25Index } from '../src/retrieve/bm25';
import { corpusFromArray } from '../src/retrieve/corpus';
import { Embedder } from '../src/retrieve/embedder';
import { mineHardNegatives } from '../src/retrieve/mine';
import { pipeline } from '../src/retrieve/pipeline';
import { Bm25Retriever, DenseRetriever, HybridRetriever, densePrompts, fuseLists, openRetriever, parseHybridFusion } from '../src/retrieve/retriever';
import { bertMiniDir, repoRoot, tempDir } from './helpers';

// A sentence-transformers 6.0.1 folder with distinct query and passage prompts, dot similarity, default prompt "query".
const promptedDir = path.join(repoRoot, 'test', 'fixtures', 'st', 'bert-weightedmean-prompt');
// A cosine folder with a Normalize module.
const cosineDir = path.join(repoRoot, 'test', 'fixtures', 'st', 'bert-mean-noprompt');

const docs = [
  { id: 'cat-mat', text: 'the cat sleeps on the warm mat' },
  { id: 'cat-dog', text: 'a cat and a dog play' },
  { id: 'cats', text: 'cat cat cat' },
  { id: 'fish', text: 'the cat eats fish' },
  { id: 'tree', text: 'the cat climbs a tree' },
  { id: 'dog', text: 'dogs only here' },
  { id: 'bird', text: 'a small bird sings in the tree' },
  { id: 'market', text: 'stock markets fell sharply today' },
];

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function rows(m: Float32Array, dimension: number): Float32Array[] {
  return Array.from({ length: m.length / dimension }, (_, r) => m.subarray(r * dimension, (r + 1) * dimension));
}

test('fuseLists: RRF (k 60, 1-based ranks, summed over the lists a document is in) and linear fusion, by hand', () => {
  const bm25 = [{ index: 0, score: 5 }, { index: 1, score: 4 }, { index: 2, score: 3 }];
  const dense = [{ index: 2, score: 0.9 }, { index: 3, score: 0.8 }, { index: 0, score: 0.7 }];
  const rrf = fuseLists(bm25, dense, { method: 'rrf', k: 60 });
  // 0 and 2 tie (1/61 + 1/63; each first in one list): corpus order; then 1 and 3 (1/62; each second in one list).
  assert.deepEqual(rrf.map((h) => h.index), [0, 2, 1, 3]);
  assert.equal(rrf[0].score, 1 / 61 + 1 / 63);
  assert.equal(rrf[2].score, 1 / 62);
  assert.deepEqual(rrf[0].bm25, { score: 5, rank: 1 });
  assert.deepEqual(rrf[0].dense, { score: 0.7, rank: 3 });
  assert.equal(rrf[3].bm25, undefined);
  const k10 = fuseLists(bm25, dense, parseHybridFusion('rrf:10'));
  assert.equal(k10[0].score, 1 / 11 + 1 / 13);
  // Linear, dense weight 0.7: each list min-max normalised; a document absent from a list gets 0 from it.
  const linear = fuseLists(bm25, dense, parseHybridFusion('linear:0.7'));
  const expected = new Map([[0, 0.3 * 1 + 0.7 * 0], [1, 0.3 * 0.5], [2, 0.3 * 0 + 0.7 * 1], [3, 0.7 * 0.5]]);
  for (const h of linear) assert.ok(Math.abs(h.score - expected.get(h.index)!) < 1e-12, `linear ${h.index}`);
  assert.deepEqual(linear.map((h) => h.index), [2, 3, 0, 1]);
  assert.throws(() => parseHybridFusion('mean'), /--hybrid mean: expected rrf\[:k\] or linear\[:weight\]/);
  assert.throws(() => parseHybridFusion('linear:2'), /hybrid.weight .* must be a number in \[0, 1\], got 2/);
});

test('DenseRetriever: brute-force similarity of the query (query prompt) and documents (document prompt); scoreTexts agrees', async () => {
  const corpus = corpusFromArray(docs);
  for (const dir of [promptedDir, cosineDir]) {
    const embedder = await Embedder.load(dir);
    try {
      const prompts = densePrompts(embedder);
      if (dir === promptedDir) assert.deepEqual(prompts, { query: 'query: ', document: '' }, "sentence-transformers 6's encode_query / encode_document prompts");
      const retriever = await DenseRetriever.create(corpus, embedder);
      const queries = ['cat on a mat', 'birds and trees'];
      const found = await retriever.search(queries, 5);
      const d = embedder.dimension;
      const docVectors = rows(await embedder.embed(corpus.texts, { prompt: prompts.document }), d);
      const queryVectors = rows(await embedder.embed(queries, { prompt: prompts.query }), d);
      const cosine = embedder.similarity === 'cosine';
      queries.forEach((query, q) => {
        const expected = docVectors
          .map((v, index) => ({ index, score: cosine ? dot(v, queryVectors[q]) / Math.sqrt(dot(v, v) * dot(queryVectors[q], queryVectors[q])) : dot(v, queryVectors[q]) }))
          .sort((a, b) => b.score - a.score || a.index - b.index)
          .slice(0, 5);
        assert.deepEqual(found[q].map((h) => h.index), expected.map((e) => e.index), `${path.basename(dir)}: ${query}`);
        found[q].forEach((h, j) => assert.ok(Math.abs(h.score - expected[j].score) < 1e-4 * Math.max(1, Math.abs(expected[j].score)), `${h.score} vs ${expected[j].score}`));
      });
      const [top] = found;
      const again = await retriever.scoreTexts(queries[0], top.map((h) => corpus.texts[h.index]));
      again.forEach((s, j) => assert.ok(Math.abs(s - top[j].score) < 1e-4 * Math.max(1, Math.abs(s)), `scoreTexts ${s} vs search ${top[j].score}`));
      assert.match(retriever.describe(), /^dense \(.*exact fp32 (cosine|dot)\)$/);
      await retriever.dispose();
    } finally {
      embedder.dispose();
    }
  }
});

test('HybridRetriever: the RRF of BM25 and dense lists cut to the window; pipeline hits carry both sides', async () => {
  const corpus = corpusFromArray(docs);
  const embedder = await Embedder.load(cosineDir);
  const model = await Reranker.load(bertMiniDir, { maxLength: 64 });
  try {
    const bm25 = new Bm25Retriever(corpus, Bm25Index.build(corpus.texts));
    const dense = await DenseRetriever.create(corpus, embedder);
    const hybrid = new HybridRetriever(bm25, dense);
    const query = 'the cat on the tree';
    const [fused] = await hybrid.search([query], 4);
    const [lexical] = await bm25.search([query], 4);
    const [semantic] = await dense.search([query], 4);
    assert.deepEqual(fused, fuseLists(lexical, semantic, { method: 'rrf', k: 60 }).slice(0, 4));

    const p = await pipeline({ corpus, retriever: hybrid, reranker: model });
    const hits = await p.search(query, { retrieveK: 4, topK: 4 });
    const expectedRerank = await model.score(fused.map((h) => [query, corpus.texts[h.index]] as [string, string]));
    for (const h of hits) {
      const j = fused.findIndex((f) => f.index === h.index);
      assert.equal(h.retrievalScore, fused[j].score);
      assert.equal(h.retrievalRank, j + 1);
      const expectedScore = (h.bm25Rank ? 1 / (60 + h.bm25Rank) : 0) + (h.denseRank ? 1 / (60 + h.denseRank) : 0);
      assert.ok(Math.abs(h.retrievalScore - expectedScore) < 1e-15, 'hybrid score = RRF of the ranks the hit reports');
      assert.ok(Math.abs(h.rerankScore - expectedRerank[j]) < 1e-6);
      assert.equal(h.score, h.rerankScore);
    }
    await p.dispose();
    await hybrid.dispose();

    // openRetriever / pipeline by name: the embedder is loaded and freed by the pipeline.
    const byName = await pipeline({ corpus, retriever: 'dense', embedder: cosineDir, reranker: model });
    const denseHits = await byName.search(query, { retrieveK: 3, topK: 3 });
    assert.ok(denseHits.every((h) => h.denseScore === h.retrievalScore && h.bm25Score === undefined));
    await byName.dispose();
    await assert.rejects(pipeline({ corpus, retriever: 'dense', reranker: model }), /retriever 'dense' needs an embedder/);
    await assert.rejects(openRetriever({ corpus, retriever: 'bm25', embedder: cosineDir }), /embedder is set but the retriever is bm25/);
    await assert.rejects(openRetriever({ corpus, retriever: 'vector' as never }), /retriever must be one of bm25, dense, hybrid/);
  } finally {
    embedder.dispose();
    model.dispose();
  }
});

test('mining with a dense retriever: candidates in the embedder\'s order, positives and their copies skipped, output scores, margins', async () => {
  const corpus = corpusFromArray([...docs, { id: 'cat-mat-copy', text: 'the cat sleeps on the warm mat' }]);
  const embedder = await Embedder.load(cosineDir);
  try {
    const retriever = await DenseRetriever.create(corpus, embedder);
    const queries = [{ query: 'cat on the mat', positives: [{ id: 'cat-mat' }] }, { query: 'a bird', positives: [{ text: 'a bird sings (not in the corpus)' }] }];
    const { groups, stats } = await mineHardNegatives(queries, corpus, { retriever, rangeMin: 1, rangeMax: 9, numNegatives: 3, withScores: true });
    assert.equal(groups.length, 2);
    for (const [q, g] of groups.entries()) {
      const [ranked] = await retriever.search([queries[q].query], 9);
      const expected = ranked.filter((h) => !['the cat sleeps on the warm mat', 'a bird sings (not in the corpus)'].includes(corpus.texts[h.index])).slice(0, 3);
      assert.deepEqual(g.negativeIndices, expected.map((h) => h.index), `query ${q}: the best-ranked non-positives`);
      g.negScores!.forEach((s, j) => assert.ok(Math.abs(s - expected[j].score) < 1e-6, `negative score ${s} vs ${expected[j].score}`));
      const [posScore] = await retriever.scoreTexts(queries[q].query, g.positives);
      assert.ok(Math.abs(g.posScores![0] - posScore) < 1e-6);
    }
    assert.equal(stats.droppedPositive, 2, 'the positive and its identical copy');
    // A margin: a candidate scoring above positive - margin is dropped. Chosen from the scores (a random-init
    // embedder's similarities are all close) so that some candidates go and some stay.
    const all = (await mineHardNegatives(queries.slice(0, 1), corpus, { retriever, rangeMin: 1, rangeMax: 9, numNegatives: 9, withScores: true })).groups[0];
    const middle = all.negScores![Math.floor(all.negScores!.length / 2)];
    const m = all.posScores![0] - middle + 1e-7;
    const margin = await mineHardNegatives(queries.slice(0, 1), corpus, { retriever, rangeMin: 1, rangeMax: 9, numNegatives: 9, margin: m, withScores: true });
    const g = margin.groups[0];
    assert.deepEqual(g.negScores, all.negScores!.filter((s) => s <= all.posScores![0] - m));
    assert.ok(margin.stats.droppedMargin > 0 && g.negatives.length > 0);
    await assert.rejects(mineHardNegatives(queries, corpus, { retriever, workers: 2 }), /workers search BM25 in parallel/);
    await retriever.dispose();
  } finally {
    embedder.dispose();
  }
});

// ---------------------------------------------------------------------------------------------------------
// The commands

const cli = path.join(repoRoot, 'dist', 'src', 'cli.js');

function rrtrain(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: { status: number | null; stdout: string; stderr: string }): string {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

function fails(r: { status: number | null; stdout: string; stderr: string }, message: RegExp): void {
  assert.equal(r.status, 1, `expected exit 1, got ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('rrtrain index / search --retriever hybrid --index / mine --retriever dense / eval-retrieval --retriever dense', () => {
  const dir = tempDir('rrnative-dense-cli-');
  const corpus = path.join(dir, 'corpus.jsonl');
  fs.writeFileSync(corpus, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const queries = path.join(dir, 'queries.jsonl');
  fs.writeFileSync(queries, [
    { query: 'cat on the mat', positives: ['cat-mat'] },
    { query: 'bird in a tree', positives: ['bird'] },
    { query: 'dogs here', positives: ['dog'] },
  ].map((q) => JSON.stringify(q)).join('\n') + '\n');
  const index = path.join(dir, 'index');

  assert.match(ok(rrtrain('index', '--embedder', cosineDir, '--corpus', corpus, '--out', index, '--ann', 'usearch', '--quiet')),
    /index: .*: 8 documents of .*corpus.jsonl, dimension 32, cosine, fp32, with a usearch graph/);
  const search = (...extra: string[]) => JSON.parse(ok(rrtrain('search', '--model', bertMiniDir, '--corpus', corpus, '--max-length', '64', '--json', '--top-k', '8', '--retrieve-k', '8', ...extra, 'cat on a tree')));
  const hybrid = search('--retriever', 'hybrid', '--embedder', cosineDir, '--index', index);
  const fresh = search('--retriever', 'hybrid', '--embedder', cosineDir);  // embedded now: the same answer
  assert.deepEqual(hybrid.map((h: { id: string }) => h.id), fresh.map((h: { id: string }) => h.id));
  assert.ok(hybrid.some((h: { bm25Score?: number; denseScore?: number }) => h.bm25Score !== undefined && h.denseScore !== undefined));
  const approximate = search('--retriever', 'dense', '--embedder', cosineDir, '--index', index, '--index-search', 'usearch');
  assert.equal(approximate.length, 8);
  const table = ok(rrtrain('search', '--model', bertMiniDir, '--corpus', corpus, '--max-length', '64', '--retriever', 'hybrid', '--embedder', cosineDir, '--hybrid', 'linear:0.3', 'cat'));
  assert.match(table.split('\n')[0], /score\s+rerank\s+hybrid\s+bm25\s+dense\s+id\s+document/);

  const mined = path.join(dir, 'mined.jsonl');
  assert.match(ok(rrtrain('mine', '--queries', queries, '--corpus', corpus, '--output', mined, '--retriever', 'dense', '--embedder', cosineDir, '--range-min', '1', '--num-negatives', '2', '--output-scores', '--quiet')),
    /; dense \(.*exact fp32 cosine\), built in .*: 3 queries, 3 groups written/);
  const groups = fs.readFileSync(mined, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(groups[0].negatives.length, 2);
  assert.ok(groups.every((g) => g.pos_scores.length === 1 && g.neg_scores.every((s: number) => s <= 1.0001)));

  const report = JSON.parse(ok(rrtrain('eval-retrieval', '--retrieval-queries', queries, '--corpus', corpus, '--retrieve-k', '5', '--retriever', 'dense', '--embedder', cosineDir, '--index', index, '--json', '--quiet')));
  assert.deepEqual(report.columns, ['dense']);
  assert.match(report.retriever, /^dense \(.*exact fp32 cosine\)$/);
  assert.ok(report.metrics.dense['recall@5'] >= 0 && report.metrics.dense['recall@5'] <= 1);
  const side = ok(rrtrain('eval-retrieval', '--retrieval-queries', queries, '--corpus', corpus, '--retrieve-k', '5', '--retriever', 'hybrid', '--embedder', cosineDir, '--model', bertMiniDir, '--max-length', '64', '--quiet'));
  assert.match(side, /metric\s+hybrid\s+model/);

  // Mistakes name the flag; a stale index is refused, and an existing folder is not overwritten by a failure.
  fails(rrtrain('search', '--model', bertMiniDir, '--corpus', corpus, '--embedder', cosineDir, 'cat'), /--embedder needs --retriever dense or hybrid/);
  fails(rrtrain('search', '--model', bertMiniDir, '--corpus', corpus, '--retriever', 'dense', 'cat'), /--retriever dense needs --embedder/);
  fails(rrtrain('search', '--model', bertMiniDir, '--corpus', corpus, '--retriever', 'dense', '--embedder', cosineDir, '--hybrid', 'rrf', 'cat'), /--hybrid needs --retriever hybrid/);
  fails(rrtrain('search', '--model', bertMiniDir, '--corpus', corpus, '--retriever', 'dense', '--embedder', cosineDir, '--index-search', 'usearch', 'cat'), /--index-search usearch needs --index DIR/);
  fs.appendFileSync(corpus, JSON.stringify({ id: 'new', text: 'a new document' }) + '\n');
  fails(rrtrain('search', '--model', bertMiniDir, '--corpus', corpus, '--retriever', 'dense', '--embedder', cosineDir, '--index', index, 'cat'),
    /stale index: it was built over corpus .* \(8 documents.*but the corpus given is .* \(9 documents.*rebuild it with `rrtrain index/);
  fails(rrtrain('search', '--model', bertMiniDir, '--corpus', corpus, '--retriever', 'dense', '--embedder', promptedDir, '--index', index, 'cat'), /stale index/);
  fails(rrtrain('index', '--embedder', cosineDir, '--corpus', corpus, '--out', dir, '--quiet'), /--out .*: exists and is not an rrnative index folder/);
  assert.ok(fs.existsSync(mined), 'the failed index left the folder as it was');
});
