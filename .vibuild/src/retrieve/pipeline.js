"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.checkFusion = checkFusion;
exports.parseFusion = parseFusion;
exports.fusionName = fusionName;
exports.fuseScores = fuseScores;
exports.pipeline = pipeline;
// Retrieve, then rerank: a first stage (BM25, dense or hybrid; retriever.ts) over an in-memory corpus picks
// `retrieveK` candidates, the cross-encoder scores them, and the results come back sorted by the final score.
//
// The final score is the reranker's raw logit (plain reranking, the default). Score fusion is an explicit
// option, computed over each query's retrieved candidates:
//   - { method: 'linear', weight: w }: score = w · norm(rerank) + (1 - w) · norm(retrieval), where norm is
//     min-max normalisation over the candidates, (x - min) / (max - min); when all candidates share one score
//     that side normalises to 1 for all. w = 1 gives the reranker's order, w = 0 the first stage's.
//   - { method: 'rrf', k = 60 }: reciprocal rank fusion, score = 1/(k + retrievalRank) + 1/(k + rerankRank),
//     ranks 1-based within the candidates (rerank ties broken by retrieval rank).
// Equal final scores keep the first stage's order.
const model_1 = require("../model");
const corpus_1 = require("./corpus");
const retriever_1 = require("./retriever");
function isCorpus(c) {
    return typeof c === 'object' && c !== null && !Array.isArray(c) && Array.isArray(c.texts) && Array.isArray(c.ids);
}
/** Checks a fusion option; returns it with defaults filled in. */
function checkFusion(fusion) {
    if (fusion === undefined || fusion === null)
        return undefined;
    if (typeof fusion !== 'object')
        throw new TypeError(`fusion must be {method: 'linear', weight} or {method: 'rrf', k?}, got ${typeof fusion}`);
    const f = fusion;
    if (f.method === 'linear') {
        if (typeof f.weight !== 'number' || !(f.weight >= 0 && f.weight <= 1)) {
            throw new RangeError(`fusion.weight (the reranker's weight) must be a number in [0, 1], got ${String(f.weight)}`);
        }
        return { method: 'linear', weight: f.weight };
    }
    if (f.method === 'rrf') {
        const k = f.k ?? 60;
        if (typeof k !== 'number' || !(k >= 0) || !Number.isFinite(k))
            throw new RangeError(`fusion.k must be a number >= 0, got ${String(k)}`);
        return { method: 'rrf', k };
    }
    throw new RangeError(`fusion.method must be 'linear' or 'rrf', got ${JSON.stringify(f.method)}`);
}
/** 'linear' (w 0.5), 'linear:0.3', 'rrf' (k 60), 'rrf:10' → a Fusion. */
function parseFusion(spec) {
    const m = /^(linear|rrf)(?::(.+))?$/.exec(spec.trim());
    if (!m)
        throw new Error(`--fusion ${spec}: expected linear[:weight] or rrf[:k]`);
    const value = m[2] === undefined ? undefined : Number(m[2]);
    if (m[2] !== undefined && !Number.isFinite(value))
        throw new Error(`--fusion ${spec}: ${m[2]} is not a number`);
    const fusion = m[1] === 'linear' ? { method: 'linear', weight: value ?? 0.5 } : { method: 'rrf', k: value ?? 60 };
    checkFusion(fusion);
    return fusion;
}
/** A short name for a fusion, as in the tables: 'linear:0.5', 'rrf:60'. */
function fusionName(fusion) {
    return fusion.method === 'linear' ? `linear:${fusion.weight}` : `rrf:${fusion.k ?? 60}`;
}
function minMax(values) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
        if (v < lo)
            lo = v;
        if (v > hi)
            hi = v;
    }
    const span = hi - lo;
    return values.map((v) => (span > 0 ? (v - lo) / span : 1));
}
/**
 * Final scores for one query's candidates, given in the first stage's order (best first): plain reranking returns the
 * rerank scores; 'linear' and 'rrf' as in the file comment.
 */
function fuseScores(bm25, rerank, fusion) {
    if (bm25.length !== rerank.length)
        throw new RangeError(`fuseScores: ${bm25.length} first-stage scores but ${rerank.length} rerank scores`);
    const f = checkFusion(fusion);
    if (!f)
        return rerank.slice();
    if (f.method === 'linear') {
        const nb = minMax(bm25);
        const nr = minMax(rerank);
        return nb.map((b, i) => f.weight * nr[i] + (1 - f.weight) * b);
    }
    const n = rerank.length;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => rerank[b] - rerank[a] || a - b);
    const rerankRank = new Array(n);
    order.forEach((i, r) => {
        rerankRank[i] = r + 1;
    });
    return rerankRank.map((rr, i) => 1 / (f.k + i + 1) + 1 / (f.k + rr));
}
/** Builds the first stage over `corpus` and loads the reranker (when given a folder). */
async function pipeline(options) {
    if (typeof options !== 'object' || options === null)
        throw new TypeError('pipeline: options must be {corpus, reranker}');
    const corpus = isCorpus(options.corpus) ? options.corpus : (0, corpus_1.corpusFromArray)(options.corpus);
    if (corpus.texts.length === 0)
        throw new RangeError('pipeline: the corpus is empty');
    const batchSize = options.batchSize ?? 64;
    const long = (0, model_1.checkLongDocumentOptions)(options.longDocuments ?? {}, 'options.longDocuments');
    if (typeof options.reranker !== 'string' && !(options.reranker instanceof model_1.Reranker)) {
        throw new TypeError('pipeline: reranker must be a Reranker or a model folder path');
    }
    let retriever;
    let ownedRetriever = false;
    if (options.retriever !== undefined && typeof options.retriever === 'object') {
        if (options.retriever.corpus !== corpus)
            throw new Error('pipeline: the retriever was built over another corpus object than options.corpus');
        retriever = options.retriever;
    }
    else {
        retriever = await (0, retriever_1.openRetriever)({
            retriever: options.retriever, corpus, embedder: options.embedder, index: options.index, indexSearch: options.indexSearch,
            store: options.store, storage: options.storage, hybrid: options.hybrid, k1: options.k1, b: options.b,
            device: options.device === 'cuda' ? 'cuda' : 'cpu',
        });
        ownedRetriever = true;
    }
    let reranker;
    let owned = false;
    try {
        if (typeof options.reranker === 'string') {
            reranker = await model_1.Reranker.load(options.reranker, { device: options.device, maxLength: options.maxLength, dtype: options.dtype });
            owned = true;
        }
        else
            reranker = options.reranker;
    }
    catch (err) {
        if (ownedRetriever)
            await retriever.dispose();
        throw err;
    }
    const bm25Index = retriever instanceof retriever_1.Bm25Retriever ? retriever.index : retriever instanceof retriever_1.HybridRetriever ? retriever.bm25.index : undefined;
    let disposed = false;
    return {
        corpus,
        retriever,
        index: bm25Index,
        reranker,
        async search(query, searchOptions = {}) {
            if (disposed)
                throw new Error('this pipeline has been disposed');
            if (typeof query !== 'string')
                throw new TypeError(`query must be a string, got ${typeof query}`);
            const retrieveK = searchOptions.retrieveK ?? 100;
            const topK = searchOptions.topK ?? 10;
            if (!Number.isInteger(retrieveK) || retrieveK < 1)
                throw new RangeError(`retrieveK must be a positive integer, got ${retrieveK}`);
            if (!Number.isInteger(topK) || topK < 1)
                throw new RangeError(`topK must be a positive integer, got ${topK}`);
            checkFusion(searchOptions.fusion);
            const [hits] = await retriever.search([query], retrieveK);
            if (hits.length === 0)
                return [];
            const rerank = await reranker.score(hits.map((h) => [query, corpus.texts[h.index]]), { batchSize, ...long });
            const final = fuseScores(hits.map((h) => h.score), rerank, searchOptions.fusion);
            const results = hits.map((h, i) => {
                const hit = {
                    index: h.index,
                    ...(corpus.hasIds ? { id: corpus.ids[h.index] } : {}),
                    document: corpus.texts[h.index],
                    retrievalScore: h.score,
                    retrievalRank: i + 1,
                    rerankScore: rerank[i],
                    score: final[i],
                };
                if (retriever.kind === 'bm25')
                    Object.assign(hit, { bm25Score: h.score, bm25Rank: i + 1 });
                if (retriever.kind === 'dense')
                    Object.assign(hit, { denseScore: h.score, denseRank: i + 1 });
                if (h.bm25)
                    Object.assign(hit, { bm25Score: h.bm25.score, bm25Rank: h.bm25.rank });
                if (h.dense)
                    Object.assign(hit, { denseScore: h.dense.score, denseRank: h.dense.rank });
                return hit;
            });
            results.sort((a, b) => b.score - a.score || a.retrievalRank - b.retrievalRank);
            return results.slice(0, topK);
        },
        async dispose() {
            if (disposed)
                return;
            disposed = true;
            if (owned)
                reranker.dispose();
            if (ownedRetriever)
                await retriever.dispose();
        },
    };
}
