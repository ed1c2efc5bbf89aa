// Record types the trainer consumes, the bad-record policy, and the line readers every format is built on.
//
// Line reading: JSONL and TSV files are streamed (fs.createReadStream, piped through zlib's gunzip when the
// file is gzip-compressed) and split on '\n' bytes here, not with the `ndjson` package (whose parser does
// not tell which line a record came from) nor with `readline` (which also splits on a lone '\r', so its
// line numbers can disagree with `sed -n`/`grep -n`/editors that count '\n'). Splitting raw bytes on 0x0A
// is exact for UTF-8, because 0x0A never occurs inside a multi-byte sequence, and it gives the byte offset
// of each line, which the MS MARCO collection/top1000 indexes need. Each line is then JSON.parse'd (JSONL)
// or split on tabs (TSV) by the format readers.
import fs from 'node:fs';
import zlib from 'node:zlib';

export type TrainRecord =
  | { kind: 'pair'; query: string; document: string; label: number }
  | { kind: 'group'; query: string; positives: string[]; negatives: string[]; posScores?: number[]; negScores?: number[] };

/** The group variant of TrainRecord. */
export type GroupRecord = Extract<TrainRecord, { kind: 'group' }>;
/** The pair variant of TrainRecord. */
export type PairRecord = Extract<TrainRecord, { kind: 'pair' }>;

/** A record and where it came from: `line` is 1-based; for multi-file sources, the file/line that defined it. */
export interface Located<T> {
  record: T;
  file: string;
  line: number;
}

export interface EvalQuery {
  query: string;
  documents: string[];
  relevance: number[];
  qid?: string;
}

export const DATA_FORMATS = ['auto', 'pairs', 'grouped', 'triplets', 'lists', 'hf_msmarco', 'msmarco'] as const;

export type DataFormat = (typeof DATA_FORMATS)[number];

/** The fields a `columns` mapping can name (rrnative's field → the dataset's column). */
export const RECORD_FIELDS = ['query', 'document', 'label', 'positive', 'negative', 'docs', 'labels', 'pos', 'neg',
  'positives', 'negatives', 'pos_scores', 'neg_scores', 'passages', 'qid', 'query_id'] as const;
export type RecordField = (typeof RECORD_FIELDS)[number];

export interface DataSource {
  /** A .jsonl / .jsonl.gz / .json or .parquet file (pairs, grouped, triplets, lists, hf_msmarco); unused for msmarco. */
  path?: string;
  /** Or a Hugging Face dataset by name (`microsoft/ms_marco`, `ms_marco`; `@revision` allowed), read from its Parquet files. */
  hub?: string;
  /** The dataset's config (subset), e.g. "v2.1"; default: the README's default one, else the only one. */
  config?: string;
  /** The split, e.g. "train", "validation". */
  split?: string;
  /** A branch, tag or commit of the dataset (default main). */
  revision?: string;
  /** rrnative's field → the dataset's column, for datasets whose columns have other names. */
  columns?: Partial<Record<RecordField, string>>;
  /** Training: at most this many source rows (as the guide's select(range(N))); evaluation: this many queries. */
  max_records?: number;
  /** 'auto' (default) sniffs from the first record / file names. */
  format?: DataFormat;
  /** MS MARCO collection.tsv: pid \t passage (must be uncompressed: passages are read by byte offset). */
  collection?: string;
  /** MS MARCO queries.*.tsv: qid \t query. */
  queries?: string;
  /** MS MARCO qrels.*.tsv: qid \t 0 \t pid \t rel (TREC style; space-separated TREC qrels work too). */
  qrels?: string;
  /** MS MARCO triples.train.small.tsv: query \t positive passage \t negative passage. */
  triples?: string;
  /** MS MARCO top1000.*.tsv: qid \t pid \t query \t passage (must be uncompressed: read by byte offset). */
  top1000?: string;
}

/** The keys of DataSource that name MS MARCO files. */
export const MSMARCO_KEYS = ['collection', 'queries', 'qrels', 'triples', 'top1000'] as const;
export type MsmarcoKey = (typeof MSMARCO_KEYS)[number];

export interface BadRecordPolicy {
  onBadRecord: 'error' | 'skip';
}

export interface BadRecordReport {
  skipped: number;
  /** The first few (MAX_BAD_EXAMPLES) messages, each 'file:line: reason'. */
  examples: string[];
}

export const MAX_BAD_EXAMPLES = 5;

/** A fresh, empty report. */
export function newBadRecordReport(): BadRecordReport {
  return { skipped: 0, examples: [] };
}

/** The error thrown for a bad record under policy 'error' (message: 'file:line: reason'). */
export class BadRecordError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'BadRecordError';
  }
}

/**
 * Applies the policy to one bad record: throws under 'error', counts (and keeps the first few) under 'skip'. Text
 * files say 'file:line: reason'; tables (Parquet) 'file: row N: reason'.
 */
export function badRecord(policy: BadRecordPolicy, report: BadRecordReport, file: string, line: number, reason: string,
  unit: 'line' | 'row' = 'line'): void {
  const message = unit === 'line' ? `${file}:${line}: ${reason}` : `${file}: row ${line}: ${reason}`;
  if (policy.onBadRecord !== 'skip') throw new BadRecordError(message, file, line);
  report.skipped++;
  if (report.examples.length < MAX_BAD_EXAMPLES) report.examples.push(message);
}

/** Parses one JSONL line that must hold an object; errors read 'where: …' and say what the line should be. */
export function parseJsonObjectLine(text: string, where: string, expected: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: invalid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: ${expected}, got ${describeType(value)}`);
  }
  return value as Record<string, unknown>;
}

/** How a value is described in "must be X, got Y" messages. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value;
}

// ---------------------------------------------------------------------------------------------------------
// Files

/** Throws unless `file` exists and is a regular file; the message names the data-source key and the path. */
export function checkFile(key: string, file: string | undefined): string {
  if (file === undefined || file === '') throw new Error(`data source: "${key}" is not set`);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`data source "${key}": file not found: ${file}`);
    throw new Error(`data source "${key}": cannot read ${file}: ${(err as Error).message}`);
  }
  if (!stat.isFile()) throw new Error(`data source "${key}": not a file: ${file}`);
  return file;
}

/** True when the file starts with the gzip magic bytes (so a misnamed file is still read correctly). */
export function isGzipFile(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const n = fs.readSync(fd, head, 0, 2, 0);
    return n === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}

/** Throws if a file that must be read by byte offset is gzip-compressed. */
export function checkUncompressed(key: string, file: string): void {
  if (isGzipFile(file)) {
    throw new Error(
      `data source "${key}": ${file} is gzip-compressed, but this file is read by byte offset (random access): gunzip it first`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Line splitting

/** One line: its bytes without the '\n' (and without a trailing '\r'), 1-based number and byte offset. */
export interface RawLine {
  bytes: Buffer;
  line: number;
  /** Byte offset of the line's first byte in the (decompressed) file. */
  offset: number;
}

/**
 * Streams a file (gunzipping it on the fly when it is gzip-compressed) and yields its lines in batches
 * (one batch per chunk read, to keep per-line overhead low on multi-gigabyte files).
 */
export async function* readRawLineBatches(file: string): AsyncGenerator<RawLine[]> {
  const gzip = isGzipFile(file);
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  const stream: NodeJS.ReadableStream = gzip ? input.pipe(zlib.createGunzip()) : input;
  if (gzip) input.on('error', (err) => (stream as zlib.Gunzip).destroy(err));
  let carry: Buffer | null = null; // the unfinished line from the previous chunk
  let carryOffset = 0;
  let lineNo = 0;
  let position = 0; // byte offset of the current chunk's start
  try {
    for await (const raw of stream) {
      const chunk = raw as Buffer;
      const batch: RawLine[] = [];
      let start = 0;
      let nl = chunk.indexOf(0x0a, 0);
      while (nl >= 0) {
        let bytes: Buffer;
        let offset: number;
        if (carry) {
          bytes = Buffer.concat([carry, chunk.subarray(0, nl)]);
          offset = carryOffset;
          carry = null;
        } else {
          bytes = chunk.subarray(start, nl);
          offset = position + start;
        }
        lineNo++;
        batch.push({ bytes: stripCr(bytes), line: lineNo, offset });
        start = nl + 1;
        nl = chunk.indexOf(0x0a, start);
      }
      if (start < chunk.length) {
        if (carry) {
          carry = Buffer.concat([carry, chunk.subarray(start)]);
        } else {
          carry = Buffer.from(chunk.subarray(start)); // copy: the stream may reuse its buffer
          carryOffset = position + start;
        }
      }
      position += chunk.length;
      if (batch.length) yield batch;
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e instanceof BadRecordError) throw e;
    if (gzip && e.code && e.code.startsWith('Z_')) throw new Error(`${file}: gunzip failed: ${e.message}`);
    throw new Error(`${file}: read failed: ${e.message}`);
  } finally {
    (input as fs.ReadStream).destroy();
  }
  if (carry && carry.length) yield [{ bytes: stripCr(carry), line: lineNo + 1, offset: carryOffset }];
}

function stripCr(bytes: Buffer): Buffer {
  return bytes.length && bytes[bytes.length - 1] === 0x0d ? bytes.subarray(0, bytes.length - 1) : bytes;
}

/** One non-blank line of text (a UTF-8 BOM on line 1 is dropped). */
export interface TextLine {
  text: string;
  line: number;
}

/** Streams the non-blank lines of a (possibly gzip-compressed) text file. */
export async function* readTextLines(file: string): AsyncGenerator<TextLine> {
  for await (const batch of readRawLineBatches(file)) {
    for (const raw of batch) {
      let bytes = raw.bytes;
      if (raw.offset === 0 && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
        bytes = bytes.subarray(3);
      }
      const text = bytes.toString('utf8');
      if (isBlank(text)) continue;
      yield { text, line: raw.line };
    }
  }
}

export function isBlank(text: string): boolean {
  return text.trim() === '';
}
