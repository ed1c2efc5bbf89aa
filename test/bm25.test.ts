// BM25: scores against hand arithmetic, the CJK-aware tokenizer, tie order, top-k against brute force, and
// serialization.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bm25Index, tokenize } from '../src/retrieve/bm25';

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);
}

// Tiny corpus (default k1 = 0.9, b = 0.4):
//   d0 "the cat sat"             dl 3
//   d1 "the dog sat on the mat"  dl 6
//   d2 "cat cat dog"             dl 3
//   d3 "a bird"                  dl 2
// N = 4, avgdl = 14 / 4 = 3.5.
// Length norms k1·(1 − b + b·dl/avgdl):
//   dl 3: 0.9·(0.6 + 0.4·3/3.5) = 0.9·0.942857… = 0.848571428571…
//   dl 6: 0.9·(0.6 + 0.4·6/3.5) = 0.9·1.285714… = 1.157142857142…
//   dl 2: 0.9·(0.6 + 0.4·2/3.5) = 0.9·0.828571… = 0.745714285714…
// idf = ln(1 + (N − df + 0.5)/(df + 0.5)):
//   df 2 (cat, the, sat, dog): ln(1 + 2.5/2.5) = ln 2 = 0.693147180559945
//   df 1 (bird):               ln(1 + 3.5/1.5) = ln 3.3333… = 1.203972804325936
const docs = ['the cat sat', 'the dog sat on the mat', 'cat cat dog', 'a bird'];
const LN2 = 0.6931471805599453;
const IDF1 = 1.2039728043259361;
const NORM3 = 0.9 * (0.6 + (0.4 * 3) / 3.5);
const NORM6 = 0.9 * (0.6 + (0.4 * 6) / 3.5);
const NORM2 = 0.9 * (0.6 + (0.4 * 2) / 3.5);

test('BM25 scores equal the formula worked by hand', () => {
  const index = Bm25Index.build(docs);
  assert.equal(index.numDocs, 4);
  close(index.avgdl, 3.5, 'avgdl');
  assert.equal(index.docFreq('cat'), 2);
  assert.equal(index.docFreq('bird'), 1);

  // "cat": d2 has tf 2, d0 tf 1 (both dl 3).
  //   d2: ln2 · 2·1.9/(2 + 0.848571…) = 0.693147… · 3.8/2.848571… = 0.693147… · 1.334002… = 0.924659729332725
  //   d0: ln2 · 1·1.9/(1 + 0.848571…) = 0.693147… · 1.9/1.848571… = 0.693147… · 1.027821… = 0.712431027932556
  const cat = index.search('cat', 10);
  assert.deepEqual(
    cat.map((h) => h.index),
    [2, 0],
  );
  close(cat[0].score, (LN2 * 2 * 1.9) / (2 + NORM3), 'cat d2');
  close(cat[0].score, 0.9246597293327253, 'cat d2 (decimal)');
  close(cat[1].score, (LN2 * 1 * 1.9) / (1 + NORM3), 'cat d0');
  close(cat[1].score, 0.7124310279325559, 'cat d0 (decimal)');

  // "the sat": d1 (dl 6): the tf 2 → ln2 · 3.8/(2 + 1.157142…) = 0.834286…; sat tf 1 → ln2 · 1.9/2.157142… = 0.610520…
  //   total 1.444806111071566; d0: the + sat, tf 1 each → 2 · 0.712431… = 1.424862055865112
  const ts = index.search('the sat', 10);
  assert.deepEqual(
    ts.map((h) => h.index),
    [1, 0],
  );
  close(ts[0].score, (LN2 * 2 * 1.9) / (2 + NORM6) + (LN2 * 1 * 1.9) / (1 + NORM6), 'the sat d1');
  close(ts[0].score, 1.444806111071566, 'the sat d1 (decimal)');
  close(ts[1].score, 1.4248620558651117, 'the sat d0 (decimal)');

  // "bird": only d3 (dl 2): 1.203972… · 1.9/(1 + 0.745714…) = 1.203972… · 1.088380… = 1.310379566083057
  const bird = index.search('Bird!', 10);
  assert.deepEqual(bird.length, 1);
  assert.equal(bird[0].index, 3);
  close(bird[0].score, (IDF1 * 1.9) / (1 + NORM2), 'bird d3');
  close(bird[0].score, 1.3103795660830566, 'bird d3 (decimal)');

  // A term repeated in the query counts twice; unknown terms add nothing; no match, no hit.
  close(index.search('cat cat zebra', 1)[0].score, 2 * 0.9246597293327253, 'cat cat');
  assert.deepEqual(index.search('zebra', 10), []);
  assert.deepEqual(index.search('', 10), []);

  // scoreDocument agrees, including 0 for a document without the terms.
  close(index.scoreDocument('the sat', 1), 1.444806111071566, 'scoreDocument');
  assert.equal(index.scoreDocument('cat', 3), 0);
});

test('k1 and b are honoured', () => {
  // k1 = 1.2, b = 0.75, "cat" in d0: norm = 1.2·(0.25 + 0.75·3/3.5) = 1.2·0.892857… = 1.071428571428…
  //   ln2 · 1·2.2/(1 + 1.071428…) = 0.693147… · 1.062069… = 0.736170…
  const index = Bm25Index.build(docs, { k1: 1.2, b: 0.75 });
  close(index.scoreDocument('cat', 0), (LN2 * 2.2) / (1 + 1.2 * (0.25 + (0.75 * 3) / 3.5)), 'k1 1.2 b 0.75');
  // b = 0: no length normalization, so tf 1 scores the same in every document.
  const flat = Bm25Index.build(docs, { b: 0 });
  close(flat.scoreDocument('sat', 0), flat.scoreDocument('sat', 1), 'b = 0');
});

test('tokenizer: lowercase alphanumeric runs, CJK bigrams', () => {
  assert.deepEqual(tokenize('Hello, World! libfoo-dev 2.0_beta café'), [
    'hello',
    'world',
    'libfoo',
    'dev',
    '2',
    '0',
    'beta',
    'café',
  ]);
  assert.deepEqual(tokenize('中文分词'), ['中文', '文分', '分词']);
  assert.deepEqual(tokenize('我'), ['我']); // a lone CJK character is a unigram
  assert.deepEqual(tokenize('abc中文def 我 x'), ['abc', '中文', 'def', '我', 'x']);
  assert.deepEqual(tokenize('日本、東京。'), ['日本', '東京']); // CJK punctuation splits runs
  assert.deepEqual(tokenize('コーヒー'), ['コー', 'ーヒ', 'ヒー']); // the prolonged sound mark stays in the run
  assert.deepEqual(tokenize('한국어'), ['한국', '국어']);
  assert.deepEqual(tokenize('𠀀𠀁'), ['𠀀𠀁']); // astral (Extension B) Han: one bigram of two code points
  assert.deepEqual(tokenize('  ... --- '), []);
});

test('Chinese queries match Chinese documents', () => {
  const index = Bm25Index.build(['这是一个中文文档', 'an English document', '中文检索系统', '检索']);
  const hits = index.search('中文检索', 10);
  // Query bigrams 中文 文检 检索: doc 2 has 中文 and 检索, doc 0 only 中文, doc 3 "检索" is one bigram.
  assert.equal(hits[0].index, 2);
  assert.deepEqual(
    hits.map((h) => h.index).sort(),
    [0, 2, 3],
  );
});

test('ties are ordered by ascending index, also when k cuts them', () => {
  const index = Bm25Index.build(['x y', 'z', 'x y', 'y x', 'x', 'q']);
  // d0, d2, d3 are the same bag of words (dl 2); d4 "x" is shorter, so scores higher.
  const all = index.search('x', 10);
  assert.deepEqual(
    all.map((h) => h.index),
    [4, 0, 2, 3],
  );
  assert.equal(all[1].score, all[2].score);
  assert.equal(all[2].score, all[3].score);
  assert.deepEqual(
    index.search('x', 3).map((h) => h.index),
    [4, 0, 2],
  );
  const same = Bm25Index.build(Array.from({ length: 50 }, () => 'same words here'));
  assert.deepEqual(
    same.search('words', 5).map((h) => h.index),
    [0, 1, 2, 3, 4],
  );
});

test('search top-k equals brute-force ranking on a random corpus', () => {
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const vocab = Array.from({ length: 40 }, (_, i) => `w${i}`);
  const pickWord = (): string => vocab[Math.floor(Math.pow(rand(), 2) * vocab.length)];
  const corpus = Array.from({ length: 300 }, () =>
    Array.from({ length: 1 + Math.floor(rand() * 30) }, pickWord).join(' '),
  );
  const index = Bm25Index.build(corpus);
  // Independent reference: the formula straight from token counts.
  const toks = corpus.map((d) => d.split(' '));
  const N = corpus.length;
  const avgdl = toks.reduce((s, t) => s + t.length, 0) / N;
  const df = new Map<string, number>();
  for (const t of toks) for (const w of new Set(t)) df.set(w, (df.get(w) ?? 0) + 1);
  const ref = (q: string[], d: number): number => {
    let s = 0;
    for (const w of q) {
      const tf = toks[d].filter((x) => x === w).length;
      if (tf === 0) continue;
      const n = df.get(w)!;
      const idf = Math.log(1 + (N - n + 0.5) / (n + 0.5));
      s += (idf * tf * 1.9) / (tf + 0.9 * (1 - 0.4 + (0.4 * toks[d].length) / avgdl));
    }
    return s;
  };
  for (let qi = 0; qi < 30; qi++) {
    const q = Array.from({ length: 1 + Math.floor(rand() * 4) }, pickWord);
    const expected = corpus
      .map((_, d) => ({ index: d, score: ref(q, d) }))
      .filter((h) => h.score > 0)
      .sort((a, b) => b.score - a.score || a.index - b.index);
    for (const k of [1, 7, 50, 1000]) {
      const got = index.search(q.join(' '), k);
      const want = expected.slice(0, k);
      assert.equal(got.length, want.length);
      for (let i = 0; i < got.length; i++) {
        // Summation order may differ in the last bits, so a different index is only allowed at a score tie.
        assert.ok(Math.abs(got[i].score - want[i].score) < 1e-9, `q${qi} k${k} #${i}: ${got[i].index} vs ${want[i].index}`);
      }
      for (const h of got) close(index.scoreDocument(q.join(' '), h.index), h.score, 'scoreDocument');
    }
  }
});

test('serialize / deserialize round trip', () => {
  const index = Bm25Index.build([...docs, '中文文档'], { k1: 1.1, b: 0.3 });
  const copy = Bm25Index.deserialize(index.serialize(), { k1: 1.1, b: 0.3 });
  assert.equal(copy.numDocs, index.numDocs);
  assert.equal(copy.vocabularySize, index.vocabularySize);
  for (const q of ['cat', 'the sat dog', 'bird', '中文', 'nothing']) {
    assert.deepEqual(copy.search(q, 10), index.search(q, 10));
  }
  assert.throws(() => Bm25Index.deserialize(Buffer.from('not an index')), /not a serialized index/);
});
