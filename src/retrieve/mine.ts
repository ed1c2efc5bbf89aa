// Hard-negative mining: for each training query, rank the corpus with BM25, or with any first stage
// (retriever.ts: dense with an embedding model, as the guide's generate_hard_negatives and sentence-transformers'
// mine_hard_negatives do, or hybrid), optionally rescoring the top candidates with a cross-encoder, keep the candidates at ranks rangeMin..rangeMax, drop likely false
// negatives, and sample the negatives of a grouped training record {query, positives, negatives}.
//
// Ranks are 1-based positions in the full ranking, positives included: a positive at rank 12 occupies rank
// 12 and is dropped, the range is not shifted. Within the range a candidate is dropped when
//   - it is a positive, or its text is identical (after trimming) to a positive's or to a positive corpus
//     document's: identical texts are relevant by the data set's rule, never negatives;
//   - its text is identical to an already kept negative (no duplicate negatives);
//   - margin (absolute m):       score > positiveScore - m;
//   - relativeMargin (ratio r):  score > positiveScore · (1 - r)   (meant for positive scores, such as BM25's);
// where positiveScore is the lowest score among the query's positives under the same scorer (BM25, the
// embedder's similarity, the hybrid's fused score, or the cross-encoder's raw logit when one rescored). Of the candidates left, `numNegatives` are taken: the best
// ranked ('top') or a seeded uniform sample ('random', written in rank order). A query left with no negative
// is skipped (counted in the stats).
import type { Reranker } from '../model';
import { Rng, samplePositions } from '../data/rng';
import { Bm25Index, bm25ScoreText, type Bm25Hit } from './bm25';

export { bm25ScoreText };
import { CorpusLookup, checkReadable, loadCorpus, isDebdescSpec, readQueries, type Corpus, type QueryWithPositives } from './corpus';
import { AtomicLineWriter } from './output';
import { SearchPool, searchWorkersFor } from './search-pool';
import { openRetriever, type OpenRetrieverOptions, type RetrievalHit, type Retriever } from './retriever';

export interface MineOptions {
  /** First rank kept, 1-based (default 10). */
  rangeMin?: number;
  /** Last rank kept, inclusive (default 100). */
  rangeMax?: number;
  /** Negatives per query (default 15). */
  numNegatives?: number;
  /** 'top' (default): the best-ranked eligible candidates; 'random': a seeded uniform sample of them. */
  sampling?: 'top' | 'random';
  /** Seed for 'random' sampling (default 42). */
  seed?: number;
  /** Drop a candidate scoring above positiveScore - margin. */
  margin?: number;
  /** Drop a candidate scoring above positiveScore · (1 - relativeMargin); 0 <= r < 1. */
  relativeMargin?: number;
  /** The first stage (dense, hybrid, …; see retriever.ts), over the same corpus; default BM25 built here. */
  retriever?: Retriever;
  /** Rescore the first stage's top `retrieveK` with this cross-encoder and rank by its raw logits. */
  reranker?: Reranker;
  /** With a reranker: how many first-stage candidates to rescore (default rangeMax). */
  retrieveK?: number;
  /** Pairs per forward pass when rescoring (default 64). */
  batchSize?: number;
  /** Add pos_scores/neg_scores (the first stage's scores, or the reranker's logits) to each group; sentence-transformers' output_scores. */
  withScores?: boolean;
  /** A prebuilt index over the corpus (default: built here with k1/b). */
  index?: Bm25Index;
  /**
   * Threads searching BM25 in parallel (each with its own index over the corpus): default one per core, up to
   * 16, once 2,000 queries are waiting; 0: search on this thread. Not with `index`, `retriever` or `reranker`.
   */
  workers?: number;
  k1?: number;
  b?: number;
}

export interface MinedGroup {
  query: string;
  positives: string[];
  negatives: string[];
  /** With withScores: the positives' scores. */
  posScores?: number[];
  /** With withScores: the negatives' scores. */
  negScores?: number[];
  /** Corpus indices of the negatives. */
  negativeIndices: number[];
  /** 1-based ranks of the negatives. */
  negativeRanks: number[];
  qid?: string;
}

export interface MineStats {
  /** Queries read. */
  queries: number;
  /** Groups produced (queries with at least one negative). */
  written: number;
  /** Queries skipped for having no eligible negative. */
  skipped: number;
  /** Negatives written in all. */
  negatives: number;
  /** Queries that got fewer than numNegatives negatives (skipped ones included). */
  short: number;
  /** Candidates in range dropped as a positive or identical to one. */
  droppedPositive: number;
  /** Candidates in range dropped as identical to a kept negative. */
  droppedDuplicate: number;
  /** Candidates in range dropped by the margin test. */
  droppedMargin: number;
  /** Wall time, seconds (filled by mineToFile). */
  seconds: number;
}

export function newMineStats(): MineStats {
  return { queries: 0, written: 0, skipped: 0, negatives: 0, short: 0, droppedPositive: 0, droppedDuplicate: 0, droppedMargin: 0, seconds: 0 };
}

interface Resolved {
  rangeMin: number;
  rangeMax: number;
  numNegatives: number;
  sampling: 'top' | 'random';
  seed: number;
  margin?: number;
  relativeMargin?: number;
  retrieveK: number;
  batchSize: number;
  withScores: boolean;
}

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
  return v;
}

export function resolveMineOptions(o: MineOptions): Resolved {
  const rangeMin = positiveInt(o.rangeMin ?? 10, 'rangeMin');
  const rangeMax = positiveInt(o.rangeMax ?? 100, 'rangeMax');
  if (rangeMax < rangeMin) throw new RangeError(`rangeMax (${rangeMax}) must be >= rangeMin (${rangeMin})`);
  const numNegatives = positiveInt(o.numNegatives ?? 15, 'numNegatives');
  const sampling = o.sampling ?? 'top';
  if (sampling !== 'top' && sampling !== 'random') throw new RangeError(`sampling must be 'top' or 'random', got ${JSON.stringify(sampling)}`);
  const seed = o.seed ?? 42;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${String(seed)}`);
  if (o.margin !== undefined && !(typeof o.margin === 'number' && Number.isFinite(o.margin))) throw new RangeError(`margin must be a finite number, got ${String(o.margin)}`);
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

interface Prepared {
  q: QueryWithPositives;
  positiveTexts: string[];
  /** Corpus indices of the positives (by id or identical text). */
  positiveIndices: number[];
  /** Identical-text groups the positives fall in. */
  positiveGroups: Set<number>;
  /** Candidates, best first. */
  ranked: (Bm25Hit | RetrievalHit)[];
  positiveScores?: number[];
}

/** Queries searched together (on the worker threads when there are enough of them). */
const SEARCH_CHUNK = 4096;

/** The miner: holds the corpus, its index and lookups; `mine` turns queries into groups. */
export class HardNegativeMiner {
  /** The BM25 index, when BM25 is the first stage (no `retriever` given). */
  readonly index: Bm25Index | undefined;
  readonly lookup: CorpusLookup;
  private readonly groups: Int32Array;
  private readonly opts: Resolved;
  private readonly rng: Rng;

  constructor(readonly corpus: Corpus, private readonly options: MineOptions = {}) {
    this.opts = resolveMineOptions(options);
    if (options.retriever) {
      if (options.index) throw new TypeError('give an index (BM25) or a retriever, not both');
      if (options.workers) throw new TypeError('workers search BM25 in parallel; they do not apply to a retriever');
      if (options.retriever.corpus !== corpus) throw new Error('the retriever searches another corpus object than the one mined');
      this.index = undefined;
    } else {
      this.index = options.index ?? Bm25Index.build(corpus.texts, { k1: options.k1, b: options.b });
      if (this.index.numDocs !== corpus.texts.length) {
        throw new Error(`the index holds ${this.index.numDocs} documents but the corpus ${corpus.texts.length}`);
      }
    }
    this.lookup = new CorpusLookup(corpus);
    this.groups = this.lookup.textGroups();
    this.rng = new Rng(this.opts.seed);
  }

  /** Mines every query, in input order; `stats` is updated as it goes. */
  async *mine(queries: AsyncIterable<QueryWithPositives> | Iterable<QueryWithPositives>, stats: MineStats = newMineStats()): AsyncGenerator<MinedGroup> {
    if (this.options.retriever) {
      yield* this.mineWithRetriever(this.options.retriever, queries, stats);
      return;
    }
    if (!this.options.reranker) {
      yield* this.mineWithBm25(queries, stats);
      return;
    }
    const chunkSize = Math.max(1, Math.floor(4096 / this.opts.retrieveK));
    let chunk: Prepared[] = [];
    for await (const q of queries as AsyncIterable<QueryWithPositives>) {
      stats.queries++;
      chunk.push(this.prepare(q));
      if (chunk.length >= chunkSize) {
        yield* this.finish(chunk, stats);
        chunk = [];
      }
    }
    if (chunk.length) yield* this.finish(chunk, stats);
  }

  // BM25 only: queries in chunks, each chunk searched on the worker threads (when they pay off), then the
  // negatives picked in input order, so the output is the same with or without workers.
  private async *mineWithBm25(queries: AsyncIterable<QueryWithPositives> | Iterable<QueryWithPositives>, stats: MineStats): AsyncGenerator<MinedGroup> {
    const workers: { pool: SearchPool | null } = { pool: null };
    const search = async (chunk: QueryWithPositives[]): Promise<Prepared[]> => {
      const count = this.options.index ? 0 : this.options.workers ?? searchWorkersFor(chunk.length);
      if (!workers.pool && count > 0) workers.pool = SearchPool.start(this.corpus.texts, count, { k1: this.options.k1, b: this.options.b });
      const prepared = chunk.map((q) => this.prepare(q, !workers.pool));
      if (workers.pool) {
        const hits = await workers.pool.search(chunk.map((q) => q.query), this.opts.rangeMax);
        prepared.forEach((p, i) => { p.ranked = hits[i]; });
      }
      return prepared;
    };
    try {
      let chunk: QueryWithPositives[] = [];
      for await (const q of queries as AsyncIterable<QueryWithPositives>) {
        stats.queries++;
        chunk.push(q);
        if (chunk.length >= SEARCH_CHUNK) {
          yield* this.finish(await search(chunk), stats);
          chunk = [];
        }
      }
      if (chunk.length) yield* this.finish(await search(chunk), stats);
    } finally {
      await workers.pool?.close();
    }
  }

  // Any first stage: queries in chunks searched together (one embedding batch for a dense retriever), then the
  // positives scored under it when margins or scores need them, then rescored and picked as with BM25.
  private async *mineWithRetriever(
    retriever: Retriever, queries: AsyncIterable<QueryWithPositives> | Iterable<QueryWithPositives>, stats: MineStats,
  ): AsyncGenerator<MinedGroup> {
    const k = this.options.reranker ? this.opts.retrieveK : this.opts.rangeMax;
    const chunkSize = this.options.reranker ? Math.max(1, Math.floor(4096 / k)) : 256;
    const search = async (chunk: QueryWithPositives[]): Promise<Prepared[]> => {
      const prepared = chunk.map((q) => this.prepare(q, false));
      const hits = await retriever.search(chunk.map((q) => q.query), k);
      for (const [i, p] of prepared.entries()) {
        p.ranked = hits[i];
        if (!this.options.reranker && this.needsPositiveScores()) p.positiveScores = await retriever.scoreTexts(p.q.query, p.positiveTexts, hits[i]);
      }
      return prepared;
    };
    let chunk: QueryWithPositives[] = [];
    for await (const q of queries as AsyncIterable<QueryWithPositives>) {
      stats.queries++;
      chunk.push(q);
      if (chunk.length >= chunkSize) {
        yield* this.finish(await search(chunk), stats);
        chunk = [];
      }
    }
    if (chunk.length) yield* this.finish(await search(chunk), stats);
  }

  private prepare(q: QueryWithPositives, search = true): Prepared {
    const positiveTexts: string[] = [];
    const positiveIndices = new Set<number>();
    const positiveGroups = new Set<number>();
    for (const p of q.positives) {
      let text = p.text;
      if (p.id !== undefined) {
        const i = this.lookup.indexOfId(p.id);
        if (i !== undefined) {
          positiveIndices.add(i);
          positiveGroups.add(this.groups[i]);
          text ??= this.corpus.texts[i];
        } else if (text === undefined) {
          throw new Error(`${q.where ?? 'query'}: positive id ${JSON.stringify(p.id)} is not in the corpus`);
        }
      }
      if (text === undefined) throw new Error(`${q.where ?? 'query'}: a positive needs an id or a text`);
      positiveTexts.push(text);
      for (const i of this.lookup.indicesOfText(text)) {
        positiveIndices.add(i);
        positiveGroups.add(this.groups[i]);
      }
    }
    const k = this.options.reranker ? this.opts.retrieveK : this.opts.rangeMax;
    const index = this.index;
    const ranked = search && index ? index.search(q.query, k) : [];
    const prepared: Prepared = { q, positiveTexts, positiveIndices: [...positiveIndices], positiveGroups, ranked };
    if (index && !this.options.reranker && this.needsPositiveScores()) {
      prepared.positiveScores = positiveTexts.map((t) => {
        const same = this.lookup.indicesOfText(t);
        return same.length ? index.scoreDocument(q.query, same[0]) : bm25ScoreText(index, q.query, t);
      });
    }
    return prepared;
  }

  private needsPositiveScores(): boolean {
    return this.opts.withScores || this.opts.margin !== undefined || this.opts.relativeMargin !== undefined;
  }

  private async *finish(chunk: Prepared[], stats: MineStats): AsyncGenerator<MinedGroup> {
    const model = this.options.reranker;
    if (model) {
      // Rescore each query's BM25 candidates (and its positives) with the cross-encoder, then rank by it.
      const pairs: [string, string][] = [];
      for (const p of chunk) {
        for (const h of p.ranked) pairs.push([p.q.query, this.corpus.texts[h.index]]);
        for (const t of p.positiveTexts) pairs.push([p.q.query, t]);
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
      if (g) yield g;
    }
  }

  private select(p: Prepared, stats: MineStats): MinedGroup | null {
    const { rangeMin, rangeMax, numNegatives, margin, relativeMargin } = this.opts;
    const posScore = p.positiveScores && p.positiveScores.length ? Math.min(...p.positiveScores) : undefined;
    const kept = new Set<number>();
    const eligible: { index: number; score: number; rank: number }[] = [];
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
      if (this.opts.sampling === 'top') chosen = eligible.slice(0, numNegatives);
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
    if (chosen.length < numNegatives) stats.short++;
    if (chosen.length === 0) {
      stats.skipped++;
      return null;
    }
    stats.written++;
    stats.negatives += chosen.length;
    const group: MinedGroup = {
      query: p.q.query,
      positives: p.positiveTexts,
      negatives: chosen.map((c) => this.corpus.texts[c.index]),
      negativeIndices: chosen.map((c) => c.index),
      negativeRanks: chosen.map((c) => c.rank),
    };
    if (p.q.qid !== undefined) group.qid = p.q.qid;
    if (this.opts.withScores) {
      group.posScores = p.positiveScores ?? [];
      group.negScores = chosen.map((c) => c.score);
    }
    return group;
  }
}

/** Mines in memory: the groups for `queries` over `corpus` (see HardNegativeMiner). */
export async function mineHardNegatives(
  queries: Iterable<QueryWithPositives> | AsyncIterable<QueryWithPositives>,
  corpus: Corpus,
  options: MineOptions = {},
): Promise<{ groups: MinedGroup[]; stats: MineStats }> {
  const start = process.hrtime.bigint();
  const stats = newMineStats();
  const groups: MinedGroup[] = [];
  for await (const g of new HardNegativeMiner(corpus, options).mine(queries, stats)) groups.push(g);
  stats.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { groups, stats };
}

/** One grouped JSONL line: {query, positives, negatives} (+ pos_scores/neg_scores). */
export function groupToJsonl(g: MinedGroup): string {
  const out: Record<string, unknown> = { query: g.query, positives: g.positives, negatives: g.negatives };
  if (g.posScores && g.negScores) {
    out.pos_scores = g.posScores;
    out.neg_scores = g.negScores;
  }
  return JSON.stringify(out) + '\n';
}

export interface MineFileOptions extends MineOptions {
  /** 'debdesc:train' (or another split) or a JSONL of {query, positives}/{query, pos}. */
  queries: string;
  /** 'debdesc[:split]' or a corpus file; default for debdesc queries: the queries' own split. */
  corpus?: string;
  output: string;
  /** Mine a seeded random sample of N queries (seed: options.seed). */
  maxQueries?: number;
  /** The first stage to build over the corpus once loaded (dense, hybrid; openRetriever's options); default BM25. */
  firstStage?: Omit<OpenRetrieverOptions, 'corpus'>;
  /** Called after each `progressEvery` queries (default 5000) and at the end. */
  onProgress?: (stats: MineStats) => void;
  progressEvery?: number;
}

/** The corpus a query spec defaults to: a debdesc split's own documents; files need --corpus. */
export function defaultCorpusFor(queries: string): string {
  if (isDebdescSpec(queries)) return queries === 'debdesc' ? 'debdesc:all' : queries;
  throw new Error(`--corpus is needed with a query file (${queries})`);
}

/** Streams queries from `queries`, mines, and writes grouped JSONL to `output` atomically. */
export async function mineToFile(options: MineFileOptions): Promise<MineStats & { corpus: string; corpusSize: number; indexSeconds: number; retriever: string }> {
  const start = process.hrtime.bigint();
  resolveMineOptions(options); // fail on bad options before loading anything
  if (options.maxQueries !== undefined) positiveInt(options.maxQueries, 'maxQueries');
  if (!isDebdescSpec(options.queries)) checkReadable(options.queries, 'queries');
  const corpusSpec = options.corpus ?? defaultCorpusFor(options.queries);
  const corpus = await loadCorpus(corpusSpec);
  const t0 = process.hrtime.bigint();
  if (options.firstStage && options.retriever) throw new TypeError('give firstStage or retriever, not both');
  const retriever = options.firstStage && options.firstStage.retriever !== 'bm25'
    ? await openRetriever({ ...options.firstStage, corpus, k1: options.k1, b: options.b }) : options.retriever;
  const miner = new HardNegativeMiner(corpus, { ...options, retriever });
  const indexSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const stats = newMineStats();
  const writer = new AtomicLineWriter(options.output);
  const every = options.progressEvery ?? 5000;
  try {
    // --max-queries mines a seeded uniform sample (files like debdesc are sorted, so the first N would be biased).
    const limited = async function* (): AsyncGenerator<QueryWithPositives> {
      if (options.maxQueries === undefined) {
        yield* readQueries(options.queries, { positives: 'text' });
        return;
      }
      const all: QueryWithPositives[] = [];
      for await (const q of readQueries(options.queries, { positives: 'text' })) all.push(q);
      for (const i of samplePositions(all.length, options.maxQueries, options.seed ?? 42)) yield all[i];
    };
    let lines: string[] = [];
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
    if (lines.length) await writer.write(lines.join(''));
    await writer.commit();
  } catch (err) {
    writer.abort();
    throw err;
  } finally {
    if (retriever && retriever !== options.retriever) await retriever.dispose();
  }
  stats.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  options.onProgress?.(stats);
  return { ...stats, corpus: corpus.name, corpusSize: corpus.texts.length, indexSeconds, retriever: retriever ? retriever.describe() : `bm25 (k1 ${miner.index?.k1}, b ${miner.index?.b})` };
}
