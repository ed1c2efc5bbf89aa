"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.Embedder = void 0;
// An embedding model (a sentence-transformers folder, local or by Hub name) run by the addon: texts tokenized
// here, the encoder forward and the Pooling / Normalize modules in native code (native/pooling.h), off the JS
// thread. embed() is sentence-transformers' encode(): the same prompts, truncation at max_seq_length, pooling.
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const models_1 = require("../hub/models");
const hfconfig_1 = require("../hfconfig");
const native_1 = require("../native");
const tokenize_1 = require("../tokenize");
const validate_1 = require("../validate");
const st_folder_1 = require("./st-folder");
const DEFAULT_BATCH_SIZE = 32;
class Embedder {
    nativeModel;
    tokenizer;
    folder;
    config;
    name;
    device;
    maxLength;
    disposed = false;
    promptLengths = new Map();
    constructor(nativeModel, tokenizer, 
    /** The folder as sentence-transformers reads it: pooling, prompts, similarity. */
    folder, config, 
    /** What the embedder was loaded as (a Hub id or a path): index files record it. */
    name, device, maxLength) {
        this.nativeModel = nativeModel;
        this.tokenizer = tokenizer;
        this.folder = folder;
        this.config = config;
        this.name = name;
        this.device = device;
        this.maxLength = maxLength;
    }
    /** Loads a sentence-transformers folder (or a plain encoder folder: mean pooling), or a Hub id of one. */
    static async load(nameOrDir, options = {}) {
        (0, validate_1.checkString)(nameOrDir, 'embedder');
        if (options === null || typeof options !== 'object')
            throw new TypeError(`options must be an object, got ${(0, validate_1.describe)(options)}`);
        const device = options.device === undefined ? 'cpu' : (0, validate_1.checkOneOf)(options.device, 'options.device', ['cpu', 'cuda']);
        const dtype = options.dtype === undefined ? 'fp32' : (0, validate_1.checkOneOf)(options.dtype, 'options.dtype', ['fp32', 'bf16']);
        const dir = await (0, models_1.resolveModelFolder)(nameOrDir, { revision: options.revision, localFilesOnly: options.localFilesOnly });
        if (!node_fs_1.default.existsSync(dir) || !node_fs_1.default.statSync(dir).isDirectory())
            throw new Error(`${dir}: no such model folder`);
        const folder = (0, st_folder_1.readSentenceTransformerFolder)(dir);
        const weights = node_path_1.default.join(folder.encoderDir, 'model.safetensors');
        if (!node_fs_1.default.existsSync(weights))
            throw new Error(`${folder.encoderDir}: no model.safetensors (the embedder's Transformer module)`);
        const config = (0, hfconfig_1.readModelConfig)(folder.encoderDir);
        const tokenizer = await tokenize_1.PairTokenizer.load(folder.encoderDir);
        if (tokenizer.vocabSize > config.native.vocabSize) {
            throw new Error(`${folder.encoderDir}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${config.native.vocabSize}`);
        }
        const hidden = config.native.hiddenSize;
        if (folder.embeddingDimension !== undefined && folder.embeddingDimension !== hidden) {
            throw new Error(`${dir}: the Pooling module's word_embedding_dimension is ${folder.embeddingDimension} but the encoder's hidden_size is ${hidden}`);
        }
        const limit = config.maxTokens;
        const maxLength = options.maxLength !== undefined
            ? (0, validate_1.checkPositiveInt)(options.maxLength, 'options.maxLength', limit)
            : Math.min(folder.maxSeqLength ?? tokenizer.modelMaxLength ?? limit, limit);
        const native = await (0, native_1.addon)().createModel(config.native, { device, seed: 0 });
        try {
            // A sentence-transformers Transformer module saves the base model alone (no "bert." prefix, no head): the
            // loader maps the names, and the cross-encoder head it reports as new is never used here.
            await native.loadWeights(weights);
            if (dtype !== 'fp32')
                await native.setDtype(dtype);
        }
        catch (err) {
            native.dispose();
            throw err;
        }
        return new Embedder(native, tokenizer, folder, config, nameOrDir, device, maxLength);
    }
    /** The embedding width: hidden size × pooling modes. */
    get dimension() {
        return this.config.native.hiddenSize * this.folder.pooling.length;
    }
    /** The folder's similarity function (config_sentence_transformers.json; cosine by default). */
    get similarity() {
        return this.folder.similarity;
    }
    /** Embeddings of `texts`, row-major (texts.length × dimension), in input order. */
    async embed(texts, options = {}) {
        this.checkLive();
        if (!Array.isArray(texts))
            throw new TypeError(`texts must be an array of strings, got ${(0, validate_1.describe)(texts)}`);
        texts.forEach((t, i) => {
            if (typeof t !== 'string')
                throw new TypeError(`texts[${i}] must be a string, got ${(0, validate_1.describe)(t)}`);
        });
        if (options === null || typeof options !== 'object')
            throw new TypeError(`options must be an object, got ${(0, validate_1.describe)(options)}`);
        const batchSize = options.batchSize === undefined ? DEFAULT_BATCH_SIZE : (0, validate_1.checkPositiveInt)(options.batchSize, 'options.batchSize');
        const prompt = this.resolvePrompt(options);
        const normalize = this.resolveNormalize(options.normalize);
        if (options.bf16 !== undefined && typeof options.bf16 !== 'boolean')
            throw new TypeError(`options.bf16 must be a boolean, got ${(0, validate_1.describe)(options.bf16)}`);
        const out = new Float32Array(texts.length * this.dimension);
        if (texts.length === 0)
            return out;
        // As sentence-transformers: the prompt is prepended to the text and the whole is tokenized (and cut) as one;
        // with include_prompt false, the prompt's tokens are left out of pooling.
        const prepared = texts.map((t) => (prompt ? prompt + t : t)).map((t) => (this.folder.doLowerCase ? t.toLowerCase() : t));
        const excludedPrefix = prompt && !this.folder.includePrompt
            ? await this.promptLength(this.folder.doLowerCase ? prompt.toLowerCase() : prompt) : 0;
        const encoded = await this.tokenizer.encodeTexts(prepared, this.maxLength);
        // Longest first, batched: each batch pads to its own longest text.
        const order = encoded.map((_, i) => i).sort((a, b) => encoded[b].ids.length - encoded[a].ids.length || a - b);
        const batches = [];
        const rowsOf = [];
        for (let start = 0; start < order.length; start += batchSize) {
            const rows = order.slice(start, start + batchSize);
            batches.push((0, tokenize_1.padBatch)(rows.map((r) => encoded[r]), this.tokenizer.padTokenId));
            rowsOf.push(rows);
        }
        const pooled = await this.nativeModel.embedMany(batches, {
            pooling: this.folder.pooling, excludedPrefix, normalize, bf16: options.bf16 ?? false,
        });
        const d = this.dimension;
        pooled.forEach((flat, b) => rowsOf[b].forEach((row, i) => out.set(flat.subarray(i * d, (i + 1) * d), row * d)));
        return out;
    }
    /** Frees the native model; later calls throw. */
    dispose() {
        if (this.disposed)
            return;
        this.disposed = true;
        this.nativeModel.dispose();
    }
    resolvePrompt(options) {
        if (options.prompt !== undefined && options.promptName !== undefined) {
            throw new TypeError('options.prompt and options.promptName are both set: give one (as sentence-transformers, which then uses prompt)');
        }
        if (options.prompt !== undefined) {
            if (typeof options.prompt !== 'string')
                throw new TypeError(`options.prompt must be a string, got ${(0, validate_1.describe)(options.prompt)}`);
            return options.prompt;
        }
        const name = options.promptName ?? this.folder.defaultPromptName;
        if (name === undefined)
            return '';
        if (typeof name !== 'string')
            throw new TypeError(`options.promptName must be a string, got ${(0, validate_1.describe)(name)}`);
        const prompt = this.folder.prompts[name];
        if (prompt === undefined) {
            const known = Object.keys(this.folder.prompts);
            throw new RangeError(`options.promptName '${name}' is not one of the embedder's prompts (${known.length ? known.join(', ') : 'it has none'})`);
        }
        return prompt;
    }
    resolveNormalize(normalize) {
        if (normalize === undefined)
            return this.folder.normalize;
        if (typeof normalize !== 'boolean')
            throw new TypeError(`options.normalize must be a boolean, got ${(0, validate_1.describe)(normalize)}`);
        if (!normalize && this.folder.normalize) {
            throw new RangeError('options.normalize is false but the embedder ends in a Normalize module: its embeddings are always unit vectors');
        }
        return normalize;
    }
    promptLength(prompt) {
        let length = this.promptLengths.get(prompt);
        if (!length) {
            length = this.tokenizer.promptLength(prompt);
            this.promptLengths.set(prompt, length);
        }
        return length;
    }
    checkLive() {
        if (this.disposed)
            throw new Error('this Embedder has been disposed');
    }
}
exports.Embedder = Embedder;
