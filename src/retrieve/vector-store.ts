// The interface a first-stage vector search implements, so the pipeline, search, mining and evaluation run the
// same over rrnative's own indexes (the exact index in the addon, usearch's HNSW) and over a vector database the
// user already runs (src/retrieve/lancedb.ts; Elasticsearch/OpenSearch kNN, Qdrant or pgvector fit the same
// shape: add vectors under ids, search with query vectors, close).

/** How vectors are compared: cosine similarity, or the dot product (for unit vectors, the same order). */
export type VectorMetric = 'cosine' | 'dot';

/** One hit of a vector search: a document id and its similarity (higher is closer). */
export interface VectorHit {
  id: string;
  score: number;
}

export interface VectorStore {
  /** The vectors' width. */
  readonly dimension: number;
  readonly metric: VectorMetric;
  /** Vectors stored so far. */
  count(): Promise<number>;
  /**
   * Adds `ids.length` vectors, row-major in `vectors` (ids.length × dimension). An id already stored is an error
   * in rrnative's own indexes; an external store keeps whatever its engine does (documented per adapter).
   */
  add(ids: readonly string[], vectors: Float32Array): Promise<void>;
  /** The `k` closest stored vectors to each query (row-major, queries × dimension), closest first. */
  search(queries: Float32Array, k: number): Promise<VectorHit[][]>;
  /** Releases what the store holds open (files, connections, native memory). */
  close(): Promise<void>;
}

/** Checks the argument shapes every store takes; names the argument. */
export function checkVectors(vectors: unknown, dimension: number, rows: number | undefined, what: string): Float32Array {
  if (!(vectors instanceof Float32Array)) throw new TypeError(`${what} must be a Float32Array, got ${vectors === null ? 'null' : typeof vectors}`);
  if (vectors.length % dimension !== 0) {
    throw new RangeError(`${what} has ${vectors.length} values, not a multiple of the dimension ${dimension}`);
  }
  if (rows !== undefined && vectors.length !== rows * dimension) {
    throw new RangeError(`${what} has ${vectors.length / dimension} rows of ${dimension}, expected ${rows} (one per id)`);
  }
  for (let i = 0; i < vectors.length; i++) {
    if (!Number.isFinite(vectors[i])) throw new RangeError(`${what}[${i}] is ${vectors[i]}: vectors must be finite`);
  }
  return vectors;
}
