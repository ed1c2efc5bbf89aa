"use strict";
// The interface a first-stage vector search implements, so the pipeline, search, mining and evaluation run the
// same over rrnative's own indexes (the exact index in the addon, usearch's HNSW) and over a vector database the
// user already runs (src/retrieve/lancedb.ts; Elasticsearch/OpenSearch kNN, Qdrant or pgvector fit the same
// shape: add vectors under ids, search with query vectors, close).
Object.defineProperty(exports, "__esModule", { value: true });
exports.checkVectors = checkVectors;
/** Checks the argument shapes every store takes; names the argument. */
function checkVectors(vectors, dimension, rows, what) {
    if (!(vectors instanceof Float32Array))
        throw new TypeError(`${what} must be a Float32Array, got ${vectors === null ? 'null' : typeof vectors}`);
    if (vectors.length % dimension !== 0) {
        throw new RangeError(`${what} has ${vectors.length} values, not a multiple of the dimension ${dimension}`);
    }
    if (rows !== undefined && vectors.length !== rows * dimension) {
        throw new RangeError(`${what} has ${vectors.length / dimension} rows of ${dimension}, expected ${rows} (one per id)`);
    }
    for (let i = 0; i < vectors.length; i++) {
        if (!Number.isFinite(vectors[i]))
            throw new RangeError(`${what}[${i}] is ${vectors[i]}: vectors must be finite`);
    }
    return vectors;
}
