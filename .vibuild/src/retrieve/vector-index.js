"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.UsearchIndex = exports.ExactIndex = void 0;
exports.halfToFloat = halfToFloat;
// rrnative's own vector indexes, both VectorStores: ExactIndex (every stored vector compared to each query in
// the addon, native/vector_index.h: exact, the default) and UsearchIndex (usearch's HNSW graph: approximate,
// sub-linear, for corpora past a few hundred thousand documents).
const native_1 = require("../native");
const validate_1 = require("../validate");
const vector_store_1 = require("./vector-store");
function checkIds(ids, known) {
    if (!Array.isArray(ids))
        throw new TypeError(`ids must be an array of strings, got ${(0, validate_1.describe)(ids)}`);
    const fresh = new Set();
    ids.forEach((id, i) => {
        if (typeof id !== 'string')
            throw new TypeError(`ids[${i}] must be a string, got ${(0, validate_1.describe)(id)}`);
        if (known.has(id) || fresh.has(id))
            throw new RangeError(`ids[${i}] '${id}' is already in the index: ids must be unique`);
        fresh.add(id);
    });
    return ids;
}
function checkK(k) {
    return (0, validate_1.checkPositiveInt)(k, 'k');
}
/** IEEE half-precision bits → float32 values. */
function halfToFloat(bits) {
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) {
        const h = bits[i];
        const sign = h & 0x8000 ? -1 : 1;
        const exponent = (h >> 10) & 0x1f;
        const fraction = h & 0x3ff;
        if (exponent === 0)
            out[i] = sign * fraction * 2 ** -24;
        else if (exponent === 31)
            out[i] = fraction ? NaN : sign * Infinity;
        else
            out[i] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
    }
    return out;
}
class ExactIndex {
    dimension;
    metric;
    storage;
    native;
    ids = [];
    rowOf = new Map();
    closed = false;
    constructor(options) {
        if (options === null || typeof options !== 'object')
            throw new TypeError(`options must be an object with a dimension, got ${(0, validate_1.describe)(options)}`);
        this.dimension = (0, validate_1.checkPositiveInt)(options.dimension, 'options.dimension');
        this.metric = options.metric === undefined ? 'cosine' : (0, validate_1.checkOneOf)(options.metric, 'options.metric', ['cosine', 'dot']);
        this.storage = options.storage === undefined ? 'fp32' : (0, validate_1.checkOneOf)(options.storage, 'options.storage', ['fp32', 'fp16']);
        const device = options.device === undefined ? 'cpu' : (0, validate_1.checkOneOf)(options.device, 'options.device', ['cpu', 'cuda']);
        this.native = (0, native_1.addon)().createVectorIndex({ dimension: this.dimension, metric: this.metric, storage: this.storage, device });
    }
    async count() {
        return this.ids.length;
    }
    /** The id of each stored row, in row order. */
    get rowIds() {
        return this.ids;
    }
    async add(ids, vectors) {
        this.checkOpen();
        const checked = checkIds(ids, this.rowOf);
        (0, vector_store_1.checkVectors)(vectors, this.dimension, checked.length, 'vectors');
        this.reserve(checked);
        await this.native.add(vectors);
    }
    /** Adds rows read back from an index file: float32 values, or float16 bits (fp16 storage), unchecked values. */
    async addStored(ids, vectors) {
        this.checkOpen();
        const checked = checkIds(ids, this.rowOf);
        if (vectors.length !== checked.length * this.dimension) {
            throw new RangeError(`the index file holds ${vectors.length / this.dimension} vectors for ${checked.length} ids`);
        }
        this.reserve(checked);
        await this.native.add(vectors);
    }
    async search(queries, k) {
        this.checkOpen();
        (0, vector_store_1.checkVectors)(queries, this.dimension, undefined, 'queries');
        const found = await this.native.search(queries, checkK(k));
        const out = [];
        for (let q = 0; q < queries.length / this.dimension; q++) {
            const hits = [];
            for (let j = 0; j < found.k; j++)
                hits.push({ id: this.ids[found.rows[q * found.k + j]], score: found.scores[q * found.k + j] });
            out.push(hits);
        }
        return out;
    }
    /** The stored vectors as the index holds them (unit vectors for cosine; float16 bits for fp16). */
    stored() {
        this.checkOpen();
        return this.native.stored();
    }
    /** The stored vectors as float32 (fp16 storage widened). */
    async storedAsFloat32() {
        const stored = await this.stored();
        return stored instanceof Float32Array ? stored : halfToFloat(stored);
    }
    async close() {
        if (this.closed)
            return;
        this.closed = true;
        this.native.dispose();
    }
    reserve(ids) {
        for (const id of ids) {
            this.rowOf.set(id, this.ids.length);
            this.ids.push(id);
        }
    }
    checkOpen() {
        if (this.closed)
            throw new Error('this index has been closed');
    }
}
exports.ExactIndex = ExactIndex;
function usearch() {
    return require('usearch');
}
/**
 * usearch's HNSW index. usearch keys are numbers: the key of a vector is its row (the order it was added in), and
 * `ids` maps rows back to document ids. Its distances are 1 − cosine ('cos') and 1 − dot ('ip'), turned back
 * into similarities here.
 */
class UsearchIndex {
    dimension;
    metric;
    storage;
    index;
    ids = [];
    rowOf = new Map();
    threads;
    closed = false;
    constructor(options) {
        if (options === null || typeof options !== 'object')
            throw new TypeError(`options must be an object with a dimension, got ${(0, validate_1.describe)(options)}`);
        this.dimension = (0, validate_1.checkPositiveInt)(options.dimension, 'options.dimension');
        this.metric = options.metric === undefined ? 'cosine' : (0, validate_1.checkOneOf)(options.metric, 'options.metric', ['cosine', 'dot']);
        this.storage = options.storage === undefined ? 'fp32' : (0, validate_1.checkOneOf)(options.storage, 'options.storage', ['fp32', 'fp16']);
        this.threads = options.threads === undefined ? 0 : (0, validate_1.checkPositiveInt)(options.threads, 'options.threads');
        const connectivity = options.connectivity === undefined ? 16 : (0, validate_1.checkPositiveInt)(options.connectivity, 'options.connectivity');
        const expansionAdd = options.expansionAdd === undefined ? 128 : (0, validate_1.checkPositiveInt)(options.expansionAdd, 'options.expansionAdd');
        const expansionSearch = options.expansionSearch === undefined ? 64 : (0, validate_1.checkPositiveInt)(options.expansionSearch, 'options.expansionSearch');
        const { Index, MetricKind, ScalarKind } = usearch();
        this.index = new Index({
            dimensions: this.dimension,
            metric: this.metric === 'cosine' ? MetricKind.Cos : MetricKind.IP,
            quantization: this.storage === 'fp16' ? ScalarKind.F16 : ScalarKind.F32,
            connectivity,
            expansion_add: expansionAdd,
            expansion_search: expansionSearch,
            multi: false,
        });
    }
    async count() {
        return this.ids.length;
    }
    get rowIds() {
        return this.ids;
    }
    async add(ids, vectors) {
        this.checkOpen();
        const checked = checkIds(ids, this.rowOf);
        (0, vector_store_1.checkVectors)(vectors, this.dimension, checked.length, 'vectors');
        if (checked.length === 0)
            return;
        const keys = new BigUint64Array(checked.length);
        for (let i = 0; i < checked.length; i++)
            keys[i] = BigInt(this.ids.length + i);
        // A copy with byteOffset 0: usearch reads some typed arrays from their buffer's start.
        this.index.add(keys, vectors.byteOffset === 0 ? vectors : vectors.slice(), this.threads);
        for (const id of checked) {
            this.rowOf.set(id, this.ids.length);
            this.ids.push(id);
        }
    }
    async search(queries, k) {
        this.checkOpen();
        (0, vector_store_1.checkVectors)(queries, this.dimension, undefined, 'queries');
        checkK(k);
        const rows = queries.length / this.dimension;
        if (this.ids.length === 0)
            return Array.from({ length: rows }, () => []);
        const matrix = Array.from({ length: rows }, (_, q) => queries.slice(q * this.dimension, (q + 1) * this.dimension));
        const kept = Math.min(k, this.ids.length);
        const found = this.index.search(matrix, kept, this.threads);
        // usearch answers one query with Matches (only the hits found) and several with BatchMatches (k slots each).
        const { counts, k: slots } = found;
        const lists = counts && slots !== undefined
            ? Array.from({ length: rows }, (_, q) => ({ start: q * slots, count: Number(counts[q]) }))
            : [{ start: 0, count: found.keys.length }];
        return lists.map(({ start, count }) => {
            const hits = [];
            for (let j = 0; j < count; j++)
                hits.push({ id: this.ids[Number(found.keys[start + j])], score: 1 - found.distances[start + j] });
            return hits;
        });
    }
    /** Writes usearch's index file (the graph and the vectors). */
    save(file) {
        this.checkOpen();
        this.index.save(file);
    }
    /**
     * Reads an index file saved by save(), with the ids of its rows. `view`: memory-map the file instead of reading
     * it (read-only, pages loaded as searched).
     */
    static open(file, ids, options) {
        const index = new UsearchIndex(options);
        if (options.view)
            index.index.view(file);
        else
            index.index.load(file);
        const size = index.index.size();
        if (size !== ids.length)
            throw new Error(`${file}: the usearch index holds ${size} vectors but ${ids.length} ids were given`);
        const dims = index.index.dimensions();
        if (dims !== index.dimension)
            throw new Error(`${file}: the usearch index has dimension ${dims}, expected ${index.dimension}`);
        checkIds(ids, index.rowOf).forEach((id, row) => {
            index.rowOf.set(id, row);
            index.ids.push(id);
        });
        return index;
    }
    async close() {
        this.closed = true; // usearch frees its memory when the object is collected
    }
    checkOpen() {
        if (this.closed)
            throw new Error('this index has been closed');
    }
}
exports.UsearchIndex = UsearchIndex;
