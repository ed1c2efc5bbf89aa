// Retrieve, then rerank: BM25 over an in-memory corpus picks `retrieveK` candidates, the cross-encoder
// scores them, and the results come back sorted by the final score.
//
// The final score is the reranker's raw logit (plain reranking, the default). Score fusion is an explicit
// option, computed over each query's retrieved candidates:
//   - { method: 'linear', weight: w }: score = w · norm(rerank) + (1 - w) · norm(bm25), where norm is min-max
//     normalisation over the candidates, (x - min) / (max - min); when all candidates share one score that
//     side normalises to 1 for all. w = 1 gives the reranker's order, w = 0 BM25's.
//   - { method: 'rrf', k = 60 }: reciprocal rank fusion, score = 1/(k + bm25Rank) + 1/(k + rerankRank),
//     ranks 1-based within the candidates (rerank ties broken by BM25 rank).
// Equal final scores keep BM25's order.
import { Reranker, checkLongDocumentOptions, type LoadOptions, type LongDocumentScoreOptions } from '../model';
import { Bm25Index } from './bm25';
import { corpusFromArray, type Corpus, type CorpusInput } from './corpus';

export type Fusion = { method: 'linear'; weight: number } | { method: 'rrf'; k?: number };

export interface PipelineOptions {
  /** The documents: strings, `{id, text}` objects, or a Corpus from loadCorpus. */
  corpus: readonly CorpusInput[] | Corpus;
  /** A loaded Reranker (not disposed by the pipeline) or a model folder (loaded here, disposed by dispose()). */
  reranker: Reranker | string;
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
  /** BM25 candidates passed to the reranker (default 100). */
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
  bm25Score: number;
  rerankScore: number;
  /** The final score the results are sorted by. */
  score: number;
  /** 1-based BM25 rank among the candidates. */
  bm25Rank: number;
}

export interface Pipeline {
  readonly corpus: Corpus;
  readonly index: Bm25Index;
  readonly reranker: Reranker;
  search(query: string, options?: PipelineSearchOptions): Promise<PipelineHit[]>;
  /** Frees the reranker if the pipeline loaded it. */
  dispose(): void;
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
 * Final scores for one query's candidates, given in BM25 order (best first): plain reranking returns the
 * rerank scores; 'linear' and 'rrf' as in the file comment.
 */
export function fuseScores(bm25: readonly number[], rerank: readonly number[], fusion?: Fusion): number[] {
  if (bm25.length !== rerank.length) throw new RangeError(`fuseScores: ${bm25.length} BM25 scores but ${rerank.length} rerank scores`);
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

/** Builds the BM25 index over `corpus` and loads the reranker (when given a folder). */
export async function pipeline(options: PipelineOptions): Promise<Pipeline> {
  if (typeof options !== 'object' || options === null) throw new TypeError('pipeline: options must be {corpus, reranker}');
  const corpus = isCorpus(options.corpus) ? options.corpus : corpusFromArray(options.corpus as readonly CorpusInput[]);
  if (corpus.texts.length === 0) throw new RangeError('pipeline: the corpus is empty');
  const index = Bm25Index.build(corpus.texts, { k1: options.k1, b: options.b });
  const batchSize = options.batchSize ?? 64;
  const long = checkLongDocumentOptions(options.longDocuments ?? {}, 'options.longDocuments');
  let reranker: Reranker;
  let owned = false;
  if (typeof options.reranker === 'string') {
    reranker = await Reranker.load(options.reranker, { device: options.device, maxLength: options.maxLength, dtype: options.dtype });
    owned = true;
  } else if (options.reranker instanceof Reranker) reranker = options.reranker;
  else throw new TypeError('pipeline: reranker must be a Reranker or a model folder path');
  let disposed = false;
  return {
    corpus,
    index,
    reranker,
    async search(query: string, searchOptions: PipelineSearchOptions = {}): Promise<PipelineHit[]> {
      if (disposed) throw new Error('this pipeline has been disposed');
      if (typeof query !== 'string') throw new TypeError(`query must be a string, got ${typeof query}`);
      const retrieveK = searchOptions.retrieveK ?? 100;
      const topK = searchOptions.topK ?? 10;
      if (!Number.isInteger(retrieveK) || retrieveK < 1) throw new RangeError(`retrieveK must be a positive integer, got ${retrieveK}`);
      if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`topK must be a positive integer, got ${topK}`);
      checkFusion(searchOptions.fusion);
      const hits = index.search(query, retrieveK);
      if (hits.length === 0) return [];
      const rerank = await reranker.score(hits.map((h) => [query, corpus.texts[h.index]] as const), { batchSize, ...long });
      const final = fuseScores(hits.map((h) => h.score), rerank, searchOptions.fusion);
      const results: PipelineHit[] = hits.map((h, i) => {
        const id = corpus.hasIds ? { id: corpus.ids[h.index] } : {};
        return {
          index: h.index,
          ...id,
          document: corpus.texts[h.index],
          bm25Score: h.score,
          rerankScore: rerank[i],
          score: final[i],
          bm25Rank: i + 1,
        };
      });
      results.sort((a, b) => b.score - a.score || a.bm25Rank - b.bm25Rank);
      return results.slice(0, topK);
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      if (owned) reranker.dispose();
    },
  };
}
