"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.newBadRecordReport = exports.MAX_BAD_EXAMPLES = exports.DATA_FORMATS = exports.BadRecordError = void 0;
exports.resolveDataSource = resolveDataSource;
exports.openDataSource = openDataSource;
exports.readTrainRecords = readTrainRecords;
exports.readEvalQueries = readEvalQueries;
exports.sniffFormat = sniffFormat;
exports.parsePair = parsePair;
exports.parseGroup = parseGroup;
exports.parseHfMsmarcoRow = parseHfMsmarcoRow;
exports.hfRowToGroup = hfRowToGroup;
exports.parseTriplet = parseTriplet;
exports.parseList = parseList;
exports.listToGroup = listToGroup;
exports.describeDataSource = describeDataSource;
// The record formats (pairs, grouped, triplets, lists, Hugging Face ms_marco rows), format detection, and the two
// entry points the trainer uses: readTrainRecords and readEvalQueries.
//
// Rows come from three kinds of source, each streamed: JSON Lines (readTextLines in records.ts: a byte-level '\n'
// splitter over a gunzipped-on-the-fly file, so every bad record gets an exact file:line), local Parquet files and
// a Hugging Face dataset's Parquet shards (parquet.ts: one row group at a time; hub/datasets.ts: each shard fetched
// as reading reaches it). Every row, whichever its source, is then renamed by the `columns` mapping and validated
// against its format here; nothing holds a whole file in memory.
const node_path_1 = __importDefault(require("node:path"));
const datasets_1 = require("../hub/datasets");
const models_1 = require("../hub/models");
const parquet_1 = require("./parquet");
const records_1 = require("./records");
const msmarco_1 = require("./msmarco");
var records_2 = require("./records");
Object.defineProperty(exports, "BadRecordError", { enumerable: true, get: function () { return records_2.BadRecordError; } });
Object.defineProperty(exports, "DATA_FORMATS", { enumerable: true, get: function () { return records_2.DATA_FORMATS; } });
Object.defineProperty(exports, "MAX_BAD_EXAMPLES", { enumerable: true, get: function () { return records_2.MAX_BAD_EXAMPLES; } });
Object.defineProperty(exports, "newBadRecordReport", { enumerable: true, get: function () { return records_2.newBadRecordReport; } });
const HUB_KEYS = ['config', 'split', 'revision'];
/**
 * Checks a local data source without reading records: the format name, which keys are set, that the files exist.
 * Detection rules for format 'auto' (the default):
 *  - any of collection/queries/qrels/triples/top1000 set (and no path) → 'msmarco';
 *  - path ending in .tsv / .tsv.gz whose file name contains "triples" → 'msmarco' triples read from path;
 *    any other .tsv path is an error (name the MS MARCO files by their keys);
 *  - path ending in .parquet → a Parquet file, whose columns decide (see sniffFormat);
 *  - otherwise path is JSON Lines and the first valid record decides (see sniffFormat).
 * A Hub dataset (`hub`) is resolved by openDataSource, which asks the Hub (or its cache).
 */
function resolveDataSource(source, purpose) {
    const format = checkFormatName(source);
    const msKeys = records_1.MSMARCO_KEYS.filter((k) => source[k] !== undefined && source[k] !== '');
    const hasPath = source.path !== undefined && source.path !== '';
    const hubKeys = HUB_KEYS.filter((k) => source[k] !== undefined);
    if (source.hub !== undefined) {
        checkHubSource(source);
        throw new Error(`data source: the Hugging Face dataset ${source.hub} is opened with openDataSource()`);
    }
    if (hubKeys.length) {
        throw new Error(`data source: ${hubKeys.map((k) => `"${k}"`).join(', ')} ${hubKeys.length > 1 ? 'go' : 'goes'} with "hub" (a Hugging Face dataset), which is not set`);
    }
    if (format === 'msmarco' || (format === 'auto' && msKeys.length > 0)) {
        if (hasPath && msKeys.length > 0) {
            throw new Error(`data source: both "path" and MS MARCO files (${msKeys.join(', ')}) are set: use one or the other`);
        }
        if (source.columns)
            throw new Error('data source: "columns" maps the columns of JSON Lines or Parquet records, not of MS MARCO\'s TSV files');
        if (hasPath) {
            if (isTriplesPath(source.path))
                return resolveMsmarco({ format: 'msmarco', triples: source.path }, purpose);
            throw new Error(`data source: format "msmarco" reads its files from the keys ${records_1.MSMARCO_KEYS.join(', ')}, not from "path"`);
        }
        return resolveMsmarco(source, purpose);
    }
    if (!hasPath)
        throw new Error(`data source: neither "path" nor "hub" is set (format ${JSON.stringify(format)} reads a JSONL or Parquet file, or a Hugging Face dataset)`);
    if (msKeys.length > 0) {
        throw new Error(`data source: format ${JSON.stringify(format)} reads only "path", but ${msKeys.join(', ')} ${msKeys.length > 1 ? 'are' : 'is'} set`);
    }
    const file = source.path;
    if (format === 'auto' && /\.tsv(\.gz)?$/i.test(file)) {
        if (isTriplesPath(file))
            return resolveMsmarco({ format: 'msmarco', triples: file }, purpose);
        throw new Error(`data source: cannot tell the format of ${file} from its name: for MS MARCO's TSV files set format "msmarco" and name them as ${records_1.MSMARCO_KEYS.join(', ')}`);
    }
    (0, records_1.checkFile)('path', file);
    const columns = source.columns ?? {};
    const rowFormat = format;
    if (/\.parquet$/i.test(file))
        return { kind: 'parquet', files: [{ name: file, local: async () => file }], format: rowFormat, columns };
    return { kind: 'jsonl', file, format: rowFormat, columns };
}
/**
 * resolveDataSource, and for a Hugging Face dataset (`hub`) its split's Parquet files, listed (by the Hub, or
 * offline from the cache) but downloaded only as reading reaches each.
 */
async function openDataSource(source, purpose, log) {
    if (source.hub === undefined)
        return resolveDataSource(source, purpose);
    checkHubSource(source);
    const dataset = await (0, datasets_1.resolveDatasetSplit)({ hub: source.hub, config: source.config, split: source.split, revision: source.revision }, { log, defaultSplit: purpose === 'train' ? 'train' : undefined });
    return { kind: 'parquet', files: dataset.files, format: (source.format ?? 'auto'), columns: source.columns ?? {}, dataset };
}
function checkFormatName(source) {
    const format = source.format ?? 'auto';
    if (!records_1.DATA_FORMATS.includes(format)) {
        throw new Error(`data source: unknown format ${JSON.stringify(format)} (expected one of ${records_1.DATA_FORMATS.join(', ')})`);
    }
    return format;
}
// The keys a Hub dataset source may not have beside `hub`, and the id itself.
function checkHubSource(source) {
    checkFormatName(source);
    const msKeys = records_1.MSMARCO_KEYS.filter((k) => source[k] !== undefined && source[k] !== '');
    if (source.path !== undefined && source.path !== '')
        throw new Error('data source: both "path" and "hub" are set: a local file or a Hugging Face dataset, not both');
    if (msKeys.length)
        throw new Error(`data source: "hub" reads a dataset's Parquet files, but ${msKeys.join(', ')} ${msKeys.length > 1 ? 'are' : 'is'} set`);
    if (source.format === 'msmarco')
        throw new Error('data source: format "msmarco" reads MS MARCO\'s TSV files; for the Hub\'s ms_marco use format hf_msmarco (or auto)');
    if (!(0, models_1.looksLikeHubId)(source.hub))
        throw new Error(`data source "hub": ${JSON.stringify(source.hub)} is not a Hugging Face dataset id (org/name or name, optional @revision)`);
}
function isTriplesPath(file) {
    return /\.tsv(\.gz)?$/i.test(file) && /triples/i.test(node_path_1.default.basename(file));
}
function resolveMsmarco(source, purpose) {
    const has = (k) => source[k] !== undefined && source[k] !== '';
    if (purpose === 'train') {
        if (has('triples')) {
            const extra = ['collection', 'queries', 'qrels', 'top1000'].filter(has);
            if (extra.length) {
                throw new Error(`data source (msmarco): set either "triples" or queries+qrels+collection(+top1000), not both (${extra.join(', ')} also set)`);
            }
            (0, records_1.checkFile)('triples', source.triples);
        }
        else {
            for (const k of ['queries', 'qrels', 'collection']) {
                if (!has(k))
                    throw new Error(`data source (msmarco): "${k}" is not set (training needs "triples", or "queries" + "qrels" + "collection", with optional "top1000" for negatives)`);
                (0, records_1.checkFile)(k, source[k]);
            }
            if (has('top1000'))
                (0, records_1.checkFile)('top1000', source.top1000);
        }
    }
    else {
        if (has('triples'))
            throw new Error('data source (msmarco): "triples" cannot be used for evaluation: use "top1000" + "qrels"');
        for (const k of ['top1000', 'qrels']) {
            if (!has(k))
                throw new Error(`data source (msmarco): "${k}" is not set (evaluation needs "top1000" + "qrels")`);
            (0, records_1.checkFile)(k, source[k]);
        }
    }
    return { kind: 'msmarco', source };
}
// ---------------------------------------------------------------------------------------------------------
// Entry points
/**
 * Streams training records from a data source (opened already, or opened here). Bad records throw
 * ('file:line: reason', 'file: row N: reason') under policy 'error' and are counted in `report` under 'skip'.
 * Missing files, unknown formats and inconsistent keys throw on the first next() whatever the policy.
 * `max_records` counts source rows, kept or not (the guide's select(range(N))); for MS MARCO's TSVs, records.
 */
async function* readTrainRecords(source, policy, report, opened) {
    const resolved = opened ?? await openDataSource(source, 'train');
    if (resolved.kind === 'msmarco') {
        let records = 0;
        for await (const located of (0, msmarco_1.readMsmarcoTrain)(resolved.source, policy, report)) {
            yield located;
            if (source.max_records !== undefined && ++records >= source.max_records)
                return;
        }
        return;
    }
    for await (const { value, file, line } of readRecords(resolved, 'train', policy, report, source.max_records)) {
        const record = value.kind === 'hf_msmarco' ? hfRowToGroup(value.row) : value.kind === 'list' ? listToGroup(value.list) : value.record;
        // Rows with no relevant passage carry no training signal. They are common (hf_msmarco's queries answered
        // "No Answer Present."), so they are dropped silently, not reported as bad records.
        if (record === null)
            continue;
        yield { record, file, line };
    }
}
/**
 * Streams evaluation queries: grouped and triplets → documents = positives ++ negatives with relevance 1/0; lists →
 * docs with their (graded) labels; pairs → consecutive records with an identical query form one EvalQuery
 * (relevance = label); hf_msmarco → relevance = is_selected (rows with nothing selected are kept: a query with
 * no relevant item); msmarco → top1000 + qrels (see msmarco.ts).
 */
async function* readEvalQueries(source, policy, report, opened) {
    const resolved = opened ?? await openDataSource(source, 'eval');
    if (resolved.kind === 'msmarco') {
        yield* (0, msmarco_1.readMsmarcoEval)(resolved.source, policy, report);
        return;
    }
    let pending = null; // pairs: the query being accumulated
    for await (const { value } of readRecords(resolved, 'eval', policy, report)) {
        if (value.kind === 'hf_msmarco') {
            const row = value.row;
            const q = { query: row.query, documents: row.texts, relevance: row.selected };
            if (row.qid !== undefined)
                q.qid = row.qid;
            yield q;
            continue;
        }
        if (value.kind === 'list') {
            const { list } = value;
            const q = { query: list.query, documents: list.docs, relevance: list.labels };
            if (list.qid !== undefined)
                q.qid = list.qid;
            yield q;
            continue;
        }
        const record = value.record;
        if (record.kind === 'group') {
            const q = {
                query: record.query,
                documents: [...record.positives, ...record.negatives],
                relevance: [...record.positives.map(() => 1), ...record.negatives.map(() => 0)],
            };
            if (value.qid !== undefined)
                q.qid = value.qid;
            yield q;
            continue;
        }
        if (pending && pending.query === record.query) {
            pending.documents.push(record.document);
            pending.relevance.push(record.label);
        }
        else {
            if (pending)
                yield pending;
            pending = { query: record.query, documents: [record.document], relevance: [record.label] };
        }
    }
    if (pending)
        yield pending;
}
/** A validation failure: the reason goes after 'file:line: ' (or 'file: row N: '). */
class Invalid extends Error {
}
/** Each format's fields: those it needs (any one name of each group), then those it may read. */
const FORMAT_FIELDS = {
    pairs: { needs: [['query'], ['document'], ['label']], reads: [] },
    grouped: { needs: [['query'], ['positives', 'pos'], ['negatives', 'neg']], reads: ['pos_scores', 'neg_scores', 'qid', 'query_id'] },
    triplets: { needs: [['query'], ['positive'], ['negative']], reads: [] },
    lists: { needs: [['query'], ['docs'], ['labels']], reads: ['qid', 'query_id'] },
    hf_msmarco: { needs: [['query'], ['passages']], reads: ['query_id'] },
};
/**
 * Streams a source's rows validated against its format; with 'auto', the first JSONL record that is a JSON object,
 * or a Parquet file's columns, decide the format. `limit` stops after that many rows, good or bad.
 */
async function* readRecords(resolved, purpose, policy, report, limit) {
    let format = resolved.format === 'auto' ? null : resolved.format;
    const rows = resolved.kind === 'jsonl'
        ? readJsonlRows(resolved.file, resolved.columns)
        : readParquetRows(resolved.files, resolved.columns, resolved.format, (f) => { format ??= f; });
    let count = 0;
    for await (const batch of rows) {
        for (const { fields, file, line, unit } of batch) {
            if (limit !== undefined && count++ >= limit)
                return;
            let value;
            try {
                if (fields instanceof Invalid)
                    throw fields;
                format ??= sniffFormat(fields);
                value = parseRow(fields, format, purpose);
            }
            catch (err) {
                if (!(err instanceof Invalid))
                    throw err;
                (0, records_1.badRecord)(policy, report, file, line, err.message, unit);
                continue;
            }
            yield { value, file, line };
        }
    }
}
function parseRow(fields, format, purpose) {
    switch (format) {
        case 'pairs':
            return { kind: 'record', record: parsePair(fields) };
        case 'triplets':
            return { kind: 'record', record: parseTriplet(fields) };
        case 'grouped': {
            const record = parseGroup(fields);
            const qid = optionalId(fields, ['qid', 'query_id']);
            return qid === undefined ? { kind: 'record', record } : { kind: 'record', record, qid };
        }
        case 'lists':
            return { kind: 'list', list: parseList(fields, purpose) };
        case 'hf_msmarco':
            return { kind: 'hf_msmarco', row: parseHfMsmarcoRow(fields) };
    }
}
// A JSONL record renamed by the mapping: each mapped field takes its column's value, and the column's own name goes.
function renamed(record, columns) {
    const mapping = Object.entries(columns);
    if (mapping.length === 0)
        return record;
    const sources = new Set(mapping.map(([, column]) => column));
    const out = {};
    for (const [key, value] of Object.entries(record))
        if (!sources.has(key))
            out[key] = value;
    for (const [field, column] of mapping)
        if (column in record)
            out[field] = record[column];
    return out;
}
async function* readJsonlRows(file, columns) {
    let first = true;
    let batch = [];
    for await (const { text, line } of (0, records_1.readTextLines)(file)) {
        if (first) {
            first = false;
            if (text.trimStart().startsWith('[')) {
                throw new Error(`${file}:${line}: this is a JSON array, not JSON Lines: write one JSON object per line`);
            }
        }
        let fields;
        try {
            const json = JSON.parse(text);
            fields = isObject(json) ? renamed(json, columns) : new Invalid(`record must be a JSON object, got ${(0, records_1.describeType)(json)}`);
        }
        catch (err) {
            fields = new Invalid(`invalid JSON (${err.message})`);
        }
        batch.push({ fields, file, line, unit: 'line' });
        if (batch.length === 256) {
            yield batch;
            batch = [];
        }
    }
    if (batch.length)
        yield batch;
}
// Parquet: each file's columns are checked against the mapping and the format before a row is read, and only the
// columns the format reads are decoded, one row group at a time.
async function* readParquetRows(files, columns, format, onFormat) {
    let known = format === 'auto' ? null : format;
    for (const table of files) {
        const parquet = await parquet_1.ParquetFile.open(await table.local());
        const listed = parquet.columns.join(', ');
        for (const [field, column] of Object.entries(columns)) {
            if (!parquet.columns.includes(column))
                throw new Error(`${table.name}: columns.${field}: no column "${column}" (its columns: ${listed})`);
        }
        // Field name → column name, for every column of the file (a mapped column goes by its field's name).
        const byField = new Map(parquet.columns.map((c) => [c, c]));
        for (const [field, column] of Object.entries(columns)) {
            byField.delete(column);
            byField.set(field, column);
        }
        if (known === null) {
            try {
                known = sniffFormat(Object.fromEntries([...byField.keys()].map((k) => [k, true])));
            }
            catch (err) {
                if (!(err instanceof Invalid))
                    throw err;
                throw new Error(`${table.name}: ${err.message.replace("this record's keys", 'its columns')}`);
            }
            onFormat(known);
        }
        const { needs, reads } = FORMAT_FIELDS[known];
        for (const names of needs) {
            if (!names.some((n) => byField.has(n))) {
                throw new Error(`${table.name}: format "${known}" needs a column "${names[0]}" (its columns: ${listed}): ` +
                    `name the column that holds it with columns: { ${names[0]}: <column> }`);
            }
        }
        const fields = [...needs.flat(), ...reads].filter((f) => byField.has(f));
        const wanted = fields.map((f) => byField.get(f));
        for await (const { first, rows } of parquet.readRowGroups(wanted)) {
            yield rows.map((row, i) => {
                const out = {};
                fields.forEach((f, j) => { out[f] = row[wanted[j]]; });
                return { fields: out, file: table.name, line: first + i + 1, unit: 'row' };
            });
        }
    }
}
/**
 * Which format a record (or a table's columns) is in: `passages` → hf_msmarco; `positive` + `negative` → triplets;
 * `docs` → lists; `positives`/`pos`/`negatives`/`neg` → grouped; `document` or `label` → pairs. Anything else is a
 * bad record (set the format explicitly).
 */
function sniffFormat(json) {
    if ('passages' in json)
        return 'hf_msmarco';
    if ('positive' in json && 'negative' in json)
        return 'triplets';
    if ('docs' in json)
        return 'lists';
    if ('positives' in json || 'pos' in json || 'negatives' in json || 'neg' in json)
        return 'grouped';
    if ('document' in json || 'label' in json)
        return 'pairs';
    const keys = Object.keys(json).slice(0, 10).map((k) => JSON.stringify(k)).join(', ');
    throw new Invalid(`cannot tell the format from this record's keys (${keys || 'none'}): expected query+document+label (pairs), query+pos+neg (grouped), ` +
        'query+positive+negative (triplets), query+docs+labels (lists) or query+passages (hf_msmarco); or set "format" (and "columns" for other names)');
}
function isObject(v) {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function has(obj, key) {
    return Object.prototype.hasOwnProperty.call(obj, key) && obj[key] !== undefined;
}
function requireQuery(obj) {
    if (!has(obj, 'query'))
        throw new Invalid('"query" is missing');
    const q = obj.query;
    if (typeof q !== 'string')
        throw new Invalid(`"query" must be a string, got ${(0, records_1.describeType)(q)}`);
    if (q.trim() === '')
        throw new Invalid('"query" is empty');
    return q;
}
function requireString(obj, key) {
    if (!has(obj, key))
        throw new Invalid(`"${key}" is missing`);
    const v = obj[key];
    if (typeof v !== 'string')
        throw new Invalid(`"${key}" must be a string, got ${(0, records_1.describeType)(v)}`);
    return v;
}
function stringArray(value, name) {
    if (!Array.isArray(value))
        throw new Invalid(`"${name}" must be an array of strings, got ${(0, records_1.describeType)(value)}`);
    for (let i = 0; i < value.length; i++) {
        if (typeof value[i] !== 'string')
            throw new Invalid(`"${name}[${i}]" must be a string, got ${(0, records_1.describeType)(value[i])}`);
    }
    return value;
}
function numberArray(value, name) {
    if (!Array.isArray(value))
        throw new Invalid(`"${name}" must be an array of numbers, got ${(0, records_1.describeType)(value)}`);
    for (let i = 0; i < value.length; i++) {
        const v = value[i];
        if (typeof v !== 'number' || !Number.isFinite(v)) {
            throw new Invalid(`"${name}[${i}]" must be a finite number, got ${(0, records_1.describeType)(v)}`);
        }
    }
    return value;
}
/** An optional id (string or number) under the first of `keys` present; returned as a string. */
function optionalId(obj, keys) {
    for (const key of keys) {
        if (!has(obj, key) || obj[key] === null)
            continue;
        const v = obj[key];
        if (typeof v === 'string')
            return v;
        if (typeof v === 'number' && Number.isFinite(v))
            return String(v);
        throw new Invalid(`"${key}" must be a string or a number, got ${(0, records_1.describeType)(v)}`);
    }
    return undefined;
}
/** pairs: {query, document, label}; label a finite number >= 0 (0/1 or graded). */
function parsePair(obj) {
    const query = requireQuery(obj);
    const document = requireString(obj, 'document');
    if (!has(obj, 'label'))
        throw new Invalid('"label" is missing');
    const label = obj.label;
    if (typeof label !== 'number')
        throw new Invalid(`"label" must be a number, got ${(0, records_1.describeType)(label)}`);
    if (!Number.isFinite(label) || label < 0)
        throw new Invalid(`"label" must be a finite number >= 0, got ${label}`);
    return { kind: 'pair', query, document, label };
}
/** Reads `name` or its alias (FlagEmbedding's `pos`/`neg`); both present is an error. */
function aliased(obj, name, alias) {
    const a = has(obj, name);
    const b = has(obj, alias);
    if (a && b)
        throw new Invalid(`both "${name}" and "${alias}" are given (they are aliases: use one)`);
    if (!a && !b)
        throw new Invalid(`"${name}" (or "${alias}") is missing`);
    return a ? { key: name, value: obj[name] } : { key: alias, value: obj[alias] };
}
/**
 * grouped (FlagEmbedding): {query, pos[], neg[], pos_scores?[], neg_scores?[]}; `positives`/`negatives`
 * are accepted for pos/neg. At least one positive; negatives may be empty (sampleGroup rejects that).
 * Teacher scores are optional (null counts as absent) but come together, one per passage.
 */
function parseGroup(obj) {
    const query = requireQuery(obj);
    const pos = aliased(obj, 'positives', 'pos');
    const neg = aliased(obj, 'negatives', 'neg');
    const positives = stringArray(pos.value, pos.key);
    const negatives = stringArray(neg.value, neg.key);
    if (positives.length === 0)
        throw new Invalid(`"${pos.key}" is empty: a group needs at least one positive`);
    const record = { kind: 'group', query, positives, negatives };
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
function parseHfMsmarcoRow(obj) {
    const query = requireQuery(obj);
    const qid = optionalId(obj, ['query_id']);
    if (!has(obj, 'passages'))
        throw new Invalid('"passages" is missing');
    const passages = obj.passages;
    let texts;
    let selected;
    if (Array.isArray(passages)) {
        texts = [];
        selected = [];
        passages.forEach((p, i) => {
            if (!isObject(p))
                throw new Invalid(`"passages[${i}]" must be an object, got ${(0, records_1.describeType)(p)}`);
            if (typeof p.passage_text !== 'string')
                throw new Invalid(`"passages[${i}].passage_text" must be a string, got ${(0, records_1.describeType)(p.passage_text)}`);
            texts.push(p.passage_text);
            selected.push(selectedFlag(p.is_selected, `passages[${i}].is_selected`));
        });
    }
    else if (isObject(passages)) {
        if (!has(passages, 'passage_text'))
            throw new Invalid('"passages.passage_text" is missing');
        if (!has(passages, 'is_selected'))
            throw new Invalid('"passages.is_selected" is missing');
        texts = stringArray(passages.passage_text, 'passages.passage_text');
        const flags = passages.is_selected;
        if (!Array.isArray(flags))
            throw new Invalid(`"passages.is_selected" must be an array of numbers, got ${(0, records_1.describeType)(flags)}`);
        selected = flags.map((f, i) => selectedFlag(f, `passages.is_selected[${i}]`));
        if (selected.length !== texts.length) {
            throw new Invalid(`"passages.is_selected" has ${selected.length} entries but "passages.passage_text" has ${texts.length}`);
        }
    }
    else {
        throw new Invalid(`"passages" must be an object, got ${(0, records_1.describeType)(passages)}`);
    }
    const row = { query, texts, selected };
    if (qid !== undefined)
        row.qid = qid;
    return row;
}
function selectedFlag(value, name) {
    if (typeof value === 'boolean')
        return value ? 1 : 0;
    if (value !== 0 && value !== 1)
        throw new Invalid(`"${name}" must be 0 or 1, got ${typeof value === 'number' ? value : (0, records_1.describeType)(value)}`);
    return value;
}
/** A training group from an hf_msmarco row: selected passages are positives, the rest negatives; null if none is selected. */
function hfRowToGroup(row) {
    const positives = [];
    const negatives = [];
    row.texts.forEach((t, i) => (row.selected[i] ? positives : negatives).push(t));
    if (positives.length === 0)
        return null;
    return { kind: 'group', query: row.query, positives, negatives };
}
/** triplets: {query, positive, negative} → a group of one positive and one negative. */
function parseTriplet(obj) {
    const query = requireQuery(obj);
    return { kind: 'group', query, positives: [requireString(obj, 'positive')], negatives: [requireString(obj, 'negative')] };
}
/**
 * lists: {query, docs[], labels[]}, one label (a finite number >= 0) per document. Training reads them as a group
 * (label 1: positive, 0: negative), so graded labels are for evaluation (or, one row per document, format pairs).
 */
function parseList(obj, purpose) {
    const query = requireQuery(obj);
    if (!has(obj, 'docs'))
        throw new Invalid('"docs" is missing');
    if (!has(obj, 'labels'))
        throw new Invalid('"labels" is missing');
    const docs = stringArray(obj.docs, 'docs');
    const labels = numberArray(obj.labels, 'labels');
    if (labels.length !== docs.length)
        throw new Invalid(`"labels" has ${labels.length} labels but "docs" has ${docs.length} documents`);
    labels.forEach((label, i) => {
        if (label < 0)
            throw new Invalid(`"labels[${i}]" must be >= 0, got ${label}`);
        if (purpose === 'train' && label !== 0 && label !== 1) {
            throw new Invalid(`"labels[${i}]" is ${label}: training reads a list as positives (1) and negatives (0); ` +
                'for graded labels use format pairs (one record per document and its label)');
        }
    });
    const row = { query, docs, labels };
    const qid = optionalId(obj, ['qid', 'query_id']);
    if (qid !== undefined)
        row.qid = qid;
    return row;
}
/** A training group from a lists row: label 1 positive, 0 negative; null when no document is relevant. */
function listToGroup(list) {
    const positives = list.docs.filter((_, i) => list.labels[i] > 0);
    if (positives.length === 0)
        return null;
    return { kind: 'group', query: list.query, positives, negatives: list.docs.filter((_, i) => list.labels[i] === 0) };
}
/** A data source as messages and model cards show it: its file(s), or the Hub dataset with its config and split. */
function describeDataSource(source, shown = (f) => f) {
    if (source.hub !== undefined) {
        const detail = [source.config, source.split].filter(Boolean).join(', ');
        return `${source.hub}${source.revision ? `@${source.revision}` : ''}${detail ? ` (${detail})` : ''}`;
    }
    if (source.path)
        return shown(source.path);
    return records_1.MSMARCO_KEYS.map((k) => source[k]).filter((f) => Boolean(f)).map(shown).join(', ') || '(no files)';
}
