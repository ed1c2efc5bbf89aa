"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.HybridRetriever = exports.DenseRetriever = exports.Bm25Retriever = exports.RETRIEVER_KINDS = void 0;
exports.densePrompts = densePrompts;
exports.embedderMetric = embedderMetric;
exports.embedCorpus = embedCorpus;
exports.checkHybridFusion = checkHybridFusion;
exports.parseHybridFusion = parseHybridFusion;
exports.fuseLists = fuseLists;
exports.openRetriever = openRetriever;
const corpus_1 = require("./corpus");
const bm25_1 = require("./bm25");
const index_file_1 = require("./index-file");
const vector_index_1 = require("./vector-index");
const validate_1 = require("../validate");
exports.RETRIEVER_KINDS = ['bm25', 'dense', 'hybrid'];
class Bm25Retriever {
    corpus;
    index;
    kind = 'bm25';
    lookup;
    constructor(corpus, index = bm25_1.Bm25Index.build(corpus.texts)) {
        this.corpus = corpus;
        this.index = index;
        if (index.numDocs !== corpus.texts.length)
            throw new Error(`the BM25 index holds ${index.numDocs} documents but the corpus ${corpus.texts.length}`);
        this.lookup = new corpus_1.CorpusLookup(corpus);
    }
    async search(queries, k) {
        return queries.map((q) => this.index.search(q, k));
    }
    async scoreTexts(query, texts) {
        return texts.map((t) => {
            const same = this.lookup.indicesOfText(t);
            return same.length ? this.index.scoreDocument(query, same[0]) : (0, bm25_1.bm25ScoreText)(this.index, query, t);
        });
    }
    describe() {
        return `bm25 (k1 ${this.index.k1}, b ${this.index.b})`;
    }
    async dispose() { }
}
exports.Bm25Retriever = Bm25Retriever;
/** The embedder's query and document prompts, chosen as sentence-transformers' encode_query / encode_document do. */
function densePrompts(embedder) {
    const prompts = embedder.folder.prompts;
    const documentName = ['document', 'passage', 'corpus'].find((name) => prompts[name] !== undefined);
    return { query: prompts.query ?? '', document: documentName !== undefined ? prompts[documentName] : '' };
}
/** The vector metric the embedder's similarity_fn_name asks for; euclidean and manhattan have no index here. */
function embedderMetric(embedder) {
    const similarity = embedder.similarity;
    if (similarity === 'cosine' || similarity === 'dot')
        return similarity;
    throw new Error(`${embedder.folder.rootDir}: config_sentence_transformers.json similarity_fn_name is "${similarity}"; rrnative's indexes compare by cosine or dot`);
}
/** Documents embedded per call: enough for length-sorted batches, small enough for steady progress. */
const EMBED_BLOCK = 2048;
/** Embeds the corpus's documents (with the document prompt) into `store`, under the corpus's ids. */
async function embedCorpus(embedder, corpus, store, options = {}) {
    const prompt = densePrompts(embedder).document;
    const total = corpus.texts.length;
    for (let start = 0; start < total; start += EMBED_BLOCK) {
        const end = Math.min(total, start + EMBED_BLOCK);
        const vectors = await embedder.embed(corpus.texts.slice(start, end), { prompt, batchSize: options.batchSize });
        await store.add(corpus.ids.slice(start, end), vectors);
        options.onProgress?.(end, total);
    }
}
class DenseRetriever {
    corpus;
    embedder;
    store;
    owned;
    batchSize;
    label;
    indexMeta;
    kind = 'dense';
    indexOfId = new Map();
    constructor(corpus, embedder, store, owned, batchSize, label, indexMeta) {
        this.corpus = corpus;
        this.embedder = embedder;
        this.store = store;
        this.owned = owned;
        this.batchSize = batchSize;
        this.label = label;
        this.indexMeta = indexMeta;
        corpus.ids.forEach((id, i) => this.indexOfId.set(id, i));
    }
    /** A dense retriever over `corpus`: the given store or index folder, or the corpus embedded now. */
    static async create(corpus, embedder, options = {}) {
        const batchSize = options.batchSize === undefined ? undefined : (0, validate_1.checkPositiveInt)(options.batchSize, 'batchSize');
        if (options.store && options.indexDir)
            throw new TypeError('give a store or an indexDir, not both');
        const metric = embedderMetric(embedder);
        if (options.store) {
            const stored = await options.store.count();
            if (options.store.dimension !== embedder.dimension) {
                throw new RangeError(`the vector store has dimension ${options.store.dimension} but the embedder gives ${embedder.dimension}`);
            }
            if (stored !== corpus.texts.length)
                throw new RangeError(`the vector store holds ${stored} vectors but the corpus ${corpus.texts.length} documents`);
            return new DenseRetriever(corpus, embedder, options.store, false, batchSize, `dense (${embedder.name}, ${options.store.constructor.name} ${options.store.metric})`);
        }
        if (options.indexDir) {
            const { store, meta } = await (0, index_file_1.openIndexFolder)(options.indexDir, {
                corpus, embedder, search: options.search, device: options.device, documentPrompt: densePrompts(embedder).document,
            });
            const how = options.search === 'usearch' ? 'usearch' : 'exact';
            return new DenseRetriever(corpus, embedder, store, true, batchSize, `dense (${embedder.name}, ${options.indexDir}: ${how} ${meta.storage} ${meta.metric})`, meta);
        }
        const store = new vector_index_1.ExactIndex({ dimension: embedder.dimension, metric, storage: options.storage, device: options.device });
        try {
            await embedCorpus(embedder, corpus, store, { batchSize, onProgress: options.onProgress });
        }
        catch (err) {
            await store.close();
            throw err;
        }
        return new DenseRetriever(corpus, embedder, store, true, batchSize, `dense (${embedder.name}, exact ${store.storage} ${metric})`);
    }
    async search(queries, k) {
        (0, validate_1.checkPositiveInt)(k, 'k');
        if (queries.length === 0)
            return [];
        const vectors = await this.embedder.embed(queries, { prompt: densePrompts(this.embedder).query, batchSize: this.batchSize });
        const found = await this.store.search(vectors, Math.min(k, this.corpus.texts.length));
        return found.map((hits) => hits.map((h) => {
            const index = this.indexOfId.get(h.id);
            if (index === undefined)
                throw new Error(`the vector store returned id ${JSON.stringify(h.id)}, which is not in corpus ${this.corpus.name}`);
            return { index, score: h.score };
        }));
    }
    async scoreTexts(query, texts) {
        if (texts.length === 0)
            return [];
        const prompts = densePrompts(this.embedder);
        const q = await this.embedder.embed([query], { prompt: prompts.query });
        const d = await this.embedder.embed(texts, { prompt: prompts.document, batchSize: this.batchSize });
        const dim = this.embedder.dimension;
        const cosine = this.store.metric === 'cosine';
        const qNorm = cosine ? Math.hypot(...q) || 1 : 1;
        return texts.map((_, i) => {
            let dot = 0;
            let norm = 0;
            for (let c = 0; c < dim; c++) {
                dot += q[c] * d[i * dim + c];
                norm += d[i * dim + c] * d[i * dim + c];
            }
            return cosine ? dot / (qNorm * (Math.sqrt(norm) || 1)) : dot;
        });
    }
    describe() {
        return this.label;
    }
    async dispose() {
        if (this.owned)
            await this.store.close();
    }
}
exports.DenseRetriever = DenseRetriever;
/** Checks a hybrid fusion option; returns it with defaults filled in. */
function checkHybridFusion(fusion) {
    if (fusion === undefined || fusion === null)
        return { method: 'rrf', k: 60 };
    if (typeof fusion !== 'object')
        throw new TypeError(`hybrid must be {method: 'rrf', k?} or {method: 'linear', weight}, got ${typeof fusion}`);
    const f = fusion;
    const window = f.window === undefined ? undefined : (0, validate_1.checkPositiveInt)(f.window, 'hybrid.window');
    if (f.method === 'rrf') {
        const k = f.k ?? 60;
        if (typeof k !== 'number' || !(k >= 0) || !Number.isFinite(k))
            throw new RangeError(`hybrid.k must be a number >= 0, got ${String(k)}`);
        return { method: 'rrf', k, window };
    }
    if (f.method === 'linear') {
        if (typeof f.weight !== 'number' || !(f.weight >= 0 && f.weight <= 1)) {
            throw new RangeError(`hybrid.weight (the dense list's weight) must be a number in [0, 1], got ${String(f.weight)}`);
        }
        return { method: 'linear', weight: f.weight, window };
    }
    throw new RangeError(`hybrid.method must be 'rrf' or 'linear', got ${JSON.stringify(f.method)}`);
}
/** 'rrf', 'rrf:10', 'linear' (w 0.5), 'linear:0.7' → a HybridFusion. */
function parseHybridFusion(spec, option = '--hybrid') {
    const m = /^(linear|rrf)(?::(.+))?$/.exec(spec.trim());
    if (!m)
        throw new Error(`${option} ${spec}: expected rrf[:k] or linear[:weight]`);
    const value = m[2] === undefined ? undefined : Number(m[2]);
    if (m[2] !== undefined && !Number.isFinite(value))
        throw new Error(`${option} ${spec}: ${m[2]} is not a number`);
    return checkHybridFusion(m[1] === 'rrf' ? { method: 'rrf', k: value ?? 60 } : { method: 'linear', weight: value ?? 0.5 });
}
function minMaxOf(hits) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const h of hits) {
        lo = Math.min(lo, h.score);
        hi = Math.max(hi, h.score);
    }
    const span = hi - lo;
    return (s) => (span > 0 ? (s - lo) / span : 1);
}
/**
 * Fuses one query's BM25 and dense lists (each best first) as the file comment says; returns the union, best
 * first (ties: the better of the two ranks, then corpus order).
 */
function fuseLists(bm25, dense, fusion) {
    const f = checkHybridFusion(fusion);
    const merged = new Map();
    const entry = (index) => {
        let e = merged.get(index);
        if (!e) {
            e = { index, score: 0 };
            merged.set(index, e);
        }
        return e;
    };
    const bm25Norm = minMaxOf(bm25);
    const denseNorm = minMaxOf(dense);
    bm25.forEach((h, i) => {
        const e = entry(h.index);
        e.bm25 = { score: h.score, rank: i + 1 };
        e.score += f.method === 'rrf' ? 1 / ((f.k ?? 60) + i + 1) : (1 - f.weight) * bm25Norm(h.score);
    });
    dense.forEach((h, i) => {
        const e = entry(h.index);
        e.dense = { score: h.score, rank: i + 1 };
        e.score += f.method === 'rrf' ? 1 / ((f.k ?? 60) + i + 1) : f.weight * denseNorm(h.score);
    });
    const best = (h) => Math.min(h.bm25?.rank ?? Infinity, h.dense?.rank ?? Infinity);
    return [...merged.values()].sort((a, b) => b.score - a.score || best(a) - best(b) || a.index - b.index);
}
class HybridRetriever {
    bm25;
    dense;
    kind = 'hybrid';
    fusion;
    lookup;
    constructor(bm25, dense, fusion) {
        this.bm25 = bm25;
        this.dense = dense;
        if (bm25.corpus !== dense.corpus)
            throw new Error('hybrid: the BM25 and dense retrievers must search the same corpus');
        this.fusion = checkHybridFusion(fusion);
        this.lookup = new corpus_1.CorpusLookup(bm25.corpus);
    }
    get corpus() {
        return this.bm25.corpus;
    }
    async search(queries, k) {
        (0, validate_1.checkPositiveInt)(k, 'k');
        const window = Math.max(k, this.fusion.window ?? k);
        const [lexical, semantic] = [await this.bm25.search(queries, window), await this.dense.search(queries, window)];
        return queries.map((_, q) => fuseLists(lexical[q], semantic[q], this.fusion).slice(0, k));
    }
    /**
     * A text's fused score: a corpus document takes its score in `hits`; any other text gets what it would score
     * at its BM25 and dense positions among the query's hits (nothing from a list it would not enter).
     */
    async scoreTexts(query, texts, hits) {
        const lookup = this.lookup;
        const [bm25Scores, denseScores] = [await this.bm25.scoreTexts(query, texts), await this.dense.scoreTexts(query, texts)];
        const lexical = hits.filter((h) => h.bm25).map((h) => h.bm25.score).sort((a, b) => b - a);
        const semantic = hits.filter((h) => h.dense).map((h) => h.dense.score).sort((a, b) => b - a);
        return texts.map((t, i) => {
            const inHits = lookup.indicesOfText(t).map((index) => hits.find((h) => h.index === index)).find((h) => h !== undefined);
            if (inHits)
                return inHits.score;
            const side = (list, score) => {
                const rank = list.filter((s) => s > score).length + 1;
                return rank <= list.length ? rank : undefined;
            };
            const br = side(lexical, bm25Scores[i]);
            const dr = side(semantic, denseScores[i]);
            if (this.fusion.method === 'rrf') {
                const k = this.fusion.k ?? 60;
                return (br ? 1 / (k + br) : 0) + (dr ? 1 / (k + dr) : 0);
            }
            const norm = (list, s) => {
                const span = list[0] - list[list.length - 1];
                return span > 0 ? Math.min(1, (s - list[list.length - 1]) / span) : 1;
            };
            return (br ? (1 - this.fusion.weight) * norm(lexical, bm25Scores[i]) : 0) + (dr ? this.fusion.weight * norm(semantic, denseScores[i]) : 0);
        });
    }
    describe() {
        const how = this.fusion.method === 'rrf' ? `rrf k ${this.fusion.k ?? 60}` : `linear, dense weight ${this.fusion.weight}`;
        return `hybrid (${how}) of ${this.bm25.describe()} and ${this.dense.describe()}`;
    }
    async dispose() {
        await this.dense.dispose();
    }
}
exports.HybridRetriever = HybridRetriever;
/** Builds the first stage the options ask for; dispose() frees what it loaded (the embedder too, when given by name). */
async function openRetriever(options) {
    const kind = options.retriever ?? 'bm25';
    if (!exports.RETRIEVER_KINDS.includes(kind))
        throw new RangeError(`retriever must be one of ${exports.RETRIEVER_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
    const bm25 = () => new Bm25Retriever(options.corpus, options.bm25Index ?? bm25_1.Bm25Index.build(options.corpus.texts, { k1: options.k1, b: options.b }));
    if (kind === 'bm25') {
        for (const key of ['embedder', 'index', 'store']) {
            if (options[key] !== undefined)
                throw new TypeError(`${key} is set but the retriever is bm25; use retriever 'dense' or 'hybrid'`);
        }
        return bm25();
    }
    if (options.embedder === undefined)
        throw new TypeError(`retriever '${kind}' needs an embedder (a sentence-transformers folder or Hub id)`);
    if (kind === 'dense' && options.hybrid !== undefined)
        throw new TypeError("hybrid (the fusion) is set but the retriever is 'dense'");
    let embedder;
    let ownedEmbedder = false;
    if (typeof options.embedder === 'string') {
        const { Embedder: EmbedderClass } = await Promise.resolve().then(() => __importStar(require('./embedder')));
        embedder = await EmbedderClass.load(options.embedder, { device: options.device, maxLength: options.embedderMaxLength });
        ownedEmbedder = true;
    }
    else
        embedder = options.embedder;
    let dense;
    try {
        dense = await DenseRetriever.create(options.corpus, embedder, {
            store: options.store, indexDir: options.index, search: options.indexSearch, storage: options.storage, device: options.device,
            batchSize: options.embedBatchSize, onProgress: options.onProgress,
        });
    }
    catch (err) {
        if (ownedEmbedder)
            embedder.dispose();
        throw err;
    }
    const retriever = kind === 'dense' ? dense : new HybridRetriever(bm25(), dense, options.hybrid);
    if (!ownedEmbedder)
        return retriever;
    const dispose = retriever.dispose.bind(retriever);
    retriever.dispose = async () => {
        await dispose();
        embedder.dispose();
    };
    return retriever;
}
