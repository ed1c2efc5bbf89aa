"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.TokenCache = void 0;
// Tokenize once, train many times: the training data's token ids on disk, keyed by the tokenizer, max_length,
// truncation and the data files' content hash. Later epochs and runs read batches straight from the cache.
//
// Layout of one cache folder: tokens.i32 (every pair's ids, concatenated) and index.bin (typed arrays:
// per pair its offset, length, first token of the second segment, label, teacher score; per record its
// first pair and its number of positives and negatives), plus meta.json.
const node_crypto_1 = __importDefault(require("node:crypto"));
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const formats_1 = require("../data/formats");
const records_1 = require("../data/records");
const tokenize_pool_1 = require("../tokenize-pool");
const util_1 = require("../util");
const CACHE_VERSION = 2; // 2: max_records counts source rows
const TOKENIZE_CHUNK = 512; // records tokenized per round trip to the Rust tokenizer
/** The token ids of a training set, with labels, read back in batches. */
class TokenCache {
    dir;
    meta;
    fd;
    pairOffset;
    pairLength;
    pairTypeStart;
    pairLabel;
    pairTeacher;
    recordFirstPair;
    recordPositives;
    recordNegatives;
    constructor(dir, meta, fd, pairOffset, pairLength, pairTypeStart, pairLabel, pairTeacher, recordFirstPair, recordPositives, recordNegatives) {
        this.dir = dir;
        this.meta = meta;
        this.fd = fd;
        this.pairOffset = pairOffset;
        this.pairLength = pairLength;
        this.pairTypeStart = pairTypeStart;
        this.pairLabel = pairLabel;
        this.pairTeacher = pairTeacher;
        this.recordFirstPair = recordFirstPair;
        this.recordPositives = recordPositives;
        this.recordNegatives = recordNegatives;
    }
    get recordCount() {
        return this.meta.records;
    }
    /** Tokens of a record: its pair's, or the mean over a group's candidates (for length-grouped batches). */
    recordTokens(record) {
        const first = this.recordFirstPair[record];
        const count = this.meta.groups > 0 ? this.recordPositives[record] + this.recordNegatives[record] : 1;
        let sum = 0;
        for (let p = first; p < first + count; p++)
            sum += this.pairLength[p];
        return sum / count;
    }
    /** Reads pairs from disk into one padded batch. */
    readBatch(pairs, padTokenId) {
        const length = Math.max(...pairs.map((p) => this.pairLength[p]));
        const batch = pairs.length;
        const inputIds = new Int32Array(batch * length).fill(padTokenId);
        const attentionMask = new Int32Array(batch * length);
        const tokenTypeIds = new Int32Array(batch * length);
        pairs.forEach((p, row) => {
            const n = this.pairLength[p];
            const view = new Int32Array(inputIds.buffer, row * length * 4, n);
            node_fs_1.default.readSync(this.fd, new Uint8Array(view.buffer, view.byteOffset, n * 4), 0, n * 4, this.pairOffset[p] * 4);
            attentionMask.fill(1, row * length, row * length + n);
            tokenTypeIds.fill(1, row * length + this.pairTypeStart[p], row * length + n);
        });
        return { inputIds, attentionMask, tokenTypeIds, batch, length };
    }
    close() {
        node_fs_1.default.closeSync(this.fd);
    }
    /** Opens the cache for (source, tokenizer, maxLength), building it first when it does not exist. */
    static async open(source, tokenizer, maxLength, cacheDir, onBadRecord, log) {
        // A Hub dataset is listed here (by the Hub, or offline from the cache); its files download only if tokenized.
        const resolved = await (0, formats_1.openDataSource)(source, 'train', log);
        const key = cacheKey(source, resolved, tokenizer, maxLength, onBadRecord);
        const dir = node_path_1.default.join(cacheDir, key.slice(0, 24));
        if (!node_fs_1.default.existsSync(node_path_1.default.join(dir, 'meta.json'))) {
            log(`tokenizing ${(0, formats_1.describeDataSource)(source)} into ${dir}`);
            await build(dir, key, source, resolved, tokenizer, maxLength, onBadRecord);
        }
        else {
            log(`using cached token ids from ${dir}`);
        }
        return TokenCache.read(dir);
    }
    static read(dir) {
        const meta = JSON.parse(node_fs_1.default.readFileSync(node_path_1.default.join(dir, 'meta.json'), 'utf8'));
        const index = node_fs_1.default.readFileSync(node_path_1.default.join(dir, 'index.bin'));
        let offset = 0;
        const take = (Ctor, n) => {
            const bytes = n * Ctor.BYTES_PER_ELEMENT;
            const copy = new ArrayBuffer(bytes);
            new Uint8Array(copy).set(index.subarray(offset, offset + bytes));
            offset += bytes;
            return new Ctor(copy, 0, n);
        };
        const P = meta.pairs, R = meta.records;
        const cache = new TokenCache(dir, meta, node_fs_1.default.openSync(node_path_1.default.join(dir, 'tokens.i32'), 'r'), take(Float64Array, P), take(Uint32Array, P), take(Uint32Array, P), take(Float32Array, P), take(Float32Array, P), take(Uint32Array, R), take(Uint32Array, R), take(Uint32Array, R));
        if (offset !== index.length)
            throw new Error(`${dir}/index.bin: unexpected size; delete the cache folder and rerun`);
        return cache;
    }
}
exports.TokenCache = TokenCache;
// A local file is known by its content; a Hub dataset by its commit, config, split and files (a commit never changes).
function cacheKey(source, resolved, tokenizer, maxLength, onBadRecord) {
    const hash = node_crypto_1.default.createHash('sha256');
    hash.update(JSON.stringify({ version: CACHE_VERSION, tokenizer: tokenizer.fingerprint(), maxLength, truncation: true,
        format: source.format ?? 'auto', maxRecords: source.max_records ?? null, onBadRecord, columns: source.columns ?? {} }));
    if (resolved.kind === 'parquet' && resolved.dataset) {
        const { id, sha, config, split, files } = resolved.dataset;
        hash.update(JSON.stringify({ hub: id, sha, config, split, files: files.map((f) => f.path) }));
    }
    for (const key of ['path', 'collection', 'queries', 'qrels', 'triples', 'top1000']) {
        const file = source[key];
        if (file)
            hash.update(key).update(fileHash(file));
    }
    return hash.digest('hex');
}
function fileHash(file) {
    if (!node_fs_1.default.existsSync(file))
        throw new Error(`${file}: no such data file`);
    const hash = node_crypto_1.default.createHash('sha256');
    const fd = node_fs_1.default.openSync(file, 'r');
    const buffer = Buffer.alloc(1 << 20);
    try {
        for (let n; (n = node_fs_1.default.readSync(fd, buffer, 0, buffer.length, null)) > 0;)
            hash.update(buffer.subarray(0, n));
    }
    finally {
        node_fs_1.default.closeSync(fd);
    }
    return hash.digest('hex');
}
// Token type ids of a pair are 0 … 0 1 … 1 (or all 0 for single-type models): storing where the 1s start is enough.
function secondSegmentStart(typeIds) {
    const start = typeIds.indexOf(1);
    if (start < 0)
        return typeIds.length;
    for (let i = start; i < typeIds.length; i++) {
        if (typeIds[i] !== 1)
            throw new Error(`unexpected token type ids ${JSON.stringify(typeIds)}: expected 0…0 1…1`);
    }
    return start;
}
// A build killed midway (a time limit, kill -9) leaves its `<dir>.tmp-<pid>` folder: hundreds of MB for a large
// set. Remove those whose process is gone; a build still running elsewhere keeps its own.
function removeAbandonedBuilds(dir) {
    const parent = node_path_1.default.dirname(dir), prefix = `${node_path_1.default.basename(dir)}.tmp-`;
    if (!node_fs_1.default.existsSync(parent))
        return;
    for (const name of node_fs_1.default.readdirSync(parent)) {
        if (!name.startsWith(prefix))
            continue;
        const pid = Number(name.slice(prefix.length));
        if (!Number.isInteger(pid) || pid <= 0 || processAlive(pid))
            continue;
        node_fs_1.default.rmSync(node_path_1.default.join(parent, name), { recursive: true, force: true });
    }
}
function processAlive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    }
    catch (err) {
        return err.code === 'EPERM'; // alive, another user's
    }
}
async function build(dir, key, source, resolved, tokenizer, maxLength, onBadRecord) {
    const tmp = `${dir}.tmp-${process.pid}`;
    removeAbandonedBuilds(dir);
    node_fs_1.default.rmSync(tmp, { recursive: true, force: true });
    node_fs_1.default.mkdirSync(tmp, { recursive: true });
    const tokensFd = node_fs_1.default.openSync(node_path_1.default.join(tmp, 'tokens.i32'), 'w');
    const pairOffset = new util_1.GrowableArray(Float64Array), pairLength = new util_1.GrowableArray(Uint32Array), pairTypeStart = new util_1.GrowableArray(Uint32Array);
    const pairLabel = new util_1.GrowableArray(Float32Array), pairTeacher = new util_1.GrowableArray(Float32Array);
    const recordFirst = new util_1.GrowableArray(Uint32Array), recordPos = new util_1.GrowableArray(Uint32Array), recordNeg = new util_1.GrowableArray(Uint32Array);
    const report = (0, records_1.newBadRecordReport)();
    let tokens = 0, groups = 0, withTeacher = 0, records = 0;
    // With many cores, tokenize on worker threads (tokenize-pool.ts: the same ids; the calling thread's share of
    // each pair's work is what limits one thread).
    const workers = (0, tokenize_pool_1.tokenizeWorkersFor)(Number.MAX_SAFE_INTEGER);
    const pool = workers > 0 ? tokenize_pool_1.TokenizePool.start(tokenizer.sourceDir, workers) : null;
    const flush = async (chunk) => {
        const pairs = [];
        const labels = [];
        const teacher = [];
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
            if (record.posScores)
                withTeacher++;
            record.positives.forEach((d, i) => { pairs.push([record.query, d]); labels.push(1); teacher.push(record.posScores?.[i] ?? NaN); });
            record.negatives.forEach((d, i) => { pairs.push([record.query, d]); labels.push(0); teacher.push(record.negScores?.[i] ?? NaN); });
            recordPos.push(record.positives.length);
            recordNeg.push(record.negatives.length);
        }
        const encoded = await (pool ?? tokenizer).encodePairs(pairs, maxLength, true);
        const buffers = [];
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
        node_fs_1.default.writeSync(tokensFd, Buffer.concat(buffers));
    };
    try {
        let chunk = [];
        for await (const located of (0, formats_1.readTrainRecords)(source, { onBadRecord }, report, resolved)) {
            chunk.push(located);
            records++;
            if (chunk.length === TOKENIZE_CHUNK) {
                await flush(chunk);
                chunk = [];
            }
        }
        if (chunk.length)
            await flush(chunk);
        if (records === 0)
            throw new Error(`${(0, formats_1.describeDataSource)(source)}: no training records`);
        node_fs_1.default.fsyncSync(tokensFd);
    }
    catch (err) {
        node_fs_1.default.closeSync(tokensFd);
        node_fs_1.default.rmSync(tmp, { recursive: true, force: true });
        throw err;
    }
    finally {
        await pool?.close();
    }
    node_fs_1.default.closeSync(tokensFd);
    (0, util_1.writeFileAtomic)(node_path_1.default.join(tmp, 'index.bin'), Buffer.concat([pairOffset, pairLength, pairTypeStart, pairLabel, pairTeacher,
        recordFirst, recordPos, recordNeg].map((c) => c.bytes())));
    const meta = { version: CACHE_VERSION, key, pairs: pairLength.length, records, tokens, groups, withTeacher,
        badRecords: report, sources: [(0, formats_1.describeDataSource)(source)] };
    (0, util_1.writeFileAtomic)(node_path_1.default.join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
    node_fs_1.default.rmSync(dir, { recursive: true, force: true });
    node_fs_1.default.renameSync(tmp, dir);
}
