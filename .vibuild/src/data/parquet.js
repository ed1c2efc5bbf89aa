"use strict";
// Parquet files as a data source, read with hyparquet (+ hyparquet-compressors for zstd, gzip, brotli, lz4):
// the footer once, then one row group at a time, only the columns the format needs, so a multi-gigabyte shard
// is never in memory whole and a `max_records` run stops before the row groups it does not need.
//
// hyparquet is ESM only and this package builds to CommonJS: it is loaded with a real dynamic import (the
// Function below keeps TypeScript from turning `import()` into `require()`), and its few types are declared here.
Object.defineProperty(exports, "__esModule", { value: true });
exports.ParquetFile = void 0;
const importEsm = new Function('specifier', 'return import(specifier)');
let loaded = null;
function load() {
    loaded ??= Promise.all([importEsm('hyparquet'), importEsm('hyparquet-compressors')]).then(([hyparquet, extra]) => ({
        hyparquet: hyparquet,
        compressors: extra.compressors,
    }));
    return loaded;
}
/** An opened Parquet file: its top-level columns and row groups, read on demand. */
class ParquetFile {
    file;
    columns;
    rows;
    groupSizes;
    buffer;
    metadata;
    lib;
    constructor(file, columns, rows, groupSizes, buffer, metadata, lib) {
        this.file = file;
        this.columns = columns;
        this.rows = rows;
        this.groupSizes = groupSizes;
        this.buffer = buffer;
        this.metadata = metadata;
        this.lib = lib;
    }
    /** Reads the footer. A file that is not Parquet, or cut short, throws `file: not a Parquet file (…)`. */
    static async open(file) {
        const lib = await load();
        let buffer;
        try {
            buffer = await lib.hyparquet.asyncBufferFromFile(file);
        }
        catch (err) {
            throw new Error(`${file}: cannot read (${err.message})`);
        }
        let metadata;
        try {
            metadata = await lib.hyparquet.parquetMetadataAsync(buffer);
        }
        catch (err) {
            throw new Error(`${file}: not a Parquet file (${err.message})`);
        }
        const columns = lib.hyparquet.parquetSchema(metadata).children.map((c) => c.element.name);
        return new ParquetFile(file, columns, Number(metadata.num_rows), metadata.row_groups.map((g) => Number(g.num_rows)), buffer, metadata, lib);
    }
    /** The rows, one row group per batch; `first` is the 0-based index of the batch's first row in the file. */
    async *readRowGroups(columns) {
        let rowStart = 0;
        for (const count of this.groupSizes) {
            const rowEnd = rowStart + count;
            let rows;
            try {
                rows = await this.lib.hyparquet.parquetReadObjects({
                    file: this.buffer, metadata: this.metadata, rowStart, rowEnd, columns, compressors: this.lib.compressors,
                });
            }
            catch (err) {
                throw new Error(`${this.file}: rows ${rowStart + 1}-${rowEnd}: cannot be read (${err.message})`);
            }
            yield { first: rowStart, rows: rows.map(plainValues) };
            rowStart = rowEnd;
        }
    }
}
exports.ParquetFile = ParquetFile;
// INT64 columns come as BigInt: numbers as the JSON formats have them (ids beyond 2^53 become strings, exactly).
function plainValues(value) {
    if (typeof value === 'bigint')
        return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    if (Array.isArray(value))
        return value.map(plainValues);
    if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof Date)) {
        const out = {};
        for (const [k, v] of Object.entries(value))
            out[k] = plainValues(v);
        return out;
    }
    return value;
}
