// The first stage, behind one interface, so the pipeline, `rrtrain search`, mining and retrieval evaluation run
// the same with any of them:
//   - bm25:   the in-memory BM25 index (bm25.ts);
//   - dense:  an embedding model (embedder.ts) over a VectorStore: the addon's exact index by default, an index
//             folder written by `rrtrain index` (exact or usearch), or an external store (lancedb.ts);
//   - hybrid: both, fused. Reciprocal rank fusion as Elasticsearch documents it: each list is cut to its top
//             `window` (default: the k asked for), score = Σ 1 / (k_rrf + rank) over the lists a document is in,
//             ranks 1-based, k_rrf = 60; or linear fusion: each list min-max normalised over its window, a
//             document absent from a list gets 0 from it, score = w · dense + (1 − w) · bm25.
//
// Dense prompts follow sentence-transformers' encode_query / encode_document: queries get the folder's "query"
// prompt, documents its "document" (else "passage", else "corpus") prompt. Every folder has "query" and
// "document" (empty unless set, as in sentence-transformers 6), so a folder's default prompt never applies here.
import type { Corpus } from './corpus';
import { CorpusLookup } from './corpus';
import { Bm25Index, bm25ScoreText } from './bm25';
import type { Embedder } from './embedder';
import { openIndexFolder, type IndexMetadata } from './index-file';
import { ExactIndex, type VectorStorage } from './vector-index';
import type { VectorMetric, VectorStore } from './vector-store';
import { checkPositiveInt } from '../validate';

export type RetrieverKind = 'bm25' | 'dense' | 'hybrid';
export const RETRIEVER_KINDS: readonly RetrieverKind[] = ['bm25', 'dense', 'hybrid'];

/** How hybrid retrieval fuses its two lists: RRF (k default 60) or linear (w: the dense list's weight). */
export type HybridFusion = { method: 'rrf'; k?: number; window?: number } | { method: 'linear'; weight: number; window?: number };

/** One first-stage hit: a corpus position and its score under the retriever (higher is better). */
export interface RetrievalHit {
  index: number;
  score: number;
  /** Hybrid: the document's BM25 and dense scores and 1-based ranks, where it was in that list. */
  bm25?: { score: number; rank: number };
  dense?: { score: number; rank: number };
}

export interface Retriever {
  readonly kind: RetrieverKind;
  readonly corpus: Corpus;
  /** The best `k` corpus documents for each query, best first. */
  search(queries: readonly string[], k: number): Promise<RetrievalHit[][]>;
  /**
   * The scores this retriever gives `texts` for `query` (which need not be corpus documents): mining's margins
   * compare negatives with the positives under it. `hits` is the query's search result (hybrid reads ranks there).
   */
  scoreTexts(query: string, texts: readonly string[], hits: readonly RetrievalHit[]): Promise<number[]>;
  /** One line for logs and reports: 'bm25 (k1 0.9, b 0.4)', 'dense (E, exact fp32 cosine)'. */
  describe(): string;
  /** Frees what the retriever loaded itself (not an embedder or store it was given). */
  dispose(): Promise<void>;
}

export class Bm25Retriever implements Retriever {
  readonly kind = 'bm25' as const;
  private readonly lookup: CorpusLookup;

  constructor(readonly corpus: Corpus, readonly index: Bm25Index = Bm25Index.build(corpus.texts)) {
    if (index.numDocs !== corpus.texts.length) throw new Error(`the BM25 index holds ${index.numDocs} documents but the corpus ${corpus.texts.length}`);
    this.lookup = new CorpusLookup(corpus);
  }

  async search(queries: readonly string[], k: number): Promise<RetrievalHit[][]> {
    return queries.map((q) => this.index.search(q, k));
  }

  async scoreTexts(query: string, texts: readonly string[]): Promise<number[]> {
    return texts.map((t) => {
      const same = this.lookup.indicesOfText(t);
      return same.length ? this.index.scoreDocument(query, same[0]) : bm25ScoreText(this.index, query, t);
    });
  }

  describe(): string {
    return `bm25 (k1 ${this.index.k1}, b ${this.index.b})`;
  }

  async dispose(): Promise<void> {}
}

/** The embedder's query and document prompts, chosen as sentence-transformers' encode_query / encode_document do. */
export function densePrompts(embedder: Embedder): { query: string; document: string } {
  const prompts = embedder.folder.prompts;
  const documentName = ['document', 'passage', 'corpus'].find((name) => prompts[name] !== undefined);
  return { query: prompts.query ?? '', document: documentName !== undefined ? prompts[documentName] : '' };
}

/** The vector metric the embedder's similarity_fn_name asks for; euclidean and manhattan have no index here. */
export function embedderMetric(embedder: Embedder): VectorMetric {
  const similarity = embedder.similarity;
  if (similarity === 'cosine' || similarity === 'dot') return similarity;
  throw new Error(`${embedder.folder.rootDir}: config_sentence_transformers.json similarity_fn_name is "${similarity}"; rrnative's indexes compare by cosine or dot`);
}

export interface EmbedCorpusOptions {
  /** Texts per forward (default 32). */
  batchSize?: number;
  /** Called after each block of documents with the count done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** Documents embedded per call: enough for length-sorted batches, small enough for steady progress. */
const EMBED_BLOCK = 2048;

/** Embeds the corpus's documents (with the document prompt) into `store`, under the corpus's ids. */
export async function embedCorpus(embedder: Embedder, corpus: Corpus, store: VectorStore, options: EmbedCorpusOptions = {}): Promise<void> {
  const prompt = densePrompts(embedder).document;
  const total = corpus.texts.length;
  for (let start = 0; start < total; start += EMBED_BLOCK) {
    const end = Math.min(total, start + EMBED_BLOCK);
    const vectors = await embedder.embed(corpus.texts.slice(start, end), { prompt, batchSize: options.batchSize });
    await store.add(corpus.ids.slice(start, end), vectors);
    options.onProgress?.(end, total);
  }
}

export interface DenseRetrieverOptions {
  /** A store already holding the corpus under its ids (an index folder, an external database). Default: the
   *  corpus embedded here into the addon's exact index. */
  store?: VectorStore;
  /** An index folder written by `rrtrain index` for this corpus and embedder (refused when stale). */
  indexDir?: string;
  /** With indexDir: 'exact' (default) or 'usearch' (the saved HNSW graph). */
  search?: 'exact' | 'usearch';
  /** The exact index built here: 'fp32' (default) or 'fp16'. */
  storage?: VectorStorage;
  device?: 'cpu' | 'cuda';
  /** Texts per forward (default 32). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export class DenseRetriever implements Retriever {
  readonly kind = 'dense' as const;
  private readonly indexOfId = new Map<string, number>();

  private constructor(
    readonly corpus: Corpus,
    readonly embedder: Embedder,
    readonly store: VectorStore,
    private readonly owned: boolean,
    private readonly batchSize: number | undefined,
    private readonly label: string,
    readonly indexMeta?: IndexMetadata,
  ) {
    corpus.ids.forEach((id, i) => this.indexOfId.set(id, i));
  }

  /** A dense retriever over `corpus`: the given store or index folder, or the corpus embedded now. */
  static async create(corpus: Corpus, embedder: Embedder, options: DenseRetrieverOptions = {}): Promise<DenseRetriever> {
    const batchSize = options.batchSize === undefined ? undefined : checkPositiveInt(options.batchSize, 'batchSize');
    if (options.store && options.indexDir) throw new TypeError('give a store or an indexDir, not both');
    const metric = embedderMetric(embedder);
    if (options.store) {
      const stored = await options.store.count();
      if (options.store.dimension !== embedder.dimension) {
        throw new RangeError(`the vector store has dimension ${options.store.dimension} but the embedder gives ${embedder.dimension}`);
      }
      if (stored !== corpus.texts.length) throw new RangeError(`the vector store holds ${stored} vectors but the corpus ${corpus.texts.length} documents`);
      return new DenseRetriever(corpus, embedder, options.store, false, batchSize, `dense (${embedder.name}, ${options.store.constructor.name} ${options.store.metric})`);
    }
    if (options.indexDir) {
      const { store, meta } = await openIndexFolder(options.indexDir, {
        corpus, embedder, search: options.search, device: options.device, documentPrompt: densePrompts(embedder).document,
      });
      const how = options.search === 'usearch' ? 'usearch' : 'exact';
      return new DenseRetriever(corpus, embedder, store, true, batchSize, `dense (${embedder.name}, ${options.indexDir}: ${how} ${meta.storage} ${meta.metric})`, meta);
    }
    const store = new ExactIndex({ dimension: embedder.dimension, metric, storage: options.storage, device: options.device });
    try {
      await embedCorpus(embedder, corpus, store, { batchSize, onProgress: options.onProgress });
    } catch (err) {
      await store.close();
      throw err;
    }
    return new DenseRetriever(corpus, embedder, store, true, batchSize, `dense (${embedder.name}, exact ${store.storage} ${metric})`);
  }

  async search(queries: readonly string[], k: number): Promise<RetrievalHit[][]> {
    checkPositiveInt(k, 'k');
    if (queries.length === 0) return [];
    const vectors = await this.embedder.embed(queries, { prompt: densePrompts(this.embedder).query, batchSize: this.batchSize });
    const found = await this.store.search(vectors, Math.min(k, this.corpus.texts.length));
    return found.map((hits) => hits.map((h) => {
      const index = this.indexOfId.get(h.id);
      if (index === undefined) throw new Error(`the vector store returned id ${JSON.stringify(h.id)}, which is not in corpus ${this.corpus.name}`);
      return { index, score: h.score };
    }));
  }

  async scoreTexts(query: string, texts: readonly string[]): Promise<number[]> {
    if (texts.length === 0) return [];
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

  describe(): string {
    return this.label;
  }

  async dispose(): Promise<void> {
    if (this.owned) await this.store.close();
  }
}

/** Checks a hybrid fusion option; returns it with defaults filled in. */
export function checkHybridFusion(fusion: unknown): HybridFusion {
  if (fusion === undefined || fusion === null) return { method: 'rrf', k: 60 };
  if (typeof fusion !== 'object') throw new TypeError(`hybrid must be {method: 'rrf', k?} or {method: 'linear', weight}, got ${typeof fusion}`);
  const f = fusion as { method?: unknown; weight?: unknown; k?: unknown; window?: unknown };
  const window = f.window === undefined ? undefined : checkPositiveInt(f.window, 'hybrid.window');
  if (f.method === 'rrf') {
    const k = f.k ?? 60;
    if (typeof k !== 'number' || !(k >= 0) || !Number.isFinite(k)) throw new RangeError(`hybrid.k must be a number >= 0, got ${String(k)}`);
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
export function parseHybridFusion(spec: string, option = '--hybrid'): HybridFusion {
  const m = /^(linear|rrf)(?::(.+))?$/.exec(spec.trim());
  if (!m) throw new Error(`${option} ${spec}: expected rrf[:k] or linear[:weight]`);
  const value = m[2] === undefined ? undefined : Number(m[2]);
  if (m[2] !== undefined && !Number.isFinite(value)) throw new Error(`${option} ${spec}: ${m[2]} is not a number`);
  return checkHybridFusion(m[1] === 'rrf' ? { method: 'rrf', k: value ?? 60 } : { method: 'linear', weight: value ?? 0.5 });
}

function minMaxOf(hits: readonly RetrievalHit[]): (score: number) => number {
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
export function fuseLists(bm25: readonly RetrievalHit[], dense: readonly RetrievalHit[], fusion: HybridFusion): RetrievalHit[] {
  const f = checkHybridFusion(fusion);
  const merged = new Map<number, RetrievalHit>();
  const entry = (index: number): RetrievalHit => {
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
  const best = (h: RetrievalHit): number => Math.min(h.bm25?.rank ?? Infinity, h.dense?.rank ?? Infinity);
  return [...merged.values()].sort((a, b) => b.score - a.score || best(a) - best(b) || a.index - b.index);
}

export class HybridRetriever implements Retriever {
  readonly kind = 'hybrid' as const;
  readonly fusion: HybridFusion;
  private readonly lookup: CorpusLookup;

  constructor(readonly bm25: Bm25Retriever, readonly dense: DenseRetriever, fusion?: HybridFusion) {
    if (bm25.corpus !== dense.corpus) throw new Error('hybrid: the BM25 and dense retrievers must search the same corpus');
    this.fusion = checkHybridFusion(fusion);
    this.lookup = new CorpusLookup(bm25.corpus);
  }

  get corpus(): Corpus {
    return this.bm25.corpus;
  }

  async search(queries: readonly string[], k: number): Promise<RetrievalHit[][]> {
    checkPositiveInt(k, 'k');
    const window = Math.max(k, this.fusion.window ?? k);
    const [lexical, semantic] = [await this.bm25.search(queries, window), await this.dense.search(queries, window)];
    return queries.map((_, q) => fuseLists(lexical[q], semantic[q], this.fusion).slice(0, k));
  }

  /**
   * A text's fused score: a corpus document takes its score in `hits`; any other text gets what it would score
   * at its BM25 and dense positions among the query's hits (nothing from a list it would not enter).
   */
  async scoreTexts(query: string, texts: readonly string[], hits: readonly RetrievalHit[]): Promise<number[]> {
    const lookup = this.lookup;
    const [bm25Scores, denseScores] = [await this.bm25.scoreTexts(query, texts), await this.dense.scoreTexts(query, texts)];
    const lexical = hits.filter((h) => h.bm25).map((h) => h.bm25!.score).sort((a, b) => b - a);
    const semantic = hits.filter((h) => h.dense).map((h) => h.dense!.score).sort((a, b) => b - a);
    return texts.map((t, i) => {
      const inHits = lookup.indicesOfText(t).map((index) => hits.find((h) => h.index === index)).find((h) => h !== undefined);
      if (inHits) return inHits.score;
      const side = (list: number[], score: number): number | undefined => {
        const rank = list.filter((s) => s > score).length + 1;
        return rank <= list.length ? rank : undefined;
      };
      const br = side(lexical, bm25Scores[i]);
      const dr = side(semantic, denseScores[i]);
      if (this.fusion.method === 'rrf') {
        const k = this.fusion.k ?? 60;
        return (br ? 1 / (k + br) : 0) + (dr ? 1 / (k + dr) : 0);
      }
      const norm = (list: number[], s: number): number => {
        const span = list[0] - list[list.length - 1];
        return span > 0 ? Math.min(1, (s - list[list.length - 1]) / span) : 1;
      };
      return (br ? (1 - this.fusion.weight) * norm(lexical, bm25Scores[i]) : 0) + (dr ? this.fusion.weight * norm(semantic, denseScores[i]) : 0);
    });
  }

  describe(): string {
    const how = this.fusion.method === 'rrf' ? `rrf k ${this.fusion.k ?? 60}` : `linear, dense weight ${this.fusion.weight}`;
    return `hybrid (${how}) of ${this.bm25.describe()} and ${this.dense.describe()}`;
  }

  async dispose(): Promise<void> {
    await this.dense.dispose();
  }
}

export interface OpenRetrieverOptions {
  /** 'bm25' (default), 'dense' or 'hybrid'. */
  retriever?: RetrieverKind;
  corpus: Corpus;
  /** dense / hybrid: an Embedder (not disposed here) or a sentence-transformers folder or Hub id (loaded here). */
  embedder?: Embedder | string;
  /** dense / hybrid: an index folder from `rrtrain index` (default: the corpus is embedded now). */
  index?: string;
  /** With index: 'exact' (default) or 'usearch'. */
  indexSearch?: 'exact' | 'usearch';
  /** dense / hybrid: a vector store already holding the corpus (an external database). */
  store?: VectorStore;
  /** The exact index built when there is no index folder: 'fp32' (default) or 'fp16'. */
  storage?: VectorStorage;
  /** hybrid: how the two lists are fused (default RRF, k 60). */
  hybrid?: HybridFusion;
  /** A prebuilt BM25 index over the corpus. */
  bm25Index?: Bm25Index;
  k1?: number;
  b?: number;
  device?: 'cpu' | 'cuda';
  /** When `embedder` is a folder: tokens per text. */
  embedderMaxLength?: number;
  /** Texts per embedding forward. */
  embedBatchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Builds the first stage the options ask for; dispose() frees what it loaded (the embedder too, when given by name). */
export async function openRetriever(options: OpenRetrieverOptions): Promise<Retriever> {
  const kind = options.retriever ?? 'bm25';
  if (!RETRIEVER_KINDS.includes(kind)) throw new RangeError(`retriever must be one of ${RETRIEVER_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  const bm25 = (): Bm25Retriever => new Bm25Retriever(options.corpus, options.bm25Index ?? Bm25Index.build(options.corpus.texts, { k1: options.k1, b: options.b }));
  if (kind === 'bm25') {
    for (const key of ['embedder', 'index', 'store'] as const) {
      if (options[key] !== undefined) throw new TypeError(`${key} is set but the retriever is bm25; use retriever 'dense' or 'hybrid'`);
    }
    return bm25();
  }
  if (options.embedder === undefined) throw new TypeError(`retriever '${kind}' needs an embedder (a sentence-transformers folder or Hub id)`);
  if (kind === 'dense' && options.hybrid !== undefined) throw new TypeError("hybrid (the fusion) is set but the retriever is 'dense'");
  let embedder: Embedder;
  let ownedEmbedder = false;
  if (typeof options.embedder === 'string') {
    const { Embedder: EmbedderClass } = await import('./embedder');
    embedder = await EmbedderClass.load(options.embedder, { device: options.device, maxLength: options.embedderMaxLength });
    ownedEmbedder = true;
  } else embedder = options.embedder;
  let dense: DenseRetriever;
  try {
    dense = await DenseRetriever.create(options.corpus, embedder, {
      store: options.store, indexDir: options.index, search: options.indexSearch, storage: options.storage, device: options.device,
      batchSize: options.embedBatchSize, onProgress: options.onProgress,
    });
  } catch (err) {
    if (ownedEmbedder) embedder.dispose();
    throw err;
  }
  const retriever: Retriever = kind === 'dense' ? dense : new HybridRetriever(bm25(), dense, options.hybrid);
  if (!ownedEmbedder) return retriever;
  const dispose = retriever.dispose.bind(retriever);
  retriever.dispose = async () => {
    await dispose();
    embedder.dispose();
  };
  return retriever;
}
