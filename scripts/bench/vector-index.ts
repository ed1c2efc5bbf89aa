// The vector indexes on the bundled corpus: the addon's exact index (fp32, fp16) and usearch's HNSW (f32, f16),
// over the 63,815 debdesc documents embedded by a random-init embedder of all-MiniLM-L6-v2's shape (BERT, 6
// layers, hidden 384, 12 heads, intermediate 1536, a 30,522-piece WordPiece vocabulary trained on the corpus,
// mean pooling + Normalize). No pretrained embedder can be fetched here, so the vectors measure the index, not
// retrieval quality; random-init embeddings of text crowd into a narrow cone, which is harder for HNSW than
// real embeddings are.
//
//   npx tsc -p . && node dist/scripts/bench/vector-index.js [--limit N] [--queries 200] [--max-seq-length 64]
//     [--work DIR] [--out bench-results/vector-index.json]
//
// Per index: build time (exact: loading the vectors; usearch: the graph, 1 and 2 threads), query latency one
// query at a time with k = 100 (p50, p99, after 5 warm-up queries), one batch of all queries, recall@10 and
// @100 against exact fp32, memory (RSS growth while building, and the stored vectors' bytes), the file on
// disk, reload time and the first query after it. The embedded corpus is kept in --work (an index folder), so
// a rerun skips the embedding.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Reranker } from '../../src/model';
import { runtimeInfo } from '../../src/index';
import { loadCorpus, readQueries, type Corpus } from '../../src/retrieve/corpus';
import { Embedder } from '../../src/retrieve/embedder';
import { openIndexFolder, writeIndexFolder } from '../../src/retrieve/index-file';
import { densePrompts, embedCorpus } from '../../src/retrieve/retriever';
import { ExactIndex, UsearchIndex, type VectorStorage } from '../../src/retrieve/vector-index';
import type { VectorHit, VectorStore } from '../../src/retrieve/vector-store';
import { trainWordPiece } from '../../src/train/vocab';
import { samplePositions } from '../../src/data/rng';

const now = () => Number(process.hrtime.bigint()) / 1e6;
const rssMb = () => process.memoryUsage().rss / 2 ** 20;
const sizeMb = (file: string) => fs.statSync(file).size / 2 ** 20;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function makeEmbedder(work: string, corpus: Corpus, maxSeqLength: number): Promise<string> {
  const dir = path.join(work, 'minilm-shaped');
  if (fs.existsSync(path.join(dir, 'modules.json'))) return dir;
  const tokenizerDir = path.join(work, 'tokenizer');
  await trainWordPiece(corpus.texts, tokenizerDir, { vocabSize: 30522 });
  const model = await Reranker.create({
    config: {
      model_type: 'bert', vocab_size: 30522, hidden_size: 384, num_hidden_layers: 6, num_attention_heads: 12, intermediate_size: 1536,
      max_position_embeddings: 512, type_vocab_size: 2, hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
      layer_norm_eps: 1e-12, initializer_range: 0.02,
    },
    tokenizer: tokenizerDir, maxLength: maxSeqLength, device: 'cpu', seed: 0,
  });
  await model.save(dir);
  model.dispose();
  const json = (name: string, value: unknown) => {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), JSON.stringify(value, null, 2));
  };
  json('modules.json', [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
  ]);
  json('sentence_bert_config.json', { max_seq_length: maxSeqLength, do_lower_case: false });
  json('1_Pooling/config.json', { word_embedding_dimension: 384, pooling_mode_mean_tokens: true });
  json('config_sentence_transformers.json', { prompts: { query: '', document: '' }, default_prompt_name: null, similarity_fn_name: 'cosine' });
  fs.mkdirSync(path.join(dir, '2_Normalize'), { recursive: true });
  return dir;
}

interface Row {
  index: string;
  buildSeconds: number;
  buildSeconds2Threads?: number;
  p50Ms: number;
  p99Ms: number;
  batchQueriesPerSecond: number;
  recallAt10: number;
  recallAt100: number;
  rssGrowthMb: number;
  vectorsMb: number;
  fileMb: number;
  reloadSeconds: number;
  firstQueryAfterReloadMs: number;
  reloadViewSeconds?: number;
}

async function latencies(store: VectorStore, queries: Float32Array, dimension: number, k: number): Promise<{ p50: number; p99: number; lists: VectorHit[][] }> {
  const n = queries.length / dimension;
  const one = (q: number) => queries.slice(q * dimension, (q + 1) * dimension);
  for (let q = 0; q < Math.min(5, n); q++) await store.search(one(q), k);
  const times: number[] = [];
  const lists: VectorHit[][] = [];
  for (let q = 0; q < n; q++) {
    const t = now();
    const [hits] = await store.search(one(q), k);
    times.push(now() - t);
    lists.push(hits);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), lists };
}

function recall(found: VectorHit[][], truth: VectorHit[][], k: number): number {
  let hit = 0;
  let total = 0;
  found.forEach((hits, q) => {
    const want = new Set(truth[q].slice(0, k).map((h) => h.id));
    hit += hits.slice(0, k).filter((h) => want.has(h.id)).length;
    total += want.size;
  });
  return hit / total;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      limit: { type: 'string' },
      queries: { type: 'string', default: '200' },
      'max-seq-length': { type: 'string', default: '64' },
      // usearch's search expansion (HNSW's ef) for extra rows on the saved graph; the index is built with the default, 256.
      'expansion-search': { type: 'string', default: '64,128,512' },
      work: { type: 'string', default: path.join(os.tmpdir(), 'rrnative-vector-bench') },
      out: { type: 'string', default: path.join('bench-results', 'vector-index.json') },
    },
  });
  const maxSeqLength = Number(values['max-seq-length']);
  const k = 100;
  const work = path.resolve(values.work!);
  fs.mkdirSync(work, { recursive: true });
  let corpus = await loadCorpus('debdesc:all');
  if (values.limit) {
    const n = Number(values.limit);
    corpus = { ...corpus, name: `${corpus.name} (first ${n})`, texts: corpus.texts.slice(0, n), ids: corpus.ids.slice(0, n) };
  }
  const log = (m: string) => process.stderr.write(`[vector-index] ${m}\n`);
  const embedderDir = await makeEmbedder(work, corpus, maxSeqLength);
  const embedder = await Embedder.load(embedderDir);
  const dimension = embedder.dimension;

  // The corpus, embedded once (kept as an index folder for reruns).
  const cached = path.join(work, `embedded-${corpus.texts.length}-${maxSeqLength}`);
  let embedSeconds: number | null = null;
  let vectors: Float32Array;
  if (fs.existsSync(path.join(cached, 'index.json'))) {
    const { store } = await openIndexFolder(cached, { corpus, embedder });
    vectors = await (store as ExactIndex).storedAsFloat32();
    await store.close();
    embedSeconds = JSON.parse(fs.readFileSync(path.join(cached, 'embed-seconds.json'), 'utf8'));
    log(`reusing the embedded corpus in ${cached}`);
  } else {
    const index = new ExactIndex({ dimension });
    const t = now();
    let last = t;
    await embedCorpus(embedder, corpus, index, {
      onProgress: (done, total) => {
        if (now() - last > 30_000 || done === total) {
          last = now();
          log(`embedded ${done}/${total} (${((done / (now() - t)) * 1000).toFixed(0)} documents/s)`);
        }
      },
    });
    embedSeconds = (now() - t) / 1000;
    vectors = await index.storedAsFloat32();
    await writeIndexFolder(cached, { embedder, documentPrompt: densePrompts(embedder).document, corpus, index });
    fs.writeFileSync(path.join(cached, 'embed-seconds.json'), JSON.stringify(embedSeconds));
    await index.close();
  }
  const all: string[] = [];
  for await (const q of readQueries('debdesc:dev', { positives: 'text' })) all.push(q.query);
  const picked = samplePositions(all.length, Number(values.queries), 7).map((i) => all[i]);
  const queries = await embedder.embed(picked, { prompt: densePrompts(embedder).query });
  embedder.dispose();

  const rows: Row[] = [];
  let truth: VectorHit[][] = [];
  for (const storage of ['fp32', 'fp16'] as VectorStorage[]) {
    const before = rssMb();
    const t = now();
    const index = new ExactIndex({ dimension, storage });
    await index.add(corpus.ids, vectors);
    const buildSeconds = (now() - t) / 1000;
    const rssGrowthMb = rssMb() - before;
    const { p50, p99, lists } = await latencies(index, queries, dimension, k);
    if (storage === 'fp32') truth = lists;
    const tb = now();
    await index.search(queries, k);
    const batchQueriesPerSecond = picked.length / ((now() - tb) / 1000);
    const dir = path.join(work, `exact-${storage}`);
    fs.rmSync(dir, { recursive: true, force: true });
    const fakeEmbedder = await Embedder.load(embedderDir);
    await writeIndexFolder(dir, { embedder: fakeEmbedder, documentPrompt: '', corpus, index });
    await index.close();
    const fileMb = sizeMb(path.join(dir, 'vectors.safetensors')) + sizeMb(path.join(dir, 'ids.json'));
    const tr = now();
    const { store } = await openIndexFolder(dir, { corpus, embedder: fakeEmbedder });
    const reloadSeconds = (now() - tr) / 1000;
    const tq = now();
    await store.search(queries.slice(0, dimension), k);
    const firstQueryAfterReloadMs = now() - tq;
    await store.close();
    fakeEmbedder.dispose();
    rows.push({
      index: `exact ${storage}`, buildSeconds, p50Ms: p50, p99Ms: p99, batchQueriesPerSecond, recallAt10: recall(lists, truth, 10), recallAt100: recall(lists, truth, 100),
      rssGrowthMb, vectorsMb: (vectors.length * (storage === 'fp32' ? 4 : 2)) / 2 ** 20, fileMb, reloadSeconds, firstQueryAfterReloadMs,
    });
    log(JSON.stringify(rows[rows.length - 1]));
  }
  for (const storage of ['fp32', 'fp16'] as VectorStorage[]) {
    const build = async (threads: number) => {
      const before = rssMb();
      const t = now();
      const index = new UsearchIndex({ dimension, storage, threads });
      await index.add(corpus.ids, vectors);
      return { index, seconds: (now() - t) / 1000, rss: rssMb() - before };
    };
    const two = await build(2);
    const buildSeconds2Threads = two.seconds;
    await two.index.close();
    const { index, seconds: buildSeconds, rss: rssGrowthMb } = await build(1);
    const { p50, p99, lists } = await latencies(index, queries, dimension, k);
    const tb = now();
    await index.search(queries, k);
    const batchQueriesPerSecond = picked.length / ((now() - tb) / 1000);
    const file = path.join(work, `usearch-${storage}.index`);
    index.save(file);
    await index.close();
    const open = (view: boolean) => {
      const t = now();
      const reopened = UsearchIndex.open(file, corpus.ids, { dimension, storage, view, threads: 1 });
      return { reopened, seconds: (now() - t) / 1000 };
    };
    const loaded = open(false);
    const tq = now();
    await loaded.reopened.search(queries.slice(0, dimension), k);
    const firstQueryAfterReloadMs = now() - tq;
    const viewed = open(true);
    await viewed.reopened.search(queries.slice(0, dimension), k);
    rows.push({
      index: `usearch ${storage === 'fp32' ? 'f32' : 'f16'}, search expansion 256 (the default)`, buildSeconds, buildSeconds2Threads, p50Ms: p50, p99Ms: p99, batchQueriesPerSecond,
      recallAt10: recall(lists, truth, 10), recallAt100: recall(lists, truth, 100), rssGrowthMb,
      vectorsMb: (vectors.length * (storage === 'fp32' ? 4 : 2)) / 2 ** 20, fileMb: sizeMb(file),
      reloadSeconds: loaded.seconds, firstQueryAfterReloadMs, reloadViewSeconds: viewed.seconds,
    });
    log(JSON.stringify(rows[rows.length - 1]));
    for (const expansionSearch of String(values['expansion-search']).split(',').filter(Boolean).map(Number)) {
      // The same graph searched wider: reopened (viewed) with another expansion, one query at a time.
      const wider = UsearchIndex.open(file, corpus.ids, { dimension, storage, view: true, threads: 1, expansionSearch });
      const { p50: p50w, p99: p99w, lists: listsw } = await latencies(wider, queries, dimension, k);
      const tw = now();
      await wider.search(queries, k);
      const batchw = picked.length / ((now() - tw) / 1000);
      await wider.close();
      rows.push({
        index: `usearch ${storage === 'fp32' ? 'f32' : 'f16'}, search expansion ${expansionSearch}`, buildSeconds: NaN, p50Ms: p50w, p99Ms: p99w,
        batchQueriesPerSecond: batchw, recallAt10: recall(listsw, truth, 10), recallAt100: recall(listsw, truth, 100), rssGrowthMb: NaN,
        vectorsMb: NaN, fileMb: NaN, reloadSeconds: NaN, firstQueryAfterReloadMs: NaN,
      });
      log(JSON.stringify(rows[rows.length - 1]));
    }
  }

  const f = (x: number | undefined, d = 1) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
  const lines = [
    `${corpus.texts.length} documents × ${dimension} (MiniLM-L6-shaped random-init embedder, max_seq_length ${maxSeqLength}; embedding: ${f(embedSeconds ?? undefined)} s, ` +
      `${f(corpus.texts.length / (embedSeconds ?? NaN), 0)} documents/s), ${picked.length} debdesc dev queries, k = ${k}`,
    '',
    '| index | build s (1 thread; 2) | p50 ms | p99 ms | batch queries/s | recall@10 | recall@100 | RSS growth MB | vectors MB | file MB | reload s (view) | first query after reload ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.index} | ${f(r.buildSeconds, 2)}${r.buildSeconds2Threads !== undefined ? `; ${f(r.buildSeconds2Threads, 1)}` : ''} | ${f(r.p50Ms, 2)} | ${f(r.p99Ms, 2)} | ` +
      `${f(r.batchQueriesPerSecond, 0)} | ${f(r.recallAt10, 3)} | ${f(r.recallAt100, 3)} | ${f(r.rssGrowthMb, 0)} | ${f(r.vectorsMb, 1)} | ${f(r.fileMb, 1)} | ` +
      `${f(r.reloadSeconds, 2)}${r.reloadViewSeconds !== undefined ? ` (${f(r.reloadViewSeconds, 3)})` : ''} | ${f(r.firstQueryAfterReloadMs, 1)} |`),
  ];
  console.log(lines.join('\n'));
  const result = {
    date: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, runtime: runtimeInfo() },
    documents: corpus.texts.length, dimension, maxSeqLength, embedSeconds, queries: picked.length, k, rows,
  };
  fs.mkdirSync(path.dirname(values.out!), { recursive: true });
  fs.writeFileSync(values.out!, JSON.stringify(result, null, 2) + '\n');
}

main().catch((err: Error) => {
  console.error(`vector-index: ${err.stack ?? err.message}`);
  process.exit(1);
});
