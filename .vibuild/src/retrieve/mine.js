"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.HardNegativeMiner = exports.bm25ScoreText = void 0;
exports.newMineStats = newMineStats;
exports.resolveMineOptions = resolveMineOptions;
exports.mineHardNegatives = mineHardNegatives;
exports.groupToJsonl = groupToJsonl;
exports.defaultCorpusFor = defaultCorpusFor;
exports.mineToFile = mineToFile;
const rng_1 = require("../data/rng");
const bm25_1 = require("./bm25");
Object.defineProperty(exports, "bm25ScoreText", { enumerable: true, get: function () { return bm25_1.bm25ScoreText; } });
const corpus_1 = require("./corpus");
const output_1 = require("./output");
const search_pool_1 = require("./search-pool");
const retriever_1 = require("./retriever");
function newMineStats() {
    return { queries: 0, written: 0, skipped: 0, negatives: 0, short: 0, droppedPositive: 0, droppedDuplicate: 0, droppedMargin: 0, seconds: 0 };
}
function positiveInt(v, name) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
        throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
    return v;
}
function resolveMineOptions(o) {
    const rangeMin = positiveInt(o.rangeMin ?? 10, 'rangeMin');
    const rangeMax = positiveInt(o.rangeMax ?? 100, 'rangeMax');
    if (rangeMax < rangeMin)
        throw new RangeError(`rangeMax (${rangeMax}) must be >= rangeMin (${rangeMin})`);
    const numNegatives = positiveInt(o.numNegatives ?? 15, 'numNegatives');
    const sampling = o.sampling ?? 'top';
    if (sampling !== 'top' && sampling !== 'random')
        throw new RangeError(`sampling must be 'top' or 'random', got ${JSON.stringify(sampling)}`);
    const seed = o.seed ?? 42;
    if (!Number.isSafeInteger(seed))
        throw new RangeError(`seed must be an integer, got ${String(seed)}`);
    if (o.margin !== undefined && !(typeof o.margin === 'number' && Number.isFinite(o.margin)))
        throw new RangeError(`margin must be a finite number, got ${String(o.margin)}`);
    if (o.relativeMargin !== undefined && !(typeof o.relativeMargin === 'number' && o.relativeMargin >= 0 && o.relativeMargin < 1)) {
        throw new RangeError(`relativeMargin must be a number in [0, 1), got ${String(o.relativeMargin)}`);
    }
    if (o.workers !== undefined && !(Number.isInteger(o.workers) && o.workers >= 0 && o.workers <= 256)) {
        throw new RangeError(`workers must be a whole number from 0 to 256, got ${String(o.workers)}`);
    }
    const retrieveK = positiveInt(o.retrieveK ?? rangeMax, 'retrieveK');
    if (o.reranker && retrieveK < rangeMax) {
        throw new RangeError(`retrieveK (${retrieveK}) must be >= rangeMax (${rangeMax}): only the first stage's top retrieveK are rescored and ranked`);
    }
    return {
        rangeMin,
        rangeMax,
        numNegatives,
        sampling,
        seed,
        margin: o.margin,
        relativeMargin: o.relativeMargin,
        retrieveK,
        batchSize: positiveInt(o.batchSize ?? 64, 'batchSize'),
        withScores: o.withScores ?? false,
    };
}
/** Queries searched together (on the worker threads when there are enough of them). */
const SEARCH_CHUNK = 4096;
/** The miner: holds the corpus, its index and lookups; `mine` turns queries into groups. */
class HardNegativeMiner {
    corpus;
    options;
    /** The BM25 index, when BM25 is the first stage (no `retriever` given). */
    index;
    lookup;
    groups;
    opts;
    rng;
    constructor(corpus, options = {}) {
        this.corpus = corpus;
        this.options = options;
        this.opts = resolveMineOptions(options);
        if (options.retriever) {
            if (options.index)
                throw new TypeError('give an index (BM25) or a retriever, not both');
            if (options.workers)
                throw new TypeError('workers search BM25 in parallel; they do not apply to a retriever');
            if (options.retriever.corpus !== corpus)
                throw new Error('the retriever searches another corpus object than the one mined');
            this.index = undefined;
        }
        else {
            this.index = options.index ?? bm25_1.Bm25Index.build(corpus.texts, { k1: options.k1, b: options.b });
            if (this.index.numDocs !== corpus.texts.length) {
                throw new Error(`the index holds ${this.index.numDocs} documents but the corpus ${corpus.texts.length}`);
            }
        }
        this.lookup = new corpus_1.CorpusLookup(corpus);
        this.groups = this.lookup.textGroups();
        this.rng = new rng_1.Rng(this.opts.seed);
    }
    /** Mines every query, in input order; `stats` is updated as it goes. */
    async *mine(queries, stats = newMineStats()) {
        if (this.options.retriever) {
            yield* this.mineWithRetriever(this.options.retriever, queries, stats);
            return;
        }
        if (!this.options.reranker) {
            yield* this.mineWithBm25(queries, stats);
            return;
        }
        const chunkSize = Math.max(1, Math.floor(4096 / this.opts.retrieveK));
        let chunk = [];
        for await (const q of queries) {
            stats.queries++;
            chunk.push(this.prepare(q));
            if (chunk.length >= chunkSize) {
                yield* this.finish(chunk, stats);
                chunk = [];
            }
        }
        if (chunk.length)
            yield* this.finish(chunk, stats);
    }
    // BM25 only: queries in chunks, each chunk searched on the worker threads (when they pay off), then the
    // negatives picked in input order, so the output is the same with or without workers.
    async *mineWithBm25(queries, stats) {
        const workers = { pool: null };
        const search = async (chunk) => {
            const count = this.options.index ? 0 : this.options.workers ?? (0, search_pool_1.searchWorkersFor)(chunk.length);
            if (!workers.pool && count > 0)
                workers.pool = search_pool_1.SearchPool.start(this.corpus.texts, count, { k1: this.options.k1, b: this.options.b });
            const prepared = chunk.map((q) => this.prepare(q, !workers.pool));
            if (workers.pool) {
                const hits = await workers.pool.search(chunk.map((q) => q.query), this.opts.rangeMax);
                prepared.forEach((p, i) => { p.ranked = hits[i]; });
            }
            return prepared;
        };
        try {
            let chunk = [];
            for await (const q of queries) {
                stats.queries++;
                chunk.push(q);
                if (chunk.length >= SEARCH_CHUNK) {
                    yield* this.finish(await search(chunk), stats);
                    chunk = [];
                }
            }
            if (chunk.length)
                yield* this.finish(await search(chunk), stats);
        }
        finally {
            await workers.pool?.close();
        }
    }
    // Any first stage: queries in chunks searched together (one embedding batch for a dense retriever), then the
    // positives scored under it when margins or scores need them, then rescored and picked as with BM25.
    async *mineWithRetriever(retriever, queries, stats) {
        const k = this.options.reranker ? this.opts.retrieveK : this.opts.rangeMax;
        const chunkSize = this.options.reranker ? Math.max(1, Math.floor(4096 / k)) : 256;
        const search = async (chunk) => {
            const prepared = chunk.map((q) => this.prepare(q, false));
            const hits = await retriever.search(chunk.map((q) => q.query), k);
            for (const [i, p] of prepared.entries()) {
                p.ranked = hits[i];
                if (!this.options.reranker && this.needsPositiveScores())
                    p.positiveScores = await retriever.scoreTexts(p.q.query, p.positiveTexts, hits[i]);
            }
            return prepared;
        };
        let chunk = [];
        for await (const q of queries) {
            stats.queries++;
            chunk.push(q);
            if (chunk.length >= chunkSize) {
                yield* this.finish(await search(chunk), stats);
                chunk = [];
            }
        }
        if (chunk.length)
            yield* this.finish(await search(chunk), stats);
    }
    prepare(q, search = true) {
        const positiveTexts = [];
        const positiveIndices = new Set();
        const positiveGroups = new Set();
        for (const p of q.positives) {
            let text = p.text;
            if (p.id !== undefined) {
                const i = this.lookup.indexOfId(p.id);
                if (i !== undefined) {
                    positiveIndices.add(i);
                    positiveGroups.add(this.groups[i]);
                    text ??= this.corpus.texts[i];
                }
                else if (text === undefined) {
                    throw new Error(`${q.where ?? 'query'}: positive id ${JSON.stringify(p.id)} is not in the corpus`);
                }
            }
            if (text === undefined)
                throw new Error(`${q.where ?? 'query'}: a positive needs an id or a text`);
            positiveTexts.push(text);
            for (const i of this.lookup.indicesOfText(text)) {
                positiveIndices.add(i);
                positiveGroups.add(this.groups[i]);
            }
        }
        const k = this.options.reranker ? this.opts.retrieveK : this.opts.rangeMax;
        const index = this.index;
        const ranked = search && index ? index.search(q.query, k) : [];
        const prepared = { q, positiveTexts, positiveIndices: [...positiveIndices], positiveGroups, ranked };
        if (index && !this.options.reranker && this.needsPositiveScores()) {
            prepared.positiveScores = positiveTexts.map((t) => {
                const same = this.lookup.indicesOfText(t);
                return same.length ? index.scoreDocument(q.query, same[0]) : (0, bm25_1.bm25ScoreText)(index, q.query, t);
            });
        }
        return prepared;
    }
    needsPositiveScores() {
        return this.opts.withScores || this.opts.margin !== undefined || this.opts.relativeMargin !== undefined;
    }
    async *finish(chunk, stats) {
        const model = this.options.reranker;
        if (model) {
            // Rescore each query's BM25 candidates (and its positives) with the cross-encoder, then rank by it.
            const pairs = [];
            for (const p of chunk) {
                for (const h of p.ranked)
                    pairs.push([p.q.query, this.corpus.texts[h.index]]);
                for (const t of p.positiveTexts)
                    pairs.push([p.q.query, t]);
            }
            const scores = await model.score(pairs, { batchSize: this.opts.batchSize });
            let o = 0;
            for (const p of chunk) {
                const rescored = p.ranked.map((h, j) => ({ index: h.index, score: scores[o + j], bm25Rank: j }));
                o += p.ranked.length;
                rescored.sort((a, b) => b.score - a.score || a.bm25Rank - b.bm25Rank);
                p.ranked = rescored.map(({ index, score }) => ({ index, score }));
                p.positiveScores = scores.slice(o, o + p.positiveTexts.length);
                o += p.positiveTexts.length;
            }
        }
        for (const p of chunk) {
            const g = this.select(p, stats);
            if (g)
                yield g;
        }
    }
    select(p, stats) {
        const { rangeMin, rangeMax, numNegatives, margin, relativeMargin } = this.opts;
        const posScore = p.positiveScores && p.positiveScores.length ? Math.min(...p.positiveScores) : undefined;
        const kept = new Set();
        const eligible = [];
        const last = Math.min(rangeMax, p.ranked.length);
        for (let rank = rangeMin; rank <= last; rank++) {
            const h = p.ranked[rank - 1];
            const group = this.groups[h.index];
            if (p.positiveGroups.has(group)) {
                stats.droppedPositive++;
                continue;
            }
            if (kept.has(group)) {
                stats.droppedDuplicate++;
                continue;
            }
            if (posScore !== undefined) {
                if ((margin !== undefined && h.score > posScore - margin) || (relativeMargin !== undefined && h.score > posScore * (1 - relativeMargin))) {
                    stats.droppedMargin++;
                    continue;
                }
            }
            kept.add(group);
            eligible.push({ index: h.index, score: h.score, rank });
        }
        let chosen = eligible;
        if (eligible.length > numNegatives) {
            if (this.opts.sampling === 'top')
                chosen = eligible.slice(0, numNegatives);
            else {
                // Partial Fisher–Yates: the first numNegatives slots become a uniform sample; then back to rank order.
                const pool = eligible.slice();
                for (let i = 0; i < numNegatives; i++) {
                    const j = i + this.rng.int(pool.length - i);
                    const t = pool[i];
                    pool[i] = pool[j];
                    pool[j] = t;
                }
                chosen = pool.slice(0, numNegatives).sort((a, b) => a.rank - b.rank);
            }
        }
        if (chosen.length < numNegatives)
            stats.short++;
        if (chosen.length === 0) {
            stats.skipped++;
            return null;
        }
        stats.written++;
        stats.negatives += chosen.length;
        const group = {
            query: p.q.query,
            positives: p.positiveTexts,
            negatives: chosen.map((c) => this.corpus.texts[c.index]),
            negativeIndices: chosen.map((c) => c.index),
            negativeRanks: chosen.map((c) => c.rank),
        };
        if (p.q.qid !== undefined)
            group.qid = p.q.qid;
        if (this.opts.withScores) {
            group.posScores = p.positiveScores ?? [];
            group.negScores = chosen.map((c) => c.score);
        }
        return group;
    }
}
exports.HardNegativeMiner = HardNegativeMiner;
/** Mines in memory: the groups for `queries` over `corpus` (see HardNegativeMiner). */
async function mineHardNegatives(queries, corpus, options = {}) {
    const start = process.hrtime.bigint();
    const stats = newMineStats();
    const groups = [];
    for await (const g of new HardNegativeMiner(corpus, options).mine(queries, stats))
        groups.push(g);
    stats.seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { groups, stats };
}
/** One grouped JSONL line: {query, positives, negatives} (+ pos_scores/neg_scores). */
function groupToJsonl(g) {
    const out = { query: g.query, positives: g.positives, negatives: g.negatives };
    if (g.posScores && g.negScores) {
        out.pos_scores = g.posScores;
        out.neg_scores = g.negScores;
    }
    return JSON.stringify(out) + '\n';
}
/** The corpus a query spec defaults to: a debdesc split's own documents; files need --corpus. */
function defaultCorpusFor(queries) {
    if ((0, corpus_1.isDebdescSpec)(queries))
        return queries === 'debdesc' ? 'debdesc:all' : queries;
    throw new Error(`--corpus is needed with a query file (${queries})`);
}
/** Streams queries from `queries`, mines, and writes grouped JSONL to `output` atomically. */
async function mineToFile(options) {
    const start = process.hrtime.bigint();
    resolveMineOptions(options); // fail on bad options before loading anything
    if (options.maxQueries !== undefined)
        positiveInt(options.maxQueries, 'maxQueries');
    if (!(0, corpus_1.isDebdescSpec)(options.queries))
        (0, corpus_1.checkReadable)(options.queries, 'queries');
    const corpusSpec = options.corpus ?? defaultCorpusFor(options.queries);
    const corpus = await (0, corpus_1.loadCorpus)(corpusSpec);
    const t0 = process.hrtime.bigint();
    if (options.firstStage && options.retriever)
        throw new TypeError('give firstStage or retriever, not both');
    const retriever = options.firstStage && options.firstStage.retriever !== 'bm25'
        ? await (0, retriever_1.openRetriever)({ ...options.firstStage, corpus, k1: options.k1, b: options.b }) : options.retriever;
    const miner = new HardNegativeMiner(corpus, { ...options, retriever });
    const indexSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const stats = newMineStats();
    const writer = new output_1.AtomicLineWriter(options.output);
    const every = options.progressEvery ?? 5000;
    try {
        // --max-queries mines a seeded uniform sample (files like debdesc are sorted, so the first N would be biased).
        const limited = async function* () {
            if (options.maxQueries === undefined) {
                yield* (0, corpus_1.readQueries)(options.queries, { positives: 'text' });
                return;
            }
            const all = [];
            for await (const q of (0, corpus_1.readQueries)(options.queries, { positives: 'text' }))
                all.push(q);
            for (const i of (0, rng_1.samplePositions)(all.length, options.maxQueries, options.seed ?? 42))
                yield all[i];
        };
        let lines = [];
        let lastReport = 0;
        for await (const g of miner.mine(limited(), stats)) {
            lines.push(groupToJsonl(g));
            if (lines.length >= 256) {
                await writer.write(lines.join(''));
                lines = [];
            }
            if (options.onProgress && stats.queries - lastReport >= every) {
                lastReport = stats.queries;
                stats.seconds = Number(process.hrtime.bigint() - start) / 1e9;
                options.onProgress(stats);
            }
        }
        if (lines.length)
            await writer.write(lines.join(''));
        await writer.commit();
    }
    catch (err) {
        writer.abort();
        throw err;
    }
    finally {
        if (retriever && retriever !== options.retriever)
            await retriever.dispose();
    }
    stats.seconds = Number(process.hrtime.bigint() - start) / 1e9;
    options.onProgress?.(stats);
    return { ...stats, corpus: corpus.name, corpusSize: corpus.texts.length, indexSeconds, retriever: retriever ? retriever.describe() : `bm25 (k1 ${miner.index?.k1}, b ${miner.index?.b})` };
}
