// The JSONL formats (pairs, grouped, Hugging Face ms_marco rows), format detection, and the two entry
// points the trainer uses: readTrainRecords and readEvalQueries.
//
// Lines come from readTextLines (records.ts: a byte-level '\n' splitter over a streamed, gunzipped-on-the-fly
// file, so every bad record gets an exact file:line) and are JSON.parse'd one at a time; nothing holds a
// whole file in memory.
import path from 'node:path';
import {
  DATA_FORMATS,
  MSMARCO_KEYS,
  badRecord,
  checkFile,
  describeType,
  readTextLines,
  type BadRecordPolicy,
  type BadRecordReport,
  type DataSource,
  type EvalQuery,
  type GroupRecord,
  type Located,
  type PairRecord,
  type TrainRecord,
} from './records';
import { readMsmarcoEval, readMsmarcoTrain } from './msmarco';

// The record types and policy helpers live in records.ts; re-exported so one import serves the trainer.
export type {
  BadRecordPolicy,
  BadRecordReport,
  DataFormat,
  DataSource,
  EvalQuery,
  GroupRecord,
  Located,
  PairRecord,
  TrainRecord,
} from './records';
export { BadRecordError, DATA_FORMATS, MAX_BAD_EXAMPLES, newBadRecordReport } from './records';

export type JsonlFormat = 'pairs' | 'grouped' | 'hf_msmarco';

/** What a DataSource resolves to: one JSONL file in a known (or still to be sniffed) format, or MS MARCO TSVs. */
export type ResolvedSource =
  | { kind: 'jsonl'; file: string; format: JsonlFormat | 'auto' }
  | { kind: 'msmarco'; source: DataSource };

/**
 * Checks a data source without reading records: the format name, which keys are set, that the files exist.
 * Detection rules for format 'auto' (the default):
 *  - any of collection/queries/qrels/triples/top1000 set (and no path) → 'msmarco';
 *  - path ending in .tsv / .tsv.gz whose file name contains "triples" → 'msmarco' triples read from path;
 *    any other .tsv path is an error (name the MS MARCO files by their keys);
 *  - otherwise path is JSON Lines and the first valid record decides (see sniffJsonlFormat).
 */
export function resolveDataSource(source: DataSource, purpose: 'train' | 'eval'): ResolvedSource {
  const format = source.format ?? 'auto';
  if (!DATA_FORMATS.includes(format)) {
    throw new Error(`data source: unknown format ${JSON.stringify(format)} (expected one of ${DATA_FORMATS.join(', ')})`);
  }
  const msKeys = MSMARCO_KEYS.filter((k) => source[k] !== undefined && source[k] !== '');
  const hasPath = source.path !== undefined && source.path !== '';
  if (format === 'msmarco' || (format === 'auto' && msKeys.length > 0)) {
    if (hasPath && msKeys.length > 0) {
      throw new Error(`data source: both "path" and MS MARCO files (${msKeys.join(', ')}) are set: use one or the other`);
    }
    if (hasPath) {
      if (isTriplesPath(source.path!)) return resolveMsmarco({ format: 'msmarco', triples: source.path }, purpose);
      throw new Error(
        `data source: format "msmarco" reads its files from the keys ${MSMARCO_KEYS.join(', ')}, not from "path"`,
      );
    }
    return resolveMsmarco(source, purpose);
  }
  if (!hasPath) throw new Error(`data source: "path" is not set (format ${JSON.stringify(format)} reads one JSONL file)`);
  if (msKeys.length > 0) {
    throw new Error(`data source: format ${JSON.stringify(format)} reads only "path", but ${msKeys.join(', ')} ${msKeys.length > 1 ? 'are' : 'is'} set`);
  }
  const file = source.path!;
  if (format === 'auto' && /\.tsv(\.gz)?$/i.test(file)) {
    if (isTriplesPath(file)) return resolveMsmarco({ format: 'msmarco', triples: file }, purpose);
    throw new Error(
      `data source: cannot tell the format of ${file} from its name: for MS MARCO's TSV files set format "msmarco" and name them as ${MSMARCO_KEYS.join(', ')}`,
    );
  }
  checkFile('path', file);
  return { kind: 'jsonl', file, format: format as JsonlFormat | 'auto' };
}

function isTriplesPath(file: string): boolean {
  return /\.tsv(\.gz)?$/i.test(file) && /triples/i.test(path.basename(file));
}

function resolveMsmarco(source: DataSource, purpose: 'train' | 'eval'): ResolvedSource {
  const has = (k: keyof DataSource) => source[k] !== undefined && source[k] !== '';
  if (purpose === 'train') {
    if (has('triples')) {
      const extra = (['collection', 'queries', 'qrels', 'top1000'] as const).filter(has);
      if (extra.length) {
        throw new Error(`data source (msmarco): set either "triples" or queries+qrels+collection(+top1000), not both (${extra.join(', ')} also set)`);
      }
      checkFile('triples', source.triples);
    } else {
      for (const k of ['queries', 'qrels', 'collection'] as const) {
        if (!has(k)) throw new Error(`data source (msmarco): "${k}" is not set (training needs "triples", or "queries" + "qrels" + "collection", with optional "top1000" for negatives)`);
        checkFile(k, source[k]);
      }
      if (has('top1000')) checkFile('top1000', source.top1000);
    }
  } else {
    if (has('triples')) throw new Error('data source (msmarco): "triples" cannot be used for evaluation: use "top1000" + "qrels"');
    for (const k of ['top1000', 'qrels'] as const) {
      if (!has(k)) throw new Error(`data source (msmarco): "${k}" is not set (evaluation needs "top1000" + "qrels")`);
      checkFile(k, source[k]);
    }
  }
  return { kind: 'msmarco', source };
}

// ---------------------------------------------------------------------------------------------------------
// Entry points

/**
 * Streams training records from a data source. Bad records throw ('file:line: reason') under policy 'error'
 * and are counted in `report` under 'skip'. Missing files, unknown formats and inconsistent keys throw on the
 * first next() whatever the policy (resolveDataSource checks them eagerly).
 */
export async function* readTrainRecords(
  source: DataSource,
  policy: BadRecordPolicy,
  report: BadRecordReport,
): AsyncGenerator<Located<TrainRecord>> {
  const resolved = resolveDataSource(source, 'train');
  if (resolved.kind === 'msmarco') {
    yield* readMsmarcoTrain(resolved.source, policy, report);
    return;
  }
  for await (const { value, line } of readJsonlRecords(resolved.file, resolved.format, policy, report)) {
    const record = value.kind === 'hf_msmarco' ? hfRowToGroup(value.row) : value.record;
    // hf_msmarco rows with no selected passage carry no training signal. They are common in that data set
    // (queries answered "No Answer Present."), so they are dropped silently, not reported as bad records.
    if (record === null) continue;
    yield { record, file: resolved.file, line };
  }
}

/**
 * Streams evaluation queries: grouped → documents = positives ++ negatives with relevance 1/0; pairs →
 * consecutive records with an identical query form one EvalQuery (relevance = label); hf_msmarco →
 * relevance = is_selected (rows with nothing selected are kept: a query with no relevant item);
 * msmarco → top1000 + qrels (see msmarco.ts).
 */
export async function* readEvalQueries(
  source: DataSource,
  policy: BadRecordPolicy,
  report: BadRecordReport,
): AsyncGenerator<EvalQuery> {
  const resolved = resolveDataSource(source, 'eval');
  if (resolved.kind === 'msmarco') {
    yield* readMsmarcoEval(resolved.source, policy, report);
    return;
  }
  let pending: EvalQuery | null = null; // pairs: the query being accumulated
  for await (const { value } of readJsonlRecords(resolved.file, resolved.format, policy, report)) {
    if (value.kind === 'hf_msmarco') {
      const row = value.row;
      const q: EvalQuery = { query: row.query, documents: row.texts, relevance: row.selected };
      if (row.qid !== undefined) q.qid = row.qid;
      yield q;
      continue;
    }
    const record = value.record;
    if (record.kind === 'group') {
      const q: EvalQuery = {
        query: record.query,
        documents: [...record.positives, ...record.negatives],
        relevance: [...record.positives.map(() => 1), ...record.negatives.map(() => 0)],
      };
      if (value.qid !== undefined) q.qid = value.qid;
      yield q;
      continue;
    }
    if (pending && pending.query === record.query) {
      pending.documents.push(record.document);
      pending.relevance.push(record.label);
    } else {
      if (pending) yield pending;
      pending = { query: record.query, documents: [record.document], relevance: [record.label] };
    }
  }
  if (pending) yield pending;
}

// ---------------------------------------------------------------------------------------------------------
// JSONL reading and validation

/** A Hugging Face ms_marco v2.1 row, validated. */
export interface HfMsmarcoRow {
  query: string;
  qid?: string;
  texts: string[];
  /** is_selected per passage (0 or 1). */
  selected: number[];
}

type JsonlValue =
  | { kind: 'record'; record: TrainRecord; qid?: string }
  | { kind: 'hf_msmarco'; row: HfMsmarcoRow };

/** A validation failure: the reason goes after 'file:line: '. */
class Invalid extends Error {}

/**
 * Streams a JSONL file and validates each record against `format`; with 'auto', the first record that is a
 * JSON object decides the format for the whole file (sniffJsonlFormat).
 */
export async function* readJsonlRecords(
  file: string,
  format: JsonlFormat | 'auto',
  policy: BadRecordPolicy,
  report: BadRecordReport,
): AsyncGenerator<{ value: JsonlValue; line: number }> {
  let current: JsonlFormat | null = format === 'auto' ? null : format;
  let first = true;
  for await (const { text, line } of readTextLines(file)) {
    if (first) {
      first = false;
      if (text.trimStart().startsWith('[')) {
        throw new Error(`${file}:${line}: this is a JSON array, not JSON Lines: write one JSON object per line`);
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      badRecord(policy, report, file, line, `invalid JSON (${(err as Error).message})`);
      continue;
    }
    let value: JsonlValue;
    try {
      if (!isObject(json)) throw new Invalid(`record must be a JSON object, got ${describeType(json)}`);
      if (current === null) current = sniffJsonlFormat(json);
      if (current === 'pairs') {
        value = { kind: 'record', record: parsePair(json) };
      } else if (current === 'grouped') {
        const record = parseGroup(json);
        const qid = optionalId(json, ['qid', 'query_id']);
        value = qid === undefined ? { kind: 'record', record } : { kind: 'record', record, qid };
      } else {
        value = { kind: 'hf_msmarco', row: parseHfMsmarcoRow(json) };
      }
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      badRecord(policy, report, file, line, err.message);
      continue;
    }
    yield { value, line };
  }
}

/**
 * Which JSONL format a record is in: `passages` → hf_msmarco; `positives`/`pos`/`negatives`/`neg` → grouped;
 * `document` or `label` → pairs. Anything else is a bad record (set the format explicitly).
 */
export function sniffJsonlFormat(json: Record<string, unknown>): JsonlFormat {
  if ('passages' in json) return 'hf_msmarco';
  if ('positives' in json || 'pos' in json || 'negatives' in json || 'neg' in json) return 'grouped';
  if ('document' in json || 'label' in json) return 'pairs';
  const keys = Object.keys(json).slice(0, 10).map((k) => JSON.stringify(k)).join(', ');
  throw new Invalid(
    `cannot tell the format from this record's keys (${keys || 'none'}): expected query+document+label (pairs), query+pos+neg (grouped) or query+passages (hf_msmarco); or set "format"`,
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function has(obj: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key) && obj[key] !== undefined;
}

function requireQuery(obj: Record<string, unknown>): string {
  if (!has(obj, 'query')) throw new Invalid('"query" is missing');
  const q = obj.query;
  if (typeof q !== 'string') throw new Invalid(`"query" must be a string, got ${describeType(q)}`);
  if (q.trim() === '') throw new Invalid('"query" is empty');
  return q;
}

function requireString(obj: Record<string, unknown>, key: string): string {
  if (!has(obj, key)) throw new Invalid(`"${key}" is missing`);
  const v = obj[key];
  if (typeof v !== 'string') throw new Invalid(`"${key}" must be a string, got ${describeType(v)}`);
  return v;
}

function stringArray(value: unknown, name: string): string[] {
  if (!Array.isArray(value)) throw new Invalid(`"${name}" must be an array of strings, got ${describeType(value)}`);
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') throw new Invalid(`"${name}[${i}]" must be a string, got ${describeType(value[i])}`);
  }
  return value as string[];
}

function numberArray(value: unknown, name: string): number[] {
  if (!Array.isArray(value)) throw new Invalid(`"${name}" must be an array of numbers, got ${describeType(value)}`);
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new Invalid(`"${name}[${i}]" must be a finite number, got ${describeType(v)}`);
    }
  }
  return value as number[];
}

/** An optional id (string or number) under the first of `keys` present; returned as a string. */
function optionalId(obj: Record<string, unknown>, keys: string[]): string | undefined {
  for (const key of keys) {
    if (!has(obj, key) || obj[key] === null) continue;
    const v = obj[key];
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    throw new Invalid(`"${key}" must be a string or a number, got ${describeType(v)}`);
  }
  return undefined;
}

/** pairs: {query, document, label}; label a finite number >= 0 (0/1 or graded). */
export function parsePair(obj: Record<string, unknown>): PairRecord {
  const query = requireQuery(obj);
  const document = requireString(obj, 'document');
  if (!has(obj, 'label')) throw new Invalid('"label" is missing');
  const label = obj.label;
  if (typeof label !== 'number') throw new Invalid(`"label" must be a number, got ${describeType(label)}`);
  if (!Number.isFinite(label) || label < 0) throw new Invalid(`"label" must be a finite number >= 0, got ${label}`);
  return { kind: 'pair', query, document, label };
}

/** Reads `name` or its alias (FlagEmbedding's `pos`/`neg`); both present is an error. */
function aliased(obj: Record<string, unknown>, name: string, alias: string): { key: string; value: unknown } {
  const a = has(obj, name);
  const b = has(obj, alias);
  if (a && b) throw new Invalid(`both "${name}" and "${alias}" are given (they are aliases: use one)`);
  if (!a && !b) throw new Invalid(`"${name}" (or "${alias}") is missing`);
  return a ? { key: name, value: obj[name] } : { key: alias, value: obj[alias] };
}

/**
 * grouped (FlagEmbedding): {query, pos[], neg[], pos_scores?[], neg_scores?[]}; `positives`/`negatives`
 * are accepted for pos/neg. At least one positive; negatives may be empty (sampleGroup rejects that).
 * Teacher scores are optional (null counts as absent) but come together, one per passage.
 */
export function parseGroup(obj: Record<string, unknown>): GroupRecord {
  const query = requireQuery(obj);
  const pos = aliased(obj, 'positives', 'pos');
  const neg = aliased(obj, 'negatives', 'neg');
  const positives = stringArray(pos.value, pos.key);
  const negatives = stringArray(neg.value, neg.key);
  if (positives.length === 0) throw new Invalid(`"${pos.key}" is empty: a group needs at least one positive`);
  const record: GroupRecord = { kind: 'group', query, positives, negatives };
  const hasPosScores = has(obj, 'pos_scores') && obj.pos_scores !== null;
  const hasNegScores = has(obj, 'neg_scores') && obj.neg_scores !== null;
  if (hasPosScores !== hasNegScores) {
    const [given, missing] = hasPosScores ? ['pos_scores', 'neg_scores'] : ['neg_scores', 'pos_scores'];
    throw new Invalid(`"${missing}" is missing ("${given}" is given: teacher scores need both)`);
  }
  if (hasPosScores) {
    const posScores = numberArray(obj.pos_scores, 'pos_scores');
    const negScores = numberArray(obj.neg_scores, 'neg_scores');
    if (posScores.length !== positives.length) {
      throw new Invalid(`"pos_scores" has ${posScores.length} scores but "${pos.key}" has ${positives.length} passages`);
    }
    if (negScores.length !== negatives.length) {
      throw new Invalid(`"neg_scores" has ${negScores.length} scores but "${neg.key}" has ${negatives.length} passages`);
    }
    record.posScores = posScores;
    record.negScores = negScores;
  }
  return record;
}

/**
 * A Hugging Face `ms_marco` v2.1 row: {query, query_id, query_type, answers, wellFormedAnswers,
 * passages: {is_selected[], passage_text[], url[]}}. Only query, query_id and passages.{is_selected,
 * passage_text} are read (and validated); a list of {is_selected, passage_text} objects is accepted too.
 */
export function parseHfMsmarcoRow(obj: Record<string, unknown>): HfMsmarcoRow {
  const query = requireQuery(obj);
  const qid = optionalId(obj, ['query_id']);
  if (!has(obj, 'passages')) throw new Invalid('"passages" is missing');
  const passages = obj.passages;
  let texts: string[];
  let selected: number[];
  if (Array.isArray(passages)) {
    texts = [];
    selected = [];
    passages.forEach((p, i) => {
      if (!isObject(p)) throw new Invalid(`"passages[${i}]" must be an object, got ${describeType(p)}`);
      if (typeof p.passage_text !== 'string') throw new Invalid(`"passages[${i}].passage_text" must be a string, got ${describeType(p.passage_text)}`);
      texts.push(p.passage_text);
      selected.push(selectedFlag(p.is_selected, `passages[${i}].is_selected`));
    });
  } else if (isObject(passages)) {
    if (!has(passages, 'passage_text')) throw new Invalid('"passages.passage_text" is missing');
    if (!has(passages, 'is_selected')) throw new Invalid('"passages.is_selected" is missing');
    texts = stringArray(passages.passage_text, 'passages.passage_text');
    const flags = passages.is_selected;
    if (!Array.isArray(flags)) throw new Invalid(`"passages.is_selected" must be an array of numbers, got ${describeType(flags)}`);
    selected = flags.map((f, i) => selectedFlag(f, `passages.is_selected[${i}]`));
    if (selected.length !== texts.length) {
      throw new Invalid(`"passages.is_selected" has ${selected.length} entries but "passages.passage_text" has ${texts.length}`);
    }
  } else {
    throw new Invalid(`"passages" must be an object, got ${describeType(passages)}`);
  }
  const row: HfMsmarcoRow = { query, texts, selected };
  if (qid !== undefined) row.qid = qid;
  return row;
}

function selectedFlag(value: unknown, name: string): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value !== 0 && value !== 1) throw new Invalid(`"${name}" must be 0 or 1, got ${typeof value === 'number' ? value : describeType(value)}`);
  return value;
}

/** A training group from an hf_msmarco row: selected passages are positives, the rest negatives; null if none is selected. */
export function hfRowToGroup(row: HfMsmarcoRow): GroupRecord | null {
  const positives: string[] = [];
  const negatives: string[] = [];
  row.texts.forEach((t, i) => (row.selected[i] ? positives : negatives).push(t));
  if (positives.length === 0) return null;
  return { kind: 'group', query: row.query, positives, negatives };
}
