// rrnative's own vector indexes, both VectorStores: ExactIndex (every stored vector compared to each query in
// the addon, native/kernels/vector_index.h: exact, the default) and UsearchIndex (usearch's HNSW graph: approximate,
// sub-linear, for corpora past a few hundred thousand documents).
import { addon, type NativeVectorIndex } from '../native';
import { checkOneOf, checkPositiveInt, describe } from '../validate';
import { checkVectors, type VectorHit, type VectorMetric, type VectorStore } from './vector-store';

export type VectorStorage = 'fp32' | 'fp16';

export interface ExactIndexOptions {
  dimension: number;
  metric?: VectorMetric;
  /** 'fp32' (default), or 'fp16': half the memory, scores within ~1e-3 of fp32. */
  storage?: VectorStorage;
  /** Where the vectors live and the products run: 'cpu' (default) or 'cuda'. */
  device?: 'cpu' | 'cuda';
}

function checkIds(ids: unknown, known: Map<string, number>): string[] {
  if (!Array.isArray(ids)) throw new TypeError(`ids must be an array of strings, got ${describe(ids)}`);
  const fresh = new Set<string>();
  ids.forEach((id, i) => {
    if (typeof id !== 'string') throw new TypeError(`ids[${i}] must be a string, got ${describe(id)}`);
    if (known.has(id) || fresh.has(id)) throw new RangeError(`ids[${i}] '${id}' is already in the index: ids must be unique`);
    fresh.add(id);
  });
  return ids as string[];
}

function checkK(k: unknown): number {
  return checkPositiveInt(k, 'k');
}

/** IEEE half-precision bits → float32 values. */
export function halfToFloat(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) out[i] = sign * fraction * 2 ** -24;
    else if (exponent === 31) out[i] = fraction ? NaN : sign * Infinity;
    else out[i] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return out;
}

export class ExactIndex implements VectorStore {
  readonly dimension: number;
  readonly metric: VectorMetric;
  readonly storage: VectorStorage;
  private readonly native: NativeVectorIndex;
  private readonly ids: string[] = [];
  private readonly rowOf = new Map<string, number>();
  private closed = false;

  constructor(options: ExactIndexOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object with a dimension, got ${describe(options)}`);
    this.dimension = checkPositiveInt(options.dimension, 'options.dimension');
    this.metric = options.metric === undefined ? 'cosine' : checkOneOf(options.metric, 'options.metric', ['cosine', 'dot']);
    this.storage = options.storage === undefined ? 'fp32' : checkOneOf(options.storage, 'options.storage', ['fp32', 'fp16']);
    const device = options.device === undefined ? 'cpu' : checkOneOf(options.device, 'options.device', ['cpu', 'cuda']);
    this.native = addon().createVectorIndex({ dimension: this.dimension, metric: this.metric, storage: this.storage, device });
  }

  async count(): Promise<number> {
    return this.ids.length;
  }

  /** The id of each stored row, in row order. */
  get rowIds(): readonly string[] {
    return this.ids;
  }

  async add(ids: readonly string[], vectors: Float32Array): Promise<void> {
    this.checkOpen();
    const checked = checkIds(ids, this.rowOf);
    checkVectors(vectors, this.dimension, checked.length, 'vectors');
    this.reserve(checked);
    await this.native.add(vectors);
  }

  /** Adds rows read back from an index file: float32 values, or float16 bits (fp16 storage), unchecked values. */
  async addStored(ids: readonly string[], vectors: Float32Array | Uint16Array): Promise<void> {
    this.checkOpen();
    const checked = checkIds(ids, this.rowOf);
    if (vectors.length !== checked.length * this.dimension) {
      throw new RangeError(`the index file holds ${vectors.length / this.dimension} vectors for ${checked.length} ids`);
    }
    this.reserve(checked);
    await this.native.add(vectors);
  }

  async search(queries: Float32Array, k: number): Promise<VectorHit[][]> {
    this.checkOpen();
    checkVectors(queries, this.dimension, undefined, 'queries');
    const found = await this.native.search(queries, checkK(k));
    const out: VectorHit[][] = [];
    for (let q = 0; q < queries.length / this.dimension; q++) {
      const hits: VectorHit[] = [];
      for (let j = 0; j < found.k; j++) hits.push({ id: this.ids[found.rows[q * found.k + j]], score: found.scores[q * found.k + j] });
      out.push(hits);
    }
    return out;
  }

  /** The stored vectors as the index holds them (unit vectors for cosine; float16 bits for fp16). */
  stored(): Promise<Float32Array | Uint16Array> {
    this.checkOpen();
    return this.native.stored();
  }

  /** The stored vectors as float32 (fp16 storage widened). */
  async storedAsFloat32(): Promise<Float32Array> {
    const stored = await this.stored();
    return stored instanceof Float32Array ? stored : halfToFloat(stored);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.native.dispose();
  }

  private reserve(ids: readonly string[]): void {
    for (const id of ids) {
      this.rowOf.set(id, this.ids.length);
      this.ids.push(id);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('this index has been closed');
  }
}

export interface UsearchIndexOptions {
  dimension: number;
  metric?: VectorMetric;
  /** Stored scalars: 'fp32' (default) or 'fp16'. */
  storage?: VectorStorage;
  /** HNSW: links per node (default 16), candidates kept while adding (128) and searching (256; HNSW's ef, at least k in practice: 64 kept recall@100 at 0.83 on the bundled corpus, 256 at 0.93). */
  connectivity?: number;
  expansionAdd?: number;
  expansionSearch?: number;
  /** Threads for add() and search() (default: all cores; usearch's own pool). */
  threads?: number;
}

type UsearchModule = typeof import('usearch');

function usearch(): UsearchModule {
  return require('usearch') as UsearchModule;
}

/**
 * usearch's HNSW index. usearch keys are numbers: the key of a vector is its row (the order it was added in), and
 * `ids` maps rows back to document ids. Its distances are 1 − cosine ('cos') and 1 − dot ('ip'), turned back
 * into similarities here.
 */
export class UsearchIndex implements VectorStore {
  readonly dimension: number;
  readonly metric: VectorMetric;
  readonly storage: VectorStorage;
  private readonly index: InstanceType<UsearchModule['Index']>;
  private readonly ids: string[] = [];
  private readonly rowOf = new Map<string, number>();
  private readonly threads: number;
  private closed = false;

  constructor(options: UsearchIndexOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object with a dimension, got ${describe(options)}`);
    this.dimension = checkPositiveInt(options.dimension, 'options.dimension');
    this.metric = options.metric === undefined ? 'cosine' : checkOneOf(options.metric, 'options.metric', ['cosine', 'dot']);
    this.storage = options.storage === undefined ? 'fp32' : checkOneOf(options.storage, 'options.storage', ['fp32', 'fp16']);
    this.threads = options.threads === undefined ? 0 : checkPositiveInt(options.threads, 'options.threads');
    const connectivity = options.connectivity === undefined ? 16 : checkPositiveInt(options.connectivity, 'options.connectivity');
    const expansionAdd = options.expansionAdd === undefined ? 128 : checkPositiveInt(options.expansionAdd, 'options.expansionAdd');
    const expansionSearch = options.expansionSearch === undefined ? 256 : checkPositiveInt(options.expansionSearch, 'options.expansionSearch');
    const { Index, MetricKind, ScalarKind } = usearch();
    this.index = new Index({
      dimensions: this.dimension,
      metric: this.metric === 'cosine' ? MetricKind.Cos : MetricKind.IP,
      quantization: this.storage === 'fp16' ? ScalarKind.F16 : ScalarKind.F32,
      connectivity,
      expansion_add: expansionAdd,
      expansion_search: expansionSearch,
      multi: false,
    });
  }

  async count(): Promise<number> {
    return this.ids.length;
  }

  get rowIds(): readonly string[] {
    return this.ids;
  }

  async add(ids: readonly string[], vectors: Float32Array): Promise<void> {
    this.checkOpen();
    const checked = checkIds(ids, this.rowOf);
    checkVectors(vectors, this.dimension, checked.length, 'vectors');
    if (checked.length === 0) return;
    const keys = new BigUint64Array(checked.length);
    for (let i = 0; i < checked.length; i++) keys[i] = BigInt(this.ids.length + i);
    // A copy with byteOffset 0: usearch reads some typed arrays from their buffer's start.
    this.index.add(keys, vectors.byteOffset === 0 ? vectors : vectors.slice(), this.threads);
    for (const id of checked) {
      this.rowOf.set(id, this.ids.length);
      this.ids.push(id);
    }
  }

  async search(queries: Float32Array, k: number): Promise<VectorHit[][]> {
    this.checkOpen();
    checkVectors(queries, this.dimension, undefined, 'queries');
    checkK(k);
    const rows = queries.length / this.dimension;
    if (this.ids.length === 0) return Array.from({ length: rows }, () => []);
    const matrix = Array.from({ length: rows }, (_, q) => queries.slice(q * this.dimension, (q + 1) * this.dimension));
    const kept = Math.min(k, this.ids.length);
    const found = this.index.search(matrix, kept, this.threads) as { keys: BigUint64Array; distances: Float32Array; counts?: BigUint64Array; k?: number };
    // usearch answers one query with Matches (only the hits found) and several with BatchMatches (k slots each).
    const { counts, k: slots } = found;
    const lists = counts && slots !== undefined
      ? Array.from({ length: rows }, (_, q) => ({ start: q * slots, count: Number(counts[q]) }))
      : [{ start: 0, count: found.keys.length }];
    return lists.map(({ start, count }) => {
      const hits: VectorHit[] = [];
      for (let j = 0; j < count; j++) hits.push({ id: this.ids[Number(found.keys[start + j])], score: 1 - found.distances[start + j] });
      return hits;
    });
  }

  /** Writes usearch's index file (the graph and the vectors). */
  save(file: string): void {
    this.checkOpen();
    this.index.save(file);
  }

  /**
   * Reads an index file saved by save(), with the ids of its rows. `view`: memory-map the file instead of reading
   * it (read-only, pages loaded as searched).
   */
  static open(file: string, ids: readonly string[], options: UsearchIndexOptions & { view?: boolean }): UsearchIndex {
    const index = new UsearchIndex(options);
    if (options.view) index.index.view(file);
    else index.index.load(file);
    const size = index.index.size();
    if (size !== ids.length) throw new Error(`${file}: the usearch index holds ${size} vectors but ${ids.length} ids were given`);
    const dims = index.index.dimensions();
    if (dims !== index.dimension) throw new Error(`${file}: the usearch index has dimension ${dims}, expected ${index.dimension}`);
    checkIds(ids, index.rowOf).forEach((id, row) => {
      index.rowOf.set(id, row);
      index.ids.push(id);
    });
    return index;
  }

  async close(): Promise<void> {
    this.closed = true;  // usearch frees its memory when the object is collected
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('this index has been closed');
  }
}
