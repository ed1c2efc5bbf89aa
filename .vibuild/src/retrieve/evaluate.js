"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.queryMetrics = queryMetrics;
exports.evaluateRetrieval = evaluateRetrieval;
exports.runRetrievalEval = runRetrievalEval;
exports.formatRetrievalEval = formatRetrievalEval;
// Retrieval evaluation: the first stage (BM25 by default, or dense / hybrid: retriever.ts) retrieves the top
// `retrieveK` documents of the whole corpus for each query; the same candidates are then ordered by the first
// stage, by the reranker and (optionally) by a fusion of the two, and each
// ordering is scored against the data set's relevance rule (see corpus.ts: the positives plus every document
// with identical text).
//
// Metrics (means over queries, binary relevance):
//   mrr@10     1/rank of the first relevant document in the top 10, else 0;
//   ndcg@10    DCG@10 / IDCG@10 with gain 1 and discount 1/log2(rank + 1); the ideal ranking holds ALL the
//              query's relevant documents (min(totalRelevant, 10) of them), retrieved or not;
//   recall@k   relevant documents in the top k / all the query's relevant documents (totalRelevant), for
//              k = 10 and k = retrieveK.
// A relevant document the first stage did not retrieve is a miss for every system: it is in no candidate list, but it
// counts in totalRelevant. When every relevant document is retrieved these equal metrics.ts's
// reciprocalRankAtK, ndcgAtK and recallAtK on the candidate list.
//
// `--max-queries N` evaluates a seeded uniform sample of N queries (Rng(seed) shuffles the query positions,
// the first N are kept, in their file order), not the first N: the debdesc files are sorted by package name.
const rng_1 = require("../data/rng");
const model_1 = require("../model");
const bm25_1 = require("./bm25");
const corpus_1 = require("./corpus");
const pipeline_1 = require("./pipeline");
const retriever_1 = require("./retriever");
/** One query's ordering of candidates (corpus indices, best first) against its relevant set. */
function queryMetrics(ranked, relevant, totalRelevant, ks) {
    const out = {};
    let rr = 0;
    let dcg = 0;
    for (let r = 0; r < Math.min(10, ranked.length); r++) {
        if (relevant.has(ranked[r])) {
            if (rr === 0)
                rr = 1 / (r + 1);
            dcg += 1 / Math.log2(r + 2);
        }
    }
    let idcg = 0;
    for (let r = 0; r < Math.min(10, totalRelevant); r++)
        idcg += 1 / Math.log2(r + 2);
    out['mrr@10'] = rr;
    out['ndcg@10'] = idcg > 0 ? dcg / idcg : 0;
    for (const k of ks) {
        let found = 0;
        for (let r = 0; r < Math.min(k, ranked.length); r++)
            if (relevant.has(ranked[r]))
                found++;
        out[`recall@${k}`] = totalRelevant > 0 ? found / totalRelevant : 0;
    }
    return out;
}
class MeanAccumulator {
    sums = {};
    n = 0;
    add(m) {
        this.n++;
        for (const [k, v] of Object.entries(m))
            this.sums[k] = (this.sums[k] ?? 0) + v;
    }
    means(keys) {
        const out = {};
        for (const k of keys)
            out[k] = this.n ? (this.sums[k] ?? 0) / this.n : NaN;
        out.queries = this.n;
        return out;
    }
}
function metricKeys(retrieveK) {
    const ks = retrieveK === 10 ? [10] : [10, retrieveK];
    return ['mrr@10', 'ndcg@10', ...ks.map((k) => `recall@${k}`)];
}
/** Order of candidates (positions in `hits`) by `scores` descending, ties by first-stage rank. */
function orderBy(scores) {
    return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
}
/**
 * Evaluates the first stage (and the reranker, and a fusion) on in-memory queries over a corpus (strings, {id, text}
 * objects or a Corpus). A query's positives are `{id}` / `{text}` refs (see corpus.ts).
 */
async function evaluateRetrieval(queries, corpusInput, options = {}) {
    const corpus = Array.isArray(corpusInput) ? (0, corpus_1.corpusFromArray)(corpusInput) : corpusInput;
    const retrieveK = options.retrieveK ?? 100;
    if (!Number.isInteger(retrieveK) || retrieveK < 1)
        throw new RangeError(`retrieveK must be a positive integer, got ${retrieveK}`);
    const fusion = (0, pipeline_1.checkFusion)(options.fusion);
    if (fusion && !options.reranker)
        throw new Error('fusion needs a reranker');
    const batchSize = options.batchSize ?? 64;
    const long = (0, model_1.checkLongDocumentOptions)(options.longDocuments ?? {}, 'options.longDocuments');
    if (options.retriever && options.index)
        throw new TypeError('give an index (BM25) or a retriever, not both');
    if (options.retriever && options.retriever.corpus !== corpus)
        throw new Error('the retriever searches another corpus object than the one evaluated');
    const retriever = options.retriever ?? new retriever_1.Bm25Retriever(corpus, options.index ?? bm25_1.Bm25Index.build(corpus.texts, { k1: options.k1, b: options.b }));
    const lookup = new corpus_1.CorpusLookup(corpus);
    const keys = metricKeys(retrieveK);
    const ks = keys.filter((k) => k.startsWith('recall@')).map((k) => Number(k.slice(7)));
    const acc = { firstStage: new MeanAccumulator(), model: new MeanAccumulator(), fusion: new MeanAccumulator() };
    const chunkSize = options.reranker ? Math.max(1, Math.floor(4096 / retrieveK)) : 256;
    for (let start = 0; start < queries.length; start += chunkSize) {
        const slice = queries.slice(start, start + chunkSize);
        const found = await retriever.search(slice.map((q) => q.query), retrieveK);
        const chunk = slice.map((q, i) => {
            const rel = (0, corpus_1.resolveRelevant)(q, lookup);
            return { q, relevant: new Set(rel.indices), total: rel.totalRelevant, hits: found[i] };
        });
        let scores = [];
        if (options.reranker) {
            const pairs = chunk.flatMap((c) => c.hits.map((h) => [c.q.query, corpus.texts[h.index]]));
            scores = await options.reranker.score(pairs, { batchSize, ...long });
        }
        let o = 0;
        for (const c of chunk) {
            const docs = c.hits.map((h) => h.index);
            acc.firstStage.add(queryMetrics(docs, c.relevant, c.total, ks));
            if (options.reranker) {
                const rerank = scores.slice(o, o + docs.length);
                o += docs.length;
                acc.model.add(queryMetrics(orderBy(rerank).map((i) => docs[i]), c.relevant, c.total, ks));
                if (fusion) {
                    const fused = (0, pipeline_1.fuseScores)(c.hits.map((h) => h.score), rerank, fusion);
                    acc.fusion.add(queryMetrics(orderBy(fused).map((i) => docs[i]), c.relevant, c.total, ks));
                }
            }
        }
        options.onProgress?.(Math.min(start + chunkSize, queries.length), queries.length);
    }
    const result = { retrieveK, queries: queries.length, retriever: retriever.kind, firstStage: acc.firstStage.means(keys) };
    if (options.reranker)
        result.model = acc.model.means(keys);
    if (fusion)
        result.fusion = acc.fusion.means(keys);
    return result;
}
const DISPLAY = { 'mrr@10': 'MRR@10', 'ndcg@10': 'NDCG@10' };
const FIRST_STAGE_COLUMN = { bm25: 'BM25', dense: 'dense', hybrid: 'hybrid' };
function bm25Of(retriever) {
    if (retriever instanceof retriever_1.Bm25Retriever)
        return retriever.index;
    if (retriever instanceof retriever_1.HybridRetriever)
        return retriever.bm25.index;
    return undefined;
}
/** Loads the queries and corpus, evaluates, and returns the table (format it with formatRetrievalEval). */
async function runRetrievalEval(options) {
    const start = process.hrtime.bigint();
    const fusion = typeof options.fusion === 'string' ? (0, pipeline_1.parseFusion)(options.fusion) : (0, pipeline_1.checkFusion)(options.fusion);
    if (fusion && !options.model)
        throw new Error('--fusion needs --model (it fuses the first stage with the reranker)');
    const seed = options.seed ?? 42;
    if (!Number.isSafeInteger(seed))
        throw new RangeError(`seed must be an integer, got ${seed}`);
    if (options.maxQueries !== undefined && !(Number.isInteger(options.maxQueries) && options.maxQueries > 0)) {
        throw new RangeError(`maxQueries must be a positive integer, got ${options.maxQueries}`);
    }
    let corpusSpec = options.corpus;
    if (corpusSpec === undefined) {
        if (!(0, corpus_1.isDebdescSpec)(options.queries))
            throw new Error(`--corpus is needed with a query file (${options.queries})`);
        corpusSpec = 'debdesc:all';
    }
    const corpus = await (0, corpus_1.loadCorpus)(corpusSpec);
    const lookup = new corpus_1.CorpusLookup(corpus);
    const all = [];
    for await (const q of (0, corpus_1.readQueries)(options.queries, { positives: 'id-or-text', lookup }))
        all.push(q);
    if (all.length === 0)
        throw new Error(`${options.queries}: no queries`);
    const positions = (0, rng_1.samplePositions)(all.length, options.maxQueries, seed);
    const queries = positions.map((i) => all[i]);
    const retriever = await (0, retriever_1.openRetriever)({ ...options.firstStage, corpus, k1: options.k1, b: options.b });
    let reranker;
    let owned = false;
    let evaluation;
    try {
        if (typeof options.model === 'string') {
            reranker = await model_1.Reranker.load(options.model, { maxLength: options.maxLength, device: options.device, dtype: options.dtype });
            owned = true;
        }
        else
            reranker = options.model;
        evaluation = await evaluateRetrieval(queries, corpus, {
            retrieveK: options.retrieveK,
            retriever,
            reranker,
            fusion,
            batchSize: options.batchSize,
            longDocuments: options.longDocuments,
            onProgress: options.onProgress,
        });
    }
    finally {
        if (owned)
            reranker?.dispose();
        await retriever.dispose();
    }
    const firstColumn = FIRST_STAGE_COLUMN[evaluation.retriever];
    const columns = [firstColumn];
    const metrics = { [firstColumn]: evaluation.firstStage };
    if (evaluation.model) {
        columns.push('model');
        metrics.model = evaluation.model;
    }
    if (evaluation.fusion && fusion) {
        const name = (0, pipeline_1.fusionName)(fusion);
        columns.push(name);
        metrics[name] = evaluation.fusion;
    }
    const rows = metricKeys(evaluation.retrieveK).map((key) => ({
        metric: DISPLAY[key] ?? `Recall@${key.slice(7)}`,
        key,
        values: columns.map((c) => metrics[c][key]),
    }));
    return {
        queriesSource: options.queries,
        corpus: corpus.name,
        corpusSize: corpus.texts.length,
        queries: queries.length,
        totalQueries: all.length,
        sample: queries.length < all.length ? { size: queries.length, seed } : null,
        retrieveK: evaluation.retrieveK,
        retriever: retriever.describe(),
        k1: bm25Of(retriever)?.k1 ?? null,
        b: bm25Of(retriever)?.b ?? null,
        model: typeof options.model === 'string' ? options.model : options.model ? '(Reranker)' : null,
        fusion: fusion ? (0, pipeline_1.fusionName)(fusion) : null,
        columns,
        metrics,
        rows,
        seconds: Number(process.hrtime.bigint() - start) / 1e9,
    };
}
/** The report as a readable table. */
function formatRetrievalEval(report) {
    const lines = [];
    const sample = report.sample
        ? `${report.queries} of ${report.totalQueries} queries (seeded random sample, seed ${report.sample.seed})`
        : `${report.queries} queries`;
    lines.push(`retrieval eval: ${report.queriesSource}, ${sample}`);
    lines.push(`corpus ${report.corpus} (${report.corpusSize} documents); top ${report.retrieveK} of ${report.retriever}${report.model ? ` reranked by ${report.model}` : ''}`);
    const width = Math.max(10, ...report.columns.map((c) => c.length + 2));
    const header = 'metric'.padEnd(12) + report.columns.map((c) => c.padStart(width)).join('');
    lines.push(header);
    for (const row of report.rows) {
        lines.push(row.metric.padEnd(12) + row.values.map((v) => v.toFixed(4).padStart(width)).join(''));
    }
    lines.push('queries'.padEnd(12) + report.columns.map(() => String(report.queries).padStart(width)).join(''));
    return lines.join('\n');
}
