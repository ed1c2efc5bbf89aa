"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
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
const node_fs_1 = __importDefault(require("node:fs"));
const node_os_1 = __importDefault(require("node:os"));
const node_path_1 = __importDefault(require("node:path"));
const node_util_1 = require("node:util");
const model_1 = require("../../src/model");
const index_1 = require("../../src/index");
const corpus_1 = require("../../src/retrieve/corpus");
const embedder_1 = require("../../src/retrieve/embedder");
const index_file_1 = require("../../src/retrieve/index-file");
const retriever_1 = require("../../src/retrieve/retriever");
const vector_index_1 = require("../../src/retrieve/vector-index");
const vocab_1 = require("../../src/train/vocab");
const rng_1 = require("../../src/data/rng");
const now = () => Number(process.hrtime.bigint()) / 1e6;
const rssMb = () => process.memoryUsage().rss / 2 ** 20;
const sizeMb = (file) => node_fs_1.default.statSync(file).size / 2 ** 20;
function percentile(sorted, p) {
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
async function makeEmbedder(work, corpus, maxSeqLength) {
    const dir = node_path_1.default.join(work, 'minilm-shaped');
    if (node_fs_1.default.existsSync(node_path_1.default.join(dir, 'modules.json')))
        return dir;
    const tokenizerDir = node_path_1.default.join(work, 'tokenizer');
    await (0, vocab_1.trainWordPiece)(corpus.texts, tokenizerDir, { vocabSize: 30522 });
    const model = await model_1.Reranker.create({
        config: {
            model_type: 'bert', vocab_size: 30522, hidden_size: 384, num_hidden_layers: 6, num_attention_heads: 12, intermediate_size: 1536,
            max_position_embeddings: 512, type_vocab_size: 2, hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
            layer_norm_eps: 1e-12, initializer_range: 0.02,
        },
        tokenizer: tokenizerDir, maxLength: maxSeqLength, device: 'cpu', seed: 0,
    });
    await model.save(dir);
    model.dispose();
    const json = (name, value) => {
        node_fs_1.default.mkdirSync(node_path_1.default.dirname(node_path_1.default.join(dir, name)), { recursive: true });
        node_fs_1.default.writeFileSync(node_path_1.default.join(dir, name), JSON.stringify(value, null, 2));
    };
    json('modules.json', [
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
        { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]);
    json('sentence_bert_config.json', { max_seq_length: maxSeqLength, do_lower_case: false });
    json('1_Pooling/config.json', { word_embedding_dimension: 384, pooling_mode_mean_tokens: true });
    json('config_sentence_transformers.json', { prompts: { query: '', document: '' }, default_prompt_name: null, similarity_fn_name: 'cosine' });
    node_fs_1.default.mkdirSync(node_path_1.default.join(dir, '2_Normalize'), { recursive: true });
    return dir;
}
async function latencies(store, queries, dimension, k) {
    const n = queries.length / dimension;
    const one = (q) => queries.slice(q * dimension, (q + 1) * dimension);
    for (let q = 0; q < Math.min(5, n); q++)
        await store.search(one(q), k);
    const times = [];
    const lists = [];
    for (let q = 0; q < n; q++) {
        const t = now();
        const [hits] = await store.search(one(q), k);
        times.push(now() - t);
        lists.push(hits);
    }
    times.sort((a, b) => a - b);
    return { p50: percentile(times, 50), p99: percentile(times, 99), lists };
}
function recall(found, truth, k) {
    let hit = 0;
    let total = 0;
    found.forEach((hits, q) => {
        const want = new Set(truth[q].slice(0, k).map((h) => h.id));
        hit += hits.slice(0, k).filter((h) => want.has(h.id)).length;
        total += want.size;
    });
    return hit / total;
}
async function main() {
    const { values } = (0, node_util_1.parseArgs)({
        options: {
            limit: { type: 'string' },
            queries: { type: 'string', default: '200' },
            'max-seq-length': { type: 'string', default: '64' },
            work: { type: 'string', default: node_path_1.default.join(node_os_1.default.tmpdir(), 'rrnative-vector-bench') },
            out: { type: 'string', default: node_path_1.default.join('bench-results', 'vector-index.json') },
        },
    });
    const maxSeqLength = Number(values['max-seq-length']);
    const k = 100;
    const work = node_path_1.default.resolve(values.work);
    node_fs_1.default.mkdirSync(work, { recursive: true });
    let corpus = await (0, corpus_1.loadCorpus)('debdesc:all');
    if (values.limit) {
        const n = Number(values.limit);
        corpus = { ...corpus, name: `${corpus.name} (first ${n})`, texts: corpus.texts.slice(0, n), ids: corpus.ids.slice(0, n) };
    }
    const log = (m) => process.stderr.write(`[vector-index] ${m}\n`);
    const embedderDir = await makeEmbedder(work, corpus, maxSeqLength);
    const embedder = await embedder_1.Embedder.load(embedderDir);
    const dimension = embedder.dimension;
    // The corpus, embedded once (kept as an index folder for reruns).
    const cached = node_path_1.default.join(work, `embedded-${corpus.texts.length}-${maxSeqLength}`);
    let embedSeconds = null;
    let vectors;
    if (node_fs_1.default.existsSync(node_path_1.default.join(cached, 'index.json'))) {
        const { store } = await (0, index_file_1.openIndexFolder)(cached, { corpus, embedder });
        vectors = await store.storedAsFloat32();
        await store.close();
        embedSeconds = JSON.parse(node_fs_1.default.readFileSync(node_path_1.default.join(cached, 'embed-seconds.json'), 'utf8'));
        log(`reusing the embedded corpus in ${cached}`);
    }
    else {
        const index = new vector_index_1.ExactIndex({ dimension });
        const t = now();
        let last = t;
        await (0, retriever_1.embedCorpus)(embedder, corpus, index, {
            onProgress: (done, total) => {
                if (now() - last > 30_000 || done === total) {
                    last = now();
                    log(`embedded ${done}/${total} (${((done / (now() - t)) * 1000).toFixed(0)} documents/s)`);
                }
            },
        });
        embedSeconds = (now() - t) / 1000;
        vectors = await index.storedAsFloat32();
        await (0, index_file_1.writeIndexFolder)(cached, { embedder, documentPrompt: (0, retriever_1.densePrompts)(embedder).document, corpus, index });
        node_fs_1.default.writeFileSync(node_path_1.default.join(cached, 'embed-seconds.json'), JSON.stringify(embedSeconds));
        await index.close();
    }
    const all = [];
    for await (const q of (0, corpus_1.readQueries)('debdesc:dev', { positives: 'text' }))
        all.push(q.query);
    const picked = (0, rng_1.samplePositions)(all.length, Number(values.queries), 7).map((i) => all[i]);
    const queries = await embedder.embed(picked, { prompt: (0, retriever_1.densePrompts)(embedder).query });
    embedder.dispose();
    const rows = [];
    let truth = [];
    for (const storage of ['fp32', 'fp16']) {
        const before = rssMb();
        const t = now();
        const index = new vector_index_1.ExactIndex({ dimension, storage });
        await index.add(corpus.ids, vectors);
        const buildSeconds = (now() - t) / 1000;
        const rssGrowthMb = rssMb() - before;
        const { p50, p99, lists } = await latencies(index, queries, dimension, k);
        if (storage === 'fp32')
            truth = lists;
        const tb = now();
        await index.search(queries, k);
        const batchQueriesPerSecond = picked.length / ((now() - tb) / 1000);
        const dir = node_path_1.default.join(work, `exact-${storage}`);
        node_fs_1.default.rmSync(dir, { recursive: true, force: true });
        const fakeEmbedder = await embedder_1.Embedder.load(embedderDir);
        await (0, index_file_1.writeIndexFolder)(dir, { embedder: fakeEmbedder, documentPrompt: '', corpus, index });
        await index.close();
        const fileMb = sizeMb(node_path_1.default.join(dir, 'vectors.safetensors')) + sizeMb(node_path_1.default.join(dir, 'ids.json'));
        const tr = now();
        const { store } = await (0, index_file_1.openIndexFolder)(dir, { corpus, embedder: fakeEmbedder });
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
    for (const storage of ['fp32', 'fp16']) {
        const build = async (threads) => {
            const before = rssMb();
            const t = now();
            const index = new vector_index_1.UsearchIndex({ dimension, storage, threads });
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
        const file = node_path_1.default.join(work, `usearch-${storage}.index`);
        index.save(file);
        await index.close();
        const open = (view) => {
            const t = now();
            const reopened = vector_index_1.UsearchIndex.open(file, corpus.ids, { dimension, storage, view, threads: 1 });
            return { reopened, seconds: (now() - t) / 1000 };
        };
        const loaded = open(false);
        const tq = now();
        await loaded.reopened.search(queries.slice(0, dimension), k);
        const firstQueryAfterReloadMs = now() - tq;
        const viewed = open(true);
        await viewed.reopened.search(queries.slice(0, dimension), k);
        rows.push({
            index: `usearch ${storage === 'fp32' ? 'f32' : 'f16'}`, buildSeconds, buildSeconds2Threads, p50Ms: p50, p99Ms: p99, batchQueriesPerSecond,
            recallAt10: recall(lists, truth, 10), recallAt100: recall(lists, truth, 100), rssGrowthMb,
            vectorsMb: (vectors.length * (storage === 'fp32' ? 4 : 2)) / 2 ** 20, fileMb: sizeMb(file),
            reloadSeconds: loaded.seconds, firstQueryAfterReloadMs, reloadViewSeconds: viewed.seconds,
        });
        log(JSON.stringify(rows[rows.length - 1]));
    }
    const f = (x, d = 1) => (x === undefined ? '–' : x.toFixed(d));
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
        date: new Date().toISOString(), machine: { cpu: node_os_1.default.cpus()[0]?.model, cores: node_os_1.default.cpus().length, node: process.version, runtime: (0, index_1.runtimeInfo)() },
        documents: corpus.texts.length, dimension, maxSeqLength, embedSeconds, queries: picked.length, k, rows,
    };
    node_fs_1.default.mkdirSync(node_path_1.default.dirname(values.out), { recursive: true });
    node_fs_1.default.writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n');
}
main().catch((err) => {
    console.error(`vector-index: ${err.stack ?? err.message}`);
    process.exit(1);
});
