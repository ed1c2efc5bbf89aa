// The retrieval commands end to end on small inputs: rrtrain mine, label, search, eval-retrieval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Reranker } from '../src/model';
import { addon } from '../src/native';
import { bertMiniDir, repoRoot, tempDir } from './helpers';

const cli = path.join(repoRoot, 'dist', 'src', 'cli.js');

function rrtrain(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: { status: number | null; stdout: string; stderr: string }): string {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

const docs = [
  { id: 'cat-mat', text: 'the cat sleeps on the warm mat' },
  { id: 'cat-dog', text: 'a cat and a dog play' },
  { id: 'cats', text: 'cat cat cat' },
  { id: 'cat-mat-copy', text: 'the cat sleeps on the warm mat' },
  { id: 'fish', text: 'the cat eats fish' },
  { id: 'tree', text: 'the cat climbs a tree' },
  { id: 'dog', text: 'dogs only here' },
  { id: 'bird', text: 'a small bird sings in the tree' },
];

function fixtures() {
  const dir = tempDir('rrnative-cli-');
  const corpus = path.join(dir, 'corpus.jsonl');
  fs.writeFileSync(corpus, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const queries = path.join(dir, 'queries.jsonl');
  fs.writeFileSync(queries, [
    { query: 'cat on the mat', positives: ['the cat sleeps on the warm mat'] },
    { query: 'bird in a tree', positives: ['bird'] }, // an id (for eval); a text for mining
    { query: 'dogs here', positives: ['dogs only here'] },
  ].map((q) => JSON.stringify(q)).join('\n') + '\n');
  return { dir, corpus, queries };
}

test('rrtrain mine: grouped JSONL from a query file and a corpus; seeded runs are identical; bundled split', () => {
  const { dir, corpus, queries } = fixtures();
  const out = path.join(dir, 'mined.jsonl');
  const stdout = ok(rrtrain('mine', '--queries', queries, '--corpus', corpus, '--output', out, '--range-min', '1', '--num-negatives', '2', '--with-scores', '--quiet'));
  assert.match(stdout, /3 queries, \d groups written/);
  const groups = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const first = groups[0];
  assert.equal(first.query, 'cat on the mat');
  assert.deepEqual(first.positives, ['the cat sleeps on the warm mat']);
  assert.equal(first.negatives.length, 2);
  assert.ok(!first.negatives.includes('the cat sleeps on the warm mat'));
  assert.equal(first.pos_scores.length, 1);
  assert.equal(first.neg_scores.length, 2);

  // The bundled dev split, random sampling: two runs with one seed write the same bytes.
  const a = path.join(dir, 'a.jsonl');
  const b = path.join(dir, 'b.jsonl');
  for (const f of [a, b]) {
    ok(rrtrain('mine', '--queries', 'debdesc:dev', '--output', f, '--max-queries', '40', '--sampling', 'random', '--seed', '3', '--num-negatives', '5', '--quiet'));
  }
  assert.equal(fs.readFileSync(a, 'utf8'), fs.readFileSync(b, 'utf8'));
  const lines = fs.readFileSync(a, 'utf8').trim().split('\n');
  assert.ok(lines.length >= 35 && lines.length <= 40);
  for (const l of lines) {
    const g = JSON.parse(l);
    assert.ok(g.negatives.length <= 5 && !g.negatives.includes(g.positives[0]));
  }

  // With a cross-encoder rescoring BM25's candidates.
  const m = path.join(dir, 'model.jsonl');
  const withModel = ok(rrtrain('mine', '--queries', queries, '--corpus', corpus, '--output', m, '--model', bertMiniDir, '--max-length', '64', '--range-min', '1', '--range-max', '5', '--num-negatives', '3', '--quiet'));
  // "dogs here" matches only its positive: no negative, skipped.
  assert.match(withModel, /3 queries, 2 groups written to .*, 1 skipped/);
  assert.equal(fs.readFileSync(m, 'utf8').trim().split('\n').length, 2);

  const bad = rrtrain('mine', '--queries', queries, '--output', out);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--corpus is needed/);
});

test('rrtrain label: teacher scores added, equal to the model\'s', async () => {
  const { dir } = fixtures();
  const input = path.join(dir, 'grouped.jsonl');
  fs.writeFileSync(input, JSON.stringify({ query: 'cat', positives: ['cat cat cat'], negatives: ['dogs only here', 'a small bird'] }) + '\n');
  const out = path.join(dir, 'labelled.jsonl');
  ok(rrtrain('label', '--teacher', bertMiniDir, '--input', input, '--output', out, '--max-length', '64'));
  const rec = JSON.parse(fs.readFileSync(out, 'utf8'));
  const model = await Reranker.load(bertMiniDir, { maxLength: 64 });
  try {
    const s = await model.score([['cat', 'cat cat cat'], ['cat', 'dogs only here'], ['cat', 'a small bird']]);
    assert.ok(Math.abs(rec.pos_scores[0] - s[0]) < 1e-6);
    assert.ok(Math.abs(rec.neg_scores[0] - s[1]) < 1e-6 && Math.abs(rec.neg_scores[1] - s[2]) < 1e-6);
  } finally {
    model.dispose();
  }
  fs.writeFileSync(input, '{"query": "cat", "positives": ["a"], "negatives": []}\nnot json\n');
  const bad = rrtrain('label', '--teacher', bertMiniDir, '--input', input, '--output', out);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /grouped\.jsonl:2: invalid JSON/);
});

test('rrtrain search: a table, or JSON sorted by score with both scores', () => {
  const { corpus, dir } = fixtures();
  const json = JSON.parse(ok(rrtrain('search', '--model', bertMiniDir, '--corpus', corpus, '--max-length', '64', '--top-k', '3', '--json', 'the', 'cat')));
  assert.equal(json.length, 3);
  for (const h of json) {
    assert.equal(typeof h.bm25Score, 'number');
    assert.equal(typeof h.rerankScore, 'number');
    assert.equal(h.score, h.rerankScore);
    assert.equal(h.document, docs[h.index].text);
    assert.equal(h.id, docs[h.index].id);
  }
  assert.ok(json[0].score >= json[1].score && json[1].score >= json[2].score);
  const table = ok(rrtrain('search', '--model', bertMiniDir, '--corpus', corpus, '--max-length', '64', 'cat on the mat', '--fusion', 'linear:0.5'));
  assert.match(table, /#\s+score\s+rerank\s+bm25\s+id\s+document/);
  assert.match(table, /cat-mat/);
  const txt = path.join(dir, 'c.txt');
  fs.writeFileSync(txt, 'one cat\ntwo dogs\n');
  assert.match(ok(rrtrain('search', '--model', bertMiniDir, '--corpus', txt, 'zebra')), /no document matches/);
  const bad = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(bad, '{"text": "fine"}\n{"txt": "oops"}\n');
  const r = rrtrain('search', '--model', bertMiniDir, '--corpus', bad, 'cat');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.jsonl:2: "text" \(or "document"\) is missing/);
});

test('rrtrain eval-retrieval: BM25 alone, then with the model and a fusion column; JSON', () => {
  const { corpus, queries } = fixtures();
  const report = JSON.parse(ok(rrtrain('eval-retrieval', '--retrieval-queries', queries, '--corpus', corpus, '--retrieve-k', '5', '--json')));
  assert.deepEqual(report.columns, ['BM25']);
  assert.equal(report.queries, 3);
  assert.deepEqual(Object.keys(report.metrics.BM25), ['mrr@10', 'ndcg@10', 'recall@10', 'recall@5', 'queries']);
  // Each positive here ranks first under BM25 (the copy of cat-mat second: it is relevant too).
  assert.equal(report.metrics.BM25['mrr@10'], 1);
  assert.equal(report.metrics.BM25['recall@5'], 1);
  const table = ok(rrtrain('eval-retrieval', '--retrieval', queries, '--corpus', corpus, '--model', bertMiniDir, '--max-length', '64', '--fusion', 'rrf', '--quiet'));
  assert.match(table, /metric\s+BM25\s+model\s+rrf:60/);
  assert.match(table, /Recall@100/);
  assert.match(table, /3 queries/);
  const sample = ok(rrtrain('eval-retrieval', '--retrieval', 'debdesc:dev', '--corpus', 'debdesc:dev', '--max-queries', '50', '--seed', '1'));
  assert.match(sample, /50 of 3522 queries \(seeded random sample, seed 1\)/);
  const none = rrtrain('eval-retrieval');
  assert.equal(none.status, 1);
  assert.match(none.stderr, /give --retrieval debdesc:dev or --retrieval-queries FILE --corpus FILE/);
});

test('--device: auto (the default) runs where LibTorch can; cuda without a GPU is a one-line error naming --device', () => {
  const { corpus } = fixtures();
  const cuda = addon().runtimeInfo().cudaAvailable;
  ok(rrtrain('search', '--model', bertMiniDir, '--corpus', corpus, '--max-length', '64', '--device', 'auto', 'cat'));
  if (cuda) return;
  // Repeated: such an exit, right after the addon starts its torch thread, used to segfault now and then
  // (2 in 15) while that thread was still configuring torch.
  const search = ['search', '--model', bertMiniDir, '--corpus', corpus, 'cat'];
  const score = ['score', '--model', bertMiniDir, '--input', corpus];
  for (const args of [search, score, score, score, score, score, score]) {
    const r = spawnSync(process.execPath, [cli, ...args, '--device', 'cuda'], { encoding: 'utf8' });
    assert.equal(r.status, 1, `signal ${r.signal}: ${r.stderr}`);
    assert.match(r.stderr, /--device: cuda was asked for, but no CUDA device is available to LibTorch/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);  // no stack trace
  }
});
