"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.Reranker = void 0;
exports.resolveDevice = resolveDevice;
exports.checkLongDocumentOptions = checkLongDocumentOptions;
exports.aggregateRows = aggregateRows;
exports.chunkOrder = chunkOrder;
// The Reranker: a cross-encoder loaded from (or saved to) a Hugging Face model folder, scoring pairs
// through the native addon.
const node_fs_1 = __importDefault(require("node:fs"));
const models_1 = require("./hub/models");
const node_path_1 = __importDefault(require("node:path"));
const native_1 = require("./native");
const hfconfig_1 = require("./hfconfig");
const tokenize_1 = require("./tokenize");
const tokenize_pool_1 = require("./tokenize-pool");
const validate_1 = require("./validate");
const util_1 = require("./util");
/** The device `requested` names; `setting` (e.g. '--device', 'training.device') names it in the error. */
/** 'auto': CUDA when LibTorch sees a GPU, else the CPU; and the CPU for dtype 'int8' (its products are CPU-only). */
function resolveDevice(requested, setting, dtype) {
    if (requested === 'auto' && dtype === 'int8')
        return 'cpu';
    const cuda = (0, native_1.addon)().runtimeInfo().cudaAvailable;
    if (requested === 'cuda' && !cuda)
        throw new Error(`${setting}: cuda was asked for, but no CUDA device is available to LibTorch`);
    return requested === 'auto' ? (cuda ? 'cuda' : 'cpu') : requested;
}
/** Checks the long-document options of `options` (named `prefix`.key in errors) and fills in the defaults. */
function checkLongDocumentOptions(options, prefix = 'options') {
    const aggregate = options.aggregate ?? options.chunkAggregate;
    return {
        longDocuments: options.longDocuments === undefined ? 'truncate' : (0, validate_1.checkOneOf)(options.longDocuments, `${prefix}.longDocuments`, ['truncate', 'chunk']),
        maxChunks: options.maxChunks === undefined ? tokenize_1.DEFAULT_MAX_CHUNKS : (0, validate_1.checkPositiveInt)(options.maxChunks, `${prefix}.maxChunks`),
        chunkOverlap: options.chunkOverlap === undefined ? tokenize_1.DEFAULT_CHUNK_OVERLAP : checkNonNegativeInt(options.chunkOverlap, `${prefix}.chunkOverlap`),
        aggregate: aggregate === undefined ? 'max' : (0, validate_1.checkOneOf)(aggregate, `${prefix}.aggregate`, ['max', 'first', 'mean']),
        truncationDirection: options.truncationDirection === undefined ? 'right'
            : (0, validate_1.checkOneOf)(options.truncationDirection, `${prefix}.truncationDirection`, ['right', 'left']),
    };
}
function checkNonNegativeInt(value, name) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
        throw new TypeError(`${name} must be a non-negative integer, got ${(0, validate_1.describe)(value)}`);
    return value;
}
/**
 * Chunked documents' logits, one row per document: 'max' the row of the chunk highest in `column` (MaxP; the
 * first of equals), 'first' the first chunk's, 'mean' the rows' mean. A document with one pair keeps its row.
 */
function aggregateRows(rows, owners, documents, aggregate, column) {
    const out = new Array(documents);
    const counts = new Array(documents).fill(0);
    for (let p = 0; p < rows.length; p++) {
        const d = owners[p];
        const row = rows[p];
        const seen = counts[d]++;
        if (seen === 0)
            out[d] = aggregate === 'mean' ? [...row] : row;
        else if (aggregate === 'max') {
            if (row[column] > out[d][column])
                out[d] = row;
        }
        else if (aggregate === 'mean') {
            for (let k = 0; k < row.length; k++)
                out[d][k] += row[k];
        }
    }
    if (aggregate === 'mean')
        for (let d = 0; d < documents; d++)
            if (counts[d] > 1)
                out[d] = out[d].map((v) => v / counts[d]);
    return out;
}
const DEFAULT_BATCH_SIZE = 32;
/** score() on CUDA: pairs are tokenized in chunks of this many batches, each overlapping the model's work on the last. */
const PIPELINE_BATCHES = 8;
class Reranker {
    nativeModel;
    config;
    pairTokenizer;
    device;
    dtype;
    maxLength;
    initializedParameters;
    disposed = false;
    /** score() on CUDA with many pairs and cores: tokenization on worker threads (tokenize-pool.ts). */
    tokenizePool = null;
    constructor(nativeModel, config, 
    /** null for a folder without tokenizer files: then only scoreTokens() works. */
    pairTokenizer, device, dtype, maxLength, 
    /** Head parameters the loaded folder lacked and that were initialised fresh. */
    initializedParameters) {
        this.nativeModel = nativeModel;
        this.config = config;
        this.pairTokenizer = pairTokenizer;
        this.device = device;
        this.dtype = dtype;
        this.maxLength = maxLength;
        this.initializedParameters = initializedParameters;
    }
    /**
     * Loads a Hugging Face model folder (config.json, model.safetensors, tokenizer files), or a model by its Hub id
     * (`org/name`, `org/name@revision`) through the Hugging Face cache, downloading what is missing (src/hub/).
     */
    static async load(nameOrDir, options = {}) {
        (0, validate_1.checkString)(nameOrDir, 'dir');
        const dir = await (0, models_1.resolveModelFolder)(nameOrDir, { revision: options.revision, localFilesOnly: options.localFilesOnly });
        if (!node_fs_1.default.existsSync(dir) || !node_fs_1.default.statSync(dir).isDirectory())
            throw new Error(`${dir}: no such model folder`);
        const weights = node_path_1.default.join(dir, 'model.safetensors');
        if (!node_fs_1.default.existsSync(weights)) {
            const hint = node_fs_1.default.existsSync(node_path_1.default.join(dir, 'pytorch_model.bin'))
                ? ' (it has pytorch_model.bin: convert it to safetensors with transformers\' save_pretrained(safe_serialization=True))'
                : '';
            throw new Error(`${dir}: no model.safetensors${hint}`);
        }
        const config = (0, hfconfig_1.readModelConfig)(dir, { configOverrides: options.configOverrides });
        const tokenizer = hasTokenizerFiles(dir) ? await tokenize_1.PairTokenizer.load(dir) : new PairTokenizerMissing(dir);
        if (tokenizer instanceof tokenize_1.PairTokenizer)
            checkVocabularies(tokenizer, config, dir);
        const { device, seed, dtype } = checkLoadOptions(options);
        const native = await (0, native_1.addon)().createModel(config.native, { device, seed });
        try {
            const report = await native.loadWeights(weights);
            if (dtype !== 'fp32')
                await native.setDtype(dtype);
            return new Reranker(native, config, tokenizer, device, dtype, resolveMaxLength(options, config, tokenizer), report.initialized);
        }
        catch (err) {
            native.dispose();
            throw err;
        }
    }
    /** A new model from a config, initialised as Hugging Face does (normal(0, initializer_range), zero biases), seeded. */
    static async create(options) {
        if (options === null || typeof options !== 'object')
            throw new TypeError(`options must be an object with config and tokenizer, got ${(0, validate_1.describe)(options)}`);
        (0, validate_1.checkString)(options.tokenizer, 'options.tokenizer (a folder with tokenizer.json or vocab.txt)');
        const config = (0, hfconfig_1.resolveModelConfig)({ ...options.config, ...options.configOverrides }, 'model.config', { numLabels: options.numLabels });
        const tokenizerDir = await (0, models_1.resolveModelFolder)(options.tokenizer, { revision: options.revision, localFilesOnly: options.localFilesOnly, files: 'tokenizer' });
        const tokenizer = await tokenize_1.PairTokenizer.load(tokenizerDir);
        checkVocabularies(tokenizer, config, options.tokenizer);
        const { device, seed, dtype } = checkLoadOptions(options);
        const native = await (0, native_1.addon)().createModel(config.native, { device, seed });
        try {
            if (dtype !== 'fp32')
                await native.setDtype(dtype);
            return new Reranker(native, config, tokenizer, device, dtype, resolveMaxLength(options, config, tokenizer), []);
        }
        catch (err) {
            native.dispose();
            throw err;
        }
    }
    /** The pair tokenizer; an error for a model folder that has no tokenizer files. */
    get tokenizer() {
        if (this.pairTokenizer instanceof PairTokenizerMissing)
            throw this.pairTokenizer.error();
        return this.pairTokenizer;
    }
    get numLabels() {
        return this.config.native.numLabels;
    }
    get labels() {
        return this.config.labels;
    }
    /** One relevance score per pair, in input order. */
    async score(pairs, options = {}) {
        this.checkLive();
        const column = this.labelColumn(options.label);
        const activation = options.activation === undefined ? 'none' : (0, validate_1.checkOneOf)(options.activation, 'options.activation', ['none', 'sigmoid']);
        const rows = await this.logits(pairs, { ...options, label: column });
        return rows.map((row) => (activation === 'sigmoid' ? sigmoid(row[column]) : row[column]));
    }
    /** The full logits vector of every pair, in input order. */
    async logits(pairs, options = {}) {
        this.checkLive();
        const checked = (0, validate_1.checkPairs)(pairs);
        const batchSize = options.batchSize === undefined ? DEFAULT_BATCH_SIZE : (0, validate_1.checkPositiveInt)(options.batchSize, 'options.batchSize');
        const truncation = options.truncation ?? true;
        if (typeof truncation !== 'boolean')
            throw new TypeError(`options.truncation must be a boolean, got ${(0, validate_1.describe)(truncation)}`);
        const bf16 = this.checkBf16(options.bf16);
        const long = checkLongDocumentOptions(options);
        if (checked.length === 0)
            return [];
        if (long.longDocuments === 'chunk' || long.truncationDirection === 'left') {
            return this.logitsByDocument(checked, long, truncation, batchSize, bf16, this.labelColumn(options.label));
        }
        // On a GPU, tokenized in chunks: the next chunk's tokenization (on the thread pool) overlaps the model's work
        // on this one, which would otherwise wait for every pair to be tokenized first. On the CPU both compete for
        // the same cores and sorting fewer pairs by length pads more (measured 10% slower), so one chunk.
        const chunkSize = this.device === 'cuda' ? batchSize * PIPELINE_BATCHES : checked.length;
        const order = chunkOrder(checked, chunkSize, truncation);
        const out = new Array(checked.length);
        const forwards = [];
        let failure;
        const workers = this.device === 'cuda' && !this.tokenizePool ? (0, tokenize_pool_1.tokenizeWorkersFor)(checked.length) : 0;
        if (workers > 0)
            this.tokenizePool = tokenize_pool_1.TokenizePool.start(this.tokenizer.sourceDir, workers);
        const tokenizer = this.tokenizePool ?? this.tokenizer; // the pool exists only for CUDA models
        const encode = (start) => tokenizer.encodePairs(order.slice(start, start + chunkSize).map((i) => checked[i]), this.maxLength, truncation, start);
        let next = encode(0);
        for (let start = 0; start < checked.length; start += chunkSize) {
            const encoded = await next;
            if (start + chunkSize < checked.length)
                next = encode(start + chunkSize);
            for (const done of this.forwardSorted(encoded, order.slice(start, start + chunkSize), batchSize, bf16, out)) {
                forwards.push(done.catch((err) => { failure ??= err; })); // handled now: no unhandled rejection
            }
        }
        await Promise.all(forwards);
        if (failure !== undefined)
            throw failure;
        return out;
    }
    // Pairs grouped by query, each group's documents cut or chunked by PairTokenizer.encodeDocuments; rows of
    // chunks are aggregated back into one per pair.
    async logitsByDocument(pairs, long, truncate, batchSize, bf16, column) {
        const groups = new Map();
        pairs.forEach(([query], i) => {
            const group = groups.get(query);
            if (group)
                group.push(i);
            else
                groups.set(query, [i]);
        });
        const encoded = [];
        const owners = [];
        for (const [query, indexes] of groups) {
            const docs = await this.tokenizer.encodeDocuments(query, indexes.map((i) => pairs[i][1]), {
                maxLength: this.maxLength, longDocuments: long.longDocuments, truncate, direction: long.truncationDirection,
                maxChunks: long.maxChunks, chunkOverlap: long.chunkOverlap,
            }, indexes);
            for (let p = 0; p < docs.pairs.length; p++) {
                encoded.push(docs.pairs[p]);
                owners.push(indexes[docs.owners[p]]);
            }
        }
        const rows = new Array(encoded.length);
        await Promise.all(this.forwardSorted(encoded, encoded.map((_, i) => i), batchSize, bf16, rows));
        return aggregateRows(rows, owners, pairs.length, long.aggregate, column);
    }
    /** Documents ordered by score, best first. */
    async rank(query, documents, options = {}) {
        this.checkLive();
        (0, validate_1.checkString)(query, 'query');
        if (!Array.isArray(documents))
            throw new TypeError(`documents must be an array of strings, got ${(0, validate_1.describe)(documents)}`);
        documents.forEach((d, i) => (0, validate_1.checkString)(d, `documents[${i}]`));
        const topK = options.topK === undefined ? documents.length : (0, validate_1.checkPositiveInt)(options.topK, 'options.topK');
        const scores = await this.score(documents.map((d) => [query, d]), options);
        return scores
            .map((score, index) => ({ index, score, document: documents[index] }))
            .sort((a, b) => b.score - a.score || a.index - b.index)
            .slice(0, topK);
    }
    /** Logits rows for an already tokenized, padded batch. `bf16`: as in score(). */
    async scoreTokens(input, options = {}) {
        this.checkLive();
        const bf16 = this.checkBf16(options.bf16);
        const batch = toNativeBatch(input, this.config.native.vocabSize, this.config.maxTokens, this.config.native.typeVocabSize);
        if (batch.batch === 0)
            return [];
        const flat = await this.nativeModel.forward(batch, { bf16 });
        return splitRows(flat, this.numLabels);
    }
    /** Writes a Hugging Face model folder: config.json, model.safetensors, tokenizer files. */
    async save(dir) {
        this.checkLive();
        (0, validate_1.checkString)(dir, 'dir');
        node_fs_1.default.mkdirSync(dir, { recursive: true });
        const weights = node_path_1.default.join(dir, 'model.safetensors');
        const tmp = node_path_1.default.join(dir, `.model.safetensors.${process.pid}.tmp`);
        await this.nativeModel.saveWeights(tmp, { format: 'pt' });
        (0, util_1.fsyncPath)(tmp);
        node_fs_1.default.renameSync(tmp, weights);
        (0, util_1.writeFileAtomic)(node_path_1.default.join(dir, 'config.json'), JSON.stringify((0, hfconfig_1.configForSave)(this.config), null, 2) + '\n');
        if (this.pairTokenizer instanceof tokenize_1.PairTokenizer)
            this.pairTokenizer.save(dir);
    }
    /** Frees the native model. Every later call fails. */
    dispose() {
        if (this.disposed)
            return;
        this.disposed = true;
        this.nativeModel.dispose();
        void this.tokenizePool?.close();
    }
    /** @internal the native handle, for the trainer. */
    get native() {
        this.checkLive();
        return this.nativeModel;
    }
    checkLive() {
        if (this.disposed)
            throw new Error('this Reranker has been disposed');
    }
    labelColumn(label) {
        if (label === undefined) {
            if (this.numLabels !== 1) {
                throw new RangeError(`the model has ${this.numLabels} labels (${this.labels.join(', ')}): pass options.label or use logits()`);
            }
            return 0;
        }
        const index = typeof label === 'string' ? this.labels.indexOf(label) : label;
        if (!Number.isInteger(index) || index < 0 || index >= this.numLabels) {
            throw new RangeError(`options.label ${JSON.stringify(label)} is not one of the model's labels (${this.labels.join(', ')})`);
        }
        return index;
    }
    // Whether to run under bf16 autocast. A bf16 model computes in bf16 whatever options.bf16 says.
    checkBf16(value) {
        const bf16 = value ?? false;
        if (typeof bf16 !== 'boolean')
            throw new TypeError(`options.bf16 must be a boolean, got ${(0, validate_1.describe)(bf16)}`);
        if (this.dtype === 'bf16')
            return false;
        if (bf16 && this.device !== 'cuda')
            throw new RangeError(`options.bf16 needs a CUDA model (this one is on ${this.device})`);
        return bf16;
    }
    // Sorts by length so each batch pads little, queues the batches, and writes row i to out[positions[i]].
    // On CUDA a chunk's batches go in one job (one wait for the GPU); on the CPU one job each, so other
    // callers' batches can run in between.
    forwardSorted(encoded, positions, batchSize, bf16, out) {
        const order = encoded.map((_, i) => i).sort((a, b) => encoded[b].ids.length - encoded[a].ids.length || a - b);
        const indices = [];
        const batches = [];
        for (let start = 0; start < order.length; start += batchSize) {
            indices.push(order.slice(start, start + batchSize));
            batches.push((0, tokenize_1.padBatch)(indices[indices.length - 1].map((i) => encoded[i]), this.tokenizer.padTokenId));
        }
        const place = (flat, rows) => {
            splitRows(flat, this.numLabels).forEach((row, j) => { out[positions[rows[j]]] = row; });
        };
        if (this.device === 'cuda') {
            return [this.nativeModel.forwardMany(batches, { bf16 }).then((flats) => flats.forEach((flat, b) => place(flat, indices[b])))];
        }
        return batches.map((batch, b) => this.nativeModel.forward(batch, { bf16 }).then((flat) => place(flat, indices[b])));
    }
}
exports.Reranker = Reranker;
/**
 * The order score() tokenizes pairs in. Cut into several chunks, pairs go longest first by characters (query +
 * document), so a chunk holds pairs of similar token length and its batches, sorted by tokens within the chunk,
 * pad little: on 16,384 debdesc pairs in chunks of 2,048, 1.08 padded tokens per real one instead of 1.21 in input
 * order. Input order in one chunk, and without truncation, where an over-long pair is named by its input index.
 */
function chunkOrder(pairs, chunkSize, truncation) {
    const order = pairs.map((_, i) => i);
    if (pairs.length <= chunkSize || !truncation)
        return order;
    const chars = pairs.map(([query, document]) => query.length + document.length);
    return order.sort((a, b) => chars[b] - chars[a] || a - b);
}
function checkLoadOptions(options) {
    if (typeof options !== 'object' || options === null)
        throw new TypeError(`options must be an object, got ${(0, validate_1.describe)(options)}`);
    const device = options.device === undefined ? 'cpu' : (0, validate_1.checkOneOf)(options.device, 'options.device', ['cpu', 'cuda']);
    const seed = options.seed === undefined ? 42 : options.seed;
    if (!Number.isInteger(seed) || seed < 0)
        throw new TypeError(`options.seed must be a non-negative integer, got ${(0, validate_1.describe)(seed)}`);
    const dtype = options.dtype === undefined ? 'fp32' : (0, validate_1.checkOneOf)(options.dtype, 'options.dtype', ['fp32', 'bf16', 'int8']);
    if (dtype === 'int8' && device !== 'cpu')
        throw new RangeError(`options.dtype 'int8' runs on the CPU only (options.device is '${device}')`);
    return { device, seed, dtype };
}
function resolveMaxLength(options, config, tokenizer) {
    const limit = config.maxTokens;
    if (options.maxLength !== undefined)
        return (0, validate_1.checkPositiveInt)(options.maxLength, 'options.maxLength', limit);
    return Math.min((tokenizer instanceof tokenize_1.PairTokenizer ? tokenizer.modelMaxLength : undefined) ?? limit, limit);
}
// A tokenizer with more ids than the model has embedding rows would index past them at the first batch.
function checkVocabularies(tokenizer, config, source) {
    if (tokenizer.vocabSize > config.native.vocabSize) {
        throw new Error(`${source}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${config.native.vocabSize}; ` +
            'use the tokenizer the model was trained with (or a config with a larger vocab_size)');
    }
}
function hasTokenizerFiles(dir) {
    return node_fs_1.default.existsSync(node_path_1.default.join(dir, 'tokenizer.json')) || node_fs_1.default.existsSync(node_path_1.default.join(dir, 'vocab.txt'));
}
// Stands in for the tokenizer of a folder that has none, and explains what to do when text is scored.
class PairTokenizerMissing {
    dir;
    constructor(dir) {
        this.dir = dir;
    }
    error() {
        const sentencepiece = node_fs_1.default.readdirSync(this.dir).find((f) => f.endsWith('.model'));
        const hint = sentencepiece
            ? ` It has a SentencePiece model (${sentencepiece}): convert it once with Python, ` +
                '`AutoTokenizer.from_pretrained(dir).save_pretrained(dir)`, which writes tokenizer.json.'
            : ' Copy the tokenizer files of the base model into it, or use scoreTokens() with token ids.';
        return new Error(`${this.dir}: no tokenizer.json or vocab.txt, so text cannot be tokenized.${hint}`);
    }
}
function sigmoid(x) {
    return 1 / (1 + Math.exp(-x));
}
function splitRows(flat, width) {
    const rows = [];
    for (let i = 0; i < flat.length; i += width)
        rows.push(Array.from(flat.subarray(i, i + width)));
    return rows;
}
// Turns rows or flat arrays into a checked [batch, length] Int32 batch.
function toNativeBatch(input, vocabSize, maxPositions, typeVocabSize) {
    if (typeof input !== 'object' || input === null)
        throw new TypeError(`input must be an object with inputIds, got ${(0, validate_1.describe)(input)}`);
    const ids = flatten(input.inputIds, 'input.inputIds', input.shape);
    const [batch, length] = ids.shape;
    if (length > maxPositions)
        throw new RangeError(`input.inputIds rows are ${length} long, over the model's ${maxPositions} positions (max_position_embeddings)`);
    const checkRange = (data, name, max) => {
        for (let i = 0; i < data.length; i++) {
            if (data[i] < 0 || data[i] >= max) {
                throw new RangeError(`${name}[${Math.floor(i / length)}][${i % length}] is ${data[i]}, outside [0, ${max})`);
            }
        }
    };
    checkRange(ids.data, 'input.inputIds', vocabSize);
    const sameShape = (name, value) => {
        if (value === undefined)
            return null;
        const t = flatten(value, name, [batch, length]);
        if (t.shape[0] !== batch || t.shape[1] !== length)
            throw new RangeError(`${name} has shape [${t.shape}], inputIds [${batch}, ${length}]`);
        return t.data;
    };
    const attentionMask = sameShape('input.attentionMask', input.attentionMask) ?? new Int32Array(batch * length).fill(1);
    checkRange(attentionMask, 'input.attentionMask', 2);
    const tokenTypeIds = sameShape('input.tokenTypeIds', input.tokenTypeIds);
    if (tokenTypeIds)
        checkRange(tokenTypeIds, 'input.tokenTypeIds', Math.max(typeVocabSize, 1));
    return { inputIds: ids.data, attentionMask, tokenTypeIds, batch, length };
}
function flatten(value, name, shape) {
    if (Array.isArray(value) && (value.length === 0 || Array.isArray(value[0]))) {
        const rows = value;
        const length = rows.length ? rows[0].length : 0;
        const data = new Int32Array(rows.length * length);
        rows.forEach((row, r) => {
            if (!Array.isArray(row) || row.length !== length)
                throw new RangeError(`${name}[${r}] must be an array of ${length} token ids (rows must be padded to one length)`);
            row.forEach((v, c) => {
                if (!Number.isInteger(v))
                    throw new TypeError(`${name}[${r}][${c}] must be an integer, got ${(0, validate_1.describe)(v)}`);
                data[r * length + c] = v;
            });
        });
        return { data, shape: [rows.length, length] };
    }
    if (value instanceof Int32Array || value instanceof BigInt64Array || Array.isArray(value)) {
        if (!shape || shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
            throw new TypeError(`${name} is flat: input.shape must be [batch, length]`);
        }
        if (value.length !== shape[0] * shape[1])
            throw new RangeError(`${name} has ${value.length} values, shape [${shape}] needs ${shape[0] * shape[1]}`);
        const data = new Int32Array(value.length);
        for (let i = 0; i < value.length; i++) {
            const v = Number(value[i]);
            if (!Number.isInteger(v))
                throw new TypeError(`${name}[${i}] must be an integer`);
            data[i] = v;
        }
        return { data, shape };
    }
    throw new TypeError(`${name} must be an array of rows, an Int32Array or a BigInt64Array, got ${(0, validate_1.describe)(value)}`);
}
