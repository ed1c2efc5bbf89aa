"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.INDEX_VERSION = exports.INDEX_FORMAT = void 0;
exports.corpusFingerprint = corpusFingerprint;
exports.embedderFingerprint = embedderFingerprint;
exports.writeIndexFolder = writeIndexFolder;
exports.readIndexMetadata = readIndexMetadata;
exports.openIndexFolder = openIndexFolder;
// An index folder on disk (`rrtrain index`): the corpus's embeddings and what they were made from, so a later
// search knows them to be current. A stale index (another corpus, another embedder, other prompts) is refused
// with a message saying what changed, never silently searched.
//
//   index.json          format, embedder (name, fingerprint, prompt, max length), corpus (name, fingerprint,
//                       documents), metric, storage, dimension, the approximate index kept (if any)
//   vectors.safetensors one tensor "vectors" [documents, dimension], F32 or F16 (readable by the safetensors
//                       library); unit vectors for cosine
//   ids.json            the document ids, in row order
//   usearch.index       usearch's HNSW graph over the same rows (with --ann usearch)
const node_crypto_1 = __importDefault(require("node:crypto"));
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const util_1 = require("../util");
const vector_index_1 = require("./vector-index");
exports.INDEX_FORMAT = 'rrnative-vector-index';
exports.INDEX_VERSION = 1;
/** A hash of the corpus's ids and texts, in order. */
function corpusFingerprint(corpus) {
    const hash = node_crypto_1.default.createHash('sha256');
    corpus.texts.forEach((text, i) => hash.update(corpus.ids[i]).update('\u0000').update(text).update('\u0001'));
    return hash.digest('hex');
}
const EMBEDDER_FILES = ['modules.json', 'sentence_bert_config.json', 'config_sentence_transformers.json', '1_Pooling/config.json', 'config.json', 'tokenizer.json', 'vocab.txt', 'model.safetensors'];
const fingerprints = new Map();
/** A hash of the embedder's weights, tokenizer and sentence-transformers configuration (what changes its vectors). */
function embedderFingerprint(embedder) {
    const dirs = [...new Set([embedder.folder.rootDir, embedder.folder.encoderDir])];
    const key = dirs.join('\u0000');
    const known = fingerprints.get(key);
    if (known)
        return known;
    const hash = node_crypto_1.default.createHash('sha256');
    for (const dir of dirs) {
        for (const name of EMBEDDER_FILES) {
            const file = node_path_1.default.join(dir, name);
            if (node_fs_1.default.existsSync(file))
                hash.update(name).update(node_fs_1.default.readFileSync(file));
        }
    }
    const digest = hash.digest('hex');
    fingerprints.set(key, digest);
    return digest;
}
function safetensorsBytes(vectors, rows, dimension) {
    const dtype = vectors instanceof Float32Array ? 'F32' : 'F16';
    const data = Buffer.from(vectors.buffer, vectors.byteOffset, vectors.byteLength);
    let header = JSON.stringify({ vectors: { dtype, shape: [rows, dimension], data_offsets: [0, data.length] } });
    header += ' '.repeat((8 - (Buffer.byteLength(header) % 8)) % 8); // the data starts 8-byte aligned
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
    return [length, Buffer.from(header), data];
}
function readVectors(file, rows, dimension, storage) {
    const bytes = node_fs_1.default.readFileSync(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    const entry = header.vectors;
    const dtype = storage === 'fp16' ? 'F16' : 'F32';
    if (!entry || entry.dtype !== dtype || entry.shape[0] !== rows || entry.shape[1] !== dimension) {
        throw new Error(`${file}: expected a tensor "vectors" ${dtype} [${rows}, ${dimension}] (as index.json says), got ${JSON.stringify(entry ?? null)}`);
    }
    const start = 8 + headerLength + entry.data_offsets[0];
    const end = 8 + headerLength + entry.data_offsets[1];
    const copy = new Uint8Array(bytes.subarray(start, end)); // a fresh, aligned buffer
    return storage === 'fp16' ? new Uint16Array(copy.buffer) : new Float32Array(copy.buffer);
}
/**
 * Writes the index folder `dir`: into a new folder beside it, then renamed into place, so an index already there
 * stays whole until the new one is complete. A `dir` that exists and is not an index folder is refused.
 */
async function writeIndexFolder(dir, options) {
    if (node_fs_1.default.existsSync(dir)) {
        const entries = node_fs_1.default.statSync(dir).isDirectory() ? node_fs_1.default.readdirSync(dir) : null;
        if (entries === null || (entries.length > 0 && !entries.includes('index.json'))) {
            throw new Error(`--out ${dir}: exists and is not an rrnative index folder; give a new folder (nothing was written)`);
        }
    }
    const { embedder, corpus, index } = options;
    const meta = {
        format: exports.INDEX_FORMAT,
        version: exports.INDEX_VERSION,
        embedder: { name: embedder.name, fingerprint: embedderFingerprint(embedder), documentPrompt: options.documentPrompt, maxLength: embedder.maxLength },
        corpus: { name: corpus.name, fingerprint: corpusFingerprint(corpus), documents: corpus.texts.length },
        metric: index.metric,
        storage: index.storage,
        dimension: index.dimension,
        ann: options.usearch ? 'usearch' : null,
        ...(options.usearch ? { usearch: options.usearchSettings } : {}),
        created: new Date().toISOString(),
    };
    const staging = `${dir}.partial-${process.pid}`;
    node_fs_1.default.rmSync(staging, { recursive: true, force: true });
    node_fs_1.default.mkdirSync(staging, { recursive: true });
    const vectors = await index.stored();
    node_fs_1.default.writeFileSync(node_path_1.default.join(staging, 'vectors.safetensors'), Buffer.concat(safetensorsBytes(vectors, corpus.texts.length, index.dimension)));
    node_fs_1.default.writeFileSync(node_path_1.default.join(staging, 'ids.json'), JSON.stringify(index.rowIds));
    if (options.usearch)
        options.usearch.save(node_path_1.default.join(staging, 'usearch.index'));
    (0, util_1.writeFileAtomic)(node_path_1.default.join(staging, 'index.json'), JSON.stringify(meta, null, 2) + '\n');
    const previous = `${dir}.previous-${process.pid}`;
    if (node_fs_1.default.existsSync(dir))
        node_fs_1.default.renameSync(dir, previous);
    node_fs_1.default.renameSync(staging, dir);
    node_fs_1.default.rmSync(previous, { recursive: true, force: true });
    return meta;
}
function readIndexMetadata(dir) {
    const file = node_path_1.default.join(dir, 'index.json');
    if (!node_fs_1.default.existsSync(file))
        throw new Error(`${dir}: not an rrnative index folder (no index.json); build one with \`rrtrain index\``);
    const meta = (0, util_1.readJsonFile)(file);
    if (meta.format !== exports.INDEX_FORMAT)
        throw new Error(`${file}: format is ${JSON.stringify(meta.format)}, expected "${exports.INDEX_FORMAT}"`);
    if (meta.version !== exports.INDEX_VERSION)
        throw new Error(`${file}: version ${meta.version}; this rrnative reads version ${exports.INDEX_VERSION}: rebuild it with \`rrtrain index\``);
    return meta;
}
/** Opens an index folder for `corpus` searched with `embedder`; refuses a stale one, saying what differs. */
async function openIndexFolder(dir, options) {
    const meta = readIndexMetadata(dir);
    const rebuild = `rebuild it with \`rrtrain index --embedder ${options.embedder.name} --corpus ${options.corpus.name} --out ${dir}\``;
    const fingerprint = corpusFingerprint(options.corpus);
    if (meta.corpus.fingerprint !== fingerprint) {
        throw new Error(`${dir}: stale index: it was built over corpus ${meta.corpus.name} (${meta.corpus.documents} documents, fingerprint ${meta.corpus.fingerprint.slice(0, 12)}), ` +
            `but the corpus given is ${options.corpus.name} (${options.corpus.texts.length} documents, fingerprint ${fingerprint.slice(0, 12)}); ${rebuild}`);
    }
    const embedderPrint = embedderFingerprint(options.embedder);
    if (meta.embedder.fingerprint !== embedderPrint) {
        throw new Error(`${dir}: stale index: it was built with embedder ${meta.embedder.name} (fingerprint ${meta.embedder.fingerprint.slice(0, 12)}), ` +
            `but the embedder given is ${options.embedder.name} (fingerprint ${embedderPrint.slice(0, 12)}): its vectors would not be comparable; ${rebuild}`);
    }
    if (options.documentPrompt !== undefined && meta.embedder.documentPrompt !== options.documentPrompt) {
        throw new Error(`${dir}: stale index: its documents were embedded with the prompt ${JSON.stringify(meta.embedder.documentPrompt)}, ` +
            `but this embedder's document prompt is ${JSON.stringify(options.documentPrompt)}; ${rebuild}`);
    }
    if (meta.embedder.maxLength !== options.embedder.maxLength) {
        throw new Error(`${dir}: stale index: its documents were cut at ${meta.embedder.maxLength} tokens, but the embedder now cuts at ${options.embedder.maxLength}; ${rebuild} (or load the embedder with maxLength ${meta.embedder.maxLength})`);
    }
    if (meta.dimension !== options.embedder.dimension)
        throw new Error(`${dir}: dimension ${meta.dimension}, but the embedder gives ${options.embedder.dimension}`);
    const ids = (0, util_1.readJsonFile)(node_path_1.default.join(dir, 'ids.json'));
    if (!Array.isArray(ids) || ids.length !== meta.corpus.documents)
        throw new Error(`${node_path_1.default.join(dir, 'ids.json')}: expected ${meta.corpus.documents} ids`);
    if (options.search === 'usearch') {
        if (meta.ann !== 'usearch')
            throw new Error(`${dir}: has no usearch graph; build it with \`rrtrain index … --ann usearch\``);
        const store = vector_index_1.UsearchIndex.open(node_path_1.default.join(dir, 'usearch.index'), ids, { dimension: meta.dimension, metric: meta.metric, storage: meta.storage, ...meta.usearch, view: options.view });
        return { store, meta };
    }
    const store = new vector_index_1.ExactIndex({ dimension: meta.dimension, metric: meta.metric, storage: meta.storage, device: options.device });
    try {
        await store.addStored(ids, readVectors(node_path_1.default.join(dir, 'vectors.safetensors'), ids.length, meta.dimension, meta.storage));
    }
    catch (err) {
        await store.close();
        throw err;
    }
    return { store, meta };
}
