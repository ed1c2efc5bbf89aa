"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.CorpusLookup = void 0;
exports.textKey = textKey;
exports.isDebdescSpec = isDebdescSpec;
exports.debdescSplitOf = debdescSplitOf;
exports.debdescRows = debdescRows;
exports.corpusFromDebdesc = corpusFromDebdesc;
exports.corpusFromArray = corpusFromArray;
exports.loadCorpus = loadCorpus;
exports.checkReadable = checkReadable;
exports.resolveRelevant = resolveRelevant;
exports.debdescQueries = debdescQueries;
exports.readQueries = readQueries;
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
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const debdesc_1 = require("../data/debdesc");
const records_1 = require("../data/records");
/** The key texts are compared by: surrounding whitespace trimmed. */
function textKey(text) {
    return text.trim();
}
/** True for the bundled-set specs: 'debdesc' or 'debdesc:<split>'. */
function isDebdescSpec(spec) {
    return spec === 'debdesc' || spec.startsWith('debdesc:');
}
/** 'debdesc' → 'all', 'debdesc:dev' → 'dev'; throws on an unknown split. */
function debdescSplitOf(spec) {
    const split = spec === 'debdesc' ? 'all' : spec.slice('debdesc:'.length);
    if (split !== 'all' && !debdesc_1.DEBDESC_SPLITS.includes(split)) {
        throw new Error(`${spec}: unknown debdesc split ${JSON.stringify(split)} (expected debdesc, debdesc:all, debdesc:${debdesc_1.DEBDESC_SPLITS.join(', debdesc:')})`);
    }
    return split;
}
const debdescCache = new Map();
/** The rows of a debdesc split, loaded once per process. */
function debdescRows(split) {
    let rows = debdescCache.get(split);
    if (!rows) {
        rows = (0, debdesc_1.loadDebdesc)(split);
        debdescCache.set(split, rows);
        rows.catch(() => debdescCache.delete(split));
    }
    return rows;
}
/** A corpus from the bundled set's rows (ids = package names). */
function corpusFromDebdesc(rows, name = 'debdesc:all') {
    return { name, texts: rows.map((r) => r.document), ids: rows.map((r) => r.id), hasIds: true };
}
/** A corpus from strings or `{id?, text}` objects (ids must then be unique). */
function corpusFromArray(docs, name = '(memory)') {
    if (!Array.isArray(docs))
        throw new TypeError(`corpus must be an array of strings or {id, text} objects, got ${(0, records_1.describeType)(docs)}`);
    const texts = [];
    const ids = [];
    let hasIds = false;
    const seen = new Map();
    docs.forEach((doc, i) => {
        let text;
        let id;
        if (typeof doc === 'string')
            text = doc;
        else if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
            text = doc.text;
            if (doc.id !== undefined && doc.id !== null) {
                if (typeof doc.id !== 'string' && !(typeof doc.id === 'number' && Number.isFinite(doc.id))) {
                    throw new TypeError(`corpus[${i}].id must be a string or a number, got ${(0, records_1.describeType)(doc.id)}`);
                }
                id = String(doc.id);
            }
        }
        else
            throw new TypeError(`corpus[${i}] must be a string or an {id, text} object, got ${(0, records_1.describeType)(doc)}`);
        if (typeof text !== 'string')
            throw new TypeError(`corpus[${i}].text must be a string, got ${(0, records_1.describeType)(text)}`);
        if (id !== undefined)
            hasIds = true;
        const finalId = id ?? String(i);
        const prev = seen.get(finalId);
        if (prev !== undefined)
            throw new Error(`corpus[${i}]: id ${JSON.stringify(finalId)} is also the id of corpus[${prev}]`);
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
async function loadCorpus(spec, options = {}) {
    if (typeof spec !== 'string' || spec === '')
        throw new TypeError(`corpus: give 'debdesc[:split]' or a file path, got ${(0, records_1.describeType)(spec)}`);
    if (isDebdescSpec(spec)) {
        const split = debdescSplitOf(spec);
        return corpusFromDebdesc(await debdescRows(split), `debdesc:${split}`);
    }
    checkReadable(spec, 'corpus');
    const format = options.format ?? 'auto';
    let mode = format === 'auto' ? byExtension(spec) : format;
    const texts = [];
    const ids = [];
    const idLine = new Map();
    let explicitIds = 0;
    for await (const { text, line } of (0, records_1.readTextLines)(spec)) {
        const where = `${spec}:${line}`;
        if (mode === null)
            mode = text.trimStart().startsWith('{') ? 'jsonl' : 'text';
        let doc;
        let id;
        if (mode === 'text')
            doc = text;
        else {
            const o = (0, records_1.parseJsonObjectLine)(text, where, 'a corpus line must be a JSON object {"id"?, "text"} or {"id"?, "document"}');
            const hasText = o.text !== undefined;
            const hasDoc = o.document !== undefined;
            if (hasText && hasDoc)
                throw new Error(`${where}: both "text" and "document" are given (use one)`);
            if (!hasText && !hasDoc)
                throw new Error(`${where}: "text" (or "document") is missing`);
            const key = hasText ? 'text' : 'document';
            const value = o[key];
            if (typeof value !== 'string')
                throw new Error(`${where}: "${key}" must be a string, got ${(0, records_1.describeType)(value)}`);
            doc = value;
            if (o.id !== undefined && o.id !== null) {
                if (typeof o.id === 'string')
                    id = o.id;
                else if (typeof o.id === 'number' && Number.isFinite(o.id))
                    id = String(o.id);
                else
                    throw new Error(`${where}: "id" must be a string or a number, got ${(0, records_1.describeType)(o.id)}`);
            }
        }
        if (doc.trim() === '')
            throw new Error(`${where}: the document is empty`);
        if (id !== undefined)
            explicitIds++;
        const finalId = id ?? String(texts.length);
        const prev = idLine.get(finalId);
        if (prev !== undefined) {
            throw new Error(`${where}: duplicate document id ${JSON.stringify(finalId)} (first at line ${prev}${id === undefined ? '; documents without an id get their 0-based position as id' : ''})`);
        }
        idLine.set(finalId, line);
        texts.push(doc);
        ids.push(finalId);
    }
    if (texts.length === 0)
        throw new Error(`${spec}: the corpus has no documents`);
    return { name: spec, texts, ids, hasIds: explicitIds > 0 };
}
function byExtension(file) {
    const base = node_path_1.default.basename(file).toLowerCase().replace(/\.gz$/, '');
    if (/\.(jsonl|ndjson|json)$/.test(base))
        return 'jsonl';
    if (/\.(txt|text)$/.test(base))
        return 'text';
    return null;
}
/** Throws a clear error unless `file` is a readable regular file. */
function checkReadable(file, what) {
    let stat;
    try {
        stat = node_fs_1.default.statSync(file);
    }
    catch (err) {
        if (err.code === 'ENOENT')
            throw new Error(`${what} ${file}: no such file`);
        throw new Error(`${what} ${file}: cannot read it (${err.message})`);
    }
    if (!stat.isFile())
        throw new Error(`${what} ${file}: not a file`);
}
// ---------------------------------------------------------------------------------------------------------
// Lookups
/** Id → index and text → indices maps over a corpus, built once. */
class CorpusLookup {
    corpus;
    byId;
    byTextMap = null;
    groups = null;
    constructor(corpus) {
        this.corpus = corpus;
        this.byId = new Map();
        corpus.ids.forEach((id, i) => this.byId.set(id, i));
    }
    indexOfId(id) {
        return this.byId.get(id);
    }
    /** Indices of the documents whose text equals `text` (after trimming), ascending. */
    indicesOfText(text) {
        if (!this.byTextMap) {
            const m = new Map();
            this.corpus.texts.forEach((t, i) => {
                const k = textKey(t);
                const list = m.get(k);
                if (list)
                    list.push(i);
                else
                    m.set(k, [i]);
            });
            this.byTextMap = m;
        }
        return this.byTextMap.get(textKey(text)) ?? [];
    }
    /**
     * For each document, the number of its identical-text group: documents share a group exactly when their
     * texts are equal (after trimming). Groups are numbered by the index of their first document.
     */
    textGroups() {
        if (!this.groups) {
            const first = new Map();
            const g = new Int32Array(this.corpus.texts.length);
            this.corpus.texts.forEach((t, i) => {
                const k = textKey(t);
                const f = first.get(k);
                if (f === undefined) {
                    first.set(k, i);
                    g[i] = i;
                }
                else
                    g[i] = f;
            });
            this.groups = g;
        }
        return this.groups;
    }
}
exports.CorpusLookup = CorpusLookup;
/** Relevant corpus indices of a query under the debdesc rule, and the total relevant count (see the file comment). */
function resolveRelevant(q, lookup) {
    const set = new Set();
    let unresolved = 0;
    for (const p of q.positives) {
        let matched = false;
        if (p.id !== undefined) {
            const i = lookup.indexOfId(p.id);
            if (i !== undefined) {
                matched = true;
                set.add(i);
                for (const j of lookup.indicesOfText(lookup.corpus.texts[i]))
                    set.add(j);
            }
        }
        if (p.text !== undefined) {
            const same = lookup.indicesOfText(p.text);
            if (same.length)
                matched = true;
            for (const j of same)
                set.add(j);
        }
        if (!matched)
            unresolved++;
    }
    const indices = [...set].sort((a, b) => a - b);
    return { indices, totalRelevant: indices.length + unresolved };
}
/** The queries of a debdesc split: positive = the package (its id and its document). */
function debdescQueries(rows, split) {
    return rows.map((r) => ({ query: r.query, qid: r.id, positives: [{ id: r.id, text: r.document }], where: `debdesc:${split}#${r.id}` }));
}
/**
 * Streams queries from 'debdesc:<split>' or a JSONL file of `{query, positives}` / `{query, pos}` (other keys
 * such as negatives are ignored; `qid`/`query_id` is kept). Errors name file:line.
 */
async function* readQueries(spec, options = {}) {
    if (isDebdescSpec(spec)) {
        const split = debdescSplitOf(spec);
        yield* debdescQueries(await debdescRows(split), split);
        return;
    }
    checkReadable(spec, 'queries');
    const mode = options.positives ?? 'text';
    for await (const { text, line } of (0, records_1.readTextLines)(spec)) {
        const where = `${spec}:${line}`;
        const o = (0, records_1.parseJsonObjectLine)(text, where, 'a query line must be a JSON object {"query", "positives"}');
        if (typeof o.query !== 'string')
            throw new Error(`${where}: "query" must be a string, got ${o.query === undefined ? 'nothing' : (0, records_1.describeType)(o.query)}`);
        if (o.query.trim() === '')
            throw new Error(`${where}: "query" is empty`);
        const hasPositives = o.positives !== undefined;
        const hasPos = o.pos !== undefined;
        if (hasPositives && hasPos)
            throw new Error(`${where}: both "positives" and "pos" are given (they are aliases: use one)`);
        if (!hasPositives && !hasPos)
            throw new Error(`${where}: "positives" (or "pos") is missing`);
        const key = hasPositives ? 'positives' : 'pos';
        const list = o[key];
        if (!Array.isArray(list))
            throw new Error(`${where}: "${key}" must be an array, got ${(0, records_1.describeType)(list)}`);
        if (list.length === 0)
            throw new Error(`${where}: "${key}" is empty: a query needs at least one positive`);
        const positives = list.map((p, i) => {
            if (typeof p === 'number' && Number.isFinite(p) && mode === 'id-or-text')
                return { id: String(p) };
            if (typeof p !== 'string')
                throw new Error(`${where}: "${key}[${i}]" must be a string, got ${(0, records_1.describeType)(p)}`);
            if (p.trim() === '')
                throw new Error(`${where}: "${key}[${i}]" is empty`);
            if (mode === 'id-or-text' && options.lookup?.indexOfId(p) !== undefined)
                return { id: p };
            return { text: p };
        });
        const q = { query: o.query, positives, where };
        const qid = o.qid ?? o.query_id;
        if (typeof qid === 'string' || (typeof qid === 'number' && Number.isFinite(qid)))
            q.qid = String(qid);
        yield q;
    }
}
