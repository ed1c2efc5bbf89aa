// One BM25 search worker of SearchPool (search-pool.ts): indexes the documents it is given, then answers
// {id, queries, k} with the hits packed into typed arrays.
import { parentPort, workerData } from 'node:worker_threads';
import { Bm25Index } from './bm25';

const { texts, k1, b } = workerData as { texts: string[]; k1?: number; b?: number };
const index = Bm25Index.build(texts, { k1, b });

parentPort!.on('message', ({ id, queries, k }: { id: number; queries: string[]; k: number }) => {
  try {
    const results = queries.map((q) => index.search(q, k));
    const total = results.reduce((s, r) => s + r.length, 0);
    const counts = Int32Array.from(results, (r) => r.length);
    const indices = new Int32Array(total);
    const scores = new Float64Array(total);
    let o = 0;
    for (const r of results) for (const h of r) { indices[o] = h.index; scores[o++] = h.score; }
    parentPort!.postMessage({ id, counts, indices, scores }, [counts.buffer, indices.buffer, scores.buffer]);
  } catch (err) {
    parentPort!.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
