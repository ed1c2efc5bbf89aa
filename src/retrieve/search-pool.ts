// BM25 search spread over worker threads: each worker builds its own index over the same documents (about a
// second for the bundled corpus) and answers slices of a query list. Used by mining, where searching every
// training query is most of the time; results equal Bm25Index.search's, in the same order.
import os from 'node:os';
import { WorkerPool, type WorkerReply } from '../worker-pool';
import type { Bm25Hit } from './bm25';

interface SearchReply extends WorkerReply { counts?: Int32Array; indices?: Int32Array; scores?: Float64Array }

/** Workers worth starting for `queries` searches: none for small jobs or a single core. */
export function searchWorkersFor(queries: number): number {
  const cores = os.availableParallelism();
  return queries < 2000 || cores < 2 ? 0 : Math.min(cores, 16);
}

export class SearchPool {
  private constructor(private readonly pool: WorkerPool<SearchReply>) {}

  /** Starts `count` workers, each indexing `texts` with BM25 k1/b. */
  static start(texts: readonly string[], count: number, options: { k1?: number; b?: number }): SearchPool {
    return new SearchPool(new WorkerPool<SearchReply>(require.resolve('./search-worker'), count, { texts, k1: options.k1, b: options.b },
      { name: 'BM25 search worker', errorOf: (r) => new Error(`BM25 search worker: ${r.error}`) }));
  }

  /** The `k` best documents for each query (Bm25Index.search), in query order. */
  search(queries: readonly string[], k: number): Promise<Bm25Hit[][]> {
    return this.pool.map(queries, (w, part) => this.pool.request(w, { queries: part, k }).then(unpack));
  }

  close(): Promise<void> {
    return this.pool.close();
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
