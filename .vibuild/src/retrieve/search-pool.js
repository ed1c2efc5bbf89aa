"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.SearchPool = void 0;
exports.searchWorkersFor = searchWorkersFor;
// BM25 search spread over worker threads: each worker builds its own index over the same documents (about a
// second for the bundled corpus) and answers slices of a query list. Used by mining, where searching every
// training query is most of the time; results equal Bm25Index.search's, in the same order.
const node_os_1 = __importDefault(require("node:os"));
const worker_pool_1 = require("../worker-pool");
/** Workers worth starting for `queries` searches: none for small jobs or a single core. */
function searchWorkersFor(queries) {
    const cores = node_os_1.default.availableParallelism();
    return queries < 2000 || cores < 2 ? 0 : Math.min(cores, 16);
}
class SearchPool {
    pool;
    constructor(pool) {
        this.pool = pool;
    }
    /** Starts `count` workers, each indexing `texts` with BM25 k1/b. */
    static start(texts, count, options) {
        return new SearchPool(new worker_pool_1.WorkerPool(require.resolve('./search-worker'), count, { texts, k1: options.k1, b: options.b }, { name: 'BM25 search worker', errorOf: (r) => new Error(`BM25 search worker: ${r.error}`) }));
    }
    /** The `k` best documents for each query (Bm25Index.search), in query order. */
    search(queries, k) {
        return this.pool.map(queries, (w, part) => this.pool.request(w, { queries: part, k }).then(unpack));
    }
    close() {
        return this.pool.close();
    }
}
exports.SearchPool = SearchPool;
function unpack(reply) {
    const out = [];
    let o = 0;
    for (const n of reply.counts) {
        const hits = new Array(n);
        for (let j = 0; j < n; j++)
            hits[j] = { index: reply.indices[o + j], score: reply.scores[o + j] };
        out.push(hits);
        o += n;
    }
    return out;
}
