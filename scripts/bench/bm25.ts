// BM25 over the full debdesc corpus, evaluated on a split's queries (dev by default).
//
//   npx tsc -p . && node dist/scripts/bench/bm25.js [--split dev|test|train] [--k1 0.9] [--b 0.4] [--limit N]
//
// Corpus: every row's document (all splits). A query's relevant documents: its own package's document and
// every document with identical text. Prints index time, mean query time, MRR@10 and Recall@100.
import { parseArgs } from 'node:util';
import { loadDebdesc, relevantIndices } from '../../src/data/debdesc';
import { Bm25Index } from '../../src/retrieve/bm25';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      split: { type: 'string', default: 'dev' },
      k1: { type: 'string', default: '0.9' },
      b: { type: 'string', default: '0.4' },
      limit: { type: 'string' },
    },
  });
  const split = values.split as 'train' | 'dev' | 'test';
  const k1 = Number(values.k1);
  const b = Number(values.b);

  let t = process.hrtime.bigint();
  const corpus = await loadDebdesc('all');
  let queries = await loadDebdesc(split);
  if (values.limit) queries = queries.slice(0, Number(values.limit));
  const loadMs = Number(process.hrtime.bigint() - t) / 1e6;

  t = process.hrtime.bigint();
  const index = Bm25Index.build(
    corpus.map((r) => r.document),
    { k1, b },
  );
  const indexMs = Number(process.hrtime.bigint() - t) / 1e6;

  const relevant = relevantIndices(queries, corpus);
  let mrr = 0;
  let recall = 0;
  const times = new Float64Array(queries.length);
  for (let i = 0; i < queries.length; i++) {
    const q0 = process.hrtime.bigint();
    const hits = index.search(queries[i].query, 100);
    times[i] = Number(process.hrtime.bigint() - q0) / 1e6;
    const rel = new Set(relevant[i]);
    for (let r = 0; r < Math.min(10, hits.length); r++) {
      if (rel.has(hits[r].index)) {
        mrr += 1 / (r + 1);
        break;
      }
    }
    let found = 0;
    for (const h of hits) if (rel.has(h.index)) found++;
    recall += found / rel.size;
  }
  const n = queries.length;
  const sorted = Array.from(times).sort((a, b2) => a - b2);
  const mean = sorted.reduce((s, x) => s + x, 0) / n;
  const pct = (p: number): number => sorted[Math.min(n - 1, Math.floor(p * n))];
  console.log(`corpus: ${corpus.length} documents, ${index.vocabularySize} terms, avgdl ${index.avgdl.toFixed(1)}; ${n} ${split} queries`);
  console.log(`load: ${(loadMs / 1000).toFixed(2)} s`);
  console.log(`index time: ${(indexMs / 1000).toFixed(2)} s (k1=${k1}, b=${b})`);
  console.log(`query time: mean ${mean.toFixed(3)} ms, p50 ${pct(0.5).toFixed(3)} ms, p99 ${pct(0.99).toFixed(3)} ms (top 100)`);
  console.log(`MRR@10: ${(mrr / n).toFixed(4)}`);
  console.log(`Recall@100: ${(recall / n).toFixed(4)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
