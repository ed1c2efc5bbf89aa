// LanceDB behind rrnative's VectorStore interface (LanceDbVectorStore: an embedded folder, object storage or a
// db:// LanceDB Cloud/Enterprise URI, the same API), and an rrnative cross-encoder as a LanceDB reranker
// (RrnativeLanceReranker, for `table.query().nearestTo(v).fullTextSearch(q).rerank(...)`). Both load
// `@lancedb/lancedb` / `apache-arrow` only when used: they are optional, not rrnative dependencies.
//
// Another engine plugs in the same way: a class implementing VectorStore (vector-store.ts) whose `add` writes
// (id, vector) rows and whose `search` runs the engine's kNN query per query row and returns {id, score} with
// higher = closer, converting the engine's distance if it reports one. Elasticsearch/OpenSearch: a
// `dense_vector` / `knn_vector` field with `similarity: cosine | dot_product` (`space_type: cosinesimil |
// innerproduct`), bulk-index `{_id, vector}`, search with a `knn` query, note their `_score` is a rescaled
// similarity ((1 + cos) / 2 for cosine) to map back. Qdrant: a collection with `distance: Cosine | Dot`, upsert
// points (ids are UUIDs or integers: keep the string id in the payload), `query` returns similarities as is.
// pgvector: a `vector(d)` column, ORDER BY `<=>` (cosine distance: score = 1 − d) or `<#>` (negated inner
// product: score = −d) LIMIT k. `count` is the engine's row count; `close` ends the client/pool.
import path from 'node:path';
import type * as Arrow from 'apache-arrow';
import type { ScoreOptions } from '../model';
import { checkOneOf, checkPositiveInt, checkString, describe, type Pair } from '../validate';
import { checkVectors, type VectorHit, type VectorMetric, type VectorStore } from './vector-store';

type LanceModule = typeof import('@lancedb/lancedb');
type LanceConnection = import('@lancedb/lancedb').Connection;
type LanceTable = import('@lancedb/lancedb').Table;
type ArrowModule = typeof import('apache-arrow');

const INSTALL_HINT = 'npm install @lancedb/lancedb apache-arrow';

function isMissing(err: unknown, name: string): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${name}'`);
}

function lancedb(): LanceModule {
  try {
    return require('@lancedb/lancedb') as LanceModule;
  } catch (err) {
    if (isMissing(err, '@lancedb/lancedb')) {
      throw new Error(`LanceDbVectorStore needs the @lancedb/lancedb package, which is not installed: ${INSTALL_HINT}`, { cause: err });
    }
    throw err;
  }
}

let arrowModule: ArrowModule | undefined;

/**
 * apache-arrow as @lancedb/lancedb itself resolves it (a peer dependency, but a nested copy would be a second
 * module instance, and Arrow checks `instanceof RecordBatch` when LanceDB serializes a reranker's result).
 */
function arrow(): ArrowModule {
  if (arrowModule) return arrowModule;
  let from: string[] | undefined;
  try {
    from = [path.dirname(require.resolve('@lancedb/lancedb'))];
  } catch {
    from = undefined;  // no LanceDB: the apache-arrow rrnative itself resolves
  }
  try {
    arrowModule = require(require.resolve('apache-arrow', from ? { paths: from } : undefined)) as ArrowModule;
  } catch (err) {
    if (isMissing(err, 'apache-arrow')) throw new Error(`the LanceDB adapter needs the apache-arrow package, which is not installed: ${INSTALL_HINT}`, { cause: err });
    throw err;
  }
  return arrowModule;
}

// ---------------------------------------------------------------------------------------------------------
// LanceDbVectorStore

export interface LanceDbVectorStoreOptions {
  /** A folder (embedded LanceDB), an object-storage URI (s3://, gs://, az://) or a db:// LanceDB Cloud URI. */
  uri: string;
  /** The table's name. */
  table: string;
  /** The vectors' width; required when the table does not exist yet, else checked against (or read from) it. */
  dimension?: number;
  /** 'cosine' (default) or 'dot': the distance type of every query. LanceDB does not store one with the table. */
  metric?: VectorMetric;
  /** The column holding the document ids (default 'id'): strings written by add(), any type read by search(). */
  idColumn?: string;
  /** The column holding the vectors (default 'vector'): a fixed-size list of float32 (or float64). */
  vectorColumn?: string;
  /** Create the table on the first add() when it does not exist (default true); false: open() fails instead. */
  create?: boolean;
  /** Passed to LanceDB's connect(): apiKey, region, hostOverride (db://), storageOptions, … */
  connectOptions?: Record<string, unknown>;
  /** How many of a search()'s queries run at once (default 8). */
  concurrency?: number;
}

/**
 * A LanceDB table as a VectorStore. Each search() query row is one LanceDB vector query with the store's
 * distance type; LanceDB reports distances, turned back into similarities here: its cosine distance is 1 − cos
 * and its dot distance 1 − dot, so the score is 1 − distance for both. A vector index on the table, when there
 * is one, is used (approximate results) and must have been built with the same distance type.
 *
 * add() appends (id, vector) rows: LanceDB does not enforce unique ids, so an id added twice is stored twice (and
 * can come back twice). A table with further columns takes rows without them only when those columns are
 * nullable. The table is created on the first add() (id: utf8, vector: fixed_size_list<float32>[dimension]).
 */
export class LanceDbVectorStore implements VectorStore {
  readonly dimension: number;
  readonly metric: VectorMetric;
  readonly uri: string;
  readonly tableName: string;
  readonly idColumn: string;
  readonly vectorColumn: string;
  private readonly lance: LanceModule;
  private readonly connection: LanceConnection;
  private table: LanceTable | undefined;
  private readonly concurrency: number;
  private creating: Promise<void> | undefined;
  private closed = false;

  private constructor(init: {
    lance: LanceModule; connection: LanceConnection; table: LanceTable | undefined; uri: string; tableName: string;
    dimension: number; metric: VectorMetric; idColumn: string; vectorColumn: string; concurrency: number;
  }) {
    this.lance = init.lance;
    this.connection = init.connection;
    this.table = init.table;
    this.uri = init.uri;
    this.tableName = init.tableName;
    this.dimension = init.dimension;
    this.metric = init.metric;
    this.idColumn = init.idColumn;
    this.vectorColumn = init.vectorColumn;
    this.concurrency = init.concurrency;
  }

  /** Connects to `uri` and opens `table` (or prepares to create it on the first add()). */
  static async open(options: LanceDbVectorStoreOptions): Promise<LanceDbVectorStore> {
    if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object with a uri and a table, got ${describe(options)}`);
    const uri = checkString(options.uri, 'options.uri');
    const tableName = checkString(options.table, 'options.table');
    let dimension = options.dimension === undefined ? undefined : checkPositiveInt(options.dimension, 'options.dimension');
    const metric = options.metric === undefined ? 'cosine' : checkOneOf(options.metric, 'options.metric', ['cosine', 'dot']);
    const idColumn = options.idColumn === undefined ? 'id' : checkString(options.idColumn, 'options.idColumn');
    const vectorColumn = options.vectorColumn === undefined ? 'vector' : checkString(options.vectorColumn, 'options.vectorColumn');
    if (idColumn === vectorColumn) throw new RangeError(`options.idColumn and options.vectorColumn are both '${idColumn}': they must differ`);
    const create = options.create === undefined ? true : options.create;
    if (typeof create !== 'boolean') throw new TypeError(`options.create must be a boolean, got ${describe(create)}`);
    const connectOptions = options.connectOptions === undefined ? {} : options.connectOptions;
    if (connectOptions === null || typeof connectOptions !== 'object' || Array.isArray(connectOptions)) {
      throw new TypeError(`options.connectOptions must be an object, got ${describe(connectOptions)}`);
    }
    const concurrency = options.concurrency === undefined ? 8 : checkPositiveInt(options.concurrency, 'options.concurrency');

    const lance = lancedb();
    const connection = await lance.connect(uri, connectOptions);
    let table: LanceTable | undefined;
    try {
      const names = await connection.tableNames();
      if (names.includes(tableName)) {
        table = await connection.openTable(tableName);
        const stored = LanceDbVectorStore.checkSchema(await table.schema(), tableName, idColumn, vectorColumn);
        if (dimension !== undefined && dimension !== stored) {
          throw new RangeError(`LanceDB table '${tableName}' holds ${stored}-dimensional vectors in '${vectorColumn}', but options.dimension is ${dimension}`);
        }
        dimension = stored;
      } else if (!create) {
        throw new Error(`LanceDB table '${tableName}' does not exist at ${uri} (options.create is false)`);
      } else if (dimension === undefined) {
        throw new TypeError(`options.dimension is required: LanceDB table '${tableName}' does not exist yet at ${uri}, and is created by the first add()`);
      }
    } catch (err) {
      table?.close();
      connection.close();
      throw err;
    }
    return new LanceDbVectorStore({ lance, connection, table, uri, tableName, dimension, metric, idColumn, vectorColumn, concurrency });
  }

  /** Checks an existing table has the id and vector columns; returns the vectors' dimension. */
  private static checkSchema(schema: Arrow.Schema, tableName: string, idColumn: string, vectorColumn: string): number {
    const columns = schema.fields.map((f) => `'${f.name}'`).join(', ');
    const id = schema.fields.find((f) => f.name === idColumn);
    if (!id) throw new Error(`LanceDB table '${tableName}' has no id column '${idColumn}' (options.idColumn); its columns: ${columns}`);
    const vector = schema.fields.find((f) => f.name === vectorColumn);
    if (!vector) throw new Error(`LanceDB table '${tableName}' has no vector column '${vectorColumn}' (options.vectorColumn); its columns: ${columns}`);
    const { DataType } = arrow();
    const type = vector.type as Arrow.DataType;
    if (!DataType.isFixedSizeList(type) || !DataType.isFloat(type.children[0].type)) {
      throw new TypeError(`LanceDB table '${tableName}': column '${vectorColumn}' is ${String(type)}, not a fixed-size list of floats (a vector column)`);
    }
    return type.listSize;
  }

  async count(): Promise<number> {
    this.checkOpen();
    return this.table ? this.table.countRows() : 0;
  }

  async add(ids: readonly string[], vectors: Float32Array): Promise<void> {
    this.checkOpen();
    if (!Array.isArray(ids)) throw new TypeError(`ids must be an array of strings, got ${describe(ids)}`);
    ids.forEach((id, i) => {
      if (typeof id !== 'string') throw new TypeError(`ids[${i}] must be a string, got ${describe(id)}`);
    });
    checkVectors(vectors, this.dimension, ids.length, 'vectors');
    if (ids.length === 0) return;
    if (!this.table && this.creating) await this.creating.catch(() => undefined);
    if (this.table) {
      await this.table.add(this.rows(ids, vectors, await this.table.schema()));
      return;
    }
    // The first add() creates the table; a concurrent add() waits for it (above), then appends.
    const data = this.rows(ids, vectors, undefined);
    this.creating = (async () => {
      this.table = await this.connection.createTable(this.tableName, data, { mode: 'create' });
    })();
    try {
      await this.creating;
    } finally {
      this.creating = undefined;
    }
  }

  /** The rows of add() as an Arrow table, with the existing table's types for the two columns (when given). */
  private rows(ids: readonly string[], vectors: Float32Array, schema: Arrow.Schema | undefined): Arrow.Table {
    const a = arrow();
    const existing = (name: string) => schema?.fields.find((f) => f.name === name);
    const idField = existing(this.idColumn) ?? new a.Field(this.idColumn, new a.Utf8(), false);
    if (!a.DataType.isUtf8(idField.type) && !a.DataType.isLargeUtf8(idField.type)) {
      throw new TypeError(`LanceDB table '${this.tableName}': id column '${this.idColumn}' is ${String(idField.type)}; add() writes string ids`);
    }
    const vectorField = existing(this.vectorColumn)
      ?? new a.Field(this.vectorColumn, new a.FixedSizeList(this.dimension, new a.Field('item', new a.Float32(), true)), false);
    const listType = vectorField.type as Arrow.FixedSizeList;
    const childType = listType.children[0].type as Arrow.Float;
    let values: Float32Array | Float64Array;
    if (a.DataType.isFloat(childType) && childType.precision === a.Precision.SINGLE) values = vectors;
    else if (a.DataType.isFloat(childType) && childType.precision === a.Precision.DOUBLE) values = Float64Array.from(vectors);
    else throw new TypeError(`LanceDB table '${this.tableName}': vector column '${this.vectorColumn}' holds ${String(childType)}; add() writes float32 or float64`);
    const child = a.makeData({ type: childType, length: values.length, nullCount: 0, data: values });
    const vectorData = a.makeData({ type: listType, length: ids.length, nullCount: 0, child });
    const idData = a.vectorFromArray(ids as string[], idField.type as Arrow.Utf8).data[0];
    const fields = [idField, vectorField];
    const batchSchema = new a.Schema(fields);
    const struct = a.makeData({ type: new a.Struct(fields), length: ids.length, nullCount: 0, children: [idData, vectorData] });
    return new a.Table(new a.RecordBatch(batchSchema, struct));
  }

  async search(queries: Float32Array, k: number): Promise<VectorHit[][]> {
    this.checkOpen();
    checkVectors(queries, this.dimension, undefined, 'queries');
    checkPositiveInt(k, 'k');
    const rows = queries.length / this.dimension;
    const out: VectorHit[][] = new Array(rows);
    const table = this.table;
    if (!table) return Array.from({ length: rows }, () => []);
    let next = 0;
    const worker = async () => {
      while (next < rows) {
        const q = next++;
        out[q] = await this.searchOne(table, queries.subarray(q * this.dimension, (q + 1) * this.dimension), k);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, rows) }, worker));
    return out;
  }

  private async searchOne(table: LanceTable, query: Float32Array, k: number): Promise<VectorHit[]> {
    const result = await table.vectorSearch(Float32Array.from(query)).column(this.vectorColumn).distanceType(this.metric)
      .select([this.idColumn, '_distance']).limit(k).toArrow();
    const ids = result.getChild(this.idColumn);
    const distances = result.getChild('_distance');
    const hits: VectorHit[] = [];
    if (!ids || !distances) return hits;
    for (let i = 0; i < result.numRows; i++) {
      // LanceDB's distances: cosine 1 − cos, dot 1 − dot (l2 is not offered: no similarity to map it to).
      hits.push({ id: String(ids.get(i)), score: 1 - Number(distances.get(i)) });
    }
    return hits;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.creating?.catch(() => undefined);
    this.table?.close();
    this.connection.close();
  }

  /** The LanceDB table (undefined until the first add() creates it), for queries beyond VectorStore's. */
  get lanceTable(): LanceTable | undefined {
    return this.table;
  }

  /** The @lancedb/lancedb module the store loaded. */
  get lanceModule(): LanceModule {
    return this.lance;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('this LanceDbVectorStore has been closed');
  }
}

// ---------------------------------------------------------------------------------------------------------
// RrnativeLanceReranker

/** What the reranker needs of a model: rrnative's Reranker (load()) fits. */
export interface CrossEncoderLike {
  score(pairs: readonly Pair[], options?: ScoreOptions): Promise<number[]>;
}

export interface RrnativeLanceRerankerOptions {
  /** The cross-encoder, e.g. `await rrnative.load(dir)`. */
  model: CrossEncoderLike;
  /** The text column scored against the query (default 'text'). */
  column?: string;
  /**
   * 'relevance' (default): the results keep `_relevance_score` only, dropping LanceDB's `_distance` and `_score`
   * (as LanceDB's own rerankers do); 'all': those are kept too (null where a row came from the other search).
   */
  returnScore?: 'relevance' | 'all';
  /** Passed to model.score(): batchSize, activation ('sigmoid'), longDocuments, … */
  scoreOptions?: ScoreOptions;
}

/** Record batches, or an Arrow table (what `query.toArrow()` returns), as reranker input. */
type Rows = Arrow.RecordBatch | Arrow.Table;

/**
 * An rrnative cross-encoder as a LanceDB reranker: `table.query().nearestTo(vector).fullTextSearch(text)
 * .rerank(new RrnativeLanceReranker({ model }))`. LanceDB (JS) calls rerankHybrid() with the vector and the
 * full-text results (normalized `_distance` / `_score`, and `_rowid`); the rows are merged (deduplicated by
 * `_rowid`, or by the text when there is none), each (query, text) pair scored, and the rows returned sorted by
 * `_relevance_score` (float32, the model's score) descending. LanceDB then applies the query's limit. A row whose
 * text is null or empty gets −Infinity. rerankVector() and rerankFts() rerank one search's results
 * (`await table.search(v).limit(50).toArrow()`): LanceDB's JS query builder calls only rerankHybrid().
 */
export class RrnativeLanceReranker {
  readonly column: string;
  readonly returnScore: 'relevance' | 'all';
  private readonly model: CrossEncoderLike;
  private readonly scoreOptions: ScoreOptions;

  constructor(options: RrnativeLanceRerankerOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object with a model, got ${describe(options)}`);
    const model = options.model as CrossEncoderLike | undefined;
    if (model === null || typeof model !== 'object' || typeof model.score !== 'function') {
      throw new TypeError(`options.model must be a cross-encoder with a score(pairs) method (rrnative.load(dir)), got ${describe(model)}`);
    }
    this.model = model;
    this.column = options.column === undefined ? 'text' : checkString(options.column, 'options.column');
    this.returnScore = options.returnScore === undefined ? 'relevance' : checkOneOf(options.returnScore, 'options.returnScore', ['relevance', 'all']);
    const scoreOptions = options.scoreOptions === undefined ? {} : options.scoreOptions;
    if (scoreOptions === null || typeof scoreOptions !== 'object') throw new TypeError(`options.scoreOptions must be an object, got ${describe(scoreOptions)}`);
    this.scoreOptions = scoreOptions;
  }

  /** LanceDB's Reranker contract: the merged vector and full-text results, by `_relevance_score` descending. */
  rerankHybrid(query: string, vecResults: Arrow.RecordBatch | null, ftsResults: Arrow.RecordBatch | null): Promise<Arrow.RecordBatch> {
    return this.rerank(query, [vecResults, ftsResults]);
  }

  /** One vector search's results, reranked. */
  rerankVector(query: string, vecResults: Rows | null): Promise<Arrow.RecordBatch> {
    return this.rerank(query, [vecResults]);
  }

  /** One full-text search's results, reranked. */
  rerankFts(query: string, ftsResults: Rows | null): Promise<Arrow.RecordBatch> {
    return this.rerank(query, [ftsResults]);
  }

  private async rerank(query: string, inputs: (Rows | null | undefined)[]): Promise<Arrow.RecordBatch> {
    checkString(query, 'query');
    const a = arrow();
    const sources = inputs.filter((s): s is Rows => s !== null && s !== undefined);
    if (sources.length === 0) throw new TypeError('rerank: no results to rerank (every input is null)');
    sources.forEach((s, i) => {
      if (!s || typeof s !== 'object' || !s.schema || typeof s.getChild !== 'function') {
        throw new TypeError(`rerank: input ${i} must be an Arrow RecordBatch or Table, got ${describe(s)}`);
      }
    });

    // The output columns: every input's, by name, first type seen (nullable where an input lacks one).
    const drop = new Set(['_relevance_score', ...(this.returnScore === 'relevance' ? ['_distance', '_score'] : [])]);
    const fields: Arrow.Field[] = [];
    const seen = new Map<string, number>();
    for (const s of sources) {
      for (const f of s.schema.fields) {
        if (drop.has(f.name) || seen.has(f.name)) continue;
        seen.set(f.name, fields.length);
        fields.push(f);
      }
    }
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      if (!f.nullable && sources.some((s) => s.numRows > 0 && !s.schema.fields.some((g) => g.name === f.name))) {
        fields[i] = new a.Field(f.name, f.type, true, f.metadata);
      }
    }
    if (!sources.some((s) => s.schema.fields.some((f) => f.name === this.column))) {
      throw new Error(`rerank: the results have no column '${this.column}' (options.column) to score; their columns: `
        + `${[...new Set(sources.flatMap((s) => s.schema.fields.map((f) => `'${f.name}'`)))].join(', ')}`);
    }

    // The rows, merged: the first occurrence of each _rowid (or text) wins, in input order.
    const rows: { source: Rows; row: number }[] = [];
    const useRowId = sources.some((s) => s.schema.fields.some((f) => f.name === '_rowid'));
    const keyColumn = useRowId ? '_rowid' : this.column;
    const keys = new Set<unknown>();
    for (const source of sources) {
      const keyVector = source.getChild(keyColumn);
      for (let row = 0; row < source.numRows; row++) {
        const key = keyVector?.get(row);
        if (key !== null && key !== undefined) {
          if (keys.has(key)) continue;
          keys.add(key);
        }
        rows.push({ source, row });
      }
    }

    // Score what has text; rows without it go last.
    const scores = new Float32Array(rows.length).fill(-Infinity);
    const pairs: [string, string][] = [];
    const scored: number[] = [];
    rows.forEach(({ source, row }, i) => {
      const text = source.getChild(this.column)?.get(row);
      if (text === null || text === undefined || text === '') return;
      if (typeof text !== 'string') throw new TypeError(`rerank: column '${this.column}' holds ${describe(text)} (row ${row}), not text`);
      pairs.push([query, text]);
      scored.push(i);
    });
    if (pairs.length > 0) {
      const out = await this.model.score(pairs, this.scoreOptions);
      if (!Array.isArray(out) || out.length !== pairs.length) {
        throw new Error(`rerank: model.score() returned ${Array.isArray(out) ? out.length : describe(out)} scores for ${pairs.length} pairs`);
      }
      scored.forEach((i, j) => { scores[i] = out[j]; });
    }
    const order = rows.map((_, i) => i).sort((x, y) => scores[y] - scores[x] || x - y);

    // Gather the columns in that order, then append _relevance_score.
    const children: Arrow.Data[] = fields.map((field) => {
      const builder = a.makeBuilder({ type: field.type, nullValues: [null, undefined] });
      const columns = new Map<Rows, Arrow.Vector | null>();
      for (const i of order) {
        const { source, row } = rows[i];
        let vector = columns.get(source);
        if (vector === undefined) {
          vector = source.getChild(field.name);
          columns.set(source, vector);
        }
        builder.append(vector ? plain(a, vector.get(row)) : null);
      }
      return builder.finish().toVector().data[0];
    });
    const scoreField = new a.Field('_relevance_score', new a.Float32(), true);
    const sorted = Float32Array.from(order, (i) => scores[i]);
    children.push(a.makeData({ type: scoreField.type, length: sorted.length, nullCount: 0, data: sorted }));
    const allFields = [...fields, scoreField];
    const schema = new a.Schema(allFields, sources[0].schema.metadata);
    return new a.RecordBatch(schema, a.makeData({ type: new a.Struct(allFields), length: order.length, nullCount: 0, children }));
  }
}

/** An Arrow cell as a value its type's builder takes back: nested vectors and rows as arrays and objects. */
function plain(a: ArrowModule, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof a.Vector) {
    const t = value.type as Arrow.DataType;
    return a.DataType.isFloat(t) || a.DataType.isInt(t) ? value.toArray() : Array.from(value, (v) => plain(a, v));
  }
  if (value instanceof a.MapRow) {
    return new Map(Array.from(value as Iterable<[unknown, unknown]>, ([k, v]) => [plain(a, k), plain(a, v)]));
  }
  if (value instanceof a.StructRow) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries((value as Arrow.StructRow).toJSON())) out[k] = plain(a, v);
    return out;
  }
  return value;
}
