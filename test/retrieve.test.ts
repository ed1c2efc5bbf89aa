// Retrieval: corpus loading (debdesc specs, JSONL/text files, errors with file:line), the retrieve-then-
// rerank pipeline (sorted results, both scores, fusion math by hand) and the retrieval evaluation (BM25
// metrics worked by hand on a tiny corpus; agreement with metrics.ts on the bundled dev split).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { loadDebdesc, relevantIndices } from '../src/data/debdesc';
import { rankingMetrics } from '../src/eval/metrics';
import { Reranker } from '../src/model';
import { Bm25Index } from '../src/retrieve/bm25';
import { corpusFromArray, CorpusLookup, loadCorpus, readQueries, resolveRelevant, type QueryWithPositives } from '../src/retrieve/corpus';
import { evaluateRetrieval, formatRetrievalEval, queryMetrics, runRetrievalEval } from '../src/retrieve/evaluate';
import { samplePositions } from '../src/data/rng';
import { fuseScores, parseFusion, pipeline } from '../src/retrieve/pipeline';
import { bertMiniDir, tempDir } from './helpers';

function close(actual: number, expected: number, what: string, tol = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} != ${expected}`);
}

async function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.match(err.message, re);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Corpus loading

test('loadCorpus reads JSONL ({id?, text} / {id?, document}), text files and gzip, streamed', async () => {
  const dir = tempDir();
  const jsonl = path.join(dir, 'c.jsonl');
  fs.writeFileSync(jsonl, '{"id": "a", "text": "first doc"}\n\n{"id": 7, "document": "second doc"}\r\n{"text": "third doc"}\n');
  const c = await loadCorpus(jsonl);
  assert.deepEqual(c.texts, ['first doc', 'second doc', 'third doc']);
  assert.deepEqual(c.ids, ['a', '7', '2']); // no id: the 0-based position
  assert.equal(c.hasIds, true);

  const txt = path.join(dir, 'c.txt');
  fs.writeFileSync(txt, 'one\n\ntwo {not json}\nthree\n');
  const t = await loadCorpus(txt);
  assert.deepEqual(t.texts, ['one', 'two {not json}', 'three']);
  assert.deepEqual(t.ids, ['0', '1', '2']);
  assert.equal(t.hasIds, false);

  const gz = path.join(dir, 'c.jsonl.gz');
  fs.writeFileSync(gz, zlib.gzipSync('{"text": "zipped"}\n'));
  assert.deepEqual((await loadCorpus(gz)).texts, ['zipped']);

  // No known extension: the first line decides.
  const noext = path.join(dir, 'corpus');
  fs.writeFileSync(noext, '{"text": "sniffed"}\n');
  assert.deepEqual((await loadCorpus(noext)).texts, ['sniffed']);
});

test('loadCorpus errors name the file and line', async () => {
  const dir = tempDir();
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  await rejectsWith(loadCorpus(write('a.jsonl', '{"text": "ok"}\n{"text": "x"\n')), /a\.jsonl:2: invalid JSON/);
  await rejectsWith(loadCorpus(write('b.jsonl', '{"text": "ok"}\n\n{"body": "x"}\n')), /b\.jsonl:3: "text" \(or "document"\) is missing/);
  await rejectsWith(loadCorpus(write('c.jsonl', '{"text": 5}\n')), /c\.jsonl:1: "text" must be a string, got number/);
  await rejectsWith(loadCorpus(write('d.jsonl', '{"id": "x", "text": "a"}\n{"id": "x", "text": "b"}\n')), /d\.jsonl:2: duplicate document id "x" \(first at line 1/);
  await rejectsWith(loadCorpus(write('e.jsonl', '{"text": "  "}\n')), /e\.jsonl:1: the document is empty/);
  await rejectsWith(loadCorpus(write('f.jsonl', '{"text": "a", "document": "b"}\n')), /f\.jsonl:1: both "text" and "document"/);
  await rejectsWith(loadCorpus(write('g.jsonl', '["a"]\n')), /g\.jsonl:1: a corpus line must be a JSON object/);
  await rejectsWith(loadCorpus(write('h.txt', '\n\n')), /no documents/);
  await rejectsWith(loadCorpus(path.join(dir, 'missing.jsonl')), /missing\.jsonl: no such file/);
  await rejectsWith(loadCorpus('debdesc:nope'), /unknown debdesc split "nope"/);
  assert.throws(() => corpusFromArray(['a', { id: 'x', text: 'b' }, { id: 'x', text: 'c' }]), /corpus\[2\]: id "x" is also the id of corpus\[1\]/);
  assert.throws(() => corpusFromArray([{ text: 3 } as never]), /corpus\[0\]\.text must be a string/);
});

test('debdesc corpora and queries: ids are package names, positives the package', async () => {
  const dev = await loadDebdesc('dev');
  const c = await loadCorpus('debdesc:dev');
  assert.equal(c.texts.length, dev.length);
  assert.equal(c.ids[5], dev[5].id);
  assert.equal(c.texts[5], dev[5].document);
  const qs: QueryWithPositives[] = [];
  for await (const q of readQueries('debdesc:dev')) qs.push(q);
  assert.equal(qs.length, dev.length);
  assert.deepEqual(qs[3].positives, [{ id: dev[3].id, text: dev[3].document }]);
  // resolveRelevant applies the debdesc rule: same indices as relevantIndices.
  const lookup = new CorpusLookup(c);
  const expected = relevantIndices(dev, dev);
  for (let i = 0; i < qs.length; i += 7) {
    const r = resolveRelevant(qs[i], lookup);
    assert.deepEqual(r.indices, expected[i]);
    assert.equal(r.totalRelevant, expected[i].length);
  }
});

test('query files: {query, positives|pos}, ids resolved only in id-or-text mode, errors with file:line', async () => {
  const dir = tempDir();
  const f = path.join(dir, 'q.jsonl');
  fs.writeFileSync(f, '{"query": "q1", "positives": ["d1", "some text"], "qid": 3}\n{"query": "q2", "pos": ["d2"]}\n');
  const lookup = new CorpusLookup(corpusFromArray([{ id: 'd1', text: 'x' }, { id: 'd2', text: 'y' }]));
  const asText: QueryWithPositives[] = [];
  for await (const q of readQueries(f)) asText.push(q);
  assert.deepEqual(asText[0].positives, [{ text: 'd1' }, { text: 'some text' }]);
  assert.equal(asText[0].qid, '3');
  const asIds: QueryWithPositives[] = [];
  for await (const q of readQueries(f, { positives: 'id-or-text', lookup })) asIds.push(q);
  assert.deepEqual(asIds[0].positives, [{ id: 'd1' }, { text: 'some text' }]);
  assert.deepEqual(asIds[1].positives, [{ id: 'd2' }]);

  const bad = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(bad, '{"query": "q1", "positives": ["a"]}\n{"query": "q2", "positives": []}\n');
  await rejectsWith((async () => { for await (const _ of readQueries(bad)) void _; })(), /bad\.jsonl:2: "positives" is empty/);
  fs.writeFileSync(bad, '{"query": "q1"}\n');
  await rejectsWith((async () => { for await (const _ of readQueries(bad)) void _; })(), /bad\.jsonl:1: "positives" \(or "pos"\) is missing/);
});

// ---------------------------------------------------------------------------------------------------------
// Fusion

test('fuseScores: plain reranking by default; linear and RRF worked by hand', () => {
  const bm25 = [3, 2, 1];
  const rerank = [0.1, 0.9, 0.5];
  assert.deepEqual(fuseScores(bm25, rerank), rerank);
  // min-max: bm25 → [1, 0.5, 0], rerank → [0, 1, 0.5]; w = 0.5 → [0.5, 0.75, 0.25]; w = 0.8 → [0.2, 0.9, 0.4].
  const lin = fuseScores(bm25, rerank, { method: 'linear', weight: 0.5 });
  [0.5, 0.75, 0.25].forEach((v, i) => close(lin[i], v, `linear 0.5 [${i}]`));
  const lin8 = fuseScores(bm25, rerank, { method: 'linear', weight: 0.8 });
  [0.2, 0.9, 0.4].forEach((v, i) => close(lin8[i], v, `linear 0.8 [${i}]`));
  // BM25 ranks 1, 2, 3; rerank ranks 3, 1, 2.
  const rrf = fuseScores(bm25, rerank, { method: 'rrf' });
  [1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62].forEach((v, i) => close(rrf[i], v, `rrf [${i}]`));
  const rrf10 = fuseScores(bm25, rerank, { method: 'rrf', k: 10 });
  close(rrf10[0], 1 / 11 + 1 / 13, 'rrf k=10');
  // All candidates equal on one side: that side normalises to 1.
  assert.deepEqual(fuseScores([2, 2], [0, 1], { method: 'linear', weight: 0.5 }), [0.5, 1]);
  assert.deepEqual(parseFusion('linear:0.3'), { method: 'linear', weight: 0.3 });
  assert.deepEqual(parseFusion('linear'), { method: 'linear', weight: 0.5 });
  assert.deepEqual(parseFusion('rrf'), { method: 'rrf', k: 60 });
  assert.throws(() => parseFusion('linear:2'), /weight.*\[0, 1\]/);
  assert.throws(() => parseFusion('borda'), /expected linear\[:weight\] or rrf\[:k\]/);
});

// ---------------------------------------------------------------------------------------------------------
// Pipeline

const tinyDocs = [
  { id: 'cat-sat', text: 'the cat sat on the mat' },
  { id: 'dog-park', text: 'a dog runs in the park' },
  { id: 'cat-food', text: 'cat food and cat toys for a happy cat' },
  { id: 'bird', text: 'a small bird sings' },
  { id: 'cat-dog', text: 'the cat and the dog are friends' },
  { id: 'fish', text: 'fish swim in the sea' },
];

test('pipeline: BM25 candidates reranked, sorted by score, with both scores; fusion checked by hand', async () => {
  const model = await Reranker.load(bertMiniDir, { maxLength: 64 });
  try {
    const p = await pipeline({ corpus: tinyDocs, reranker: model });
    const query = 'cat and dog';
    const hits = await p.search(query, { retrieveK: 100, topK: 100 });
    const bm25 = Bm25Index.build(tinyDocs.map((d) => d.text)).search(query, 100);
    assert.equal(hits.length, bm25.length);
    assert.ok(hits.length >= 3);
    const expectedRerank = await model.score(bm25.map((h) => [query, tinyDocs[h.index].text] as [string, string]));
    for (const h of hits) {
      const j = bm25.findIndex((b) => b.index === h.index);
      assert.equal(h.bm25Score, bm25[j].score);
      assert.equal(h.bm25Rank, j + 1);
      close(h.rerankScore, expectedRerank[j], 'rerank score', 1e-6);
      assert.equal(h.score, h.rerankScore); // plain reranking
      assert.equal(h.id, tinyDocs[h.index].id);
      assert.equal(h.document, tinyDocs[h.index].text);
    }
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score, 'sorted by score');

    // topK and retrieveK cut.
    assert.equal((await p.search(query, { topK: 2 })).length, 2);
    const top1 = await p.search(query, { retrieveK: 1, topK: 10 });
    assert.deepEqual(top1.map((h) => h.index), [bm25[0].index]);

    // Linear fusion by hand over the candidates.
    const w = 0.3;
    const lin = await p.search(query, { retrieveK: 100, topK: 100, fusion: { method: 'linear', weight: w } });
    const bs = hits.map((h) => h.retrievalScore);
    const rs = hits.map((h) => h.rerankScore);
    const [bmin, bmax, rmin, rmax] = [Math.min(...bs), Math.max(...bs), Math.min(...rs), Math.max(...rs)];
    for (const h of lin) {
      const expected = w * ((h.rerankScore - rmin) / (rmax - rmin)) + (1 - w) * ((h.retrievalScore - bmin) / (bmax - bmin));
      close(h.score, expected, `linear score of ${h.id}`, 1e-12);
    }
    for (let i = 1; i < lin.length; i++) assert.ok(lin[i - 1].score >= lin[i].score);

    // RRF by hand: rerank rank from sorting the rerank scores.
    const rrf = await p.search(query, { retrieveK: 100, topK: 100, fusion: { method: 'rrf', k: 60 } });
    const byRerank = [...hits].sort((a, b) => b.rerankScore - a.rerankScore || a.retrievalRank - b.retrievalRank);
    for (const h of rrf) {
      const rr = byRerank.findIndex((x) => x.index === h.index) + 1;
      close(h.score, 1 / (60 + h.retrievalRank) + 1 / (60 + rr), `rrf score of ${h.id}`);
    }

    assert.deepEqual(await p.search('zebra'), []); // no BM25 match
    await p.dispose();
    // The pipeline did not load the model, so it does not free it.
    assert.equal((await model.score([['a', 'b']])).length, 1);
  } finally {
    model.dispose();
  }
});

test('pipeline loads a model folder itself, takes plain strings (no ids), and disposes', async () => {
  const p = await pipeline({ corpus: tinyDocs.map((d) => d.text), reranker: bertMiniDir, maxLength: 64 });
  const hits = await p.search('cat', { topK: 3 });
  assert.equal(hits.length, 3);
  assert.ok(hits.every((h) => h.id === undefined && typeof h.rerankScore === 'number'));
  await p.dispose();
  await rejectsWith(p.search('cat'), /disposed/);
  await rejectsWith(pipeline({ corpus: [], reranker: bertMiniDir }), /corpus is empty/);
});

// ---------------------------------------------------------------------------------------------------------
// Retrieval evaluation

// d0..d4; d4 duplicates d0's text, so both are relevant wherever one is.
const evalDocs = [
  { id: 'a', text: 'the cat sat' },
  { id: 'b', text: 'the dog sat on the mat' },
  { id: 'c', text: 'cat cat dog' },
  { id: 'd', text: 'a bird' },
  { id: 'e', text: 'the cat sat' },
];
const evalQueries: QueryWithPositives[] = [
  { query: 'cat', positives: [{ text: 'the cat sat' }] }, // relevant {0, 4}
  { query: 'the sat', positives: [{ id: 'b' }] }, // relevant {1}
  { query: 'bird', positives: [{ text: 'not in the corpus' }] }, // relevant {}, one unreachable
  { query: 'dog', positives: [{ text: 'cat cat dog' }, { text: 'missing' }] }, // relevant {2}, total 2
];

test('retrieval eval: BM25 metrics worked by hand on a tiny corpus (unretrieved relevant = miss)', async () => {
  const index = Bm25Index.build(evalDocs.map((d) => d.text));
  // The BM25 orders the hand computation rests on:
  assert.deepEqual(index.search('cat', 10).map((h) => h.index), [2, 0, 4]); // tf 2 first; d0/d4 tie by index
  assert.deepEqual(index.search('the sat', 10).map((h) => h.index)[0], 1);
  assert.deepEqual(index.search('bird', 10).map((h) => h.index), [3]);
  assert.deepEqual(index.search('dog', 10).map((h) => h.index), [2, 1]); // shorter document first
  const L2 = 1 / Math.log2(3);
  const L3 = 1 / Math.log2(4);
  // retrieveK 100:
  //   cat:     relevant at ranks 2, 3 of 2 → RR 1/2, NDCG (L2 + L3)/(1 + L2), recall 1
  //   the sat: rank 1 → 1, 1, 1
  //   bird:    nothing relevant retrievable, total 1 → 0, 0, 0
  //   dog:     rank 1, total 2 → RR 1, NDCG 1/(1 + L2), recall 1/2
  const r = await evaluateRetrieval(evalQueries, evalDocs, { retrieveK: 100 });
  assert.equal(r.queries, 4);
  close(r.firstStage['mrr@10'], (0.5 + 1 + 0 + 1) / 4, 'mrr@10');
  close(r.firstStage['ndcg@10'], ((L2 + L3) / (1 + L2) + 1 + 0 + 1 / (1 + L2)) / 4, 'ndcg@10');
  close(r.firstStage['recall@10'], (1 + 1 + 0 + 0.5) / 4, 'recall@10');
  close(r.firstStage['recall@100'], (1 + 1 + 0 + 0.5) / 4, 'recall@100');
  assert.equal(r.model, undefined);
  // retrieveK 2: d4 is no longer retrieved for "cat" — a miss.
  //   cat: rank 2 of total 2 → RR 1/2, NDCG L2/(1 + L2), recall@2 1/2
  const r2 = await evaluateRetrieval(evalQueries, evalDocs, { retrieveK: 2 });
  close(r2.firstStage['mrr@10'], 0.625, 'mrr@10 k=2');
  close(r2.firstStage['ndcg@10'], (L2 / (1 + L2) + 1 + 0 + 1 / (1 + L2)) / 4, 'ndcg@10 k=2');
  close(r2.firstStage['recall@2'], (0.5 + 1 + 0 + 0.5) / 4, 'recall@2');
  close(r2.firstStage['recall@10'], (0.5 + 1 + 0 + 0.5) / 4, 'recall@10 k=2');
  // retrieveK 1: "cat" retrieves only d2 → a complete miss.
  const r1 = await evaluateRetrieval(evalQueries, evalDocs, { retrieveK: 1 });
  close(r1.firstStage['mrr@10'], (0 + 1 + 0 + 1) / 4, 'mrr@10 k=1');
  close(r1.firstStage['recall@1'], (0 + 1 + 0 + 0.5) / 4, 'recall@1');
});

test('queryMetrics equals metrics.ts when every relevant document is in the list', () => {
  const ranked = [5, 3, 9, 1, 7, 2, 8, 0, 4, 6, 11, 10];
  const relevant = new Set([3, 7, 10]);
  const m = queryMetrics(ranked, relevant, 3, [10, 12]);
  const ref = rankingMetrics([{ scores: ranked.map((_, i) => 100 - i), relevance: ranked.map((d) => (relevant.has(d) ? 1 : 0)) }], { ks: [10, 12] });
  for (const k of ['mrr@10', 'ndcg@10', 'recall@10', 'recall@12'] as const) close(m[k], ref[k], k);
});

test('retrieval eval with a model and fusion: each column is that ordering of the same candidates', async () => {
  const model = await Reranker.load(bertMiniDir, { maxLength: 64 });
  try {
    const r = await evaluateRetrieval(evalQueries, evalDocs, { retrieveK: 100, reranker: model, fusion: { method: 'rrf' } });
    assert.ok(r.model && r.fusion);
    // Recall at retrieveK does not depend on the order.
    assert.equal(r.model['recall@100'], r.firstStage['recall@100']);
    assert.equal(r.fusion['recall@100'], r.firstStage['recall@100']);
    // The model column by hand: rerank each query's candidates, then queryMetrics.
    const index = Bm25Index.build(evalDocs.map((d) => d.text));
    const lookup = new CorpusLookup(corpusFromArray(evalDocs));
    let mrr = 0;
    for (const q of evalQueries) {
      const hits = index.search(q.query, 100);
      const s = await model.score(hits.map((h) => [q.query, evalDocs[h.index].text] as [string, string]));
      const order = hits.map((h, i) => ({ d: h.index, s: s[i], i })).sort((a, b) => b.s - a.s || a.i - b.i).map((x) => x.d);
      const rel = resolveRelevant(q, lookup);
      mrr += queryMetrics(order, new Set(rel.indices), rel.totalRelevant, [10])['mrr@10'];
    }
    close(r.model['mrr@10'], mrr / evalQueries.length, 'model mrr@10');
  } finally {
    model.dispose();
  }
});

test('runRetrievalEval on files: seeded sample, table and JSON; matches metrics.ts on the bundled dev split', async () => {
  const dir = tempDir();
  const corpusFile = path.join(dir, 'corpus.jsonl');
  fs.writeFileSync(corpusFile, evalDocs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const queriesFile = path.join(dir, 'queries.jsonl');
  fs.writeFileSync(queriesFile, [
    { query: 'cat', positives: ['the cat sat'] },
    { query: 'the sat', positives: ['b'] }, // an id
    { query: 'bird', positives: ['not in the corpus'] },
    { query: 'dog', positives: ['cat cat dog', 'missing'] },
  ].map((q) => JSON.stringify(q)).join('\n') + '\n');
  const report = await runRetrievalEval({ queries: queriesFile, corpus: corpusFile, retrieveK: 100 });
  close(report.metrics.BM25['mrr@10'], 0.625, 'mrr@10 from files');
  close(report.metrics.BM25['recall@10'], 0.625, 'recall@10 from files');
  assert.deepEqual(report.columns, ['BM25']);
  assert.deepEqual(report.rows.map((r) => r.metric), ['MRR@10', 'NDCG@10', 'Recall@10', 'Recall@100']);
  const table = formatRetrievalEval(report);
  assert.match(table, /4 queries/);
  assert.match(table, /MRR@10\s+0\.6250/);
  await rejectsWith(runRetrievalEval({ queries: queriesFile }), /--corpus is needed/);
  await rejectsWith(runRetrievalEval({ queries: queriesFile, corpus: corpusFile, fusion: 'rrf' }), /--fusion needs --model/);

  // Sampling: seeded, not the first N, deterministic.
  assert.deepEqual(samplePositions(10, 3, 42), samplePositions(10, 3, 42));
  assert.notDeepEqual(samplePositions(1000, 20, 42), Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(samplePositions(5, 10, 1), [0, 1, 2, 3, 4]);

  // The bundled dev split as its own corpus, a 500-query sample: same numbers as relevantIndices + rankingMetrics.
  const dev = await loadDebdesc('dev');
  const sampled = await runRetrievalEval({ queries: 'debdesc:dev', corpus: 'debdesc:dev', maxQueries: 500, seed: 7 });
  assert.deepEqual(sampled.sample, { size: 500, seed: 7 });
  assert.equal(sampled.totalQueries, dev.length);
  assert.match(formatRetrievalEval(sampled), new RegExp(`500 of ${dev.length} queries \\(seeded random sample, seed 7\\)`));
  const rows = samplePositions(dev.length, 500, 7).map((i) => dev[i]);
  const rel = relevantIndices(rows, dev);
  const index = Bm25Index.build(dev.map((r) => r.document));
  const ranked = rows.map((q, i) => {
    const hits = index.search(q.query, 100);
    const s = new Set(rel[i]);
    // Scored by rank: the retrieval eval takes BM25's list as ranked (equal BM25 scores in its order), while
    // rankingMetrics would average over the orders of equal scores.
    return { scores: hits.map((_, r) => -r), relevance: hits.map((h) => (s.has(h.index) ? 1 : 0)), totalRelevant: rel[i].length };
  });
  const ref = rankingMetrics(ranked, { ks: [10, 100] });
  close(sampled.metrics.BM25['mrr@10'], ref['mrr@10'], 'dev mrr@10', 1e-12);
  close(sampled.metrics.BM25['recall@10'], ref['recall@10'], 'dev recall@10', 1e-12);
  close(sampled.metrics.BM25['recall@100'], ref['recall@100'], 'dev recall@100', 1e-12);
  // NDCG: metrics.ts's ideal counts only the retrieved relevant documents, ours all of them: ours is never higher.
  assert.ok(sampled.metrics.BM25['ndcg@10'] <= ref['ndcg@10'] + 1e-12);
  assert.ok(sampled.metrics.BM25['ndcg@10'] > ref['ndcg@10'] - 0.02);
});
