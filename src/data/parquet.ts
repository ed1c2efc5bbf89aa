// Parquet files as a data source, read with hyparquet (+ hyparquet-compressors for zstd, gzip, brotli, lz4):
// the footer once, then one row group at a time, only the columns the format needs, so a multi-gigabyte shard
// is never in memory whole and a `max_records` run stops before the row groups it does not need.
//
// hyparquet is ESM only and this package builds to CommonJS: it is loaded with a real dynamic import (the
// Function below keeps TypeScript from turning `import()` into `require()`), and its few types are declared here.

interface AsyncBuffer {
  byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
}

interface SchemaElement {
  name: string;
}

interface FileMetaData {
  num_rows: bigint;
  row_groups: { num_rows: bigint }[];
}

interface SchemaTree {
  element: SchemaElement;
  children: SchemaTree[];
}

interface Hyparquet {
  asyncBufferFromFile(file: string): Promise<AsyncBuffer>;
  parquetMetadataAsync(file: AsyncBuffer): Promise<FileMetaData>;
  parquetSchema(metadata: FileMetaData): SchemaTree;
  parquetReadObjects(options: {
    file: AsyncBuffer; metadata: FileMetaData; rowStart: number; rowEnd: number; columns?: string[]; compressors?: unknown;
  }): Promise<Record<string, unknown>[]>;
}

const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

let loaded: Promise<{ hyparquet: Hyparquet; compressors: unknown }> | null = null;

function load(): Promise<{ hyparquet: Hyparquet; compressors: unknown }> {
  loaded ??= Promise.all([importEsm('hyparquet'), importEsm('hyparquet-compressors')]).then(([hyparquet, extra]) => ({
    hyparquet: hyparquet as Hyparquet,
    compressors: (extra as { compressors: unknown }).compressors,
  }));
  return loaded;
}

/** An opened Parquet file: its top-level columns and row groups, read on demand. */
export class ParquetFile {
  private constructor(
    readonly file: string,
    readonly columns: string[],
    readonly rows: number,
    private readonly groupSizes: number[],
    private readonly buffer: AsyncBuffer,
    private readonly metadata: FileMetaData,
    private readonly lib: { hyparquet: Hyparquet; compressors: unknown },
  ) {}

  /** Reads the footer. A file that is not Parquet, or cut short, throws `file: not a Parquet file (…)`. */
  static async open(file: string): Promise<ParquetFile> {
    const lib = await load();
    let buffer: AsyncBuffer;
    try {
      buffer = await lib.hyparquet.asyncBufferFromFile(file);
    } catch (err) {
      throw new Error(`${file}: cannot read (${(err as Error).message})`);
    }
    let metadata: FileMetaData;
    try {
      metadata = await lib.hyparquet.parquetMetadataAsync(buffer);
    } catch (err) {
      throw new Error(`${file}: not a Parquet file (${(err as Error).message})`);
    }
    const columns = lib.hyparquet.parquetSchema(metadata).children.map((c) => c.element.name);
    return new ParquetFile(file, columns, Number(metadata.num_rows), metadata.row_groups.map((g) => Number(g.num_rows)),
      buffer, metadata, lib);
  }

  /** The rows, one row group per batch; `first` is the 0-based index of the batch's first row in the file. */
  async *readRowGroups(columns: string[]): AsyncGenerator<{ first: number; rows: Record<string, unknown>[] }> {
    let rowStart = 0;
    for (const count of this.groupSizes) {
      const rowEnd = rowStart + count;
      let rows: Record<string, unknown>[];
      try {
        rows = await this.lib.hyparquet.parquetReadObjects({
          file: this.buffer, metadata: this.metadata, rowStart, rowEnd, columns, compressors: this.lib.compressors,
        });
      } catch (err) {
        throw new Error(`${this.file}: rows ${rowStart + 1}-${rowEnd}: cannot be read (${(err as Error).message})`);
      }
      yield { first: rowStart, rows: rows.map(plainValues) as Record<string, unknown>[] };
      rowStart = rowEnd;
    }
  }
}

// INT64 columns come as BigInt: numbers as the JSON formats have them (ids beyond 2^53 become strings, exactly).
function plainValues(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Array.isArray(value)) return value.map(plainValues);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainValues(v);
    return out;
  }
  return value;
}
