// Evaluation metrics against reference values: rankings worked out by hand (arithmetic in the
// comments) and outputs of scikit-learn 1.2.1 (Debian's python3-sklearn, numpy 1.24.2), which are
// pasted here; sklearn is not a project dependency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracyAtThreshold,
  averagePrecision,
  classificationMetrics,
  f1AtThreshold,
  ndcgAtK,
  prAuc,
  rankingMetrics,
  reciprocalRankAtK,
  recallAtK,
  rocAuc,
  type RankedQuery,
} from '../src/eval/metrics';

function assertClose(actual: number, expected: number, message?: string, tol = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${message ?? ''} expected ${expected}, got ${actual}`);
}

// --- Hand-worked rankings ----------------------------------------------------------------------

// A: scores already descending, so the ranking is the list order; relevant at ranks 2 and 4.
const A: RankedQuery = { scores: [0.9, 0.8, 0.7, 0.6, 0.5], relevance: [0, 1, 0, 1, 0] };
// B: ties. Order by score desc: idx1 (0.9), then idx0 and idx2 tied at 0.5 (ranks 2-3, each order
// equally likely: the metrics average the two), then idx3 (0.1) at rank 4.
const B: RankedQuery = { scores: [0.5, 0.9, 0.5, 0.1], relevance: [0, 0, 2, 1] };
// C: nothing relevant.
const C: RankedQuery = { scores: [0.3, 0.2, 0.1], relevance: [0, 0, 0] };
// D: relevant at rank 1 only after sorting (scores are not in list order).
const D: RankedQuery = { scores: [0.1, 0.7, 0.4], relevance: [0, 3, 0] };

test('reciprocalRankAtK: hand-worked values', () => {
  assert.equal(reciprocalRankAtK(A, 10), 1 / 2); // first relevant at rank 2
  assert.equal(reciprocalRankAtK(A, 1), 0); // rank 2 is outside the top 1
  assertClose(reciprocalRankAtK(B, 10), (1 / 2 + 1 / 3) / 2); // idx2 at rank 2 or 3, half the time each
  assertClose(reciprocalRankAtK(B, 2), 1 / 2 / 2); // rank 2 half the time, else outside the top 2
  assert.equal(reciprocalRankAtK(C, 10), 0);
  assert.equal(reciprocalRankAtK(D, 1), 1); // idx1 (0.7) ranks first
});

test('ndcgAtK: hand-worked values (linear gain, 1/log2(rank+1) discount)', () => {
  // A: DCG = 1/log2(3) + 1/log2(5); ideal [1,1,0,0,0]: IDCG = 1/log2(2) + 1/log2(3) = 1 + 1/log2(3).
  assertClose(ndcgAtK(A, 10), (1 / Math.log2(3) + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3)));
  // A@2: DCG = 1/log2(3); IDCG@2 = 1 + 1/log2(3).
  assertClose(ndcgAtK(A, 2), 1 / Math.log2(3) / (1 + 1 / Math.log2(3)));
  // B: the tied pair's mean grade (2+0)/2 = 1 on ranks 2 and 3, then grade 1 at rank 4:
  //    DCG = 1/log2(3) + 1/log2(4) + 1/log2(5); ideal [2,1,0,0]: IDCG = 2/1 + 1/log2(3).
  assertClose(ndcgAtK(B, 10), (1 / Math.log2(3) + 1 / 2 + 1 / Math.log2(5)) / (2 + 1 / Math.log2(3)));
  assertClose(ndcgAtK(B, 2), 1 / Math.log2(3) / (2 + 1 / Math.log2(3))); // only rank 2 of the pair counts
  assert.equal(ndcgAtK(C, 10), 0); // no relevant item -> 0 by convention (IDCG = 0)
  assert.equal(ndcgAtK(D, 1), 1); // the only relevant item is ranked first
});

test('averagePrecision: hand-worked values (binary relevance)', () => {
  assert.equal(averagePrecision(A), (1 / 2 + 2 / 4) / 2); // P@2 = 1/2, P@4 = 2/4 -> 0.5
  // B: idx2 at rank 2 (P = 1/2) or 3 (P = 1/3), then idx3 at rank 4 (P = 2/4): ((1/2 + 1/3)/2 + 1/2) / 2.
  assertClose(averagePrecision(B), ((1 / 2 + 1 / 3) / 2 + 1 / 2) / 2);
  assert.equal(averagePrecision(C), 0);
  assert.equal(averagePrecision(D), 1);
});

test('recallAtK: hand-worked values, totalRelevant and the no-relevant convention', () => {
  assert.equal(recallAtK(A, 2), 1 / 2); // 1 of 2 relevant in the top 2
  assert.equal(recallAtK(A, 4), 1);
  assert.equal(recallAtK(A, 100), 1); // k past the list length is fine
  assert.equal(recallAtK(B, 3), 1 / 2); // top 3 = idx1 and the tied pair -> 1 of 2
  assert.equal(recallAtK(B, 2), 1 / 4); // idx2 in the top 2 half the time
  assert.equal(recallAtK(B, 4, 4), 2 / 4); // 2 found, 2 more never retrieved by the first stage
  assert.equal(recallAtK({ ...B, totalRelevant: 5 }, 4), 2 / 5); // per-query field
  assert.equal(recallAtK({ ...B, totalRelevant: 5 }, 4, 4), 2 / 4); // the argument wins
  assert.equal(recallAtK(C, 10), 0); // no relevant item -> 0, like MRR, NDCG and AP
  assert.equal(recallAtK(C, 10, 3), 0); // 3 relevant exist, none retrieved
  assert.throws(() => recallAtK(A, 2, 1), /totalRelevant/); // fewer than the 2 already in the list
  assert.throws(() => recallAtK(A, 2, 2.5), TypeError);
});

test('rankingMetrics: means over queries with the exact keys', () => {
  const m = rankingMetrics([A, B, C], { ks: [2, 10] });
  assert.deepEqual(Object.keys(m).sort(), ['map', 'mrr@10', 'ndcg@10', 'queries', 'recall@10', 'recall@2']);
  assert.equal(m.queries, 3);
  assertClose(m['mrr@10'], (1 / 2 + 5 / 12 + 0) / 3);
  assertClose(m.map, (1 / 2 + 11 / 24 + 0) / 3);
  assertClose(m['recall@2'], (1 / 2 + 1 / 4 + 0) / 3);
  assertClose(m['recall@10'], (1 + 1 + 0) / 3); // 2/3
  const ndcgA = (1 / Math.log2(3) + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3));
  const ndcgB = (1 / Math.log2(3) + 1 / 2 + 1 / Math.log2(5)) / (2 + 1 / Math.log2(3));
  assertClose(m['ndcg@10'], (ndcgA + ndcgB + 0) / 3);

  const defaults = rankingMetrics([A]);
  assert.deepEqual(Object.keys(defaults).sort(), ['map', 'mrr@10', 'ndcg@10', 'queries', 'recall@10', 'recall@100']);

  const empty = rankingMetrics([]);
  assert.equal(empty.queries, 0);
  assert.ok(Number.isNaN(empty['mrr@10']) && Number.isNaN(empty.map) && Number.isNaN(empty['recall@100']));
});

test('rankingMetrics honours a query totalRelevant for recall only', () => {
  const m = rankingMetrics([{ ...A, totalRelevant: 4 }], { ks: [10] });
  assert.equal(m['recall@10'], 2 / 4);
  assert.equal(m.map, 0.5); // AP still divides by the relevant items in the list
});

test('ranking tie rule: the order of tied candidates in the input does not matter', () => {
  // Eval files list positives first: a model that scores a group equally must not win from that order.
  assert.equal(reciprocalRankAtK({ scores: [1, 1], relevance: [0, 1] }, 10), 3 / 4);
  assert.equal(reciprocalRankAtK({ scores: [1, 1], relevance: [1, 0] }, 10), 3 / 4);
  const flat = { scores: new Array(30).fill(0.25), relevance: [1, ...new Array(29).fill(0)] };
  assertClose(reciprocalRankAtK(flat, 10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].reduce((s, r) => s + 1 / r, 0) / 30);
  assertClose(recallAtK(flat, 10), 10 / 30);
});

// The definition itself: every order of the tied candidates, each metric computed on it by the plain
// (tie-free) formula, averaged. Small random queries with many ties, graded and binary labels.
function orders(scores: number[]): number[][] {
  const out: number[][] = [];
  const walk = (prefix: number[], rest: number[]): void => {
    if (rest.length === 0) return void out.push(prefix);
    const top = Math.max(...rest.map((i) => scores[i]));
    for (const i of rest) if (scores[i] === top) walk([...prefix, i], rest.filter((x) => x !== i));
  };
  walk([], scores.map((_, i) => i));
  return out;
}

function plainMetrics(order: number[], rel: number[], k: number): number[] {
  const grades = order.map((i) => rel[i]);
  const first = grades.findIndex((g) => g > 0);
  const rr = first >= 0 && first < k ? 1 / (first + 1) : 0;
  const dcgAt = (g: number[]) => g.slice(0, k).reduce((s, x, i) => s + x / Math.log2(i + 2), 0);
  const idcg = dcgAt([...rel].sort((a, b) => b - a));
  const ndcg = idcg === 0 ? 0 : dcgAt(grades) / idcg;
  let found = 0;
  let ap = 0;
  grades.forEach((g, i) => { if (g > 0) ap += ++found / (i + 1); });
  const total = rel.filter((g) => g > 0).length;
  const recall = total === 0 ? 0 : grades.slice(0, k).filter((g) => g > 0).length / total;
  return [rr, ndcg, found === 0 ? 0 : ap / found, recall];
}

test('tied scores: each ranking metric equals its mean over every order of the tied candidates', () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rand() * 7);
    const scores = Array.from({ length: n }, () => Math.floor(rand() * 3) / 2);
    const rel = Array.from({ length: n }, () => (rand() < 0.4 ? Math.floor(rand() * 3) + (trial % 2 ? 1 : 0) : 0));
    const k = 1 + Math.floor(rand() * n);
    const all = orders(scores);
    const mean = [0, 0, 0, 0];
    for (const o of all) plainMetrics(o, rel, k).forEach((v, i) => (mean[i] += v / all.length));
    const q = { scores, relevance: rel };
    const label = `scores ${JSON.stringify(scores)} relevance ${JSON.stringify(rel)} k ${k}`;
    assertClose(reciprocalRankAtK(q, k), mean[0], `mrr ${label}`, 1e-12);
    assertClose(ndcgAtK(q, k), mean[1], `ndcg ${label}`, 1e-12);
    assertClose(averagePrecision(q), mean[2], `ap ${label}`, 1e-12);
    assertClose(recallAtK(q, k), mean[3], `recall ${label}`, 1e-12);
  }
});

test('ranking metrics accept typed arrays (model outputs)', () => {
  const q = { scores: new Float32Array([0.9, 0.8, 0.7, 0.6, 0.5]), relevance: new Uint8Array([0, 1, 0, 1, 0]) };
  assert.equal(reciprocalRankAtK(q, 10), 1 / 2);
  assert.equal(averagePrecision(q), 0.5);
});

test('ranking argument errors name the argument', () => {
  assert.throws(() => ndcgAtK({ scores: [1, 2], relevance: [1] }, 10), { name: 'RangeError', message: /q\.scores.*q\.relevance/ });
  assert.throws(() => ndcgAtK({ scores: [1, NaN], relevance: [1, 0] }, 10), { name: 'RangeError', message: /q\.scores\[1\]/ });
  assert.throws(() => ndcgAtK({ scores: [1, 2], relevance: [1, -1] }, 10), { name: 'RangeError', message: /q\.relevance\[1\]/ });
  assert.throws(() => ndcgAtK({ scores: [1, '2'] as unknown as number[], relevance: [1, 0] }, 10), { name: 'TypeError', message: /q\.scores\[1\]/ });
  assert.throws(() => ndcgAtK(A, 0), { name: 'RangeError', message: /\bk\b/ });
  assert.throws(() => ndcgAtK(A, 1.5), { name: 'TypeError', message: /\bk\b/ });
  assert.throws(() => rankingMetrics([A, { scores: [1], relevance: [] }]), { name: 'RangeError', message: /queries\[1\]/ });
  assert.throws(() => rankingMetrics([A], { ks: [10, 0] }), { name: 'RangeError', message: /options\.ks\[1\]/ });
});

// --- scikit-learn references: ranking ----------------------------------------------------------
// Tie-free scores here; ties are checked above against every order of the tied candidates.

const S1 = { relevance: [3, 2, 3, 0, 1, 2], scores: [0.1, 0.9, 0.3, 0.8, 0.5, 0.2] };
const S2 = { relevance: [0, 1, 2, 0, 3, 0, 1], scores: [2.5, -1.0, 0.3, 4.0, 1.5, 0.0, -0.5] };

test('ndcgAtK matches sklearn ndcg_score (tie-free, graded labels)', () => {
  // sklearn 1.2.1: ndcg_score([relevance], [scores], k=k); k=None -> whole list.
  const expected: Array<[RankedQuery, number, number]> = [
    [S1, 1, 0.6666666666666666],
    [S1, 3, 0.42424731131432475],
    [S1, 5, 0.6393696075944691],
    [S1, 6, 0.7890156350423077], // k=None
    [S2, 1, 0.0],
    [S2, 3, 0.31500299363094625],
    [S2, 5, 0.4547591170266467],
    [S2, 7, 0.5875536728623665], // k=None
  ];
  for (const [q, k, value] of expected) assertClose(ndcgAtK(q, k), value, `k=${k}`);
});

test('rankingMetrics ndcg@10 matches the sklearn ndcg_score mean over two queries', () => {
  // sklearn 1.2.1: ndcg_score([S1.relevance + [0], S2.relevance], [S1.scores + [-9.0], S2.scores], k=10)
  // (S1 padded with an irrelevant, last-ranked item so both rows have 7 entries; it changes nothing).
  const S1padded = { relevance: [...S1.relevance, 0], scores: [...S1.scores, -9.0] };
  assertClose(rankingMetrics([S1padded, S2])['ndcg@10'], 0.6882846539523371);
  // ... same call with k=3
  assertClose((ndcgAtK(S1padded, 3) + ndcgAtK(S2, 3)) / 2, 0.3696251524726355);
});

// --- scikit-learn references: classification --------------------------------------------------
// Each case: labels, scores, average_precision_score(labels, scores), roc_auc_score(labels, scores),
// and at thresholds 0.5 and 0.0 (y_pred = score >= t) accuracy_score, precision_score,
// recall_score, f1_score (sklearn 1.2.1, zero_division=0 for precision and f1).
interface ClsCase {
  name: string;
  labels: number[];
  scores: number[];
  ap: number;
  roc: number;
  at: Record<string, { acc: number; p: number; r: number; f1: number }>;
}

const CLS_CASES: ClsCase[] = [
  {
    name: 'no ties',
    labels: [1, 0, 1, 1, 0, 0, 1, 0],
    scores: [0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.4, 0.3],
    ap: 0.7470238095238095,
    roc: 0.6875,
    at: { '0.5': { acc: 0.5, p: 0.5, r: 0.75, f1: 0.6 }, '0': { acc: 0.5, p: 0.5, r: 1.0, f1: 0.6666666666666666 } },
  },
  {
    name: 'ties across classes',
    labels: [1, 0, 1, 0, 1, 0, 0, 1],
    scores: [0.5, 0.5, 0.8, 0.8, 0.2, 0.2, 0.2, 0.9],
    ap: 0.6916666666666667,
    roc: 0.6875,
    at: { '0.5': { acc: 0.625, p: 0.6, r: 0.75, f1: 0.6666666666666665 }, '0': { acc: 0.5, p: 0.5, r: 1.0, f1: 0.6666666666666666 } },
  },
  {
    name: 'all scores tied',
    labels: [0, 0, 1, 1],
    scores: [0.3, 0.3, 0.3, 0.3],
    ap: 0.5,
    roc: 0.5,
    // At 0.5 nothing is predicted positive: sklearn's precision is 0 by zero_division; here it is
    // NaN (checked separately below). f1 is 0 in both.
    at: { '0.5': { acc: 0.5, p: NaN, r: 0.0, f1: 0.0 }, '0': { acc: 0.5, p: 0.5, r: 1.0, f1: 0.6666666666666666 } },
  },
  {
    name: 'logits with many ties',
    labels: [1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0],
    scores: [2.0, -1.0, 0.0, 0.5, 0.5, -1.0, 0.0, 0.5, 2.0, 0.0, -1.0, -3.0],
    ap: 0.4984848484848485,
    roc: 0.4861111111111111,
    at: {
      '0.5': { acc: 0.4166666666666667, p: 0.4, r: 0.3333333333333333, f1: 0.3636363636363636 },
      '0': { acc: 0.5, p: 0.5, r: 0.6666666666666666, f1: 0.5714285714285715 },
    },
  },
];

for (const c of CLS_CASES) {
  test(`prAuc and rocAuc match sklearn (${c.name})`, () => {
    assertClose(prAuc(c.scores, c.labels), c.ap, 'average_precision_score');
    assertClose(rocAuc(c.scores, c.labels), c.roc, 'roc_auc_score');
    // Ties are handled as groups, so permuting the input does not change the result.
    const perm = c.scores.map((_, i) => i).reverse();
    const s = perm.map((i) => c.scores[i]);
    const l = perm.map((i) => c.labels[i]);
    assertClose(prAuc(s, l), c.ap, 'average_precision_score, reversed input');
    assertClose(rocAuc(s, l), c.roc, 'roc_auc_score, reversed input');
  });

  test(`threshold metrics match sklearn (${c.name})`, () => {
    for (const [t, want] of Object.entries(c.at)) {
      const threshold = Number(t);
      const got = classificationMetrics(c.scores, c.labels, { threshold });
      assertClose(got.accuracy, want.acc, `accuracy@${t}`);
      assertClose(accuracyAtThreshold(c.scores, c.labels, threshold), want.acc, `accuracy@${t}`);
      if (Number.isNaN(want.p)) assert.ok(Number.isNaN(got.precision), `precision@${t} should be NaN`);
      else assertClose(got.precision, want.p, `precision@${t}`);
      assertClose(got.recall, want.r, `recall@${t}`);
      assertClose(got.f1, want.f1, `f1@${t}`);
      assertClose(got.pr_auc, c.ap);
      assertClose(got.roc_auc, c.roc);
    }
  });
}

test('threshold is inclusive: score == threshold predicts positive', () => {
  assert.equal(accuracyAtThreshold([0.5], [1], 0.5), 1);
  assert.deepEqual(f1AtThreshold([0.5, 0.4], [1, 0], 0.5), { precision: 1, recall: 1, f1: 1 });
});

test('labels > 0 count as positive; typed arrays are accepted', () => {
  // Same as the "no ties" case with positives written as 2 and the inputs as typed arrays.
  const c = CLS_CASES[0];
  const labels = new Int32Array(c.labels.map((y) => y * 2));
  const scores = new Float64Array(c.scores);
  assertClose(prAuc(scores, labels), c.ap);
  assertClose(rocAuc(scores, labels), c.roc);
});

test('undefined metrics are NaN, never a throw', () => {
  const empty = classificationMetrics([], [], { threshold: 0.5 });
  for (const [key, value] of Object.entries(empty)) assert.ok(Number.isNaN(value), `${key} on empty input`);

  // Only negatives: recall, PR-AUC and ROC-AUC undefined; nothing predicted -> precision and f1 too.
  const neg = classificationMetrics([0.1, 0.2], [0, 0], { threshold: 0.5 });
  assert.equal(neg.accuracy, 1);
  for (const key of ['precision', 'recall', 'f1', 'pr_auc', 'roc_auc'] as const) assert.ok(Number.isNaN(neg[key]), key);

  // Only positives: ROC-AUC undefined, PR-AUC is 1 (sklearn 1.2.1: average_precision_score([1,1,1],[0.1,0.2,0.2]) == 1.0).
  const pos = classificationMetrics([0.1, 0.2, 0.2], [1, 1, 1], { threshold: 0.15 });
  assert.equal(pos.pr_auc, 1);
  assert.ok(Number.isNaN(pos.roc_auc));
  assertClose(pos.recall, 2 / 3);
  assert.equal(pos.precision, 1);
  assertClose(pos.f1, 0.8); // 2*2 / (2*2 + 0 + 1)
});

test('classification argument errors name the argument', () => {
  assert.throws(() => prAuc([1, 2], [1]), { name: 'RangeError', message: /scores.*labels/ });
  assert.throws(() => rocAuc([1, Infinity], [1, 0]), { name: 'RangeError', message: /scores\[1\]/ });
  assert.throws(() => rocAuc([1, 2], [1, NaN]), { name: 'RangeError', message: /labels\[1\]/ });
  assert.throws(() => rocAuc('12' as unknown as number[], [1, 0]), { name: 'TypeError', message: /scores/ });
  assert.throws(() => f1AtThreshold([1], [1], NaN), { name: 'RangeError', message: /threshold/ });
  assert.throws(() => accuracyAtThreshold([1], [1], '0.5' as unknown as number), { name: 'TypeError', message: /threshold/ });
  assert.throws(() => classificationMetrics([1], [1], undefined as never), { name: 'TypeError', message: /options/ });
});
