// Hard-negative mining (positives and identical texts never become negatives; range, margins and sampling as
// specified; seeded sampling deterministic; a cross-encoder rescoring) and teacher labelling (scores equal
// model.score, order and keys kept).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadDebdesc, relevantIndices } from '../src/data/debdesc';
import { Reranker } from '../src/model';
import { Bm25Index } from '../src/retrieve/bm25';
import { corpusFromArray, corpusFromDebdesc, debdescQueries, type QueryWithPositives } from '../src/retrieve/corpus';
import { labelGrouped } from '../src/retrieve/label';
import { bm25ScoreText, groupToJsonl, mineHardNegatives, mineToFile } from '../src/retrieve/mine';
import { bertMiniDir, tempDir } from './helpers';

// A small corpus where many documents match "cat", with duplicates of the positive and among the others.
const POS = 'the cat sleeps on the warm mat all day';
const docs = [
  POS, // 0: the positive
  'a cat and a dog', // 1
  'cat cat cat', // 2
  '  the cat sleeps on the warm mat all day ', // 3: identical to the positive after trimming
  'the cat eats fish', // 4
  'a cat and a dog', // 5: duplicate of 1
  'my cat is black', // 6
  'cats are not cat toys', // 7
  'cat food for every cat', // 8
  POS, // 9: identical to the positive
  'the cat climbs a tree', // 10
  'dogs only here', // 11
  'one cat two cats', // 12
  'the cat sat', // 13
];
const corpus = corpusFromArray(docs.map((text, i) => ({ id: `d${i}`, text })));
const queries: QueryWithPositives[] = [
  { query: 'cat', positives: [{ text: POS }] },
  { query: 'the cat on the mat', positives: [{ text: POS }] },
  { query: 'cat and dog', positives: [{ text: 'a cat and a dog' }] },
];

function ranked(query: string, k = 1000) {
  return Bm25Index.build(docs).search(query, k);
}

test('mining never returns a positive, an identical text or a duplicate as a negative', async () => {
  const { groups, stats } = await mineHardNegatives(queries, corpus, { rangeMin: 1, rangeMax: 100, numNegatives: 100 });
  assert.equal(groups.length, 3);
  assert.equal(stats.queries, 3);
  for (const g of groups) {
    const pos = new Set(g.positives.map((t) => t.trim()));
    const texts = g.negatives.map((t) => t.trim());
    for (const t of texts) assert.ok(!pos.has(t), `negative ${JSON.stringify(t)} is identical to a positive of ${g.query}`);
    assert.equal(new Set(texts).size, texts.length, 'no duplicate negatives');
    assert.ok(g.negatives.length > 0);
  }
  // "cat": every cat document except 0, 3, 9 (the positive's texts) and one of 1/5.
  const cat = groups[0];
  for (const i of [0, 3, 9]) assert.ok(!cat.negativeIndices.includes(i));
  assert.ok(!(cat.negativeIndices.includes(1) && cat.negativeIndices.includes(5)));
  const catHits = ranked('cat');
  const expected = catHits.map((h) => h.index).filter((i) => ![0, 3, 9].includes(i) && i !== 5);
  assert.deepEqual(cat.negativeIndices, expected); // 1 ranks above 5 (ties by index), so 5 is the duplicate
  assert.ok(stats.droppedPositive >= 3 && stats.droppedDuplicate >= 1);
  // The positive "a cat and a dog" for query 3: both copies (1 and 5) are excluded.
  assert.ok(!groups[2].negativeIndices.includes(1) && !groups[2].negativeIndices.includes(5));
});

test('mining: ranks rangeMin..rangeMax (1-based, positives occupy ranks), top sampling takes the best', async () => {
  const hits = ranked('cat');
  const { groups } = await mineHardNegatives([queries[0]], corpus, { rangeMin: 3, rangeMax: 8, numNegatives: 3 });
  const g = groups[0];
  const eligible = hits
    .map((h, r) => ({ index: h.index, rank: r + 1 }))
    .filter((c) => c.rank >= 3 && c.rank <= 8 && ![0, 3, 9].includes(c.index))
    .filter((c, _, all) => !(c.index === 5 && all.some((x) => x.index === 1)));
  assert.deepEqual(g.negativeIndices, eligible.slice(0, 3).map((c) => c.index));
  assert.deepEqual(g.negativeRanks, eligible.slice(0, 3).map((c) => c.rank));
  assert.ok(g.negativeRanks.every((r) => r >= 3 && r <= 8));
  // A range past the end of the ranking leaves nothing: the query is skipped.
  const none = await mineHardNegatives([queries[0]], corpus, { rangeMin: 50, rangeMax: 60 });
  assert.equal(none.groups.length, 0);
  assert.equal(none.stats.skipped, 1);
  await assert.rejects(mineHardNegatives(queries, corpus, { rangeMin: 5, rangeMax: 4 }), /rangeMax \(4\) must be >= rangeMin \(5\)/);
  await assert.rejects(mineHardNegatives(queries, corpus, { relativeMargin: 1.5 }), /relativeMargin must be a number in \[0, 1\)/);
});

test('mining: absolute and relative margins drop candidates scoring near the positive (BM25 scores)', async () => {
  const q = queries[1]; // "the cat on the mat": the positive scores high
  const index = Bm25Index.build(docs);
  const posScore = index.scoreDocument(q.query, 0);
  assert.equal(bm25ScoreText(index, q.query, POS), posScore); // a text outside the index scores like the same text inside
  assert.equal(bm25ScoreText(index, q.query, docs[4]), index.scoreDocument(q.query, 4));
  const all = index.search(q.query, 100).filter((h) => ![0, 3, 9].includes(h.index));
  const base = { rangeMin: 1, rangeMax: 100, numNegatives: 100, withScores: true };

  const margin = posScore * 0.6; // keep only candidates scoring <= 40% of the positive
  const m = (await mineHardNegatives([q], corpus, { ...base, margin })).groups[0];
  assert.deepEqual(m.posScores, [posScore]);
  assert.ok(m.negScores!.every((s) => s <= posScore - margin));
  const dropped = all.filter((h) => h.score > posScore - margin);
  assert.ok(dropped.length > 0, 'the margin must drop something for this test to mean anything');
  for (const h of dropped) assert.ok(!m.negativeIndices.includes(h.index));
  for (const h of all.filter((x) => x.score <= posScore - margin)) {
    assert.ok(m.negativeIndices.includes(h.index) || docs[h.index] === 'a cat and a dog');
  }

  const r = 0.6; // drop when score > posScore · 0.4
  const rel = await mineHardNegatives([q], corpus, { ...base, relativeMargin: r });
  const g = rel.groups[0];
  assert.ok(g.negScores!.every((s) => s <= posScore * (1 - r)));
  assert.equal(rel.stats.droppedMargin, all.filter((h) => h.score > posScore * (1 - r)).length);
  // The scores written are the BM25 scores of the candidates.
  g.negativeIndices.forEach((i, j) => assert.equal(g.negScores![j], index.scoreDocument(q.query, i)));
});

test('mining: random sampling is seeded, a subset of the eligible candidates, in rank order', async () => {
  const opts = { rangeMin: 1, rangeMax: 100, numNegatives: 3, sampling: 'random' as const };
  const all = (await mineHardNegatives([queries[0]], corpus, { ...opts, numNegatives: 100 })).groups[0];
  const a = await mineHardNegatives(queries, corpus, { ...opts, seed: 1 });
  const b = await mineHardNegatives(queries, corpus, { ...opts, seed: 1 });
  assert.deepEqual(a.groups, b.groups);
  const seen = new Set<string>();
  for (let seed = 0; seed < 20; seed++) {
    const g = (await mineHardNegatives([queries[0]], corpus, { ...opts, seed })).groups[0];
    assert.equal(g.negatives.length, 3);
    assert.ok(g.negativeIndices.every((i) => all.negativeIndices.includes(i)));
    assert.deepEqual(g.negativeRanks, [...g.negativeRanks].sort((x, y) => x - y));
    seen.add(g.negativeIndices.join(','));
  }
  assert.ok(seen.size > 3, `different seeds give different samples (${seen.size})`);
});

test('mining a slice of the bundled data: no negative is relevant by the debdesc rule', async () => {
  const dev = await loadDebdesc('dev');
  const slice = dev.filter((_, i) => i % 10 === 0); // 353 queries across the id range
  const qs = debdescQueries(slice, 'dev');
  const { groups, stats } = await mineHardNegatives(qs, corpusFromDebdesc(dev, 'debdesc:dev'), { rangeMin: 1, rangeMax: 50, numNegatives: 50 });
  assert.equal(stats.queries, slice.length);
  const rel = relevantIndices(slice, dev);
  const byQuery = new Map(slice.map((r, i) => [r.query + '\u0000' + r.id, i]));
  let checked = 0;
  for (const g of groups) {
    const i = byQuery.get(g.query + '\u0000' + g.qid);
    assert.ok(i !== undefined);
    const relevant = new Set(rel[i]);
    assert.deepEqual(g.positives, [slice[i].document]);
    for (const n of g.negativeIndices) assert.ok(!relevant.has(n), `${slice[i].id}: relevant document ${dev[n].id} mined as a negative`);
    for (const t of g.negatives) assert.notEqual(t.trim(), slice[i].document.trim());
    assert.equal(new Set(g.negatives).size, g.negatives.length);
    checked += g.negatives.length;
  }
  assert.ok(checked > 5000);
  assert.ok(stats.droppedPositive > 0);
});

test('mining with a cross-encoder: BM25 top-N rescored and ranked by the model', async () => {
  const model = await Reranker.load(bertMiniDir, { maxLength: 64 });
  try {
    const q = queries[0];
    const { groups } = await mineHardNegatives([q], corpus, { reranker: model, retrieveK: 100, rangeMin: 1, rangeMax: 100, numNegatives: 100, withScores: true });
    const g = groups[0];
    const hits = ranked(q.query);
    const s = await model.score(hits.map((h) => [q.query, docs[h.index]] as [string, string]));
    const byModel = hits.map((h, i) => ({ index: h.index, s: s[i], i })).sort((a, b) => b.s - a.s || a.i - b.i);
    const expected = byModel.filter((c) => ![0, 3, 9].includes(c.index));
    const dedup = expected.filter((c, j) => !expected.slice(0, j).some((x) => docs[x.index] === docs[c.index]));
    assert.deepEqual(g.negativeIndices, dedup.map((c) => c.index));
    g.negScores!.forEach((v, j) => assert.ok(Math.abs(v - dedup[j].s) < 1e-6));
    const [pos] = await model.score([[q.query, POS]]);
    assert.ok(Math.abs(g.posScores![0] - pos) < 1e-6);
  } finally {
    model.dispose();
  }
});

test('mineToFile writes grouped JSONL atomically; bad query lines name file:line', async () => {
  const dir = tempDir();
  const corpusFile = path.join(dir, 'corpus.txt');
  fs.writeFileSync(corpusFile, docs.map((d) => d.trim()).join('\n') + '\n');
  const qFile = path.join(dir, 'q.jsonl');
  fs.writeFileSync(qFile, queries.map((q) => JSON.stringify({ query: q.query, pos: [q.positives[0].text] })).join('\n') + '\n');
  const out = path.join(dir, 'out.jsonl');
  const stats = await mineToFile({ queries: qFile, corpus: corpusFile, output: out, rangeMin: 1, numNegatives: 2, withScores: true, maxQueries: 2 });
  assert.equal(stats.queries, 2);
  const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.deepEqual(Object.keys(lines[0]), ['query', 'positives', 'negatives', 'pos_scores', 'neg_scores']);
  assert.equal(lines[0].negatives.length, 2);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['corpus.txt', 'out.jsonl', 'q.jsonl']); // no temp file left

  fs.writeFileSync(qFile, '{"query": "cat", "positives": ["x"]}\n{"query": "cat", "positives": "x"}\n');
  await assert.rejects(mineToFile({ queries: qFile, corpus: corpusFile, output: out }), /q\.jsonl:2: "positives" must be an array/);
  assert.equal(JSON.parse(fs.readFileSync(out, 'utf8').split('\n')[0]).query, 'cat'); // the old output survives
  assert.deepEqual(fs.readdirSync(dir).sort(), ['corpus.txt', 'out.jsonl', 'q.jsonl']);
  assert.equal(groupToJsonl({ query: 'q', positives: ['p'], negatives: ['n'], negativeIndices: [1], negativeRanks: [1] }), '{"query":"q","positives":["p"],"negatives":["n"]}\n');
});

test('label adds pos_scores/neg_scores equal to model.score, keeping order, keys and aliases', async () => {
  const dir = tempDir();
  const input = path.join(dir, 'in.jsonl');
  const records = [
    { query: 'cat', positives: [POS], negatives: ['a cat and a dog', 'cat cat cat'], qid: 'q1' },
    { query: 'dog', pos: ['dogs only here'], neg: ['the cat sat'], pos_scores: [9], neg_scores: [1] }, // old scores replaced
    { query: 'fish', positives: ['the cat eats fish', 'cat food for every cat'], negatives: [] },
  ];
  fs.writeFileSync(input, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const output = path.join(dir, 'out.jsonl');
  const model = await Reranker.load(bertMiniDir, { maxLength: 64 });
  try {
    const stats = await labelGrouped(model, input, output, { batchSize: 2, chunkPairs: 3 });
    assert.deepEqual({ records: stats.records, pairs: stats.pairs }, { records: 3, pairs: 7 });
    const out = fs.readFileSync(output, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(out.length, 3);
    for (let i = 0; i < 3; i++) {
      const r = records[i] as Record<string, unknown>;
      const pos = (r.positives ?? r.pos) as string[];
      const neg = (r.negatives ?? r.neg) as string[];
      const expectPos = await model.score(pos.map((d) => [r.query as string, d] as [string, string]));
      const expectNeg = await model.score(neg.map((d) => [r.query as string, d] as [string, string]));
      assert.equal(out[i].query, r.query);
      assert.equal(out[i].pos_scores.length, pos.length);
      assert.equal(out[i].neg_scores.length, neg.length);
      out[i].pos_scores.forEach((v: number, j: number) => assert.ok(Math.abs(v - expectPos[j]) < 1e-6));
      out[i].neg_scores.forEach((v: number, j: number) => assert.ok(Math.abs(v - expectNeg[j]) < 1e-6));
    }
    assert.equal(out[0].qid, 'q1');
    assert.ok('pos' in out[1] && 'neg' in out[1] && !('positives' in out[1]));
    assert.notDeepEqual(out[1].pos_scores, [9]);

    fs.writeFileSync(input, JSON.stringify(records[0]) + '\n{"query": "x", "negatives": ["y"]}\n');
    await assert.rejects(labelGrouped(model, input, output), /in\.jsonl:2: "positives" \(or "pos"\) is missing/);
  } finally {
    model.dispose();
  }
});

test('mining on BM25 worker threads writes exactly what one thread writes', async () => {
  const opts = { rangeMin: 1, rangeMax: 50, numNegatives: 7, sampling: 'random' as const, seed: 5, withScores: true };
  const one = await mineHardNegatives(queries, corpus, { ...opts, workers: 0 });
  const two = await mineHardNegatives(queries, corpus, { ...opts, workers: 2 });
  assert.ok(one.groups.length > 0);
  assert.deepEqual(two.groups, one.groups);
  assert.deepEqual({ ...two.stats, seconds: 0 }, { ...one.stats, seconds: 0 });
  await assert.rejects(mineHardNegatives(queries, corpus, { workers: -1 }), /workers must be a whole number from 0 to 256, got -1/);
});
