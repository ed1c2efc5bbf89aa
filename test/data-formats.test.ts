// The training/evaluation data readers (src/data): every format read from its sample in the real layout,
// gzip, bad records with file:line, the skip policy, MS MARCO's collection offset index, the seeded RNG and
// group sampling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  readEvalQueries,
  readTrainRecords,
  resolveDataSource,
  type BadRecordPolicy,
  type BadRecordReport,
  type DataSource,
  type EvalQuery,
  type GroupRecord,
  type Located,
  type TrainRecord,
} from '../src/data/formats';
import { CollectionIndex } from '../src/data/msmarco';
import { Rng } from '../src/data/rng';
import { sampleGroup, sampleIndices } from '../src/data/groups';

const samples = path.resolve(__dirname, '..', '..', 'test', 'data', 'samples');
const sample = (...parts: string[]) => path.join(samples, ...parts);
const ms = (name: string) => sample('msmarco', name);

const ERROR: BadRecordPolicy = { onBadRecord: 'error' };
const SKIP: BadRecordPolicy = { onBadRecord: 'skip' };
const newReport = (): BadRecordReport => ({ skipped: 0, examples: [] });

async function collect<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of gen) out.push(item);
  return out;
}

async function train(source: DataSource, policy = ERROR, report = newReport()): Promise<Located<TrainRecord>[]> {
  return collect(readTrainRecords(source, policy, report));
}

async function evalQueries(source: DataSource, policy = ERROR, report = newReport()): Promise<EvalQuery[]> {
  return collect(readEvalQueries(source, policy, report));
}

let tmpRoot: string | null = null;
function tmpFile(name: string, content: string | Buffer): string {
  tmpRoot ??= fs.mkdtempSync(path.join(os.tmpdir(), 'rrnative-data-'));
  const dir = fs.mkdtempSync(path.join(tmpRoot, 'c-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}
process.on('exit', () => {
  if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
});

function gzipCopy(file: string, name = `${path.basename(file)}.gz`): string {
  return tmpFile(name, zlib.gzipSync(fs.readFileSync(file)));
}

/** The sample collection parsed naively (fine for a 10-line test file). */
function collectionTexts(): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of fs.readFileSync(ms('collection.tsv'), 'utf8').split('\n')) {
    if (!line) continue;
    const [pid, text] = line.split('\t');
    map.set(pid, text);
  }
  return map;
}
const P = collectionTexts();
const p = (pid: number) => P.get(String(pid))!;

// ---------------------------------------------------------------------------------------------------------
// Formats, from the samples

const PAIRS: Located<TrainRecord>[] = [
  { line: 1, record: { kind: 'pair', query: 'what is a cross-encoder reranker', document: 'A cross-encoder reads the query and the passage together and outputs one relevance score.', label: 1 } },
  { line: 2, record: { kind: 'pair', query: 'what is a cross-encoder reranker', document: 'The Eiffel Tower is a wrought-iron lattice tower in Paris.', label: 0 } },
  { line: 3, record: { kind: 'pair', query: 'how long do tomatoes take to ripen', document: 'Most tomato varieties ripen 20 to 30 days after the fruit sets.', label: 2 } },
  { line: 5, record: { kind: 'pair', query: 'how long do tomatoes take to ripen', document: 'Tomatoes are rich in lycopene, an antioxidant.', label: 1 } },
  { line: 6, record: { kind: 'pair', query: 'how long do tomatoes take to ripen', document: 'Le café est une boisson préparée à partir de grains torréfiés ☕.', label: 0 } },
  { line: 7, record: { kind: 'pair', query: 'what is a cross-encoder reranker', document: 'Rerankers reorder the candidates of a first-stage retriever.', label: 0.5 } },
].map((r) => ({ ...r, file: sample('pairs.jsonl') }) as Located<TrainRecord>);

const GROUPED: Located<TrainRecord>[] = [
  {
    line: 1,
    record: {
      kind: 'group',
      query: 'what is the capital of japan',
      positives: ['Tokyo (東京) is the capital and most populous city of Japan.'],
      negatives: ['Kyoto was the imperial capital of Japan for over a thousand years.', 'Osaka is a large port city in the Kansai region.', 'Mount Fuji is the highest mountain in Japan.'],
    },
  },
  {
    line: 2,
    record: {
      kind: 'group',
      query: 'symptoms of vitamin d deficiency',
      positives: ['Vitamin D deficiency can cause bone pain and muscle weakness.', 'Low vitamin D levels are associated with fatigue.'],
      negatives: ['Vitamin C is found in citrus fruits.'],
      posScores: [4.25, 3.5],
      negScores: [-2.75],
    },
  },
  {
    line: 3,
    record: {
      kind: 'group',
      query: 'who wrote the iliad',
      positives: ['The Iliad is attributed to the ancient Greek poet Homer.'],
      negatives: ['Virgil wrote the Aeneid.', "The Odyssey follows Odysseus' return home."],
    },
  },
].map((r) => ({ ...r, file: sample('grouped.jsonl') }) as Located<TrainRecord>);

const HF_TRAIN: Located<TrainRecord>[] = [
  {
    line: 1,
    record: {
      kind: 'group',
      query: 'what is rba',
      positives: ['Results-Based Accountability® (RBA) is a disciplined way of thinking and taking action that communities can use to improve lives.'],
      negatives: ['RBA can stand for many things, including Reserve Bank of Australia.', 'The RBA sets the cash rate target in Australia.'],
    },
  },
  {
    line: 3,
    record: {
      kind: 'group',
      query: 'do akitas shed',
      positives: ['Yes, akita dogs shed heavily twice a year.', 'Akitas have a double coat that blows out seasonally — expect a lot of fur 🐕.'],
      negatives: ['The Akita is a large dog breed originating from Japan.', 'Shiba Inu are smaller than Akitas.'],
    },
  },
].map((r) => ({ ...r, file: sample('hf_msmarco.jsonl') }) as Located<TrainRecord>);

const HF_EVAL: EvalQuery[] = [
  {
    query: 'what is rba',
    qid: '19699',
    documents: [
      'RBA can stand for many things, including Reserve Bank of Australia.',
      'Results-Based Accountability® (RBA) is a disciplined way of thinking and taking action that communities can use to improve lives.',
      'The RBA sets the cash rate target in Australia.',
    ],
    relevance: [0, 1, 0],
  },
  {
    query: 'cross encoder vs bi encoder speed',
    qid: '1185869',
    documents: ['Was ist ein Kreuzencoder? Ein Modell, das Anfrage und Passage gemeinsam liest.', 'A dual encoder embeds queries and passages separately.'],
    relevance: [0, 0],
  },
  {
    query: 'do akitas shed',
    qid: '1000052',
    documents: [
      'Yes, akita dogs shed heavily twice a year.',
      'The Akita is a large dog breed originating from Japan.',
      'Akitas have a double coat that blows out seasonally — expect a lot of fur 🐕.',
      'Shiba Inu are smaller than Akitas.',
    ],
    relevance: [1, 0, 1, 0],
  },
];

test('pairs JSONL: exact records with their line numbers (blank lines ignored)', async () => {
  const report = newReport();
  assert.deepEqual(await train({ path: sample('pairs.jsonl') }, ERROR, report), PAIRS);
  assert.deepEqual(await train({ path: sample('pairs.jsonl'), format: 'pairs' }), PAIRS);
  assert.deepEqual(report, { skipped: 0, examples: [] });
});

test('grouped JSONL (FlagEmbedding pos/neg, positives/negatives, teacher scores): exact records', async () => {
  assert.deepEqual(await train({ path: sample('grouped.jsonl') }), GROUPED);
  assert.deepEqual(await train({ path: sample('grouped.jsonl'), format: 'grouped' }), GROUPED);
});

test('hf_msmarco rows: is_selected passages are positives; rows with none selected are dropped silently', async () => {
  const report = newReport();
  assert.deepEqual(await train({ path: sample('hf_msmarco.jsonl') }, ERROR, report), HF_TRAIN);
  assert.deepEqual(report, { skipped: 0, examples: [] });
  assert.deepEqual(await train({ path: sample('hf_msmarco.jsonl'), format: 'hf_msmarco' }), HF_TRAIN);
});

test('eval from hf_msmarco: relevance = is_selected, query_id as qid, no-answer rows kept', async () => {
  assert.deepEqual(await evalQueries({ path: sample('hf_msmarco.jsonl') }), HF_EVAL);
});

test('eval from pairs: consecutive identical queries form one query, document order kept, relevance = label', async () => {
  assert.deepEqual(await evalQueries({ path: sample('pairs.jsonl') }), [
    { query: 'what is a cross-encoder reranker', documents: [PAIRS[0], PAIRS[1]].map((r) => (r.record as { document: string }).document), relevance: [1, 0] },
    { query: 'how long do tomatoes take to ripen', documents: [PAIRS[2], PAIRS[3], PAIRS[4]].map((r) => (r.record as { document: string }).document), relevance: [2, 1, 0] },
    { query: 'what is a cross-encoder reranker', documents: ['Rerankers reorder the candidates of a first-stage retriever.'], relevance: [0.5] },
  ]);
});

test('eval from grouped: documents = positives ++ negatives, relevance 1/0', async () => {
  const expected = GROUPED.map(({ record }) => {
    const g = record as GroupRecord;
    return { query: g.query, documents: [...g.positives, ...g.negatives], relevance: [...g.positives.map(() => 1), ...g.negatives.map(() => 0)] };
  });
  assert.deepEqual(await evalQueries({ path: sample('grouped.jsonl') }), expected);
});

const TRIPLES: Located<TrainRecord>[] = [
  { line: 1, record: { kind: 'group', query: 'what is rba', positives: [p(3)], negatives: [p(0)] } },
  { line: 2, record: { kind: 'group', query: 'vitamin d deficiency symptoms', positives: [p(6)], negatives: [p(5)] } },
  { line: 3, record: { kind: 'group', query: 'what was the capital of japan before tokyo', positives: [p(4)], negatives: [p(7)] } },
].map((r) => ({ ...r, file: ms('triples.train.small.tsv') }) as Located<TrainRecord>);

test('msmarco triples.train.small.tsv: groups of 1 positive + 1 negative (key, or auto from the file name)', async () => {
  assert.deepEqual(await train({ format: 'msmarco', triples: ms('triples.train.small.tsv') }), TRIPLES);
  assert.deepEqual(await train({ triples: ms('triples.train.small.tsv') }), TRIPLES);
  assert.deepEqual(await train({ path: ms('triples.train.small.tsv') }), TRIPLES);
});

test('msmarco queries + qrels + collection (+ top1000): positives from qrels, negatives from top1000 not in qrels', async () => {
  const base: DataSource = { format: 'msmarco', queries: ms('queries.train.tsv'), qrels: ms('qrels.train.tsv'), collection: ms('collection.tsv') };
  const qrelsFile = ms('qrels.train.tsv');
  assert.deepEqual(await train(base), [
    { file: qrelsFile, line: 1, record: { kind: 'group', query: 'what is rba', positives: [p(3)], negatives: [] } },
    { file: qrelsFile, line: 2, record: { kind: 'group', query: 'vitamin d deficiency symptoms', positives: [p(6), p(8)], negatives: [] } },
    { file: qrelsFile, line: 4, record: { kind: 'group', query: 'what was the capital of japan before tokyo', positives: [p(4)], negatives: [] } },
  ]);
  assert.deepEqual(await train({ ...base, top1000: ms('top1000.train.tsv') }), [
    { file: qrelsFile, line: 1, record: { kind: 'group', query: 'what is rba', positives: [p(3)], negatives: [p(2), p(5)] } },
    { file: qrelsFile, line: 2, record: { kind: 'group', query: 'vitamin d deficiency symptoms', positives: [p(6), p(8)], negatives: [p(0), p(9)] } },
    { file: qrelsFile, line: 4, record: { kind: 'group', query: 'what was the capital of japan before tokyo', positives: [p(4)], negatives: [] } },
  ]);
});

test('msmarco qrels with relevance 0 (TREC style): judged non-relevant passages are negatives; no positive → no group', async () => {
  const qrels = tmpFile('qrels.tsv', '1001 Q0 3 1\n1001 Q0 7 0\n1002 Q0 6 0\n');
  const got = await train({ format: 'msmarco', queries: ms('queries.train.tsv'), qrels, collection: ms('collection.tsv') });
  assert.deepEqual(got, [{ file: qrels, line: 1, record: { kind: 'group', query: 'what is rba', positives: [p(3)], negatives: [p(7)] } }]);
});

test('msmarco eval: top1000 + qrels → one query per qid, candidates in file order, relevance from qrels', async () => {
  const expected: EvalQuery[] = [
    { qid: '2001', query: 'does akita shed', documents: [p(0), p(1), p(7)], relevance: [0, 1, 0] },
    { qid: '2002', query: 'café au lait spots', documents: [p(1), p(5)], relevance: [0, 1] },
    { qid: '2003', query: 'manhattan project communication', documents: [p(2), p(0)], relevance: [0, 0] },
  ];
  assert.deepEqual(await evalQueries({ format: 'msmarco', top1000: ms('top1000.dev.tsv'), qrels: ms('qrels.dev.tsv') }), expected);
  assert.deepEqual(await evalQueries({ top1000: ms('top1000.dev.tsv'), qrels: ms('qrels.dev.tsv'), queries: ms('queries.dev.tsv') }), expected);
});

test('.gz files are gunzipped on the fly (JSONL and TSV), with the same records and line numbers', async () => {
  for (const [name, expected] of [['pairs.jsonl', PAIRS], ['grouped.jsonl', GROUPED], ['hf_msmarco.jsonl', HF_TRAIN]] as const) {
    const gz = gzipCopy(sample(name));
    assert.deepEqual(await train({ path: gz }), expected.map((r) => ({ ...r, file: gz })), name);
  }
  assert.deepEqual(await evalQueries({ path: gzipCopy(sample('hf_msmarco.jsonl')) }), HF_EVAL);
  const triples = gzipCopy(ms('triples.train.small.tsv'));
  assert.deepEqual(await train({ path: triples }), TRIPLES.map((r) => ({ ...r, file: triples })));
  const qrels = gzipCopy(ms('qrels.train.tsv'));
  const got = await train({ queries: gzipCopy(ms('queries.train.tsv')), qrels, collection: ms('collection.tsv'), top1000: ms('top1000.train.tsv') });
  assert.equal(got.length, 3);
  assert.deepEqual(got[1], { file: qrels, line: 2, record: { kind: 'group', query: 'vitamin d deficiency symptoms', positives: [p(6), p(8)], negatives: [p(0), p(9)] } });
  // A truncated .gz is an error naming the file, whatever the policy.
  const truncated = tmpFile('cut.jsonl.gz', zlib.gzipSync(fs.readFileSync(sample('grouped.jsonl'))).subarray(0, 60));
  await assert.rejects(train({ path: truncated }, SKIP), { message: `${truncated}: gunzip failed: unexpected end of file` });
  // A .json file holding JSON Lines (what Hugging Face datasets' to_json writes) works the same way.
  const json = tmpFile('rows.json', fs.readFileSync(sample('pairs.jsonl')));
  assert.equal((await train({ path: json })).length, PAIRS.length);
});

test('files read by byte offset (collection, top1000) must be uncompressed: a clear error', async () => {
  await assert.rejects(
    train({ queries: ms('queries.train.tsv'), qrels: ms('qrels.train.tsv'), collection: gzipCopy(ms('collection.tsv')) }),
    /data source "collection": .*collection\.tsv\.gz is gzip-compressed.*gunzip it first/,
  );
  await assert.rejects(evalQueries({ top1000: gzipCopy(ms('top1000.dev.tsv')), qrels: ms('qrels.dev.tsv') }), /data source "top1000": .*gzip-compressed/);
});

test('CRLF line endings and a UTF-8 BOM are handled', async () => {
  const text = fs.readFileSync(sample('pairs.jsonl'), 'utf8').replace(/\n/g, '\r\n');
  const file = tmpFile('crlf.jsonl', '\uFEFF' + text);
  assert.deepEqual(await train({ path: file }), PAIRS.map((r) => ({ ...r, file })));
  const collection = tmpFile('collection.tsv', '\uFEFF' + fs.readFileSync(ms('collection.tsv'), 'utf8').replace(/\n/g, '\r\n'));
  const index = await CollectionIndex.build(collection, ERROR, newReport());
  try {
    for (const [pid, passage] of P) assert.equal(index.get(pid), passage);
  } finally {
    index.close();
  }
});

// ---------------------------------------------------------------------------------------------------------
// Collection offset index

test('CollectionIndex: exact passages by pid (unicode included), dense table for 0..n-1', async () => {
  const index = await CollectionIndex.build(ms('collection.tsv'), ERROR, newReport());
  try {
    assert.equal(index.size, 10);
    assert.equal(index.dense, true);
    for (const [pid, passage] of P) assert.equal(index.get(pid), passage, `pid ${pid}`);
    assert.equal(index.get('4'), 'Tokyo (東京) has been Japan’s capital since 1869; Kyōto was the capital before that.');
    assert.equal(index.get('6'), 'Vitamin D deficiency can cause bone pain, muscle weakness and fatigue 🩻.');
    assert.equal(index.get('9'), 'Пассаж на русском языке: витамин D синтезируется в коже.');
    assert.equal(index.get('10'), undefined);
    assert.equal(index.get('07'), undefined);
    assert.equal(index.get('abc'), undefined);
    assert.equal(index.has('3'), true);
  } finally {
    index.close();
  }
});

test('CollectionIndex: unsorted sparse pids (bisection), long passages, no trailing newline, duplicates', async () => {
  const long = 'ü'.repeat(40000) + ' end';
  const file = tmpFile('collection.tsv', `500\tfive hundred\n7\tseven 🙂\n\n123456789\t${long}\n42\tforty-two\n7\tseven again\n4294967295\tmax`);
  const report = newReport();
  const index = await CollectionIndex.build(file, SKIP, report);
  try {
    assert.equal(index.dense, false);
    assert.equal(index.size, 5);
    assert.equal(index.get('500'), 'five hundred');
    assert.equal(index.get('7'), 'seven 🙂');
    assert.equal(index.get('123456789'), long);
    assert.equal(index.get('42'), 'forty-two');
    assert.equal(index.get('4294967295'), 'max');
    assert.equal(index.get('8'), undefined);
    assert.deepEqual(report, { skipped: 1, examples: [`${file}:6: duplicate pid 7 (the first occurrence is kept)`] });
  } finally {
    index.close();
  }
  await assert.rejects(CollectionIndex.build(file, ERROR, newReport()), { message: `${file}:6: duplicate pid 7 (the first occurrence is kept)` });
});

test('CollectionIndex: non-numeric pids fall back to an id → offset map', async () => {
  const file = tmpFile('collection.tsv', '0\tzero\n1\tone\nD301595\tdocument ✓\n1\tdup\n');
  const report = newReport();
  const index = await CollectionIndex.build(file, SKIP, report);
  try {
    assert.equal(index.size, 3);
    assert.equal(index.get('0'), 'zero');
    assert.equal(index.get('1'), 'one');
    assert.equal(index.get('D301595'), 'document ✓');
    assert.deepEqual(report.examples, [`${file}:4: duplicate pid 1 (the first occurrence is kept)`]);
  } finally {
    index.close();
  }
});

// ---------------------------------------------------------------------------------------------------------
// Bad records

interface BadCase {
  name: string;
  fileName: string;
  /** Lines of the file; the bad one is `badLine` (1-based). */
  lines: string[];
  badLine: number;
  reason: string;
  source?: (file: string) => DataSource;
  evalOnly?: boolean;
}

const goodPair = '{"query": "q", "document": "d", "label": 1}';
const goodGroup = '{"query": "q", "pos": ["p"], "neg": ["n"]}';
const goodHf = '{"query": "q", "query_id": 1, "passages": {"is_selected": [1, 0], "passage_text": ["a", "b"], "url": ["u", "v"]}}';

const BAD_CASES: BadCase[] = [
  { name: 'invalid JSON', fileName: 'train.jsonl', lines: [goodPair, '{"query": "q", "document": "d", "label": 1'], badLine: 2, reason: 'invalid JSON (' },
  { name: 'pairs: label of the wrong type', fileName: 'train.jsonl', lines: [goodPair, '', '{"query": "q", "document": "d", "label": "1"}'], badLine: 3, reason: '"label" must be a number, got string' },
  { name: 'pairs: missing label', fileName: 'train.jsonl', lines: [goodPair, '{"query": "q", "document": "d"}'], badLine: 2, reason: '"label" is missing' },
  { name: 'pairs: negative label', fileName: 'train.jsonl', lines: [goodPair, '{"query": "q", "document": "d", "label": -1}'], badLine: 2, reason: '"label" must be a finite number >= 0, got -1' },
  { name: 'pairs: missing document', fileName: 'train.jsonl', lines: [goodPair, '{"query": "q", "label": 0}'], badLine: 2, reason: '"document" is missing' },
  { name: 'pairs: document not a string', fileName: 'train.jsonl', lines: [goodPair, '{"query": "q", "document": null, "label": 0}'], badLine: 2, reason: '"document" must be a string, got null' },
  { name: 'empty query', fileName: 'train.jsonl', lines: [goodPair, '{"query": "  ", "document": "d", "label": 0}'], badLine: 2, reason: '"query" is empty' },
  { name: 'query not a string', fileName: 'train.jsonl', lines: [goodPair, '{"query": 5, "document": "d", "label": 0}'], badLine: 2, reason: '"query" must be a string, got number' },
  { name: 'missing query', fileName: 'train.jsonl', lines: [goodPair, '{"document": "d", "label": 0}'], badLine: 2, reason: '"query" is missing' },
  { name: 'not an object', fileName: 'train.jsonl', lines: [goodPair, '["q", "d", 1]'], badLine: 2, reason: 'record must be a JSON object, got array' },
  { name: 'grouped: no positive', fileName: 'g.jsonl', lines: [goodGroup, '{"query": "q", "pos": [], "neg": ["n"]}'], badLine: 2, reason: '"pos" is empty: a group needs at least one positive' },
  { name: 'grouped: missing negatives', fileName: 'g.jsonl', lines: [goodGroup, '{"query": "q", "pos": ["p"]}'], badLine: 2, reason: '"negatives" (or "neg") is missing' },
  { name: 'grouped: pos not an array', fileName: 'g.jsonl', lines: [goodGroup, '{"query": "q", "pos": "p", "neg": []}'], badLine: 2, reason: '"pos" must be an array of strings, got string' },
  { name: 'grouped: a negative not a string', fileName: 'g.jsonl', lines: [goodGroup, '{"query": "q", "positives": ["p"], "negatives": ["n", 3]}'], badLine: 2, reason: '"negatives[1]" must be a string, got number' },
  { name: 'grouped: both pos and positives', fileName: 'g.jsonl', lines: [goodGroup, '{"query": "q", "pos": ["p"], "positives": ["p"], "neg": []}'], badLine: 2, reason: 'both "positives" and "pos" are given (they are aliases: use one)' },
  { name: 'grouped: mismatched neg_scores length', fileName: 'g.jsonl', lines: [goodGroup, '{"query": "q", "pos": ["p"], "neg": ["n", "m"], "pos_scores": [1], "neg_scores": [0.5]}'], badLine: 2, reason: '"neg_scores" has 1 scores but "neg" has 2 passages' },
  { name: 'grouped: mismatched pos_scores length', fileName: 'g.jsonl', lines: [goodGroup, '{"query": "q", "pos": ["p"], "neg": ["n"], "pos_scores": [1, 2], "neg_scores": [0.5]}'], badLine: 2, reason: '"pos_scores" has 2 scores but "pos" has 1 passages' },
  { name: 'grouped: pos_scores without neg_scores', fileName: 'g.jsonl', lines: [goodGroup, '{"query": "q", "pos": ["p"], "neg": ["n"], "pos_scores": [1]}'], badLine: 2, reason: '"neg_scores" is missing ("pos_scores" is given: teacher scores need both)' },
  { name: 'grouped: a score not a number', fileName: 'g.jsonl', lines: [goodGroup, '{"query": "q", "pos": ["p"], "neg": ["n"], "pos_scores": ["1"], "neg_scores": [0]}'], badLine: 2, reason: '"pos_scores[0]" must be a finite number, got string' },
  { name: 'hf_msmarco: is_selected/passage_text lengths differ', fileName: 'hf.jsonl', lines: [goodHf, '{"query": "q", "passages": {"is_selected": [1], "passage_text": ["a", "b"]}}'], badLine: 2, reason: '"passages.is_selected" has 1 entries but "passages.passage_text" has 2' },
  { name: 'hf_msmarco: missing passages', fileName: 'hf.jsonl', lines: [goodHf, '{"query": "q", "passages": {"is_selected": [1]}}'], badLine: 2, reason: '"passages.passage_text" is missing' },
  { name: 'hf_msmarco: is_selected not 0/1', fileName: 'hf.jsonl', lines: [goodHf, '{"query": "q", "passages": {"is_selected": [2], "passage_text": ["a"]}}'], badLine: 2, reason: '"passages.is_selected[0]" must be 0 or 1, got 2' },
  { name: 'auto: unrecognised keys', fileName: 'x.jsonl', lines: ['{"question": "q", "answer": "a"}'], badLine: 1, reason: 'cannot tell the format from this record\'s keys ("question", "answer")' },
  {
    name: 'triples: wrong number of columns',
    fileName: 'triples.train.small.tsv',
    lines: ['q\tpos\tneg', 'q\tpos only'],
    badLine: 2,
    reason: 'expected 3 tab-separated columns (query, positive passage, negative passage), got 2',
  },
  { name: 'triples: empty query', fileName: 'triples.tsv', lines: ['q\tpos\tneg', '\tpos\tneg'], badLine: 2, reason: '"query" (column 1) is empty', source: (f) => ({ triples: f }) },
  {
    name: 'queries: wrong number of columns',
    fileName: 'queries.tsv',
    lines: ['1001\tq', '1002\tq\textra', '1002\tq', '1003\tq'],
    badLine: 2,
    reason: 'expected 2 tab-separated columns (qid, query), got 3',
    source: (f) => ({ queries: f, qrels: ms('qrels.train.tsv'), collection: ms('collection.tsv') }),
  },
  {
    name: 'qrels: wrong number of columns',
    fileName: 'qrels.tsv',
    lines: ['1001\t0\t3\t1', '1002\t6\t1'],
    badLine: 2,
    reason: 'expected 4 columns (qid, iteration, pid, relevance), got 3',
    source: (f) => ({ queries: ms('queries.train.tsv'), qrels: f, collection: ms('collection.tsv') }),
  },
  {
    name: 'qrels: relevance not a number',
    fileName: 'qrels.tsv',
    lines: ['1001\t0\t3\t1', '1002\t0\t6\tyes'],
    badLine: 2,
    reason: '"relevance" (column 4) must be a number, got "yes"',
    source: (f) => ({ queries: ms('queries.train.tsv'), qrels: f, collection: ms('collection.tsv') }),
  },
  {
    name: 'qrels: unknown qid',
    fileName: 'qrels.tsv',
    lines: ['1001\t0\t3\t1', '9999\t0\t6\t1'],
    badLine: 2,
    reason: `qid 9999 (column 1) is not in ${ms('queries.train.tsv')}`,
    source: (f) => ({ queries: ms('queries.train.tsv'), qrels: f, collection: ms('collection.tsv') }),
  },
  {
    name: 'qrels: unknown pid',
    fileName: 'qrels.tsv',
    lines: ['1001\t0\t3\t1', '1002\t0\t66\t1'],
    badLine: 2,
    reason: `pid 66 (column 3) is not in ${ms('collection.tsv')}`,
    source: (f) => ({ queries: ms('queries.train.tsv'), qrels: f, collection: ms('collection.tsv') }),
  },
  {
    name: 'collection: no tab',
    fileName: 'collection.tsv',
    lines: ['3\tthree', '6 six', '4\tfour', '6\tsix', '8\teight'],
    badLine: 2,
    reason: 'expected 2 tab-separated columns (pid, passage), got 1',
    source: (f) => ({ queries: ms('queries.train.tsv'), qrels: ms('qrels.train.tsv'), collection: f }),
  },
  {
    name: 'top1000: wrong number of columns',
    fileName: 'top1000.dev.tsv',
    lines: ['2001\t0\tq\tpassage', '2001\t1\tq\tpassage\twith a tab'],
    badLine: 2,
    reason: 'expected 4 tab-separated columns (qid, pid, query, passage), got 5',
    source: (f) => ({ top1000: f, qrels: ms('qrels.dev.tsv') }),
    evalOnly: true,
  },
  {
    name: 'top1000: empty query',
    fileName: 'top1000.dev.tsv',
    lines: ['2001\t0\tq\tpassage', '2001\t1\t\tpassage'],
    badLine: 2,
    reason: '"query" (column 3) is empty',
    source: (f) => ({ top1000: f, qrels: ms('qrels.dev.tsv') }),
    evalOnly: true,
  },
];

for (const c of BAD_CASES) {
  test(`bad record → 'file:line: reason' under 'error', counted under 'skip': ${c.name}`, async () => {
    const file = tmpFile(c.fileName, c.lines.join('\n') + '\n');
    const source = c.source ? c.source(file) : { path: file };
    const expectedPrefix = `${file}:${c.badLine}: ${c.reason}`;
    const readers = c.evalOnly
      ? [(policy: BadRecordPolicy, report: BadRecordReport) => evalQueries(source, policy, report)]
      : [
          (policy: BadRecordPolicy, report: BadRecordReport) => train(source, policy, report),
          ...(c.source || !c.fileName.endsWith('.jsonl') ? [] : [(policy: BadRecordPolicy, report: BadRecordReport) => evalQueries(source, policy, report)]),
        ];
    for (const read of readers) {
      await assert.rejects(read(ERROR, newReport()), (err: Error) => {
        assert.ok(err.message.startsWith(expectedPrefix), `message ${JSON.stringify(err.message)} does not start with ${JSON.stringify(expectedPrefix)}`);
        return true;
      });
      const report = newReport();
      await read(SKIP, report);
      assert.equal(report.skipped, 1);
      assert.ok(report.examples[0].startsWith(expectedPrefix), report.examples[0]);
    }
  });
}

test("skip policy: bad records are counted, the first 5 messages kept, the good records still come through", async () => {
  const lines = [
    goodPair, // 1
    'not json', // 2
    '{"query": "q", "document": "d", "label": "x"}', // 3
    '', // 4
    '{"query": "q2", "document": "d2", "label": 0}', // 5
    '{"query": "", "document": "d", "label": 0}', // 6
    '{"query": "q", "label": 0}', // 7
    '{"query": "q", "document": "d", "label": null}', // 8
    '{"query": "q", "document": "d", "label": -3}', // 9
    '{"query": "q3", "document": "d3", "label": 1}', // 10
  ];
  const file = tmpFile('mixed.jsonl', lines.join('\n'));
  const report = newReport();
  const got = await train({ path: file }, SKIP, report);
  assert.deepEqual(got.map((r) => r.line), [1, 5, 10]);
  assert.equal(report.skipped, 6);
  assert.equal(report.examples.length, 5);
  assert.deepEqual(
    report.examples.map((m) => m.slice(file.length + 1).split(':')[0]),
    ['2', '3', '6', '7', '8'],
  );
  assert.equal(report.examples[1], `${file}:3: "label" must be a number, got string`);
  assert.equal(report.examples[4], `${file}:8: "label" must be a number, got null`);
  // The report accumulates across readers.
  await train({ path: file }, SKIP, report);
  assert.equal(report.skipped, 12);
  assert.equal(report.examples.length, 5);
});

test('auto detection skips leading bad lines under skip; an explicit format validates every line against it', async () => {
  const file = tmpFile('g.jsonl', ['{"oops"', goodGroup].join('\n'));
  const report = newReport();
  const got = await train({ path: file }, SKIP, report);
  assert.deepEqual(got, [{ file, line: 2, record: { kind: 'group', query: 'q', positives: ['p'], negatives: ['n'] } }]);
  assert.equal(report.skipped, 1);
  await assert.rejects(train({ path: sample('grouped.jsonl'), format: 'pairs' }), { message: `${sample('grouped.jsonl')}:1: "document" is missing` });
});

test('a JSON array file is refused with a hint', async () => {
  const file = tmpFile('rows.json', '[\n  {"query": "q", "document": "d", "label": 1}\n]\n');
  await assert.rejects(train({ path: file }, SKIP), /rows\.json:1: this is a JSON array, not JSON Lines/);
});

test('missing files and inconsistent sources: errors naming the key and the path', async () => {
  const missing = path.join(samples, 'does-not-exist.jsonl');
  await assert.rejects(train({ path: missing }), { message: `data source "path": file not found: ${missing}` });
  await assert.rejects(evalQueries({ path: missing }), { message: `data source "path": file not found: ${missing}` });
  const noCollection = ms('collection-missing.tsv');
  await assert.rejects(
    train({ queries: ms('queries.train.tsv'), qrels: ms('qrels.train.tsv'), collection: noCollection }),
    { message: `data source "collection": file not found: ${noCollection}` },
  );
  await assert.rejects(evalQueries({ top1000: ms('top1000.dev.tsv'), qrels: ms('nope.tsv') }), /data source "qrels": file not found: .*nope\.tsv/);
  await assert.rejects(train({ format: 'msmarco', queries: ms('queries.train.tsv'), qrels: ms('qrels.train.tsv') }), /"collection" is not set/);
  await assert.rejects(evalQueries({ triples: ms('triples.train.small.tsv') }), /"triples" cannot be used for evaluation/);
  await assert.rejects(train({ path: sample('pairs.jsonl'), qrels: ms('qrels.train.tsv') }), /both "path" and MS MARCO files/);
  await assert.rejects(train({ path: ms('queries.train.tsv') }), /cannot tell the format of .*queries\.train\.tsv/);
  await assert.rejects(train({ path: sample('pairs.jsonl'), format: 'csv' as never }), /unknown format "csv"/);
  await assert.rejects(train({}), /neither "path" nor "hub" is set/);
  // resolveDataSource checks eagerly (for config validation before training starts).
  assert.throws(() => resolveDataSource({ path: missing }, 'train'), /file not found/);
  assert.deepEqual(resolveDataSource({ path: sample('pairs.jsonl') }, 'eval'), { kind: 'jsonl', file: sample('pairs.jsonl'), format: 'auto', columns: {} });
});

test('breaking out of a reader early is fine (the stream is released)', async () => {
  for (let i = 0; i < 50; i++) {
    for await (const r of readTrainRecords({ path: sample('pairs.jsonl') }, ERROR, newReport())) {
      assert.equal(r.line, 1);
      break;
    }
  }
  for await (const q of readEvalQueries({ top1000: ms('top1000.dev.tsv'), qrels: ms('qrels.dev.tsv') }, ERROR, newReport())) {
    assert.equal(q.qid, '2001');
    break;
  }
});

// ---------------------------------------------------------------------------------------------------------
// RNG

test('Rng is xoshiro128** (reference outputs from the C implementation) seeded by splitmix32', () => {
  const rng = Rng.fromState([1, 2, 3, 4]);
  assert.deepEqual(Array.from({ length: 6 }, () => rng.nextUint32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  assert.deepEqual(rng.getState(), [1110993931, 286554632, 2431677446, 2165318166]);
  const seeded = new Rng(42);
  assert.deepEqual(seeded.getState(), [551831576, 144025891, 322543647, 3034809370]);
  assert.deepEqual(Array.from({ length: 5 }, () => seeded.nextUint32()), [660444221, 3652823732, 77672526, 910233633, 2297337756]);
});

test('Rng: deterministic, next() in [0,1), int(n) in range and roughly uniform, shuffle is a permutation', () => {
  const a = new Rng(7);
  const b = new Rng(7);
  const c = new Rng(8);
  const seqA = Array.from({ length: 100 }, () => a.next());
  assert.deepEqual(seqA, Array.from({ length: 100 }, () => b.next()));
  assert.notDeepEqual(seqA, Array.from({ length: 100 }, () => c.next()));
  assert.ok(seqA.every((x) => x >= 0 && x < 1));
  const counts = new Array(6).fill(0);
  const r = new Rng(123);
  for (let i = 0; i < 60000; i++) counts[r.int(6)]++;
  assert.ok(counts.every((n) => n > 9500 && n < 10500), String(counts));
  assert.equal(new Rng(1).int(1), 0);
  assert.throws(() => r.int(0), RangeError);
  assert.throws(() => r.int(2.5), RangeError);
  const arr = Array.from({ length: 50 }, (_, i) => i);
  const shuffled = new Rng(5).shuffle(arr.slice());
  assert.notDeepEqual(shuffled, arr);
  assert.deepEqual(shuffled.slice().sort((x, y) => x - y), arr);
  assert.deepEqual(new Rng(5).shuffle(arr.slice()), shuffled);
  // Different large / negative seeds give different streams.
  assert.notDeepEqual(new Rng(2 ** 40).getState(), new Rng(0).getState());
  assert.notDeepEqual(new Rng(-1).getState(), new Rng(2 ** 32 - 1).getState());
});

test('Rng state save/restore resumes the same sequence (through JSON, as in a checkpoint)', () => {
  const rng = new Rng(2024);
  for (let i = 0; i < 37; i++) rng.next();
  const saved = JSON.parse(JSON.stringify(rng.getState())) as number[];
  const expected = Array.from({ length: 20 }, () => rng.int(1000));
  const restored = new Rng(1);
  restored.setState(saved);
  assert.deepEqual(Array.from({ length: 20 }, () => restored.int(1000)), expected);
  assert.deepEqual(Array.from({ length: 20 }, () => Rng.fromState(saved).int(1000))[0], expected[0]);
  const clone = rng.clone();
  assert.equal(clone.next(), rng.next());
  assert.throws(() => restored.setState([0, 0, 0, 0]), /all-zero/);
  assert.throws(() => restored.setState([1, 2, 3]), /expected 4 uint32/);
  assert.throws(() => restored.setState([1, 2, 3, 2 ** 32]), /expected 4 uint32/);
  assert.throws(() => new Rng(1.5), RangeError);
});

// ---------------------------------------------------------------------------------------------------------
// Group sampling

const bigGroup: GroupRecord = {
  kind: 'group',
  query: 'q',
  positives: ['p0', 'p1', 'p2'],
  negatives: Array.from({ length: 20 }, (_, i) => `n${i}`),
  posScores: [10, 11, 12],
  negScores: Array.from({ length: 20 }, (_, i) => i / 10),
};

test('sampleGroup: positive first, groupSize - 1 distinct negatives, labels, teacher scores aligned', () => {
  const rng = new Rng(3);
  const seenPositives = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const g = sampleGroup(bigGroup, 8, rng);
    assert.equal(g.query, 'q');
    assert.equal(g.documents.length, 8);
    assert.deepEqual(g.labels, [1, 0, 0, 0, 0, 0, 0, 0]);
    assert.ok(bigGroup.positives.includes(g.documents[0]));
    seenPositives.add(g.documents[0]);
    const negs = g.documents.slice(1);
    assert.ok(negs.every((n) => bigGroup.negatives.includes(n)));
    assert.equal(new Set(negs).size, 7, 'without replacement when there are enough negatives');
    assert.deepEqual(g.teacherScores, [
      bigGroup.posScores![bigGroup.positives.indexOf(g.documents[0])],
      ...negs.map((n) => bigGroup.negScores![bigGroup.negatives.indexOf(n)]),
    ]);
  }
  assert.equal(seenPositives.size, 3, 'every positive gets picked');
  const noScores = sampleGroup({ kind: 'group', query: 'q', positives: ['p'], negatives: ['a', 'b'] }, 2, rng);
  assert.equal('teacherScores' in noScores, false);
});

test('sampleGroup: same seed → same groups; a restored RNG state resumes the same groups', () => {
  const run = (rng: Rng, n: number) => Array.from({ length: n }, () => sampleGroup(bigGroup, 4, rng));
  assert.deepEqual(run(new Rng(11), 30), run(new Rng(11), 30));
  assert.notDeepEqual(run(new Rng(11), 30), run(new Rng(12), 30));
  const rng = new Rng(99);
  run(rng, 10);
  const state = rng.getState();
  const rest = run(rng, 10);
  assert.deepEqual(run(Rng.fromState(state), 10), rest);
});

test('sampleGroup: fewer negatives than needed → sampled with replacement (FlagEmbedding: repeated list)', () => {
  const record: GroupRecord = { kind: 'group', query: 'short', positives: ['p'], negatives: ['a', 'b', 'c'], posScores: [1], negScores: [0.1, 0.2, 0.3] };
  const rng = new Rng(17);
  let sawRepeat = false;
  for (let i = 0; i < 100; i++) {
    const g = sampleGroup(record, 8, rng); // 7 negatives from 3: each at most ceil(7 / 3) = 3 times
    const negs = g.documents.slice(1);
    assert.equal(negs.length, 7);
    const counts = new Map<string, number>();
    for (const n of negs) counts.set(n, (counts.get(n) ?? 0) + 1);
    assert.ok([...counts.values()].every((k) => k <= 3), JSON.stringify(negs));
    assert.ok([...counts.keys()].every((n) => record.negatives.includes(n)));
    sawRepeat ||= counts.size < negs.length;
    assert.deepEqual(g.teacherScores, [1, ...negs.map((n) => record.negScores![record.negatives.indexOf(n)])]);
  }
  assert.ok(sawRepeat);
  // One negative, group of 4: the same negative three times.
  assert.deepEqual(sampleGroup({ kind: 'group', query: 'q', positives: ['p'], negatives: ['x'] }, 4, rng).documents, ['p', 'x', 'x', 'x']);
  assert.deepEqual(sampleIndices(5, 5, new Rng(1)).sort(), [0, 1, 2, 3, 4]);
  assert.deepEqual(sampleIndices(0, 0, new Rng(1)), []);
  assert.throws(() => sampleIndices(0, 3, new Rng(1)), /cannot draw 3 from a list of 0/);
});

test('sampleGroup: zero negatives is an error naming the query; groupSize must be >= 2', () => {
  const rng = new Rng(1);
  assert.throws(
    () => sampleGroup({ kind: 'group', query: 'lonely query', positives: ['p'], negatives: [] }, 4, rng),
    /the query "lonely query" has no negative passage/,
  );
  assert.throws(() => sampleGroup(bigGroup, 1, rng), RangeError);
  assert.throws(() => sampleGroup(bigGroup, 2.5, rng), RangeError);
});
