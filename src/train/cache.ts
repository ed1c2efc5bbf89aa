// Tokenize once, train many times: the training data's token ids on disk, keyed by the tokenizer, max_length,
// truncation and the data files' content hash. Later epochs and runs read batches straight from the cache.
//
// Layout of one cache folder: tokens.i32 (every pair's ids, concatenated) and index.bin (typed arrays:
// per pair its offset, length, first token of the second segment, label, teacher score; per record its
// first pair and its number of positives and negatives), plus meta.json.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describeDataSource, openDataSource, readTrainRecords, type ResolvedSource } from '../data/formats';
import { newBadRecordReport, type BadRecordReport, type DataSource, type Located, type TrainRecord } from '../data/records';
import type { NativeTokenBatch } from '../native';
import type { PairTokenizer } from '../tokenize';
import { TokenizePool, tokenizeWorkersFor } from '../tokenize-pool';
import { GrowableArray, writeFileAtomic } from '../util';

const CACHE_VERSION = 2;  // 2: max_records counts source rows
const TOKENIZE_CHUNK = 512;  // records tokenized per round trip to the Rust tokenizer

export interface CacheMeta {
  version: number;
  key: string;
  pairs: number;
  records: number;
  tokens: number;
  groups: number;
  withTeacher: number;
  badRecords: BadRecordReport;
  /** Where each record came from, for error messages: the first few files with their record ranges. */
  sources: string[];
}

/** The token ids of a training set, with labels, read back in batches. */
export class TokenCache {
  private constructor(
    readonly dir: string,
    readonly meta: CacheMeta,
    private readonly fd: number,
    private readonly pairOffset: Float64Array,
    private readonly pairLength: Uint32Array,
    private readonly pairTypeStart: Uint32Array,
    readonly pairLabel: Float32Array,
    readonly pairTeacher: Float32Array,
    readonly recordFirstPair: Uint32Array,
    readonly recordPositives: Uint32Array,
    readonly recordNegatives: Uint32Array,
  ) {}

  get recordCount(): number {
    return this.meta.records;
  }

  /** Tokens of a record: its pair's, or the mean over a group's candidates (for length-grouped batches). */
  recordTokens(record: number): number {
    const first = this.recordFirstPair[record];
    const count = this.meta.groups > 0 ? this.recordPositives[record] + this.recordNegatives[record] : 1;
    let sum = 0;
    for (let p = first; p < first + count; p++) sum += this.pairLength[p];
    return sum / count;
  }

  /** Reads pairs from disk into one padded batch. */
  readBatch(pairs: readonly number[], padTokenId: number): NativeTokenBatch {
    const length = Math.max(...pairs.map((p) => this.pairLength[p]));
    const batch = pairs.length;
    const inputIds = new Int32Array(batch * length).fill(padTokenId);
    const attentionMask = new Int32Array(batch * length);
    const tokenTypeIds = new Int32Array(batch * length);
    pairs.forEach((p, row) => {
      const n = this.pairLength[p];
      const view = new Int32Array(inputIds.buffer, row * length * 4, n);
      fs.readSync(this.fd, new Uint8Array(view.buffer, view.byteOffset, n * 4), 0, n * 4, this.pairOffset[p] * 4);
      attentionMask.fill(1, row * length, row * length + n);
      tokenTypeIds.fill(1, row * length + this.pairTypeStart[p], row * length + n);
    });
    return { inputIds, attentionMask, tokenTypeIds, batch, length };
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /** Opens the cache for (source, tokenizer, maxLength), building it first when it does not exist. */
  static async open(
    source: DataSource,
    tokenizer: PairTokenizer,
    maxLength: number,
    cacheDir: string,
    onBadRecord: 'error' | 'skip',
    log: (line: string) => void,
  ): Promise<TokenCache> {
    // A Hub dataset is listed here (by the Hub, or offline from the cache); its files download only if tokenized.
    const resolved = await openDataSource(source, 'train', log);
    const key = cacheKey(source, resolved, tokenizer, maxLength, onBadRecord);
    const dir = path.join(cacheDir, key.slice(0, 24));
    if (!fs.existsSync(path.join(dir, 'meta.json'))) {
      log(`tokenizing ${describeDataSource(source)} into ${dir}`);
      await build(dir, key, source, resolved, tokenizer, maxLength, onBadRecord);
    } else {
      log(`using cached token ids from ${dir}`);
    }
    return TokenCache.read(dir);
  }

  private static read(dir: string): TokenCache {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as CacheMeta;
    const index = fs.readFileSync(path.join(dir, 'index.bin'));
    let offset = 0;
    const take = <T>(Ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }, n: number): T => {
      const bytes = n * Ctor.BYTES_PER_ELEMENT;
      const copy = new ArrayBuffer(bytes);
      new Uint8Array(copy).set(index.subarray(offset, offset + bytes));
      offset += bytes;
      return new Ctor(copy, 0, n);
    };
    const P = meta.pairs, R = meta.records;
    const cache = new TokenCache(dir, meta, fs.openSync(path.join(dir, 'tokens.i32'), 'r'),
      take(Float64Array, P), take(Uint32Array, P), take(Uint32Array, P), take(Float32Array, P), take(Float32Array, P),
      take(Uint32Array, R), take(Uint32Array, R), take(Uint32Array, R));
    if (offset !== index.length) throw new Error(`${dir}/index.bin: unexpected size; delete the cache folder and rerun`);
    return cache;
  }
}

// A local file is known by its content; a Hub dataset by its commit, config, split and files (a commit never changes).
function cacheKey(source: DataSource, resolved: ResolvedSource, tokenizer: PairTokenizer, maxLength: number, onBadRecord: string): string {
  const hash = crypto.createHash('sha256');
  hash.update(JSON.stringify({ version: CACHE_VERSION, tokenizer: tokenizer.fingerprint(), maxLength, truncation: true,
    format: source.format ?? 'auto', maxRecords: source.max_records ?? null, onBadRecord, columns: source.columns ?? {} }));
  if (resolved.kind === 'parquet' && resolved.dataset) {
    const { id, sha, config, split, files } = resolved.dataset;
    hash.update(JSON.stringify({ hub: id, sha, config, split, files: files.map((f) => f.path) }));
  }
  for (const key of ['path', 'collection', 'queries', 'qrels', 'triples', 'top1000'] as const) {
    const file = source[key];
    if (file) hash.update(key).update(fileHash(file));
  }
  return hash.digest('hex');
}

function fileHash(file: string): string {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such data file`);
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.alloc(1 << 20);
  try {
    for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

// Token type ids of a pair are 0 … 0 1 … 1 (or all 0 for single-type models): storing where the 1s start is enough.
function secondSegmentStart(typeIds: readonly number[]): number {
  const start = typeIds.indexOf(1);
  if (start < 0) return typeIds.length;
  for (let i = start; i < typeIds.length; i++) {
    if (typeIds[i] !== 1) throw new Error(`unexpected token type ids ${JSON.stringify(typeIds)}: expected 0…0 1…1`);
  }
  return start;
}

// A build killed midway (a time limit, kill -9) leaves its `<dir>.tmp-<pid>` folder: hundreds of MB for a large
// set. Remove those whose process is gone; a build still running elsewhere keeps its own.
function removeAbandonedBuilds(dir: string): void {
  const parent = path.dirname(dir), prefix = `${path.basename(dir)}.tmp-`;
  if (!fs.existsSync(parent)) return;
  for (const name of fs.readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid <= 0 || processAlive(pid)) continue;
    fs.rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';  // alive, another user's
  }
}

async function build(
  dir: string, key: string, source: DataSource, resolved: ResolvedSource, tokenizer: PairTokenizer, maxLength: number,
  onBadRecord: 'error' | 'skip',
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  removeAbandonedBuilds(dir);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const tokensFd = fs.openSync(path.join(tmp, 'tokens.i32'), 'w');
  const pairOffset = new GrowableArray(Float64Array), pairLength = new GrowableArray(Uint32Array), pairTypeStart = new GrowableArray(Uint32Array);
  const pairLabel = new GrowableArray(Float32Array), pairTeacher = new GrowableArray(Float32Array);
  const recordFirst = new GrowableArray(Uint32Array), recordPos = new GrowableArray(Uint32Array), recordNeg = new GrowableArray(Uint32Array);
  const report = newBadRecordReport();
  let tokens = 0, groups = 0, withTeacher = 0, records = 0;
  // With many cores, tokenize on worker threads (tokenize-pool.ts: the same ids; the calling thread's share of
  // each pair's work is what limits one thread).
  const workers = tokenizeWorkersFor(Number.MAX_SAFE_INTEGER);
  const pool = workers > 0 ? TokenizePool.start(tokenizer.sourceDir, workers) : null;

  const flush = async (chunk: Located<TrainRecord>[]) => {
    const pairs: [string, string][] = [];
    const labels: number[] = [];
    const teacher: number[] = [];
    for (const { record } of chunk) {
      recordFirst.push(pairLength.length + pairs.length);
      if (record.kind === 'pair') {
        pairs.push([record.query, record.document]);
        labels.push(record.label);
        teacher.push(NaN);
        recordPos.push(1);
        recordNeg.push(0);
        continue;
      }
      groups++;
      if (record.posScores) withTeacher++;
      record.positives.forEach((d, i) => { pairs.push([record.query, d]); labels.push(1); teacher.push(record.posScores?.[i] ?? NaN); });
      record.negatives.forEach((d, i) => { pairs.push([record.query, d]); labels.push(0); teacher.push(record.negScores?.[i] ?? NaN); });
      recordPos.push(record.positives.length);
      recordNeg.push(record.negatives.length);
    }
    const encoded = await (pool ?? tokenizer).encodePairs(pairs, maxLength, true);
    const buffers: Buffer[] = [];
    encoded.forEach((e, i) => {
      pairOffset.push(tokens);
      pairLength.push(e.ids.length);
      pairTypeStart.push(secondSegmentStart(e.typeIds));
      pairLabel.push(labels[i]);
      pairTeacher.push(teacher[i]);
      const ids = Int32Array.from(e.ids);
      buffers.push(Buffer.from(ids.buffer));
      tokens += ids.length;
    });
    fs.writeSync(tokensFd, Buffer.concat(buffers));
  };

  try {
    let chunk: Located<TrainRecord>[] = [];
    for await (const located of readTrainRecords(source, { onBadRecord }, report, resolved)) {
      chunk.push(located);
      records++;
      if (chunk.length === TOKENIZE_CHUNK) {
        await flush(chunk);
        chunk = [];
      }
    }
    if (chunk.length) await flush(chunk);
    if (records === 0) throw new Error(`${describeDataSource(source)}: no training records`);
    fs.fsyncSync(tokensFd);
  } catch (err) {
    fs.closeSync(tokensFd);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    await pool?.close();
  }
  fs.closeSync(tokensFd);
  writeFileAtomic(path.join(tmp, 'index.bin'), Buffer.concat([pairOffset, pairLength, pairTypeStart, pairLabel, pairTeacher,
    recordFirst, recordPos, recordNeg].map((c) => c.bytes())));
  const meta: CacheMeta = { version: CACHE_VERSION, key, pairs: pairLength.length, records, tokens, groups, withTeacher,
    badRecords: report, sources: [describeDataSource(source)] };
  writeFileAtomic(path.join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
}
