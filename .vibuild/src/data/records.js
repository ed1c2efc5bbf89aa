"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.BadRecordError = exports.MAX_BAD_EXAMPLES = exports.MSMARCO_KEYS = exports.RECORD_FIELDS = exports.DATA_FORMATS = void 0;
exports.newBadRecordReport = newBadRecordReport;
exports.badRecord = badRecord;
exports.parseJsonObjectLine = parseJsonObjectLine;
exports.describeType = describeType;
exports.checkFile = checkFile;
exports.isGzipFile = isGzipFile;
exports.checkUncompressed = checkUncompressed;
exports.readRawLineBatches = readRawLineBatches;
exports.readTextLines = readTextLines;
exports.isBlank = isBlank;
// Record types the trainer consumes, the bad-record policy, and the line readers every format is built on.
//
// Line reading: JSONL and TSV files are streamed (fs.createReadStream, piped through zlib's gunzip when the
// file is gzip-compressed) and split on '\n' bytes here, not with the `ndjson` package (whose parser does
// not tell which line a record came from) nor with `readline` (which also splits on a lone '\r', so its
// line numbers can disagree with `sed -n`/`grep -n`/editors that count '\n'). Splitting raw bytes on 0x0A
// is exact for UTF-8, because 0x0A never occurs inside a multi-byte sequence, and it gives the byte offset
// of each line, which the MS MARCO collection/top1000 indexes need. Each line is then JSON.parse'd (JSONL)
// or split on tabs (TSV) by the format readers.
const node_fs_1 = __importDefault(require("node:fs"));
const node_zlib_1 = __importDefault(require("node:zlib"));
exports.DATA_FORMATS = ['auto', 'pairs', 'grouped', 'triplets', 'lists', 'hf_msmarco', 'msmarco'];
/** The fields a `columns` mapping can name (rrnative's field → the dataset's column). */
exports.RECORD_FIELDS = ['query', 'document', 'label', 'positive', 'negative', 'docs', 'labels', 'pos', 'neg',
    'positives', 'negatives', 'pos_scores', 'neg_scores', 'passages', 'qid', 'query_id'];
/** The keys of DataSource that name MS MARCO files. */
exports.MSMARCO_KEYS = ['collection', 'queries', 'qrels', 'triples', 'top1000'];
exports.MAX_BAD_EXAMPLES = 5;
/** A fresh, empty report. */
function newBadRecordReport() {
    return { skipped: 0, examples: [] };
}
/** The error thrown for a bad record under policy 'error' (message: 'file:line: reason'). */
class BadRecordError extends Error {
    file;
    line;
    constructor(message, file, line) {
        super(message);
        this.file = file;
        this.line = line;
        this.name = 'BadRecordError';
    }
}
exports.BadRecordError = BadRecordError;
/**
 * Applies the policy to one bad record: throws under 'error', counts (and keeps the first few) under 'skip'. Text
 * files say 'file:line: reason'; tables (Parquet) 'file: row N: reason'.
 */
function badRecord(policy, report, file, line, reason, unit = 'line') {
    const message = unit === 'line' ? `${file}:${line}: ${reason}` : `${file}: row ${line}: ${reason}`;
    if (policy.onBadRecord !== 'skip')
        throw new BadRecordError(message, file, line);
    report.skipped++;
    if (report.examples.length < exports.MAX_BAD_EXAMPLES)
        report.examples.push(message);
}
/** Parses one JSONL line that must hold an object; errors read 'where: …' and say what the line should be. */
function parseJsonObjectLine(text, where, expected) {
    let value;
    try {
        value = JSON.parse(text);
    }
    catch (err) {
        throw new Error(`${where}: invalid JSON (${err.message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new Error(`${where}: ${expected}, got ${describeType(value)}`);
    }
    return value;
}
/** How a value is described in "must be X, got Y" messages. */
function describeType(value) {
    if (value === null)
        return 'null';
    if (Array.isArray(value))
        return 'array';
    if (typeof value === 'number' && !Number.isFinite(value))
        return String(value);
    return typeof value;
}
// ---------------------------------------------------------------------------------------------------------
// Files
/** Throws unless `file` exists and is a regular file; the message names the data-source key and the path. */
function checkFile(key, file) {
    if (file === undefined || file === '')
        throw new Error(`data source: "${key}" is not set`);
    let stat;
    try {
        stat = node_fs_1.default.statSync(file);
    }
    catch (err) {
        const code = err.code;
        if (code === 'ENOENT')
            throw new Error(`data source "${key}": file not found: ${file}`);
        throw new Error(`data source "${key}": cannot read ${file}: ${err.message}`);
    }
    if (!stat.isFile())
        throw new Error(`data source "${key}": not a file: ${file}`);
    return file;
}
/** True when the file starts with the gzip magic bytes (so a misnamed file is still read correctly). */
function isGzipFile(file) {
    const fd = node_fs_1.default.openSync(file, 'r');
    try {
        const head = Buffer.alloc(2);
        const n = node_fs_1.default.readSync(fd, head, 0, 2, 0);
        return n === 2 && head[0] === 0x1f && head[1] === 0x8b;
    }
    finally {
        node_fs_1.default.closeSync(fd);
    }
}
/** Throws if a file that must be read by byte offset is gzip-compressed. */
function checkUncompressed(key, file) {
    if (isGzipFile(file)) {
        throw new Error(`data source "${key}": ${file} is gzip-compressed, but this file is read by byte offset (random access): gunzip it first`);
    }
}
/**
 * Streams a file (gunzipping it on the fly when it is gzip-compressed) and yields its lines in batches
 * (one batch per chunk read, to keep per-line overhead low on multi-gigabyte files).
 */
async function* readRawLineBatches(file) {
    const gzip = isGzipFile(file);
    const input = node_fs_1.default.createReadStream(file, { highWaterMark: 1 << 20 });
    const stream = gzip ? input.pipe(node_zlib_1.default.createGunzip()) : input;
    if (gzip)
        input.on('error', (err) => stream.destroy(err));
    let carry = null; // the unfinished line from the previous chunk
    let carryOffset = 0;
    let lineNo = 0;
    let position = 0; // byte offset of the current chunk's start
    try {
        for await (const raw of stream) {
            const chunk = raw;
            const batch = [];
            let start = 0;
            let nl = chunk.indexOf(0x0a, 0);
            while (nl >= 0) {
                let bytes;
                let offset;
                if (carry) {
                    bytes = Buffer.concat([carry, chunk.subarray(0, nl)]);
                    offset = carryOffset;
                    carry = null;
                }
                else {
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
                }
                else {
                    carry = Buffer.from(chunk.subarray(start)); // copy: the stream may reuse its buffer
                    carryOffset = position + start;
                }
            }
            position += chunk.length;
            if (batch.length)
                yield batch;
        }
    }
    catch (err) {
        const e = err;
        if (e instanceof BadRecordError)
            throw e;
        if (gzip && e.code && e.code.startsWith('Z_'))
            throw new Error(`${file}: gunzip failed: ${e.message}`);
        throw new Error(`${file}: read failed: ${e.message}`);
    }
    finally {
        input.destroy();
    }
    if (carry && carry.length)
        yield [{ bytes: stripCr(carry), line: lineNo + 1, offset: carryOffset }];
}
function stripCr(bytes) {
    return bytes.length && bytes[bytes.length - 1] === 0x0d ? bytes.subarray(0, bytes.length - 1) : bytes;
}
/** Streams the non-blank lines of a (possibly gzip-compressed) text file. */
async function* readTextLines(file) {
    for await (const batch of readRawLineBatches(file)) {
        for (const raw of batch) {
            let bytes = raw.bytes;
            if (raw.offset === 0 && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
                bytes = bytes.subarray(3);
            }
            const text = bytes.toString('utf8');
            if (isBlank(text))
                continue;
            yield { text, line: raw.line };
        }
    }
}
function isBlank(text) {
    return text.trim() === '';
}
