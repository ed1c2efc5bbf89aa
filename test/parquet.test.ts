// Parquet files as a data source (src/data/parquet.ts with hyparquet), against the same rows dumped as JSON Lines by
// pyarrow (scripts/fixtures/make_parquet.py): every format, the columns mapping, bad rows as 'file: row N', the
// errors that name the file and its columns, and max_records stopping before the later row groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { newBadRecordReport, readEvalQueries, readTrainRecords, type DataSource, type EvalQuery, type TrainRecord } from '../src/data/formats';
import { ParquetFile } from '../src/data/parquet';
import { repoRoot, tempDir } from './helpers';

const dir = path.join(repoRoot, 'test', 'fixtures', 'parquet');
const expected = (name: string) => zlib.gunzipSync(fs.readFileSync(path.join(dir, 'expected', `${name}.jsonl.gz`))).toString('utf8')
  .trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

async function train(source: DataSource, onBadRecord: 'error' | 'skip' = 'error') {
  const report = newBadRecordReport();
  const records: { record: TrainRecord; line: number }[] = [];
  for await (const { record, line } of readTrainRecords(source, { onBadRecord }, report)) records.push({ record, line });
  return { records, report };
}

async function evalSet(source: DataSource): Promise<EvalQuery[]> {
  const out: EvalQuery[] = [];
  for await (const q of readEvalQueries(source, { onBadRecord: 'error' }, newBadRecordReport())) out.push(q);
  return out;
}

test('hf_msmarco shards (snappy, zstd): the nested passages column read exactly; rows with nothing selected kept for eval only', async () => {
  for (const shard of ['train-00000-of-00002', 'train-00001-of-00002', 'validation-00000-of-00001']) {
    const rows = expected(`ms_marco__v2.1__${shard}`);
    const file = path.join(dir, 'ms_marco', 'v2.1', `${shard}.parquet`);
    const queries = await evalSet({ path: file });
    assert.deepEqual(queries, rows.map((r) => {
      const p = r.passages as { is_selected: number[]; passage_text: string[] };
      return { query: r.query, documents: p.passage_text, relevance: p.is_selected, qid: String(r.query_id) };
    }), shard);
    const { records } = await train({ path: file });
    const kept = rows.map((r, i) => ({ r, row: i + 1 })).filter(({ r }) => (r.passages as { is_selected: number[] }).is_selected.includes(1));
    assert.ok(kept.length < rows.length, 'the fixture has rows with no selected passage');
    assert.deepEqual(records.map((x) => x.line), kept.map((k) => k.row), 'lines are 1-based row numbers');
    records.forEach(({ record }, i) => {
      const p = kept[i].r.passages as { is_selected: number[]; passage_text: string[] };
      assert.deepEqual(record, { kind: 'group', query: kept[i].r.query, positives: p.passage_text.filter((_, j) => p.is_selected[j]),
        negatives: p.passage_text.filter((_, j) => !p.is_selected[j]) });
    });
  }
});

test('pairs under other column names (columns mapping, int64 ids), triplets, lists with graded labels', async () => {
  const qa = expected('qa-pairs');
  const mapped = await train({ path: path.join(dir, 'qa-pairs.parquet'), columns: { query: 'question', document: 'answer', label: 'score' } });
  assert.deepEqual(mapped.records.map((x) => x.record), qa.map((r) => ({ kind: 'pair', query: r.question, document: r.answer, label: r.score })));

  const triplets = expected('triplets');
  assert.deepEqual((await train({ path: path.join(dir, 'triplets.parquet') })).records.map((x) => x.record),
    triplets.map((r) => ({ kind: 'group', query: r.query, positives: [r.positive], negatives: [r.negative] })));
  assert.deepEqual((await evalSet({ path: path.join(dir, 'triplets.parquet') }))[0],
    { query: triplets[0].query, documents: [triplets[0].positive, triplets[0].negative], relevance: [1, 0] });

  const lists = expected('lists');
  assert.deepEqual((await evalSet({ path: path.join(dir, 'lists.parquet') })).map((q) => q.relevance), lists.map((r) => r.labels), 'graded labels kept for eval');
  await assert.rejects(train({ path: path.join(dir, 'lists.parquet') }),
    /lists\.parquet: row 27: "labels\[0\]" is 3: training reads a list as positives \(1\) and negatives \(0\); for graded labels use format pairs/);
  const skipped = await train({ path: path.join(dir, 'lists.parquet') }, 'skip');
  assert.equal(skipped.records.length, 26);
  assert.equal(skipped.report.skipped, 4);

  // The same mapping on JSON Lines.
  const jsonl = path.join(tempDir(), 'qa.jsonl');
  fs.writeFileSync(jsonl, qa.map((r) => JSON.stringify(r)).join('\n') + '\n');
  assert.deepEqual((await train({ path: jsonl, columns: { query: 'question', document: 'answer', label: 'score' } })).records.map((x) => x.record),
    mapped.records.map((x) => x.record));
});

test('bad rows say file: row N; a wrong mapping or format names the file and lists its columns; not Parquet says so', async () => {
  const bad = path.join(dir, 'bad.parquet');
  await assert.rejects(train({ path: bad }), new RegExp(`^BadRecordError: ${bad.replace(/[.]/g, '\\.')}: row 2: "query" must be a string, got null$`));
  const { records, report } = await train({ path: bad }, 'skip');
  assert.equal(records.length, 2);
  assert.deepEqual(report.examples.map((e) => e.slice(bad.length)), [': row 2: "query" must be a string, got null', ': row 3: "labels" has 2 labels but "docs" has 3 documents']);

  const qa = path.join(dir, 'qa-pairs.parquet');
  await assert.rejects(train({ path: qa, columns: { query: 'q' } }), /qa-pairs\.parquet: columns\.query: no column "q" \(its columns: id, question, answer, score\)$/);
  await assert.rejects(train({ path: qa, format: 'pairs' }),
    /qa-pairs\.parquet: format "pairs" needs a column "query" \(its columns: id, question, answer, score\): name the column that holds it with columns: \{ query: <column> \}$/);
  await assert.rejects(train({ path: qa }), /qa-pairs\.parquet: cannot tell the format from its columns \("id", "question", "answer", "score"\)/);
  const fake = path.join(tempDir(), 'x.parquet');
  fs.writeFileSync(fake, 'not parquet at all');
  await assert.rejects(train({ path: fake }), /x\.parquet: not a Parquet file \(/);
  const cut = path.join(tempDir(), 'cut.parquet');
  fs.writeFileSync(cut, fs.readFileSync(qa).subarray(0, 5000));
  await assert.rejects(train({ path: cut }), /cut\.parquet: not a Parquet file/);
});

test('row group by row group: max_records counts source rows and stops before the row groups it does not need', async () => {
  const file = path.join(dir, 'ms_marco', 'v2.1', 'train-00000-of-00002.parquet');
  const parquet = await ParquetFile.open(file);
  assert.equal(parquet.rows, 120);
  const sizes: number[] = [];
  for await (const { rows } of parquet.readRowGroups(['query'])) sizes.push(rows.length);
  assert.deepEqual(sizes, [40, 40, 40]);

  const reads: number[] = [];
  const original = ParquetFile.prototype.readRowGroups;
  ParquetFile.prototype.readRowGroups = async function* (this: ParquetFile, columns: string[]) {
    for await (const group of original.call(this, columns)) {
      reads.push(group.first);
      yield group;
    }
  };
  try {
    const { records } = await train({ path: file, max_records: 30 });
    // Every 9th row has no selected passage: 30 rows, 3 of them (rows 9, 18, 27) without, give 27 groups.
    assert.equal(records.length, 27);
    assert.deepEqual(reads, [0], 'only the first row group was decoded');
  } finally {
    ParquetFile.prototype.readRowGroups = original;
  }
});
