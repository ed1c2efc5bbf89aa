"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.WorkerPool = void 0;
// Worker threads that answer numbered requests: what the BM25 search pool and the tokenization pool share.
// A worker replies {id, …} or {id, error}; a crashed worker fails every request in flight and every later one.
const node_worker_threads_1 = require("node:worker_threads");
class WorkerPool {
    options;
    nextId = 0;
    pending = new Map();
    failure = null;
    /**
     * `script`: the worker's file; `name`: how errors name it; `errorOf`: the Error for an {error} reply;
     * `unrefWhenIdle`: idle workers do not keep the process alive (for pools nobody closes explicitly).
     */
    constructor(script, count, workerData, options) {
        this.options = options;
        if (!Number.isInteger(count) || count < 1)
            throw new RangeError(`count must be a positive integer, got ${count}`);
        this.workers = Array.from({ length: count }, () => new node_worker_threads_1.Worker(script, { workerData }));
        for (const w of this.workers) {
            if (options.unrefWhenIdle)
                w.unref();
            w.on('message', (reply) => {
                const p = this.pending.get(reply.id);
                if (!p)
                    return;
                this.pending.delete(reply.id);
                if (options.unrefWhenIdle && ![...this.pending.values()].some((q) => q.worker === w))
                    w.unref();
                if (reply.error !== undefined)
                    p.reject(options.errorOf(reply));
                else
                    p.resolve(reply);
            });
            w.on('error', (err) => this.fail(err));
            w.on('exit', (code) => { if (code !== 0)
                this.fail(new Error(`a ${options.name} exited with code ${code}`)); });
        }
    }
    workers;
    /** Sends `message` (with a fresh id) to `worker`; resolves with its reply. */
    request(worker, message) {
        if (this.failure)
            return Promise.reject(this.failure);
        return new Promise((resolve, reject) => {
            const id = this.nextId++;
            this.pending.set(id, { worker, resolve, reject });
            if (this.options.unrefWhenIdle)
                worker.ref(); // a request in flight keeps the process alive
            worker.postMessage({ ...message, id });
        });
    }
    /** `items` cut into one contiguous slice per worker; `ask` sends one slice (and its start) to one worker. */
    async map(items, ask) {
        if (this.failure)
            throw this.failure;
        const size = Math.ceil(items.length / this.workers.length);
        const parts = await Promise.all(this.workers.map((w, i) => {
            const slice = items.slice(i * size, (i + 1) * size);
            return slice.length === 0 ? Promise.resolve([]) : ask(w, slice, i * size);
        }));
        return parts.flat();
    }
    async close() {
        // ref() first: an unref'd worker's exit could come after the event loop has emptied, leaving this pending.
        await Promise.all(this.workers.map((w) => (w.ref(), w.terminate())));
    }
    fail(err) {
        this.failure ??= err;
        for (const p of this.pending.values())
            p.reject(err);
        this.pending.clear();
    }
}
exports.WorkerPool = WorkerPool;
