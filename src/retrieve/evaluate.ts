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
import { samplePositions } from '../data/rng';
import { Reranker, checkLongDocumentOptions, type Device, type LongDocumentScoreOptions } from '../model';
import type { NativeDtype } from '../native';
import { Bm25Index } from './bm25';
import {
  CorpusLookup,
  corpusFromArray,
  isDebdescSpec,
  loadCorpus,
  readQueries,
  resolveRelevant,
  type Corpus,
  type CorpusInput,
  type QueryWithPositives,
} from './corpus';
import { checkFusion, fuseScores, fusionName, parseFusion, type Fusion } from './pipeline';
import { Bm25Retriever, HybridRetriever, openRetriever, type OpenRetrieverOptions, type Retriever, type RetrieverKind } from './retriever';

/** Means over queries: 'mrr@10', 'ndcg@10', 'recall@10', 'recall@<retrieveK>', and the query count. */
export type RetrievalMetrics = { 'mrr@10': number; 'ndcg@10': number; queries: number } & { [key: `recall@${number}`]: number };

export interface EvaluateRetrievalOptions {
  /** First-stage candidates per query (default 100). */
  retrieveK?: number;
  /** The first stage, over the same corpus (default: BM25 over it, with index or k1/b). */
  retriever?: Retriever;
  /** Reranks the candidates; without it only the first stage is evaluated. */
  reranker?: Reranker;
  /** Adds a fused ordering (needs a reranker). */
  fusion?: Fusion;
  /** Pairs per forward pass (default 64). */
  batchSize?: number;
  /** Documents longer than the reranker's window: truncated (default) or chunked (Reranker.score's options). */
  longDocuments?: LongDocumentScoreOptions;
  /** A prebuilt index over the corpus; else built with k1/b. */
  index?: Bm25Index;
  k1?: number;
  b?: number;
  /** Called after each chunk of queries is scored. */
  onProgress?: (done: number, total: number) => void;
}

export interface RetrievalEvaluation {
  retrieveK: number;
  queries: number;
  /** Which first stage: 'bm25', 'dense' or 'hybrid'. */
  retriever: RetrieverKind;
  /** The first stage's own ordering. */
  firstStage: RetrievalMetrics;
  model?: RetrievalMetrics;
  fusion?: RetrievalMetrics;
}

/** One query's ordering of candidates (corpus indices, best first) against its relevant set. */
export function queryMetrics(ranked: readonly number[], relevant: ReadonlySet<number>, totalRelevant: number, ks: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  let rr = 0;
  let dcg = 0;
  for (let r = 0; r < Math.min(10, ranked.length); r++) {
    if (relevant.has(ranked[r])) {
      if (rr === 0) rr = 1 / (r + 1);
      dcg += 1 / Math.log2(r + 2);
    }
  }
  let idcg = 0;
  for (let r = 0; r < Math.min(10, totalRelevant); r++) idcg += 1 / Math.log2(r + 2);
  out['mrr@10'] = rr;
  out['ndcg@10'] = idcg > 0 ? dcg / idcg : 0;
  for (const k of ks) {
    let found = 0;
    for (let r = 0; r < Math.min(k, ranked.length); r++) if (relevant.has(ranked[r])) found++;
    out[`recall@${k}`] = totalRelevant > 0 ? found / totalRelevant : 0;
  }
  return out;
}

class MeanAccumulator {
  private sums: Record<string, number> = {};
  n = 0;
  add(m: Record<string, number>): void {
    this.n++;
    for (const [k, v] of Object.entries(m)) this.sums[k] = (this.sums[k] ?? 0) + v;
  }
  means(keys: readonly string[]): RetrievalMetrics {
    const out: Record<string, number> = {};
    for (const k of keys) out[k] = this.n ? (this.sums[k] ?? 0) / this.n : NaN;
    out.queries = this.n;
    return out as RetrievalMetrics;
  }
}

function metricKeys(retrieveK: number): string[] {
  const ks = retrieveK === 10 ? [10] : [10, retrieveK];
  return ['mrr@10', 'ndcg@10', ...ks.map((k) => `recall@${k}`)];
}

/** Order of candidates (positions in `hits`) by `scores` descending, ties by first-stage rank. */
function orderBy(scores: readonly number[]): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
}

/**
 * Evaluates the first stage (and the reranker, and a fusion) on in-memory queries over a corpus (strings, {id, text}
 * objects or a Corpus). A query's positives are `{id}` / `{text}` refs (see corpus.ts).
 */
export async function evaluateRetrieval(
  queries: readonly QueryWithPositives[],
  corpusInput: Corpus | readonly CorpusInput[],
  options: EvaluateRetrievalOptions = {},
): Promise<RetrievalEvaluation> {
  const corpus: Corpus = Array.isArray(corpusInput) ? corpusFromArray(corpusInput as readonly CorpusInput[]) : (corpusInput as Corpus);
  const retrieveK = options.retrieveK ?? 100;
  if (!Number.isInteger(retrieveK) || retrieveK < 1) throw new RangeError(`retrieveK must be a positive integer, got ${retrieveK}`);
  const fusion = checkFusion(options.fusion);
  if (fusion && !options.reranker) throw new Error('fusion needs a reranker');
  const batchSize = options.batchSize ?? 64;
  const long = checkLongDocumentOptions(options.longDocuments ?? {}, 'options.longDocuments');
  if (options.retriever && options.index) throw new TypeError('give an index (BM25) or a retriever, not both');
  if (options.retriever && options.retriever.corpus !== corpus) throw new Error('the retriever searches another corpus object than the one evaluated');
  const retriever = options.retriever ?? new Bm25Retriever(corpus, options.index ?? Bm25Index.build(corpus.texts, { k1: options.k1, b: options.b }));
  const lookup = new CorpusLookup(corpus);
  const keys = metricKeys(retrieveK);
  const ks = keys.filter((k) => k.startsWith('recall@')).map((k) => Number(k.slice(7)));
  const acc = { firstStage: new MeanAccumulator(), model: new MeanAccumulator(), fusion: new MeanAccumulator() };
  const chunkSize = options.reranker ? Math.max(1, Math.floor(4096 / retrieveK)) : 256;
  for (let start = 0; start < queries.length; start += chunkSize) {
    const slice = queries.slice(start, start + chunkSize);
    const found = await retriever.search(slice.map((q) => q.query), retrieveK);
    const chunk = slice.map((q, i) => {
      const rel = resolveRelevant(q, lookup);
      return { q, relevant: new Set(rel.indices), total: rel.totalRelevant, hits: found[i] };
    });
    let scores: number[] = [];
    if (options.reranker) {
      const pairs = chunk.flatMap((c) => c.hits.map((h) => [c.q.query, corpus.texts[h.index]] as [string, string]));
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
          const fused = fuseScores(c.hits.map((h) => h.score), rerank, fusion);
          acc.fusion.add(queryMetrics(orderBy(fused).map((i) => docs[i]), c.relevant, c.total, ks));
        }
      }
    }
    options.onProgress?.(Math.min(start + chunkSize, queries.length), queries.length);
  }
  const result: RetrievalEvaluation = { retrieveK, queries: queries.length, retriever: retriever.kind, firstStage: acc.firstStage.means(keys) };
  if (options.reranker) result.model = acc.model.means(keys);
  if (fusion) result.fusion = acc.fusion.means(keys);
  return result;
}

/** A seeded uniform sample of `n` of `total` positions, ascending (all of them when n >= total). */

export interface RunRetrievalEvalOptions {
  /** 'debdesc:dev' (or another split) or a JSONL of {query, positives} (ids or texts of corpus documents). */
  queries: string;
  /** 'debdesc[:split]' or a corpus file; default for debdesc queries: 'debdesc:all' (every document). */
  corpus?: string;
  /** A model folder or a loaded Reranker; without it only the first stage is evaluated. */
  model?: string | Reranker;
  retrieveK?: number;
  /** Evaluate a seeded sample of this many queries. */
  maxQueries?: number;
  /** Seed of that sample (default 42). */
  seed?: number;
  /** A Fusion or its CLI form ('linear:0.5', 'rrf'). */
  fusion?: Fusion | string;
  batchSize?: number;
  longDocuments?: LongDocumentScoreOptions;
  maxLength?: number;
  device?: Device;
  /** Weights / products of the loaded model (LoadOptions.dtype). */
  dtype?: NativeDtype;
  k1?: number;
  b?: number;
  /** The first stage (dense, hybrid; openRetriever's options); default BM25. */
  firstStage?: Omit<OpenRetrieverOptions, 'corpus'>;
  onProgress?: (done: number, total: number) => void;
}

export interface RetrievalEvalRow {
  /** Display name: 'MRR@10', 'NDCG@10', 'Recall@10', 'Recall@100'. */
  metric: string;
  /** Metric key: 'mrr@10', … */
  key: string;
  /** One value per column. */
  values: number[];
}

export interface RetrievalEvalReport {
  queriesSource: string;
  corpus: string;
  corpusSize: number;
  /** Queries evaluated. */
  queries: number;
  /** Queries in the source. */
  totalQueries: number;
  /** The sample, when maxQueries cut the set. */
  sample: { size: number; seed: number } | null;
  retrieveK: number;
  /** The first stage, described: 'bm25 (k1 0.9, b 0.4)', 'dense (E, exact fp32 cosine)', … */
  retriever: string;
  /** BM25's parameters (bm25 and hybrid retrievers). */
  k1: number | null;
  b: number | null;
  model: string | null;
  fusion: string | null;
  /** Column names: the first stage's ('BM25', 'dense', 'hybrid'), then 'model' and the fusion's name when present. */
  columns: string[];
  /** Metrics per column name. */
  metrics: Record<string, RetrievalMetrics>;
  rows: RetrievalEvalRow[];
  seconds: number;
}

const DISPLAY: Record<string, string> = { 'mrr@10': 'MRR@10', 'ndcg@10': 'NDCG@10' };
const FIRST_STAGE_COLUMN: Record<RetrieverKind, string> = { bm25: 'BM25', dense: 'dense', hybrid: 'hybrid' };

function bm25Of(retriever: Retriever): Bm25Index | undefined {
  if (retriever instanceof Bm25Retriever) return retriever.index;
  if (retriever instanceof HybridRetriever) return retriever.bm25.index;
  return undefined;
}

/** Loads the queries and corpus, evaluates, and returns the table (format it with formatRetrievalEval). */
export async function runRetrievalEval(options: RunRetrievalEvalOptions): Promise<RetrievalEvalReport> {
  const start = process.hrtime.bigint();
  const fusion = typeof options.fusion === 'string' ? parseFusion(options.fusion) : checkFusion(options.fusion);
  if (fusion && !options.model) throw new Error('--fusion needs --model (it fuses the first stage with the reranker)');
  const seed = options.seed ?? 42;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (options.maxQueries !== undefined && !(Number.isInteger(options.maxQueries) && options.maxQueries > 0)) {
    throw new RangeError(`maxQueries must be a positive integer, got ${options.maxQueries}`);
  }
  let corpusSpec = options.corpus;
  if (corpusSpec === undefined) {
    if (!isDebdescSpec(options.queries)) throw new Error(`--corpus is needed with a query file (${options.queries})`);
    corpusSpec = 'debdesc:all';
  }
  const corpus = await loadCorpus(corpusSpec);
  const lookup = new CorpusLookup(corpus);
  const all: QueryWithPositives[] = [];
  for await (const q of readQueries(options.queries, { positives: 'id-or-text', lookup })) all.push(q);
  if (all.length === 0) throw new Error(`${options.queries}: no queries`);
  const positions = samplePositions(all.length, options.maxQueries, seed);
  const queries = positions.map((i) => all[i]);
  const retriever = await openRetriever({ ...options.firstStage, corpus, k1: options.k1, b: options.b });
  let reranker: Reranker | undefined;
  let owned = false;
  let evaluation: RetrievalEvaluation;
  try {
    if (typeof options.model === 'string') {
      reranker = await Reranker.load(options.model, { maxLength: options.maxLength, device: options.device, dtype: options.dtype });
      owned = true;
    } else reranker = options.model;
    evaluation = await evaluateRetrieval(queries, corpus, {
      retrieveK: options.retrieveK,
      retriever,
      reranker,
      fusion,
      batchSize: options.batchSize,
      longDocuments: options.longDocuments,
      onProgress: options.onProgress,
    });
  } finally {
    if (owned) reranker?.dispose();
    await retriever.dispose();
  }
  const firstColumn = FIRST_STAGE_COLUMN[evaluation.retriever];
  const columns = [firstColumn];
  const metrics: Record<string, RetrievalMetrics> = { [firstColumn]: evaluation.firstStage };
  if (evaluation.model) {
    columns.push('model');
    metrics.model = evaluation.model;
  }
  if (evaluation.fusion && fusion) {
    const name = fusionName(fusion);
    columns.push(name);
    metrics[name] = evaluation.fusion;
  }
  const rows = metricKeys(evaluation.retrieveK).map((key) => ({
    metric: DISPLAY[key] ?? `Recall@${key.slice(7)}`,
    key,
    values: columns.map((c) => (metrics[c] as Record<string, number>)[key]),
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
    fusion: fusion ? fusionName(fusion) : null,
    columns,
    metrics,
    rows,
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
  };
}

/** The report as a readable table. */
export function formatRetrievalEval(report: RetrievalEvalReport): string {
  const lines: string[] = [];
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
