// Datasets by their Hugging Face names, against the local imitation of the Hub (test/hub-server.ts) serving a small
// dataset in microsoft/ms_marco's layout and schema (test/fixtures/parquet/ms_marco): the short name the Hub redirects,
// the README's configs, the folder conventions, the refs/convert/parquet branch, shards downloaded one at a time as
// reading reaches them, offline use from the cache, each error as the user sees it; and `npx rrtrain
// configs/msmarco.yaml`, the guide by Hub names, end to end, then again offline with zero requests.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import { newBadRecordReport, readEvalQueries, readTrainRecords, type DataSource } from '../src/data/formats';
import { resolveDatasetSplit } from '../src/hub/datasets';
import { bertMiniDir, repoRoot, tempDir } from './helpers';
import { filesOf, startFakeHub, useFakeHub, type FakeHub } from './hub-server';

const parquetDir = path.join(repoRoot, 'test', 'fixtures', 'parquet');
const msmarco = filesOf(path.join(parquetDir, 'ms_marco'));
const expectedRows = (name: string) => zlib.gunzipSync(fs.readFileSync(path.join(parquetDir, 'expected', `${name}.jsonl.gz`))).toString('utf8')
  .trim().split('\n').map((l) => JSON.parse(l) as { query: string; passages: { is_selected: number[] } });
const triplets = fs.readFileSync(path.join(parquetDir, 'triplets.parquet'));
const lists = fs.readFileSync(path.join(parquetDir, 'lists.parquet'));

let hub: FakeHub;
let cache: string;
const saved = { ...process.env };

before(async () => {
  hub = await startFakeHub([
    { type: 'dataset', id: 'microsoft/ms_marco', revisions: { main: msmarco } },
    // No Parquet in main: the Hub's conversion under refs/convert/parquet.
    { type: 'dataset', id: 'rrtest/jsonl-only', revisions: {
      main: { 'README.md': Buffer.from('# a dataset\n'), 'data/train.jsonl': Buffer.from('{"query": "q", "positive": "p", "negative": "n"}\n') },
      'refs/convert/parquet': { 'default/train/0000.parquet': triplets, 'default/partial-validation/0000.parquet': lists },
    } },
    { type: 'dataset', id: 'rrtest/by-convention', revisions: { main: { 'data/train-00000-of-00001.parquet': triplets, 'data/test-00000-of-00001.parquet': lists } } },
    { type: 'dataset', id: 'rrtest/csv-only', revisions: { main: { 'train.csv': Buffer.from('query,document,label\n') } } },
    { type: 'dataset', id: 'rrtest/private-set', access: 'private', revisions: { main: msmarco } },
    { type: 'model', id: 'google/bert_uncased_L-4_H-512_A-8', revisions: { main: filesOf(bertMiniDir) } },
  ], { renamed: { 'dataset/ms_marco': 'microsoft/ms_marco' } });
});

after(async () => {
  await hub?.close();
  process.env = saved;
});

beforeEach(() => {
  cache = useFakeHub(hub, saved);
});

const quiet = { log: () => {} };

async function trainRows(source: DataSource) {
  const out: { query: string; line: number; file: string }[] = [];
  for await (const { record, line, file } of readTrainRecords(source, { onBadRecord: 'error' }, newBadRecordReport())) out.push({ query: record.query, line, file });
  return out;
}

const downloads = () => hub.requests.filter((r) => /\/resolve\//.test(r.url) || r.host === 'cdn').map((r) => decodeURIComponent(r.url));

test('ms_marco by its short name: the README\'s configs, the Hub\'s redirect, cached under the name as given, one shard at a time', async () => {
  const split = await resolveDatasetSplit({ hub: 'ms_marco', config: 'v2.1', split: 'train' }, quiet);
  const sha = hub.sha('microsoft/ms_marco', 'main');
  assert.equal(split.sha, sha);
  assert.deepEqual(split.files.map((f) => f.path), ['v2.1/train-00000-of-00002.parquet', 'v2.1/train-00001-of-00002.parquet']);
  assert.deepEqual(split.files.map((f) => f.name), split.files.map((f) => `hf://datasets/ms_marco/${f.path}`));
  assert.ok(hub.requests.some((r) => r.url === '/api/datasets/ms_marco/revision/main'), 'asked by the short name');
  assert.ok(hub.requests.some((r) => r.url.startsWith('/api/datasets/microsoft/ms_marco/revision/main')), 'and followed the 307');
  const folder = path.join(cache, 'datasets--ms_marco');
  assert.equal(fs.readFileSync(path.join(folder, 'refs', 'main'), 'utf8'), sha, 'huggingface_hub\'s layout, under the name as given');
  assert.deepEqual(downloads().filter((u) => !u.endsWith('README.md')), [], 'only the README is downloaded to find the files');

  // 100 rows: the first shard only (120 rows), never the second.
  hub.requests.length = 0;
  const first = await trainRows({ hub: 'ms_marco', config: 'v2.1', split: 'train', max_records: 100 });
  const rows = expectedRows('ms_marco__v2.1__train-00000-of-00002');
  const selected = rows.slice(0, 100).map((r, i) => ({ r, i })).filter(({ r }) => r.passages.is_selected.includes(1));
  assert.deepEqual(first.map((x) => x.query), selected.map(({ r }) => r.query));
  assert.deepEqual(first.map((x) => x.line), selected.map(({ i }) => i + 1));
  assert.equal(first[0].file, 'hf://datasets/ms_marco/v2.1/train-00000-of-00002.parquet');
  assert.ok(downloads().some((u) => u.includes('train-00000-of-00002')));
  assert.ok(!downloads().some((u) => u.includes('train-00001-of-00002')), 'the second shard is not downloaded');
  assert.ok(fs.lstatSync(path.join(folder, 'snapshots', sha, 'v2.1', 'train-00000-of-00002.parquet')).isSymbolicLink());

  // Offline: the first 100 rows from the cache with no request; the whole split stops at the shard not cached.
  hub.requests.length = 0;
  process.env.HF_HUB_OFFLINE = '1';
  assert.deepEqual((await trainRows({ hub: 'ms_marco', config: 'v2.1', split: 'train', max_records: 100 })).map((x) => x.query), first.map((x) => x.query));
  await assert.rejects(trainRows({ hub: 'ms_marco', config: 'v2.1', split: 'train' }), new RegExp(
    `^HubError: hf://datasets/ms_marco/v2\\.1/train-00001-of-00002\\.parquet: not in the cache \\(${folder.replace(/[.]/g, '\\.')}\\), and the Hub is not asked \\(offline, or unreachable\\): run once with the network to download it$`));
  assert.equal(hub.requests.length, 0, 'HF_HUB_OFFLINE: zero requests');

  // Online again, the whole split: both shards, every row, the same as pyarrow read them.
  delete process.env.HF_HUB_OFFLINE;
  const all = await trainRows({ hub: 'microsoft/ms_marco', config: 'v2.1', split: 'train' });
  const allRows = [...rows, ...expectedRows('ms_marco__v2.1__train-00001-of-00002')];
  assert.deepEqual(all.map((x) => x.query), allRows.filter((r) => r.passages.is_selected.includes(1)).map((r) => r.query));
  const evalQueries = [];
  for await (const q of readEvalQueries({ hub: 'microsoft/ms_marco', config: 'v2.1', split: 'validation' }, { onBadRecord: 'error' }, newBadRecordReport())) evalQueries.push(q);
  assert.equal(evalQueries.length, 60, 'validation: every row a query, nothing selected or not');
});

test('a dataset without Parquet in main: the Hub\'s refs/convert/parquet (partial- splits too); the folder conventions', async () => {
  const converted = await resolveDatasetSplit({ hub: 'rrtest/jsonl-only', split: 'train' }, quiet);
  assert.equal(converted.sha, hub.sha('rrtest/jsonl-only', 'refs/convert/parquet'));
  assert.deepEqual([converted.config, converted.files.map((f) => f.path)], ['default', ['default/train/0000.parquet']]);
  assert.equal(fs.readFileSync(path.join(cache, 'datasets--rrtest--jsonl-only', 'refs', 'refs', 'convert', 'parquet'), 'utf8'), converted.sha,
    'the ref stored as huggingface_hub stores it');
  assert.ok(hub.requests.some((r) => r.url === '/api/datasets/rrtest/jsonl-only/revision/refs%2Fconvert%2Fparquet'));
  assert.equal((await trainRows({ hub: 'rrtest/jsonl-only', split: 'train' })).length, 50);
  const partial = await resolveDatasetSplit({ hub: 'rrtest/jsonl-only', split: 'validation' }, quiet);
  assert.deepEqual(partial.files.map((f) => f.path), ['default/partial-validation/0000.parquet']);

  const byConvention = await resolveDatasetSplit({ hub: 'rrtest/by-convention', split: 'test' }, quiet);
  assert.deepEqual(byConvention.files.map((f) => f.path), ['data/test-00000-of-00001.parquet']);
  assert.equal((await trainRows({ hub: 'rrtest/by-convention' })).length, 50, 'training reads the train split by default');
});

test('errors: unknown config or split (listing the available), no Parquet at all, no such or private dataset, offline not cached', async () => {
  await assert.rejects(resolveDatasetSplit({ hub: 'ms_marco', config: 'v1.1', split: 'train' }, quiet), /^HubError: ms_marco: no config "v1\.1" \(its configs: v2\.1\)$/);
  await assert.rejects(resolveDatasetSplit({ hub: 'ms_marco', config: 'v2.1', split: 'dev' }, quiet), /^HubError: ms_marco \(v2\.1\): no split "dev" \(its splits: validation, train, test\)$/);
  await assert.rejects(resolveDatasetSplit({ hub: 'ms_marco', config: 'v2.1' }, quiet), /^HubError: ms_marco \(v2\.1\): set "split" to one of validation, train, test$/);
  await assert.rejects(resolveDatasetSplit({ hub: 'rrtest/jsonl-only', split: 'dev' }, quiet), /^HubError: rrtest\/jsonl-only@refs\/convert\/parquet \(default\): no split "dev" \(its splits: validation, train\)$/);
  await assert.rejects(resolveDatasetSplit({ hub: 'rrtest/csv-only', split: 'train' }, quiet), /^HubError: rrtest\/csv-only: no Parquet files, and no Parquet conversion \(refs\/convert\/parquet\): rrnative reads a dataset's Parquet files; for JSON Lines, download them and give data\.path$/);
  await assert.rejects(resolveDatasetSplit({ hub: 'rrtest/nope', split: 'train' }, quiet), /^HubError: rrtest\/nope: no local file of that name, and no such dataset on http:\/\/127\.0\.0\.1:\d+ \(or it is private: set HF_TOKEN\)$/);
  await assert.rejects(resolveDatasetSplit({ hub: 'rrtest/private-set', split: 'train' }, quiet), /no such dataset on .* \(or it is private: set HF_TOKEN\)$/);
  await assert.rejects(resolveDatasetSplit({ hub: 'ms_marco', revision: 'v9', split: 'train' }, quiet), /^HubError: ms_marco@v9: no revision "v9"/);
  await assert.rejects(trainRows({ hub: 'not a name' }), /data source "hub": "not a name" is not a Hugging Face dataset id/);
  await assert.rejects(trainRows({ hub: 'ms_marco', path: 'x.parquet' }), /both "path" and "hub" are set/);
  await assert.rejects(trainRows({ path: 'x.parquet', split: 'train' }), /"split" goes with "hub"/);
  process.env.HF_HUB_OFFLINE = '1';
  hub.requests.length = 0;
  // The README is cached by now (the calls above), a train shard is not.
  await assert.rejects(resolveDatasetSplit({ hub: 'ms_marco', config: 'v2.1', split: 'train' }, quiet),
    /^HubError: ms_marco \(v2\.1\): split "train" is not in the cache \(.*datasets--ms_marco\): run once with the network$/);
  cache = tempDir('rrnative-hf-cache-');
  process.env.HF_HUB_CACHE = cache;
  await assert.rejects(resolveDatasetSplit({ hub: 'ms_marco', config: 'v2.1', split: 'train' }, quiet), new RegExp(
    `^HubError: ms_marco: no local file of that name, not in the Hugging Face cache \\(${path.join(cache, 'datasets--ms_marco').replace(/[.]/g, '\\.')}\\), and HF_HUB_OFFLINE is set`));
  assert.equal(hub.requests.length, 0, 'offline: no request');
});

async function rrtrain(args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  // Not spawnSync: the Hub imitation runs in this process and must answer the child.
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli.js'), ...args], { env: process.env, cwd });
  const run = { stdout: '', stderr: '', status: null as number | null };
  child.stdout.on('data', (d) => { run.stdout += d; });
  child.stderr.on('data', (d) => { run.stderr += d; });
  run.status = await new Promise((resolve) => child.on('exit', resolve));
  return run;
}

test('npx rrtrain configs/msmarco.yaml: the guide by Hub names, model and dataset downloaded, trained, evaluated; again offline, zero requests', async () => {
  const work = tempDir('rrnative-guide-');
  const args = [path.join(repoRoot, 'configs', 'msmarco.yaml'), '--set', 'training.max_steps=4', '--set', 'model.max_length=128',
    '--set', 'training.per_device_train_batch_size=2', '--set', 'training.device=cpu', '--set', 'training.logging_steps=2',
    '--set', 'data.train.max_records=100'];  // the first 100 rows: in the first of the two train shards
  const first = await rrtrain(args, work);
  assert.equal(first.status, 0, first.stderr);
  const output = path.join(work, 'runs', 'msmarco');
  assert.ok(fs.existsSync(path.join(output, 'model.safetensors')));
  const files = downloads();
  assert.ok(files.some((u) => u.includes('google/bert_uncased_L-4_H-512_A-8/resolve/')), 'the model came from the Hub');
  assert.ok(files.some((u) => u.includes('train-00000-of-00002')) && files.some((u) => u.includes('validation-00000-of-00001')));
  assert.ok(!files.some((u) => u.includes('train-00001-of-00002')), 'the second train shard is never downloaded');
  assert.match(first.stderr + first.stdout, /mrr@10/);
  const card = fs.readFileSync(path.join(output, 'README.md'), 'utf8');
  assert.match(card, /base_model: google\/bert_uncased_L-4_H-512_A-8/);
  assert.match(card, /datasets:\n- ms_marco/);

  hub.requests.length = 0;
  process.env.HF_HUB_OFFLINE = '1';
  fs.rmSync(path.join(work, 'runs'), { recursive: true });
  fs.rmSync(path.join(work, '.rrnative-cache'), { recursive: true });
  const again = await rrtrain(args, work);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(hub.requests.length, 0, 'offline: zero requests to the Hub');
  assert.ok(fs.existsSync(path.join(output, 'model.safetensors')));
});
