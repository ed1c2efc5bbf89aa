// Long documents: PairTokenizer.encodeDocuments against the Rust tokenizer encoding the whole text (truncated
// pairs token for token the same, right and left, though only a prefix of a long document is tokenized), chunk
// windows against the document's own tokens, and Reranker.score's chunk aggregates against the windows scored
// one by one with scoreTokens.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Tokenizer } from 'tokenizers';
import { Reranker } from '../src/model';
import { PairTokenizer, type EncodedPair } from '../src/tokenize';
import { bertMiniDir, fixturesDir, repoRoot } from './helpers';

const tokenizerDirs = {
  'BERT WordPiece': bertMiniDir,
  'XLM-R Unigram (Metaspace)': path.join(fixturesDir, 'st-xlmr-mean-pub'),
  'RoBERTa byte-level BPE': path.join(repoRoot, 'test', 'fixtures', 'tokenizers', 'roberta-bpe'),
};

// Texts of every shape a cut could break: accents, CJK, numbers, punctuation, doubled spaces, tabs and newlines,
// and long runs without a space.
const words = 'the quick brown fox jumps over lazy dogs naïve café 東京 tokyo résumé supercalifragilistic 12,345.67 e-mail: a@b.co, (hello) world! new\nline\ttab'.split(' ');
function texts(seed: number): { queries: string[]; documents: string[] } {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const text = (n: number) => Array.from({ length: n }, () => words[Math.floor(rnd() * words.length)]).join(rnd() < 0.2 ? '  ' : ' ');
  return {
    queries: ['cat', text(30), text(200)],
    documents: [text(3), text(40), text(100), text(400), text(3000), 'x'.repeat(5000), text(2000).replace(/ /g, ''), `${'y'.repeat(3000)} ${text(500)}`],
  };
}

function rustEncode(file: string, maxLength: number, direction: 'right' | 'left', query: string, document: string): Promise<EncodedPair> {
  const t = Tokenizer.fromFile(file);
  t.setTruncation(maxLength, { strategy: 'LongestFirst' as never, direction: direction as never });
  return t.encode(query, document).then((e) => ({ ids: e.getIds(), typeIds: e.getTypeIds() }));
}

describe('encodeDocuments', () => {
  for (const [family, dir] of Object.entries(tokenizerDirs)) {
    test(`${family}: truncated pairs equal the whole text's, cut right or left, and count the documents cut`, async () => {
      const tokenizer = await PairTokenizer.load(dir);
      const file = path.join(dir, 'tokenizer.json');
      const { queries, documents } = texts(7);
      let compared = 0;
      for (const query of queries) {
        for (const [direction, maxLength] of [['right', 64], ['right', 128], ['left', 64]] as const) {
          const got = await tokenizer.encodeDocuments(query, documents, { maxLength, direction });
          assert.deepEqual(got.owners, documents.map((_, i) => i));
          let over = 0;
          for (let i = 0; i < documents.length; i++) {
            assert.deepEqual(got.pairs[i], await rustEncode(file, maxLength, direction, query, documents[i]), `${direction} ${maxLength} documents[${i}]`);
            const whole = await rustEncode(file, 1_000_000, 'right', query, documents[i]);
            if (whole.ids.length > maxLength) over++;
            compared++;
          }
          assert.equal(got.truncated, over, `${direction} ${maxLength}: documents cut`);
          assert.equal(got.chunked, 0);
        }
      }
      assert.equal(compared, 3 * 3 * documents.length);
    });
  }

  test('without truncation, the pair over the limit is named with its exact length, at the caller\'s index', async () => {
    const tokenizer = await PairTokenizer.load(bertMiniDir);
    const long = 'word '.repeat(4000);
    const whole = await rustEncode(path.join(bertMiniDir, 'tokenizer.json'), 1_000_000, 'right', 'q', long);
    await assert.rejects(tokenizer.encodeDocuments('q', ['short', long], { maxLength: 64, truncate: false }, [10, 11]),
      { name: 'RangeError', message: `pairs[11] is ${whole.ids.length} tokens long, over maxLength 64, and truncation is off` });
  });

  test('chunks: overlapping windows of the document\'s tokens after the query, at most maxChunks, counted', async () => {
    const tokenizer = await PairTokenizer.load(bertMiniDir);
    const raw = Tokenizer.fromFile(path.join(bertMiniDir, 'tokenizer.json'));
    const plain = async (text: string) => (await raw.encode(text, null, { addSpecialTokens: false })).getIds();
    const [cls, sep] = [raw.tokenToId('[CLS]')!, raw.tokenToId('[SEP]')!];
    const { queries, documents } = texts(11);
    for (const query of queries) {
      for (const [maxChunks, overlap] of [[4, 8], [1, 0], [30, 40]]) {
        const maxLength = 64;
        const got = await tokenizer.encodeDocuments(query, documents, { maxLength, longDocuments: 'chunk', maxChunks, chunkOverlap: overlap });
        const q = await plain(query);
        const room = maxLength - 3;
        let chunked = 0;
        let truncated = 0;
        let p = 0;
        for (let i = 0; i < documents.length; i++) {
          const d = await plain(documents[i]);
          const mine = got.pairs.filter((_, k) => got.owners[k] === i);
          assert.deepEqual(got.owners.slice(p, p + mine.length), mine.map(() => i), 'a document\'s pairs are together');
          p += mine.length;
          if (q.length + d.length <= room) {
            assert.deepEqual(mine.map((m) => m.ids), [[cls, ...q, sep, ...d, sep]], `documents[${i}] fits whole`);
            continue;
          }
          const qk = q.slice(0, Math.min(q.length, Math.floor(room / 2)));
          const window = room - qk.length;
          const stride = window - Math.min(overlap, Math.floor(window / 2));
          const windows: number[][] = [];
          for (let start = 0; ; start += stride) {
            windows.push(d.slice(start, start + window));
            if (start + window >= d.length) break;
          }
          const kept = windows.slice(0, maxChunks);
          assert.deepEqual(mine.map((m) => m.ids), kept.map((w) => [cls, ...qk, sep, ...w, sep]), `documents[${i}] windows`);
          for (const m of mine) {
            assert.ok(m.ids.length <= maxLength);
            assert.deepEqual(m.typeIds, m.ids.map((_, k) => (k < qk.length + 2 ? 0 : 1)));
          }
          if (kept.length > 1) chunked++;
          if (windows.length > maxChunks) truncated++;
        }
        assert.equal(p, got.pairs.length);
        assert.equal(got.chunked, chunked, `maxChunks ${maxChunks}: documents chunked`);
        assert.equal(got.truncated, truncated, `maxChunks ${maxChunks}: documents not read to the end`);
      }
    }
  });
});

describe('Reranker.score with long documents', () => {
  let model: Reranker;
  before(async () => { model = await Reranker.load(bertMiniDir); });
  after(() => model?.dispose());

  test('chunk: max / first / mean of the windows scored one by one; short documents as when truncating', async () => {
    const query = 'which package edits text files';
    const documents = ['a text editor', `a music player daemon. ${'it plays music files from a playlist over the network. '.repeat(40)}a text editor too`, 'an image viewer'];
    const pairs = documents.map((d) => [query, d] as const);
    const truncated = await model.score(pairs);
    const encoded = await model.tokenizer.encodeDocuments(query, documents, { maxLength: model.maxLength, longDocuments: 'chunk', maxChunks: 10, chunkOverlap: 32 });
    assert.ok(encoded.chunked === 1 && encoded.pairs.length > 4, `the long document makes ${encoded.pairs.length - 2} chunks`);
    const windows: number[] = [];
    for (let k = 0; k < encoded.pairs.length; k++) {
      if (encoded.owners[k] !== 1) continue;
      const e = encoded.pairs[k];
      windows.push((await model.scoreTokens({ inputIds: [e.ids], tokenTypeIds: [e.typeIds] }))[0][0]);
    }
    const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} vs ${b}`);
    const byAggregate = {
      max: Math.max(...windows), first: windows[0], mean: windows.reduce((s, v) => s + v, 0) / windows.length,
    };
    for (const [aggregate, expected] of Object.entries(byAggregate)) {
      const scores = await model.score(pairs, { longDocuments: 'chunk', aggregate: aggregate as 'max' | 'first' | 'mean' });
      close(scores[1], expected, aggregate);
      close(scores[0], truncated[0], `${aggregate}: a short document`);
      close(scores[2], truncated[2], `${aggregate}: a short document`);
    }
    // FirstP with the query cut to half the room is not the truncated pair, but close to it here (a short query).
    close((await model.score(pairs, { longDocuments: 'chunk', maxChunks: 1 }))[1], windows[0], 'maxChunks 1');
    const ranked = await model.rank(query, documents, { longDocuments: 'chunk' });
    assert.deepEqual(ranked.map((r) => r.index).sort(), [0, 1, 2]);
  });

  test('truncationDirection left scores the end of the pair', async () => {
    const query = 'text editor';
    const long = `${'filler words about nothing in particular. '.repeat(60)}a text editor`;
    const [left] = await model.score([[query, long]], { truncationDirection: 'left' });
    const e = await rustEncode(path.join(bertMiniDir, 'tokenizer.json'), model.maxLength, 'left', query, long);
    const [[expected]] = await model.scoreTokens({ inputIds: [e.ids], tokenTypeIds: [e.typeIds] });
    assert.ok(Math.abs(left - expected) < 1e-5, `${left} vs ${expected}`);
  });

  test('bad long-document options name the option', async () => {
    const pairs = [['q', 'd']] as const;
    await assert.rejects(model.score(pairs, { longDocuments: 'split' as never }), /options\.longDocuments must be one of/);
    await assert.rejects(model.score(pairs, { maxChunks: 0 }), /options\.maxChunks/);
    await assert.rejects(model.score(pairs, { chunkOverlap: -1 }), /options\.chunkOverlap must be a non-negative integer/);
    await assert.rejects(model.score(pairs, { aggregate: 'median' as never }), /options\.aggregate must be one of/);
    await assert.rejects(model.score(pairs, { truncationDirection: 'up' as never }), /options\.truncationDirection must be one of/);
  });
});
