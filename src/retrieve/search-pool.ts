// BM25 search spread over worker threads: each worker builds its own index over the same documents (about a
// second for the bundled corpus) and answers slices of a query list. Used by mining, where searching every
// training query is most of the time; results equal Bm25Index.search's, in the same order.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Bm25Hit } from './bm25';

interface SearchRequest { id: number; queries: string[]; k: number }
interface SearchReply { id: number; counts?: Int32Array; indices?: Int32Array; scores?: Float64Array; error?: string }

/** Workers worth starting for `queries` searches: none for small jobs or a single core. */
export function searchWorkersFor(queries: number): number {
  const cores = os.availableParallelism();
  return queries < 2000 || cores < 2 ? 0 : Math.min(cores, 16);
}

export class SearchPool {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: SearchReply) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (reply: SearchReply) => {
        const p = this.pending.get(reply.id);
        if (!p) return;
        this.pending.delete(reply.id);
        if (reply.error) p.reject(new Error(`BM25 search worker: ${reply.error}`));
        else p.resolve(reply);
      });
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => { if (code !== 0) this.fail(new Error(`a BM25 search worker exited with code ${code}`)); });
    }
  }

  /** Starts `count` workers, each indexing `texts` with BM25 k1/b. */
  static start(texts: readonly string[], count: number, options: { k1?: number; b?: number }): SearchPool {
    const workerData = { texts, k1: options.k1, b: options.b };
    return new SearchPool(Array.from({ length: count }, () => new Worker(require.resolve('./search-worker'), { workerData })));
  }

  /** The `k` best documents for each query (Bm25Index.search), in query order. */
  async search(queries: readonly string[], k: number): Promise<Bm25Hit[][]> {
    if (this.failure) throw this.failure;
    const slice = Math.ceil(queries.length / this.workers.length);
    const parts = await Promise.all(this.workers.map((w, i) => {
      const part = queries.slice(i * slice, (i + 1) * slice);
      if (part.length === 0) return Promise.resolve<Bm25Hit[][]>([]);
      return new Promise<SearchReply>((resolve, reject) => {
        const id = this.nextId++;
        this.pending.set(id, { resolve, reject });
        w.postMessage({ id, queries: part, k } satisfies SearchRequest);
      }).then(unpack);
    }));
    return parts.flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

function unpack(reply: SearchReply): Bm25Hit[][] {
  const out: Bm25Hit[][] = [];
  let o = 0;
  for (const n of reply.counts!) {
    const hits: Bm25Hit[] = new Array(n);
    for (let j = 0; j < n; j++) hits[j] = { index: reply.indices![o + j], score: reply.scores![o + j] };
    out.push(hits);
    o += n;
  }
  return out;
}
