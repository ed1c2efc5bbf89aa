// Corpora and query sets for first-stage retrieval (BM25), hard-negative mining and retrieval evaluation.
//
// A corpus is either the bundled Debian description set — `debdesc` / `debdesc:all` (all 63.8k documents),
// `debdesc:train|dev|test` (one split's documents); document ids are the package names — or a user file,
// streamed line by line (plain or gzip-compressed):
//   - JSON Lines, one object per line: `{"id"?: string|number, "text": string}` or `{"id"?, "document"}`;
//   - plain text (`.txt`, `.txt.gz`, or any file whose first line is not a JSON object): one document a line.
// Blank lines are skipped; a document without an id gets its 0-based position in the corpus as its id.
// Bad lines, empty documents and duplicate ids are errors naming file:line.
//
// Query sets (for `mine` and retrieval evaluation) are a debdesc split (`debdesc:train`, …: the query is the
// package's synopsis, its positive the package's own document) or JSON Lines of `{query, positives}` (or
// `{query, pos}`), where a positive is a document text, or — for evaluation — a corpus document id.
//
// Relevance ("the debdesc rule"): a query's relevant documents are the corpus documents its positives name
// (by id or by text) plus every document whose text is identical to one of them. Texts are compared after
// trimming surrounding whitespace. A positive that matches no corpus document still counts as one relevant
// document (one that retrieval can never find), so it lowers recall instead of vanishing.
import fs from 'node:fs';
import path from 'node:path';
import { DEBDESC_SPLITS, loadDebdesc, type DebdescRow, type DebdescSplit } from '../data/debdesc';
import { describeType, parseJsonObjectLine, readTextLines } from '../data/records';

/** A document given in memory: a string, or an object with a text and an optional id. */
export type CorpusInput = string | { id?: string | number; text: string };

export interface Corpus {
  /** Where it came from: 'debdesc:all', a file path, or '(memory)'. */
  readonly name: string;
  /** Document texts; a document's position here is its index. */
  readonly texts: readonly string[];
  /** Document ids, parallel to texts. */
  readonly ids: readonly string[];
  /** False when no id was given (ids are then the positions as strings). */
  readonly hasIds: boolean;
}

/** The key texts are compared by: surrounding whitespace trimmed. */
export function textKey(text: string): string {
  return text.trim();
}

/** True for the bundled-set specs: 'debdesc' or 'debdesc:<split>'. */
export function isDebdescSpec(spec: string): boolean {
  return spec === 'debdesc' || spec.startsWith('debdesc:');
}

/** 'debdesc' → 'all', 'debdesc:dev' → 'dev'; throws on an unknown split. */
export function debdescSplitOf(spec: string): DebdescSplit | 'all' {
  const split = spec === 'debdesc' ? 'all' : spec.slice('debdesc:'.length);
  if (split !== 'all' && !DEBDESC_SPLITS.includes(split as DebdescSplit)) {
    throw new Error(`${spec}: unknown debdesc split ${JSON.stringify(split)} (expected debdesc, debdesc:all, debdesc:${DEBDESC_SPLITS.join(', debdesc:')})`);
  }
  return split as DebdescSplit | 'all';
}

const debdescCache = new Map<string, Promise<DebdescRow[]>>();

/** The rows of a debdesc split, loaded once per process. */
export function debdescRows(split: DebdescSplit | 'all'): Promise<DebdescRow[]> {
  let rows = debdescCache.get(split);
  if (!rows) {
    rows = loadDebdesc(split);
    debdescCache.set(split, rows);
    rows.catch(() => debdescCache.delete(split));
  }
  return rows;
}

/** A corpus from the bundled set's rows (ids = package names). */
export function corpusFromDebdesc(rows: readonly DebdescRow[], name = 'debdesc:all'): Corpus {
  return { name, texts: rows.map((r) => r.document), ids: rows.map((r) => r.id), hasIds: true };
}

/** A corpus from strings or `{id?, text}` objects (ids must then be unique). */
export function corpusFromArray(docs: readonly CorpusInput[], name = '(memory)'): Corpus {
  if (!Array.isArray(docs)) throw new TypeError(`corpus must be an array of strings or {id, text} objects, got ${describeType(docs)}`);
  const texts: string[] = [];
  const ids: string[] = [];
  let hasIds = false;
  const seen = new Map<string, number>();
  docs.forEach((doc, i) => {
    let text: unknown;
    let id: string | undefined;
    if (typeof doc === 'string') text = doc;
    else if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
      text = doc.text;
      if (doc.id !== undefined && doc.id !== null) {
        if (typeof doc.id !== 'string' && !(typeof doc.id === 'number' && Number.isFinite(doc.id))) {
          throw new TypeError(`corpus[${i}].id must be a string or a number, got ${describeType(doc.id)}`);
        }
        id = String(doc.id);
      }
    } else throw new TypeError(`corpus[${i}] must be a string or an {id, text} object, got ${describeType(doc)}`);
    if (typeof text !== 'string') throw new TypeError(`corpus[${i}].text must be a string, got ${describeType(text)}`);
    if (id !== undefined) hasIds = true;
    const finalId = id ?? String(i);
    const prev = seen.get(finalId);
    if (prev !== undefined) throw new Error(`corpus[${i}]: id ${JSON.stringify(finalId)} is also the id of corpus[${prev}]`);
    seen.set(finalId, i);
    texts.push(text);
    ids.push(finalId);
  });
  return { name, texts, ids, hasIds };
}

/**
 * Loads a corpus: 'debdesc' / 'debdesc:all|train|dev|test', or a JSONL / text file (see the file comment).
 * `format` forces how a file is read ('auto' decides by extension, then by the first non-blank line).
 */
export async function loadCorpus(spec: string, options: { format?: 'auto' | 'jsonl' | 'text' } = {}): Promise<Corpus> {
  if (typeof spec !== 'string' || spec === '') throw new TypeError(`corpus: give 'debdesc[:split]' or a file path, got ${describeType(spec)}`);
  if (isDebdescSpec(spec)) {
    const split = debdescSplitOf(spec);
    return corpusFromDebdesc(await debdescRows(split), `debdesc:${split}`);
  }
  checkReadable(spec, 'corpus');
  const format = options.format ?? 'auto';
  let mode: 'jsonl' | 'text' | null = format === 'auto' ? byExtension(spec) : format;
  const texts: string[] = [];
  const ids: string[] = [];
  const idLine = new Map<string, number>();
  let explicitIds = 0;
  for await (const { text, line } of readTextLines(spec)) {
    const where = `${spec}:${line}`;
    if (mode === null) mode = text.trimStart().startsWith('{') ? 'jsonl' : 'text';
    let doc: string;
    let id: string | undefined;
    if (mode === 'text') doc = text;
    else {
      const o = parseJsonObjectLine(text, where, 'a corpus line must be a JSON object {"id"?, "text"} or {"id"?, "document"}');
      const hasText = o.text !== undefined;
      const hasDoc = o.document !== undefined;
      if (hasText && hasDoc) throw new Error(`${where}: both "text" and "document" are given (use one)`);
      if (!hasText && !hasDoc) throw new Error(`${where}: "text" (or "document") is missing`);
      const key = hasText ? 'text' : 'document';
      const value = o[key];
      if (typeof value !== 'string') throw new Error(`${where}: "${key}" must be a string, got ${describeType(value)}`);
      doc = value;
      if (o.id !== undefined && o.id !== null) {
        if (typeof o.id === 'string') id = o.id;
        else if (typeof o.id === 'number' && Number.isFinite(o.id)) id = String(o.id);
        else throw new Error(`${where}: "id" must be a string or a number, got ${describeType(o.id)}`);
      }
    }
    if (doc.trim() === '') throw new Error(`${where}: the document is empty`);
    if (id !== undefined) explicitIds++;
    const finalId = id ?? String(texts.length);
    const prev = idLine.get(finalId);
    if (prev !== undefined) {
      throw new Error(`${where}: duplicate document id ${JSON.stringify(finalId)} (first at line ${prev}${id === undefined ? '; documents without an id get their 0-based position as id' : ''})`);
    }
    idLine.set(finalId, line);
    texts.push(doc);
    ids.push(finalId);
  }
  if (texts.length === 0) throw new Error(`${spec}: the corpus has no documents`);
  return { name: spec, texts, ids, hasIds: explicitIds > 0 };
}

function byExtension(file: string): 'jsonl' | 'text' | null {
  const base = path.basename(file).toLowerCase().replace(/\.gz$/, '');
  if (/\.(jsonl|ndjson|json)$/.test(base)) return 'jsonl';
  if (/\.(txt|text)$/.test(base)) return 'text';
  return null;
}

/** Throws a clear error unless `file` is a readable regular file. */
export function checkReadable(file: string, what: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${what} ${file}: no such file`);
    throw new Error(`${what} ${file}: cannot read it (${(err as Error).message})`);
  }
  if (!stat.isFile()) throw new Error(`${what} ${file}: not a file`);
}

// ---------------------------------------------------------------------------------------------------------
// Lookups

/** Id → index and text → indices maps over a corpus, built once. */
export class CorpusLookup {
  private readonly byId: Map<string, number>;
  private byTextMap: Map<string, number[]> | null = null;
  private groups: Int32Array | null = null;

  constructor(readonly corpus: Corpus) {
    this.byId = new Map();
    corpus.ids.forEach((id, i) => this.byId.set(id, i));
  }

  indexOfId(id: string): number | undefined {
    return this.byId.get(id);
  }

  /** Indices of the documents whose text equals `text` (after trimming), ascending. */
  indicesOfText(text: string): readonly number[] {
    if (!this.byTextMap) {
      const m = new Map<string, number[]>();
      this.corpus.texts.forEach((t, i) => {
        const k = textKey(t);
        const list = m.get(k);
        if (list) list.push(i);
        else m.set(k, [i]);
      });
      this.byTextMap = m;
    }
    return this.byTextMap.get(textKey(text)) ?? [];
  }

  /**
   * For each document, the number of its identical-text group: documents share a group exactly when their
   * texts are equal (after trimming). Groups are numbered by the index of their first document.
   */
  textGroups(): Int32Array {
    if (!this.groups) {
      const first = new Map<string, number>();
      const g = new Int32Array(this.corpus.texts.length);
      this.corpus.texts.forEach((t, i) => {
        const k = textKey(t);
        const f = first.get(k);
        if (f === undefined) {
          first.set(k, i);
          g[i] = i;
        } else g[i] = f;
      });
      this.groups = g;
    }
    return this.groups;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Query sets

/** One positive: a corpus id, a text, or both (a debdesc package: its id and its document). */
export interface PositiveRef {
  id?: string;
  text?: string;
}

export interface QueryWithPositives {
  query: string;
  /** Query id (the package name for debdesc), when known. */
  qid?: string;
  positives: PositiveRef[];
  /** Where the query came from, for messages ('file:line' or 'debdesc:dev#id'). */
  where?: string;
}

/** Relevant corpus indices of a query under the debdesc rule, and the total relevant count (see the file comment). */
export function resolveRelevant(q: QueryWithPositives, lookup: CorpusLookup): { indices: number[]; totalRelevant: number } {
  const set = new Set<number>();
  let unresolved = 0;
  for (const p of q.positives) {
    let matched = false;
    if (p.id !== undefined) {
      const i = lookup.indexOfId(p.id);
      if (i !== undefined) {
        matched = true;
        set.add(i);
        for (const j of lookup.indicesOfText(lookup.corpus.texts[i])) set.add(j);
      }
    }
    if (p.text !== undefined) {
      const same = lookup.indicesOfText(p.text);
      if (same.length) matched = true;
      for (const j of same) set.add(j);
    }
    if (!matched) unresolved++;
  }
  const indices = [...set].sort((a, b) => a - b);
  return { indices, totalRelevant: indices.length + unresolved };
}

/** The queries of a debdesc split: positive = the package (its id and its document). */
export function debdescQueries(rows: readonly DebdescRow[], split: string): QueryWithPositives[] {
  return rows.map((r) => ({ query: r.query, qid: r.id, positives: [{ id: r.id, text: r.document }], where: `debdesc:${split}#${r.id}` }));
}

export interface ReadQueriesOptions {
  /** How a positive string is read: 'text' (mining: always a document text) or 'id-or-text' (evaluation:
   * a corpus id when the lookup has that id, else a text). Default 'text'. */
  positives?: 'text' | 'id-or-text';
  lookup?: CorpusLookup;
}

/**
 * Streams queries from 'debdesc:<split>' or a JSONL file of `{query, positives}` / `{query, pos}` (other keys
 * such as negatives are ignored; `qid`/`query_id` is kept). Errors name file:line.
 */
export async function* readQueries(spec: string, options: ReadQueriesOptions = {}): AsyncGenerator<QueryWithPositives> {
  if (isDebdescSpec(spec)) {
    const split = debdescSplitOf(spec);
    yield* debdescQueries(await debdescRows(split), split);
    return;
  }
  checkReadable(spec, 'queries');
  const mode = options.positives ?? 'text';
  for await (const { text, line } of readTextLines(spec)) {
    const where = `${spec}:${line}`;
    const o = parseJsonObjectLine(text, where, 'a query line must be a JSON object {"query", "positives"}');
    if (typeof o.query !== 'string') throw new Error(`${where}: "query" must be a string, got ${o.query === undefined ? 'nothing' : describeType(o.query)}`);
    if (o.query.trim() === '') throw new Error(`${where}: "query" is empty`);
    const hasPositives = o.positives !== undefined;
    const hasPos = o.pos !== undefined;
    if (hasPositives && hasPos) throw new Error(`${where}: both "positives" and "pos" are given (they are aliases: use one)`);
    if (!hasPositives && !hasPos) throw new Error(`${where}: "positives" (or "pos") is missing`);
    const key = hasPositives ? 'positives' : 'pos';
    const list = o[key];
    if (!Array.isArray(list)) throw new Error(`${where}: "${key}" must be an array, got ${describeType(list)}`);
    if (list.length === 0) throw new Error(`${where}: "${key}" is empty: a query needs at least one positive`);
    const positives: PositiveRef[] = list.map((p, i) => {
      if (typeof p === 'number' && Number.isFinite(p) && mode === 'id-or-text') return { id: String(p) };
      if (typeof p !== 'string') throw new Error(`${where}: "${key}[${i}]" must be a string, got ${describeType(p)}`);
      if (p.trim() === '') throw new Error(`${where}: "${key}[${i}]" is empty`);
      if (mode === 'id-or-text' && options.lookup?.indexOfId(p) !== undefined) return { id: p };
      return { text: p };
    });
    const q: QueryWithPositives = { query: o.query, positives, where };
    const qid = o.qid ?? o.query_id;
    if (typeof qid === 'string' || (typeof qid === 'number' && Number.isFinite(qid))) q.qid = String(qid);
    yield q;
  }
}
