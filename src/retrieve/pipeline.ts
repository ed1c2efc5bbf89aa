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
import { Reranker, checkLongDocumentOptions, type LoadOptions, type LongDocumentScoreOptions } from '../model';
import type { Bm25Index } from './bm25';
import { corpusFromArray, type Corpus, type CorpusInput } from './corpus';
import type { Embedder } from './embedder';
import { Bm25Retriever, HybridRetriever, openRetriever, type HybridFusion, type Retriever, type RetrieverKind } from './retriever';
import type { VectorStorage } from './vector-index';
import type { VectorStore } from './vector-store';

export type Fusion = { method: 'linear'; weight: number } | { method: 'rrf'; k?: number };

export interface PipelineOptions {
  /** The documents: strings, `{id, text}` objects, or a Corpus from loadCorpus. */
  corpus: readonly CorpusInput[] | Corpus;
  /** A loaded Reranker (not disposed by the pipeline) or a model folder (loaded here, disposed by dispose()). */
  reranker: Reranker | string;
  /** The first stage: 'bm25' (default), 'dense', 'hybrid', or a Retriever built with openRetriever(). */
  retriever?: RetrieverKind | Retriever;
  /** dense / hybrid: an Embedder (not disposed by the pipeline) or a sentence-transformers folder / Hub id. */
  embedder?: Embedder | string;
  /** dense / hybrid: an index folder written by `rrtrain index` for this corpus (default: embed the corpus now). */
  index?: string;
  /** With index: 'exact' (default) or 'usearch'. */
  indexSearch?: 'exact' | 'usearch';
  /** dense / hybrid: a vector store already holding the corpus under its ids (e.g. LanceDbVectorStore). */
  store?: VectorStore;
  /** The exact index built here: 'fp32' (default) or 'fp16'. */
  storage?: VectorStorage;
  /** hybrid: RRF (default, k 60) or linear fusion of the BM25 and dense lists. */
  hybrid?: HybridFusion;
  /** BM25 parameters (defaults 0.9 and 0.4). */
  k1?: number;
  b?: number;
  /** When `reranker` is a folder: how to load it. */
  device?: LoadOptions['device'];
  maxLength?: number;
  dtype?: LoadOptions['dtype'];
  /** Pairs per forward pass (default 64). */
  batchSize?: number;
  /** Documents longer than the reranker's window: truncated (default) or chunked (Reranker.score's options). */
  longDocuments?: LongDocumentScoreOptions;
}

export interface PipelineSearchOptions {
  /** First-stage candidates passed to the reranker (default 100). */
  retrieveK?: number;
  /** Results returned (default 10). */
  topK?: number;
  /** Score fusion; absent: score = rerankScore. */
  fusion?: Fusion;
}

export interface PipelineHit {
  /** Position of the document in the corpus. */
  index: number;
  /** The document's id, when the corpus has ids. */
  id?: string;
  document: string;
  /** The first stage's score (BM25, the vector similarity, or the hybrid's fused score). */
  retrievalScore: number;
  /** 1-based rank in the first stage's list. */
  retrievalRank: number;
  /** BM25 and hybrid: the BM25 score and 1-based rank (hybrid: absent when BM25 did not find the document). */
  bm25Score?: number;
  bm25Rank?: number;
  /** Dense and hybrid: the vector similarity and its 1-based rank. */
  denseScore?: number;
  denseRank?: number;
  rerankScore: number;
  /** The final score the results are sorted by. */
  score: number;
}

export interface Pipeline {
  readonly corpus: Corpus;
  readonly retriever: Retriever;
  /** The BM25 index (bm25 and hybrid retrievers). */
  readonly index: Bm25Index | undefined;
  readonly reranker: Reranker;
  search(query: string, options?: PipelineSearchOptions): Promise<PipelineHit[]>;
  /** Frees the reranker, embedder and index if the pipeline loaded them. */
  dispose(): Promise<void>;
}

function isCorpus(c: unknown): c is Corpus {
  return typeof c === 'object' && c !== null && !Array.isArray(c) && Array.isArray((c as Corpus).texts) && Array.isArray((c as Corpus).ids);
}

/** Checks a fusion option; returns it with defaults filled in. */
export function checkFusion(fusion: unknown): Required<Fusion> | undefined {
  if (fusion === undefined || fusion === null) return undefined;
  if (typeof fusion !== 'object') throw new TypeError(`fusion must be {method: 'linear', weight} or {method: 'rrf', k?}, got ${typeof fusion}`);
  const f = fusion as { method?: unknown; weight?: unknown; k?: unknown };
  if (f.method === 'linear') {
    if (typeof f.weight !== 'number' || !(f.weight >= 0 && f.weight <= 1)) {
      throw new RangeError(`fusion.weight (the reranker's weight) must be a number in [0, 1], got ${String(f.weight)}`);
    }
    return { method: 'linear', weight: f.weight };
  }
  if (f.method === 'rrf') {
    const k = f.k ?? 60;
    if (typeof k !== 'number' || !(k >= 0) || !Number.isFinite(k)) throw new RangeError(`fusion.k must be a number >= 0, got ${String(k)}`);
    return { method: 'rrf', k };
  }
  throw new RangeError(`fusion.method must be 'linear' or 'rrf', got ${JSON.stringify(f.method)}`);
}

/** 'linear' (w 0.5), 'linear:0.3', 'rrf' (k 60), 'rrf:10' → a Fusion. */
export function parseFusion(spec: string): Fusion {
  const m = /^(linear|rrf)(?::(.+))?$/.exec(spec.trim());
  if (!m) throw new Error(`--fusion ${spec}: expected linear[:weight] or rrf[:k]`);
  const value = m[2] === undefined ? undefined : Number(m[2]);
  if (m[2] !== undefined && !Number.isFinite(value)) throw new Error(`--fusion ${spec}: ${m[2]} is not a number`);
  const fusion: Fusion = m[1] === 'linear' ? { method: 'linear', weight: value ?? 0.5 } : { method: 'rrf', k: value ?? 60 };
  checkFusion(fusion);
  return fusion;
}

/** A short name for a fusion, as in the tables: 'linear:0.5', 'rrf:60'. */
export function fusionName(fusion: Fusion): string {
  return fusion.method === 'linear' ? `linear:${fusion.weight}` : `rrf:${fusion.k ?? 60}`;
}

function minMax(values: readonly number[]): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo;
  return values.map((v) => (span > 0 ? (v - lo) / span : 1));
}

/**
 * Final scores for one query's candidates, given in the first stage's order (best first): plain reranking returns the
 * rerank scores; 'linear' and 'rrf' as in the file comment.
 */
export function fuseScores(bm25: readonly number[], rerank: readonly number[], fusion?: Fusion): number[] {
  if (bm25.length !== rerank.length) throw new RangeError(`fuseScores: ${bm25.length} first-stage scores but ${rerank.length} rerank scores`);
  const f = checkFusion(fusion);
  if (!f) return rerank.slice();
  if (f.method === 'linear') {
    const nb = minMax(bm25);
    const nr = minMax(rerank);
    return nb.map((b, i) => f.weight * nr[i] + (1 - f.weight) * b);
  }
  const n = rerank.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => rerank[b] - rerank[a] || a - b);
  const rerankRank = new Array<number>(n);
  order.forEach((i, r) => {
    rerankRank[i] = r + 1;
  });
  return rerankRank.map((rr, i) => 1 / (f.k + i + 1) + 1 / (f.k + rr));
}

/** Builds the first stage over `corpus` and loads the reranker (when given a folder). */
export async function pipeline(options: PipelineOptions): Promise<Pipeline> {
  if (typeof options !== 'object' || options === null) throw new TypeError('pipeline: options must be {corpus, reranker}');
  const corpus = isCorpus(options.corpus) ? options.corpus : corpusFromArray(options.corpus as readonly CorpusInput[]);
  if (corpus.texts.length === 0) throw new RangeError('pipeline: the corpus is empty');
  const batchSize = options.batchSize ?? 64;
  const long = checkLongDocumentOptions(options.longDocuments ?? {}, 'options.longDocuments');
  if (typeof options.reranker !== 'string' && !(options.reranker instanceof Reranker)) {
    throw new TypeError('pipeline: reranker must be a Reranker or a model folder path');
  }
  let retriever: Retriever;
  let ownedRetriever = false;
  if (options.retriever !== undefined && typeof options.retriever === 'object') {
    if (options.retriever.corpus !== corpus) throw new Error('pipeline: the retriever was built over another corpus object than options.corpus');
    retriever = options.retriever;
  } else {
    retriever = await openRetriever({
      retriever: options.retriever, corpus, embedder: options.embedder, index: options.index, indexSearch: options.indexSearch,
      store: options.store, storage: options.storage, hybrid: options.hybrid, k1: options.k1, b: options.b,
      device: options.device === 'cuda' ? 'cuda' : 'cpu',
    });
    ownedRetriever = true;
  }
  let reranker: Reranker;
  let owned = false;
  try {
    if (typeof options.reranker === 'string') {
      reranker = await Reranker.load(options.reranker, { device: options.device, maxLength: options.maxLength, dtype: options.dtype });
      owned = true;
    } else reranker = options.reranker;
  } catch (err) {
    if (ownedRetriever) await retriever.dispose();
    throw err;
  }
  const bm25Index = retriever instanceof Bm25Retriever ? retriever.index : retriever instanceof HybridRetriever ? retriever.bm25.index : undefined;
  let disposed = false;
  return {
    corpus,
    retriever,
    index: bm25Index,
    reranker,
    async search(query: string, searchOptions: PipelineSearchOptions = {}): Promise<PipelineHit[]> {
      if (disposed) throw new Error('this pipeline has been disposed');
      if (typeof query !== 'string') throw new TypeError(`query must be a string, got ${typeof query}`);
      const retrieveK = searchOptions.retrieveK ?? 100;
      const topK = searchOptions.topK ?? 10;
      if (!Number.isInteger(retrieveK) || retrieveK < 1) throw new RangeError(`retrieveK must be a positive integer, got ${retrieveK}`);
      if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`topK must be a positive integer, got ${topK}`);
      checkFusion(searchOptions.fusion);
      const [hits] = await retriever.search([query], retrieveK);
      if (hits.length === 0) return [];
      const rerank = await reranker.score(hits.map((h) => [query, corpus.texts[h.index]] as const), { batchSize, ...long });
      const final = fuseScores(hits.map((h) => h.score), rerank, searchOptions.fusion);
      const results: PipelineHit[] = hits.map((h, i) => {
        const hit: PipelineHit = {
          index: h.index,
          ...(corpus.hasIds ? { id: corpus.ids[h.index] } : {}),
          document: corpus.texts[h.index],
          retrievalScore: h.score,
          retrievalRank: i + 1,
          rerankScore: rerank[i],
          score: final[i],
        };
        if (retriever.kind === 'bm25') Object.assign(hit, { bm25Score: h.score, bm25Rank: i + 1 });
        if (retriever.kind === 'dense') Object.assign(hit, { denseScore: h.score, denseRank: i + 1 });
        if (h.bm25) Object.assign(hit, { bm25Score: h.bm25.score, bm25Rank: h.bm25.rank });
        if (h.dense) Object.assign(hit, { denseScore: h.dense.score, denseRank: h.dense.rank });
        return hit;
      });
      results.sort((a, b) => b.score - a.score || a.retrievalRank - b.retrievalRank);
      return results.slice(0, topK);
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      if (owned) reranker.dispose();
      if (ownedRetriever) await retriever.dispose();
    },
  };
}
