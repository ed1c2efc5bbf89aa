"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.TokenizePool = void 0;
exports.tokenizeWorkersFor = tokenizeWorkersFor;
// Pair tokenization spread over worker threads. The Rust tokenizer already runs each pair on libuv's thread
// pool, but every call also costs ~50 µs of JS on the calling thread (the call, its promise, the ids coming back
// as JS arrays), which caps one thread at ~20k pairs/s: on a GPU that is slower than the model (MiniLM's 16,384
// pairs scored in 0.99 s on an H200, about their tokenization time). Workers take that JS work off the main
// thread and return ids in typed arrays. Results equal PairTokenizer.encodePairs', in the same order.
const node_os_1 = __importDefault(require("node:os"));
const worker_pool_1 = require("./worker-pool");
/**
 * Workers worth starting for `pairs` pairs: none for small jobs or few cores (they would compete with the rest).
 * RRNATIVE_TOKENIZE_WORKERS=N sets the count for jobs of 512+ pairs (0: never).
 */
function tokenizeWorkersFor(pairs) {
    const forced = process.env.RRNATIVE_TOKENIZE_WORKERS;
    if (forced !== undefined && forced !== '') {
        const n = Number(forced);
        if (!Number.isInteger(n) || n < 0 || n > 64)
            throw new RangeError(`RRNATIVE_TOKENIZE_WORKERS must be a whole number from 0 to 64, got '${forced}'`);
        return pairs < 512 ? 0 : n;
    }
    const cores = node_os_1.default.availableParallelism();
    return pairs < 512 || cores < 8 ? 0 : Math.min(8, Math.floor(cores / 2));
}
class TokenizePool {
    pool;
    constructor(pool) {
        this.pool = pool;
    }
    /** Starts `count` workers, each loading the tokenizer folder `dir` (PairTokenizer.load). Idle, they let the process exit. */
    static start(dir, count) {
        return new TokenizePool(new worker_pool_1.WorkerPool(require.resolve('./tokenize-worker'), count, { dir }, {
            name: 'tokenization worker', unrefWhenIdle: true,
            errorOf: (r) => (r.range ? new RangeError(r.error) : new Error(`tokenization worker: ${r.error}`)),
        }));
    }
    /** PairTokenizer.encodePairs over the workers, one contiguous slice each. */
    encodePairs(pairs, maxLength, truncate, indexOffset = 0) {
        return this.pool.map(pairs, (w, part, start) => this.pool.request(w, { pairs: part, maxLength, truncate, indexOffset: indexOffset + start }).then(unpack));
    }
    close() {
        return this.pool.close();
    }
}
exports.TokenizePool = TokenizePool;
function unpack(reply) {
    const { offsets, ids, typeIds } = reply;
    const out = new Array(offsets.length - 1);
    for (let i = 0; i < out.length; i++) {
        out[i] = { ids: Array.from(ids.subarray(offsets[i], offsets[i + 1])), typeIds: Array.from(typeIds.subarray(offsets[i], offsets[i + 1])) };
    }
    return out;
}
