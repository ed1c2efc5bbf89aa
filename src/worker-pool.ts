// Worker threads that answer numbered requests: what the BM25 search pool and the tokenization pool share.
// A worker replies {id, …} or {id, error}; a crashed worker fails every request in flight and every later one.
import { Worker } from 'node:worker_threads';

export interface WorkerReply {
  id: number;
  error?: string;
}

export class WorkerPool<Reply extends WorkerReply> {
  private nextId = 0;
  private readonly pending = new Map<number, { worker: Worker; resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;

  /**
   * `script`: the worker's file; `name`: how errors name it; `errorOf`: the Error for an {error} reply;
   * `unrefWhenIdle`: idle workers do not keep the process alive (for pools nobody closes explicitly).
   */
  constructor(script: string, count: number, workerData: unknown, private readonly options: {
    name: string; errorOf: (reply: Reply) => Error; unrefWhenIdle?: boolean;
  }) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
    this.workers = Array.from({ length: count }, () => new Worker(script, { workerData }));
    for (const w of this.workers) {
      if (options.unrefWhenIdle) w.unref();
      w.on('message', (reply: Reply) => {
        const p = this.pending.get(reply.id);
        if (!p) return;
        this.pending.delete(reply.id);
        if (options.unrefWhenIdle && ![...this.pending.values()].some((q) => q.worker === w)) w.unref();
        if (reply.error !== undefined) p.reject(options.errorOf(reply));
        else p.resolve(reply);
      });
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => { if (code !== 0) this.fail(new Error(`a ${options.name} exited with code ${code}`)); });
    }
  }

  readonly workers: Worker[];

  /** Sends `message` (with a fresh id) to `worker`; resolves with its reply. */
  request(worker: Worker, message: object): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Reply>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { worker, resolve, reject });
      if (this.options.unrefWhenIdle) worker.ref();  // a request in flight keeps the process alive
      worker.postMessage({ ...message, id });
    });
  }

  /** `items` cut into one contiguous slice per worker; `ask` sends one slice (and its start) to one worker. */
  async map<T, R>(items: readonly T[], ask: (worker: Worker, slice: T[], start: number) => Promise<R[]>): Promise<R[]> {
    if (this.failure) throw this.failure;
    const size = Math.ceil(items.length / this.workers.length);
    const parts = await Promise.all(this.workers.map((w, i) => {
      const slice = items.slice(i * size, (i + 1) * size);
      return slice.length === 0 ? Promise.resolve<R[]>([]) : ask(w, slice, i * size);
    }));
    return parts.flat();
  }

  async close(): Promise<void> {
    // ref() first: an unref'd worker's exit could come after the event loop has emptied, leaving this pending.
    await Promise.all(this.workers.map((w) => (w.ref(), w.terminate())));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
