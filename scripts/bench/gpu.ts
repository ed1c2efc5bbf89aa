// Node side of scripts/bench/gpu.sh (the GPU benchmark against the peers of ../shared/peers). Run gpu.sh, not
// this file; its subcommands are:
//
//   node dist/scripts/bench/gpu.js prepare --work DIR [--tokenizer DIR] [--vocab-size 30522]
//       The tokenizer both sides use: --tokenizer, or a BERT WordPiece vocabulary trained on debdesc train
//       (written to DIR/tokenizer as vocab.txt + tokenizer.json + tokenizer_config.json, which transformers'
//       AutoTokenizer loads).
//   node dist/scripts/bench/gpu.js ours --model minilm|bert-base --task train|train-grouped|train-graphs|score-bf16|score-bf16w|score-fp32 --work DIR
//       [--device cuda] [--steps N] [--warmup 10] [--batch N] [--n N] [--max-length 256] [--max-seconds 60] [--profile]
//       One measurement of rrnative, written to DIR/ours-MODEL-TASK.json. --profile: then, untimed, 5 more steps
//       (or a score of 4,096 pairs) under LibTorch's profiler, summed by kernel into DIR/profile-MODEL-TASK.json. The pairs are DIR/pairs.jsonl (the
//       peers' pairs, from gpu_peers.py pairs). Exits 3 when the addon sees no CUDA device.
//   node dist/scripts/bench/gpu.js table --work DIR [--peak-tflops X]
//       Reads DIR/ours-*.json, DIR/peers/peer_train.json, DIR/peers/peer_bench.json, DIR/info.json and
//       DIR/mem-*.txt and prints one Markdown table (also written to DIR/table.md and DIR/results.json), then the
//       DIR/profile-*.json summaries, if any (also DIR/profile.md).
//   node dist/scripts/bench/gpu.js fake --work DIR
//       Writes made-up measurements in the formats above (for testing `table` without a GPU).
//
// Workloads (the peers'): pairs of debdesc train synopsis + description (the first 20,000 rows, every other
// one a random negative), max_length 256, random-init BERT configs, vocab 30522.
// - train: batch 64, pairs in file order (dynamic padding), 150 steps (MiniLM-L6) / 80 (BERT-base), bf16
//   autocast, BCE, AdamW lr 2e-5, clip 1.0; 10 untimed warm-up steps first (as the peers' hand-written loop);
//   ours tokenizes each batch inside the timed loop (the next batch while the GPU runs the current one).
// - train-grouped: the same pairs and steps as `rrtrain` runs them with group_by_length: tokenized before the
//   timed part (the trainer's token cache), batches of similar length within runs of 50 batches.
// - train-graphs: train-grouped with `training.cuda_graphs` (each step replayed as a CUDA graph per length
//   bucket of 32): the warm-up also runs one batch of each bucket the timed steps use, so the timed steps are
//   replays (a real run captures each bucket once in thousands of steps; in session 3's run the captures were
//   inside the 80 timed steps).
//   All keep the loss on the GPU (read once at the end of the timed part, which waits for the GPU).
// - score: batch 256; bf16: 16,384 pairs, fp32: 8,192 (as peer_bench.py's predict); one untimed warm-up of two
//   batches; ours tokenizes inside the timed part and length-sorts the batches (as Reranker.score does).
//   score-bf16 runs an fp32 model under bf16 autocast (score(..., { bf16: true })); score-bf16w a model with
//   bf16 weights (dtype 'bf16'), as the peer's predict does (transformers' dtype=torch.bfloat16).
// MFU: model FLOPs per real token (padding not counted): training 6N + 12·L·H·T, inference 2N + 4·L·H·T, with
// N the non-embedding parameters and T the pair's own length, summed over the pairs each run processed,
// divided by its time and the GPU's dense bf16 peak (H100 SXM / H200: 989 TFLOP/s; H100 PCIe: 756).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadDebdesc } from '../../src/data/debdesc';
import { Reranker } from '../../src/model';
import { addon } from '../../src/native';
import { PairTokenizer, padBatch, type EncodedPair } from '../../src/tokenize';
import { groupByLength } from '../../src/train/plan';
import { trainWordPiece } from '../../src/train/vocab';
import { formatProfiles, trimProfile, type ProfileFile } from './profile';

export const MODELS: Record<string, { label: string; key: string; layers: number; hidden: number; intermediate: number; heads: number; trainSteps: number }> = {
  minilm: { label: 'MiniLM-L6-H384', key: 'minilm-l6-h384', layers: 6, hidden: 384, intermediate: 1536, heads: 12, trainSteps: 150 },
  'bert-base': { label: 'BERT-base', key: 'bert-base', layers: 12, hidden: 768, intermediate: 3072, heads: 12, trainSteps: 80 },
};
export const TASKS = ['train', 'train-grouped', 'train-graphs', 'score-bf16', 'score-bf16w', 'score-fp32'] as const;
export type Task = (typeof TASKS)[number];
const VOCAB = 30522;
const MAX_LENGTH = 256;
const TRAIN_BATCH = 64;
const SCORE_BATCH = 256;
const SCORE_PAIRS: Record<string, number> = { 'score-bf16': 16384, 'score-bf16w': 16384, 'score-fp32': 8192 };
// The untimed profiled window of --profile: enough steps or batches to average over, few enough to stay cheap.
const PROFILE_STEPS = 5;
const PROFILE_PAIRS = 4096;

/** Non-embedding parameters of a BERT sequence classifier (encoder layers, pooler, one-logit head). */
export function nonEmbeddingParams(m: { layers: number; hidden: number; intermediate: number }): number {
  const h = m.hidden, i = m.intermediate;
  const layer = 4 * h * h + 4 * h /* q k v o */ + 2 * h * i + i + h /* FFN */ + 4 * h /* two LayerNorms */;
  return m.layers * layer + (h * h + h) /* pooler */ + (h + 1) /* classifier */;
}

/** Model FLOPs of a run over pairs of the given lengths (padding not counted). */
export function modelFlops(m: { layers: number; hidden: number; intermediate: number }, lengths: readonly number[], training: boolean): number {
  const n = nonEmbeddingParams(m);
  const perToken = training ? 6 * n : 2 * n;
  const attn = (training ? 12 : 4) * m.layers * m.hidden;
  let flops = 0;
  for (const t of lengths) flops += t * (perToken + attn * t);
  return flops;
}

/** Dense bf16 peak of a GPU, TFLOP/s, from its name; undefined when unknown. */
export function peakTflops(gpu: string | undefined): number | undefined {
  if (!gpu) return undefined;
  const g = gpu.toUpperCase();
  if (g.includes('H200')) return 989;
  if (g.includes('H100') || g.includes('H800')) return g.includes('PCIE') ? 756 : 989;
  if (g.includes('A100') || g.includes('A800')) return 312;
  if (g.includes('L40S')) return 362;
  return undefined;
}

interface PairRow { query: string; document: string; label: number }

function readPairs(file: string): PairRow[] {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing (gpu.sh writes it with gpu_peers.py pairs)`);
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PairRow);
}

const positive = (v: string | undefined, name: string, fallback: number): number => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
};

// ---------------------------------------------------------------------------------------------------------
// prepare

async function prepare(work: string, tokenizer: string | undefined, vocabSize: number): Promise<void> {
  fs.mkdirSync(work, { recursive: true });
  const dir = path.join(work, 'tokenizer');
  if (tokenizer) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.cpSync(tokenizer, dir, { recursive: true });
  } else if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) {
    const t0 = Date.now();
    const train = await loadDebdesc('train');
    await trainWordPiece(train.flatMap((r) => [r.query, r.document]), dir, { vocabSize });
    console.error(`[gpu-bench] trained a WordPiece vocabulary (${vocabSize}) on debdesc train in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const tok = await PairTokenizer.load(dir);
  if (tok.vocabSize > VOCAB) throw new Error(`the tokenizer has ${tok.vocabSize} ids, over the models' vocab_size ${VOCAB}`);
  console.error(`[gpu-bench] tokenizer: ${dir} (${tok.vocabSize} ids)`);
}

// ---------------------------------------------------------------------------------------------------------
// ours

export interface OursResult {
  runner: 'ours';
  model: string;
  task: Task;
  pairs_per_s: number;
  seconds: number;
  pairs: number;
  batch: number;
  steps?: number;
  dtype: 'bf16' | 'fp32';
  device: string;
  torch: string;
  node: string;
  last_loss?: number;
  /** Model FLOPs of the pairs this run processed (see modelFlops). */
  flops: number;
  /** Training: seconds until every timed step was handed to the GPU (the rest is waiting for it). */
  enqueue_seconds?: number;
  /** The attention kernels allowed (RRNATIVE_SDPA), from runtimeInfo(). */
  attention?: string;
}

type OursOptions = { model: string; task: Task; work: string; device: 'cuda' | 'cpu'; steps?: number; warmup: number; batch?: number; n?: number; maxLength: number; maxSeconds: number; profile: boolean };

// One more, untimed window of the same work under LibTorch's profiler, summed by kernel into
// DIR/profile-MODEL-TASK.json. A profile that fails is written as its error: it never costs the timed result.
async function profileWindow(o: OursOptions, window: string, work: () => Promise<unknown>): Promise<void> {
  let file: ProfileFile;
  try {
    await addon().startProfiler({ cuda: o.device === 'cuda' });
    let summary;
    try {
      await work();
    } finally {
      summary = await addon().stopProfiler();
    }
    file = { model: o.model, task: o.task, window, summary: trimProfile(summary) };
  } catch (err) {
    file = { model: o.model, task: o.task, window, error: err instanceof Error ? err.message : String(err) };
  }
  fs.writeFileSync(path.join(o.work, `profile-${o.model}-${o.task}.json`), JSON.stringify(file, null, 1) + '\n');
}

async function ours(o: OursOptions): Promise<void> {
  const spec = MODELS[o.model];
  const info = addon().runtimeInfo();
  if (o.device === 'cuda' && !info.cudaAvailable) {
    console.error(`[gpu-bench] rrnative's addon sees no CUDA device (LibTorch ${info.torchVersion}): build it against a CUDA ` +
      "LibTorch (python3's torch) on a machine with a GPU");
    process.exit(3);
  }
  const pairs = readPairs(path.join(o.work, 'pairs.jsonl'));
  const model = await Reranker.create({
    config: {
      model_type: 'bert', vocab_size: VOCAB, hidden_size: spec.hidden, num_hidden_layers: spec.layers, num_attention_heads: spec.heads,
      intermediate_size: spec.intermediate, max_position_embeddings: 512, type_vocab_size: 2, hidden_dropout_prob: 0.1,
      attention_probs_dropout_prob: 0.1, layer_norm_eps: 1e-12, initializer_range: 0.02, hidden_act: 'gelu',
    },
    tokenizer: path.join(o.work, 'tokenizer'), maxLength: o.maxLength, device: o.device, seed: 0, dtype: o.task === 'score-bf16w' ? 'bf16' : 'fp32',
  });
  const text = (rows: PairRow[]) => rows.map((r) => [r.query, r.document] as [string, string]);
  // Written as soon as it is measured: the untimed profile after it (--profile) must not be able to lose it.
  const report = (result: OursResult) => {
    fs.writeFileSync(path.join(o.work, `ours-${o.model}-${o.task}.json`), JSON.stringify(result, null, 1) + '\n');
    console.log(JSON.stringify(result));
  };
  try {
    if (o.task === 'train' || o.task === 'train-grouped' || o.task === 'train-graphs') {
      // train: file order, each batch tokenized inside the timed loop (overlapping the previous step), as the
      // peers' hand-written loop. train-grouped: as `rrtrain` with group_by_length: the pairs tokenized first
      // (the trainer's token cache; HF's Trainer also tokenizes its dataset before timing), batches of similar
      // length. Losses stay on the GPU (deferLoss) and are read once at the end, which waits for the GPU.
      const batch = o.batch ?? TRAIN_BATCH;
      const steps = o.steps ?? spec.trainSteps;
      if (steps * batch > pairs.length) throw new Error(`${steps} steps of ${batch} need ${steps * batch} pairs, pairs.jsonl has ${pairs.length}`);
      const bf16 = o.device === 'cuda';
      const grouped = o.task !== 'train';
      const cudaGraphs = o.task === 'train-graphs';
      const used = pairs.slice(0, steps * batch);
      const pretokenized = grouped ? await model.tokenizer.encodePairs(text(used), o.maxLength, true) : null;
      const order = pretokenized
        ? groupByLength(used.map((_, i) => i), (i) => pretokenized[i].ids.length, batch)
        : used.map((_, i) => i);
      const batchOf = (s: number) => order.slice((s % steps) * batch, (s % steps + 1) * batch);
      const encode = (s: number): Promise<EncodedPair[]> => {
        const idx = batchOf(s);
        return pretokenized ? Promise.resolve(idx.map((i) => pretokenized[i])) : model.tokenizer.encodePairs(text(idx.map((i) => used[i])), o.maxLength, true);
      };
      // The length a captured graph is keyed by (native/runtime/graphs.h: kGraphLengthBucket).
      const bucketOf = (encoded: EncodedPair[]) => Math.ceil(Math.max(...encoded.map((e) => e.ids.length)) / 32);
      const processedLengths: number[] = [];
      const run = async (first: number, count: number, timed: boolean, deadline: number) => {
        let next = encode(first);
        let done = 0;
        for (let s = first; s < first + count; s++) {
          const encoded = await next;
          if (s + 1 < first + count) next = encode(s + 1);
          const idx = batchOf(s);
          await model.native.trainStep(padBatch(encoded, model.tokenizer.padTokenId), {
            kind: 'bce', groupSize: 1, labels: Float32Array.from(idx, (i) => used[i].label), teacherScores: null, scale: 1, bf16, deferLoss: true, cudaGraphs,
          });
          await model.native.optimizerStep({ lr: 2e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1.0, deferGradNorm: true, cudaGraphs });
          if (timed) for (const e of encoded) processedLengths.push(e.ids.length);
          done++;
          if (Date.now() > deadline) break;
        }
        const enqueued = process.hrtime.bigint();  // every step handed to the GPU; the read below waits for them
        return { done, enqueued, stats: await model.native.takeTrainStats() };
      };
      await run(0, o.warmup, false, Infinity);
      if (cudaGraphs) {
        // Graphs are captured once per length bucket and replayed for the rest of a run: a trainer's run of
        // thousands of steps pays each capture once. Warm up one batch of every bucket the timed steps use, so
        // the timing is of replays, as the other rows time steady-state eager steps.
        const seen = new Set<number>();
        for (let s = 0; s < o.warmup; s++) seen.add(bucketOf(await encode(s)));
        for (let s = 0; s < steps; s++) {
          const bucket = bucketOf(await encode(s));
          if (!seen.has(bucket)) {
            seen.add(bucket);
            await run(s, 1, false, Infinity);
          }
        }
      }
      // Stops early (after the step that passes --max-seconds) so a slow build still reports within the budget.
      const t0 = process.hrtime.bigint();
      const { done, enqueued, stats } = await run(0, steps, true, Date.now() + o.maxSeconds * 1000);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      // Close to `seconds`: the host (launches, tokenization, JS) sets the pace; far below: the GPU does.
      const enqueueSeconds = Number(enqueued - t0) / 1e9;
      if (stats.loss === null || !Number.isFinite(stats.loss)) throw new Error(`the training loss is ${stats.loss}`);
      report({ runner: 'ours', model: o.model, task: o.task, pairs_per_s: (done * batch) / seconds, seconds, pairs: done * batch, batch, steps: done,
        dtype: bf16 ? 'bf16' : 'fp32', device: o.device, torch: info.torchVersion, node: process.version, last_loss: stats.loss,
        flops: modelFlops(spec, processedLengths, true), enqueue_seconds: enqueueSeconds, attention: info.attentionBackends });
      if (o.profile) await profileWindow(o, `${PROFILE_STEPS} steps of ${batch} pairs`, () => run(0, PROFILE_STEPS, false, Infinity));
    } else {
      const batch = o.batch ?? SCORE_BATCH;
      const n = Math.min(o.n ?? SCORE_PAIRS[o.task], pairs.length);
      const bf16 = o.task === 'score-bf16';  // autocast; score-bf16w: a bf16 model (dtype 'bf16'), as the peer's
      const all = text(pairs.slice(0, n));
      await model.score(all.slice(0, 2 * batch), { batchSize: batch, bf16 });
      const t0 = process.hrtime.bigint();
      const scores = await model.score(all, { batchSize: batch, bf16 });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (scores.length !== n || scores.some((s) => !Number.isFinite(s))) throw new Error('a score is missing or not finite');
      const lengths = (await model.tokenizer.encodePairs(all, o.maxLength, true)).map((e) => e.ids.length);
      report({ runner: 'ours', model: o.model, task: o.task, pairs_per_s: n / seconds, seconds, pairs: n, batch,
        dtype: bf16 || model.dtype === 'bf16' ? 'bf16' : 'fp32', device: o.device, torch: info.torchVersion, node: process.version, flops: modelFlops(spec, lengths, false),
        attention: info.attentionBackends });
      const profiled = all.slice(0, PROFILE_PAIRS);
      if (o.profile) await profileWindow(o, `score of ${profiled.length} pairs`, () => model.score(profiled, { batchSize: batch, bf16 }));
    }
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------
// table

export interface TableRow {
  model: string;
  task: string;
  runner: string;
  batch: number | null;
  pairs: number | null;
  pairsPerS: number | null;
  vsOurs: number | null;
  mfu: number | null;
  gpuMemGib: number | null;
  allocGib: number | null;
  note: string;
}

interface Info {
  torch?: string; cuda?: string | null; cuda_available?: boolean; gpu?: string; gpu_count?: number; gpu_memory_gib?: number; driver?: string | null;
  transformers?: string | null; sentence_transformers?: string | null; datasets?: string | null; python?: string;
}

const readJson = <T>(file: string): T | undefined => (fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : undefined);
/** Peak GPU memory in MiB over one process (nvidia-smi samples, idle baseline subtracted), written by gpu.sh. */
const readMem = (work: string, name: string): number | null => {
  const f = path.join(work, `mem-${name}.txt`);
  if (!fs.existsSync(f)) return null;
  const v = Number(fs.readFileSync(f, 'utf8').trim());
  return Number.isFinite(v) && v >= 0 ? v / 1024 : null;
};

type PeerEntry = { pairs_per_s?: number; seconds?: number; steps?: number; batch?: number; n?: number; error?: string; torch_peak_alloc_gib?: number | null; dtype?: string };

export async function buildTable(work: string, peakOverride?: number): Promise<{ rows: TableRow[]; header: string[] }> {
  const info = readJson<Info>(path.join(work, 'info.json')) ?? {};
  // A peer's JSON is written when it ends; a peer stopped by the time limit leaves what it printed (.partial.json).
  const peerJson = <T>(name: string): { data?: T; partial: boolean } => {
    const full = readJson<T>(path.join(work, 'peers', `${name}.json`));
    if (full) return { data: full, partial: false };
    return { data: readJson<T>(path.join(work, 'peers', `${name}.partial.json`)), partial: true };
  };
  const pt0 = peerJson<Record<string, Record<string, PeerEntry>>>('peer_train');
  const pb0 = peerJson<Record<string, unknown>>('peer_bench');
  const peerTrain = pt0.data;
  const peerBench = pb0.data;
  const peerErrors: string[] = [];
  for (const [name, p] of [['peer_train', pt0], ['peer_bench', pb0]] as const) {
    const err = path.join(work, `${name}.err`);
    if (fs.existsSync(err)) peerErrors.push(`${name}.py ${p.data ? 'stopped early (results so far shown)' : 'failed'}: ${firstLine(fs.readFileSync(err, 'utf8'))}`);
  }
  const peak = peakOverride ?? peakTflops(info.gpu);
  const pairs = fs.existsSync(path.join(work, 'pairs.jsonl')) ? readPairs(path.join(work, 'pairs.jsonl')) : [];
  // Token lengths of the pairs (our tokenizer, the one the peers load too), for the FLOP counts.
  let lengths: number[] = [];
  let tokenizerCheck = 'tokenizers not compared (no hf-ids.json)';
  if (pairs.length && fs.existsSync(path.join(work, 'tokenizer'))) {
    const tok = await PairTokenizer.load(path.join(work, 'tokenizer'));
    const encoded = await tok.encodePairs(pairs.map((r) => [r.query, r.document] as [string, string]), MAX_LENGTH, true);
    lengths = encoded.map((e) => e.ids.length);
    const hf = readJson<{ tokenizer_class: string; input_ids: number[][] }>(path.join(work, 'hf-ids.json'));
    if (hf) {
      const same = hf.input_ids.filter((ids, i) => JSON.stringify(ids) === JSON.stringify(encoded[i]?.ids)).length;
      tokenizerCheck = `transformers' ${hf.tokenizer_class} gives our token ids on ${same}/${hf.input_ids.length} pairs`;
    }
  }
  const flopsOf = (m: (typeof MODELS)[string], n: number | null, training: boolean) =>
    n !== null && lengths.length >= n ? modelFlops(m, lengths.slice(0, n), training) : null;
  const rows: TableRow[] = [];
  let ourTorch: string | undefined;
  let ourNode: string | undefined;
  for (const [name, m] of Object.entries(MODELS)) {
    for (const task of TASKS) {
      const training = task.startsWith('train');
      const ourFile = path.join(work, `ours-${name}-${task}.json`);
      const ourErr = path.join(work, `ours-${name}-${task}.err`);
      const o = readJson<OursResult>(ourFile);
      if (o) { ourTorch = o.torch; ourNode = o.node; }
      const mfuOf = (n: number | null, seconds: number | null) => {
        const f = flopsOf(m, n, training);
        return f !== null && seconds && peak ? f / seconds / (peak * 1e12) : null;
      };
      const taskLabel = task === 'train' ? 'train bf16' : task === 'train-grouped' ? 'train bf16, group_by_length'
        : task === 'train-graphs' ? 'train bf16, group_by_length + cuda_graphs' : task === 'score-bf16' ? 'score bf16 (autocast)'
          : task === 'score-bf16w' ? 'score bf16 (bf16 weights)' : 'score fp32';
      const group: TableRow[] = [];
      if (o || fs.existsSync(ourErr)) {
        group.push({
          model: m.label, task: taskLabel, runner: 'rrnative', batch: o?.batch ?? null, pairs: o?.pairs ?? null, pairsPerS: o?.pairs_per_s ?? null,
          vsOurs: null, mfu: o ? (o.flops && peak ? o.flops / o.seconds / (peak * 1e12) : mfuOf(o.pairs, o.seconds)) : null, gpuMemGib: readMem(work, `ours-${name}-${task}`), allocGib: null,
          note: o ? (training ? `${o.steps}${o.steps !== m.trainSteps ? ` of ${m.trainSteps} (time cap)` : ''} steps, ` +
            (task === 'train' ? 'file order, tokenization timed (overlapped)' : task === 'train-graphs' ? 'pre-tokenized, length-grouped, CUDA graphs' : 'pre-tokenized, length-grouped batches') : 'tokenization timed, length-sorted')
            : firstLine(fs.readFileSync(ourErr, 'utf8')),
        });
      }
      const peerRow = (runner: string, e: PeerEntry | undefined, memName: string, note: string) => {
        if (!e) return;
        const n = e.error ? null : training ? (e.steps ?? 0) * (e.batch ?? 0) : e.n ?? null;
        group.push({
          model: m.label, task: taskLabel, runner, batch: e.batch ?? null, pairs: n, pairsPerS: e.pairs_per_s ?? null, vsOurs: null,
          mfu: e.pairs_per_s ? mfuOf(n, e.seconds ?? null) : null, gpuMemGib: e.error ? null : readMem(work, memName),
          allocGib: e.torch_peak_alloc_gib ?? null, note: e.error ? `error: ${e.error.slice(0, 120)}` : note,
        });
      };
      const pt = peerTrain?.[m.key];
      const pb = peerBench?.[m.key] as Record<string, PeerEntry> | undefined;
      if (training) {  // (the same peer rows under both of our training rows, for the ratios)
        peerRow('HF Trainer (peer_train.py)', pt?.hf_trainer_bf16, 'peer_train', 'Trainer overhead included');
        peerRow('PyTorch loop, fused AdamW (peer_train.py)', pt?.torch_loop_bf16_fused, 'peer_train', 'tokenization inline');
        peerRow('sentence-transformers CrossEncoderTrainer (peer_bench.py)', pb?.train_bf16_len256_bs64, 'peer_bench', '');
      } else {
        const key = task === 'score-fp32' ? 'infer_fp32_len256_bs256' : 'infer_bf16_len256_bs256';  // the peer: bf16 weights
        peerRow('sentence-transformers predict (peer_bench.py)', pb?.[key], 'peer_bench', 'tokenization timed');
      }
      const ourPps = group.find((r) => r.runner === 'rrnative')?.pairsPerS ?? null;
      for (const r of group) if (r.runner !== 'rrnative' && ourPps && r.pairsPerS) r.vsOurs = ourPps / r.pairsPerS;
      rows.push(...group);
    }
  }
  const pb = peerBench as { transformers?: string; sentence_transformers?: string } | undefined;
  const header = [
    `## rrnative vs the GPU peers (../shared/peers), ${new Date().toISOString().slice(0, 10)}`,
    '',
    `- device: ${info.gpu ?? 'unknown GPU'}${info.gpu_count && info.gpu_count > 1 ? ` (x${info.gpu_count}, one used)` : ''}, ` +
      `${info.gpu_memory_gib ?? '?'} GiB, driver ${info.driver ?? '?'}, CUDA ${info.cuda ?? '?'}; host ${os.cpus().length} cores`,
    `- ours: rrnative on LibTorch ${ourTorch ?? '?'} (python3's torch), Node ${ourNode ?? process.version}; peers: python ${info.python ?? '?'}, torch ${info.torch ?? '?'}, ` +
      `transformers ${pb?.transformers ?? info.transformers ?? '?'}, sentence-transformers ${pb?.sentence_transformers ?? info.sentence_transformers ?? '?'}` +
      `${info.datasets ? `, datasets ${info.datasets}` : ', no datasets package'}`,
    `- workload: random-init BERT configs (vocab ${VOCAB}), debdesc train synopsis + description pairs (half random negatives), ` +
      `max_length ${MAX_LENGTH}; train batch ${TRAIN_BATCH} in file order, score batch ${SCORE_BATCH}; mean ${lengths.length ? (lengths.reduce((s, x) => s + x, 0) / lengths.length).toFixed(1) : '?'} tokens/pair`,
    `- MFU: model FLOPs per real token (training 6N + 12·L·H·T, inference 2N + 4·L·H·T; N non-embedding parameters, T the pair's length; ` +
      `padding not counted) / time / ${peak ? `${peak} TFLOP/s (dense bf16 peak of ${info.gpu ?? 'the GPU'})` : 'an unknown peak (pass --peak-tflops)'}`,
    `- tokenizer: ${tokenizerCheck}`,
    '- vs ours: rrnative pairs/s ÷ that row\'s pairs/s (above 1: ours is faster)',
    '- GPU mem: peak of nvidia-smi\'s memory.used over the whole process, idle baseline subtracted (CUDA context included); ' +
      'the peers run both models in one process, so theirs is per script. alloc: torch allocator peak above what was allocated when the run began (peers only; the addon has no such counter)',
  ];
  for (const e of peerErrors) header.push(`- ${e}`);
  return { rows, header };
}

const firstLine = (s: string) => (s.trim().split('\n').filter(Boolean).pop() ?? '').slice(0, 160);

export function formatGpuTable(rows: TableRow[], header: string[]): string {
  const f = (x: number | null, d: number, suffix = '') => (x === null || !Number.isFinite(x) ? '-' : `${x.toFixed(d)}${suffix}`);
  const lines = [...header, '',
    '| model | task | runner | batch | pairs | pairs/s | vs ours | MFU | GPU mem GiB | alloc GiB | note |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |'];
  for (const r of rows) {
    lines.push(`| ${r.model} | ${r.task} | ${r.runner} | ${r.batch ?? '-'} | ${r.pairs ?? '-'} | ${f(r.pairsPerS, 0)} | ${f(r.vsOurs, 2, 'x')} | ` +
      `${r.mfu === null ? '-' : `${(100 * r.mfu).toFixed(1)}%`} | ${f(r.gpuMemGib, 1)} | ${f(r.allocGib, 1)} | ${r.note.replace(/\|/g, '/')} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// fake (for testing `table` without a GPU)

function fake(work: string): void {
  fs.mkdirSync(path.join(work, 'peers'), { recursive: true });
  fs.writeFileSync(path.join(work, 'info.json'), JSON.stringify({
    python: '3.12.3', torch: '2.11.0+cu130', cuda: '13.0', cuda_available: true, gpu: 'NVIDIA H100 80GB HBM3', gpu_count: 1, gpu_memory_gib: 79.2,
    sm_count: 132, transformers: '5.17.0', sentence_transformers: '6.0.1', datasets: null, tokenizers: '0.23.2', driver: '580.159.04',
  }));
  const pps: Record<string, Record<Task, number>> = { minilm: { train: 1500, 'train-grouped': 2500, 'train-graphs': 5000, 'score-bf16': 9000, 'score-bf16w': 11000, 'score-fp32': 4000 },
    'bert-base': { train: 800, 'train-grouped': 1300, 'train-graphs': 2600, 'score-bf16': 3000, 'score-bf16w': 3600, 'score-fp32': 1200 } };
  for (const [name, m] of Object.entries(MODELS)) {
    for (const task of TASKS) {
      if (name === 'bert-base' && task === 'score-fp32') {
        fs.writeFileSync(path.join(work, `ours-${name}-${task}.err`), 'Error: CUDA out of memory (made up)\n');
        continue;
      }
      const training = task.startsWith('train');
      const pairs = training ? m.trainSteps * TRAIN_BATCH : SCORE_PAIRS[task];
      const r: OursResult = { runner: 'ours', model: name, task, pairs_per_s: pps[name][task], seconds: pairs / pps[name][task], pairs,
        batch: training ? TRAIN_BATCH : SCORE_BATCH, ...(training ? { steps: m.trainSteps } : {}), dtype: task === 'score-fp32' ? 'fp32' : 'bf16',
        device: 'cuda', torch: '2.11.0', node: process.version, flops: 0 };
      fs.writeFileSync(path.join(work, `ours-${name}-${task}.json`), JSON.stringify(r));
      fs.writeFileSync(path.join(work, `mem-ours-${name}-${task}.txt`), String(name === 'minilm' ? 3100 : 9800));
    }
  }
  const peerTrain: Record<string, unknown> = {};
  const peerBench: Record<string, unknown> = { gpu: 'NVIDIA H100 80GB HBM3', torch: '2.11.0+cu130', transformers: '5.17.0', sentence_transformers: '6.0.1' };
  for (const m of Object.values(MODELS)) {
    const steps = m.trainSteps, n = steps * TRAIN_BATCH;
    const t = (p: number) => ({ pairs_per_s: p, seconds: n / p, steps, batch: TRAIN_BATCH, max_length: MAX_LENGTH, torch_peak_alloc_gib: 4.2 });
    peerTrain[m.key] = { hf_trainer_bf16: { ...t(m.layers === 6 ? 424 : 565), note: 'includes tokenized-dataset collation, not tokenization' },
      torch_loop_bf16_fused: { ...t(m.layers === 6 ? 1004 : 737), note: 'tokenization inline, sdpa default' } };
    const inf = (p: number, nn: number, dtype: string) => ({ pairs_per_s: p, seconds: nn / p, n: nn, batch: SCORE_BATCH, max_length: MAX_LENGTH, dtype, torch_peak_alloc_gib: 1.5 });
    peerBench[m.key] = {
      train_bf16_len256_bs64: { error: "ModuleNotFoundError(\"No module named 'datasets'\")", torch_peak_alloc_gib: null },
      infer_bf16_len256_bs256: inf(m.layers === 6 ? 2055 : 2066, 16384, 'torch.bfloat16'),
      infer_fp32_len256_bs256: inf(m.layers === 6 ? 3752 : 1715, 8192, 'torch.float32'),
    };
  }
  fs.writeFileSync(path.join(work, 'peers', 'peer_train.json'), JSON.stringify(peerTrain));
  fs.writeFileSync(path.join(work, 'peers', 'peer_bench.json'), JSON.stringify(peerBench));
  fs.writeFileSync(path.join(work, 'mem-peer_train.txt'), '11500');
  fs.writeFileSync(path.join(work, 'mem-peer_bench.txt'), '7300');
}

// ---------------------------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<void> {
  const cmd = argv[0];
  const { values } = parseArgs({
    args: argv.slice(1),
    options: {
      work: { type: 'string' },
      tokenizer: { type: 'string' },
      'vocab-size': { type: 'string' },
      model: { type: 'string' },
      task: { type: 'string' },
      device: { type: 'string', default: 'cuda' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      batch: { type: 'string' },
      n: { type: 'string' },
      'max-length': { type: 'string' },
      'peak-tflops': { type: 'string' },
      'max-seconds': { type: 'string' },
      profile: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const usage = 'usage: gpu.js prepare|ours|table|fake --work DIR [options] (see the top of scripts/bench/gpu.ts)';
  if (!values.work) throw new Error(`--work is required. ${usage}`);
  const work = path.resolve(values.work);
  switch (cmd) {
    case 'prepare':
      return prepare(work, values.tokenizer, positive(values['vocab-size'], 'vocab-size', VOCAB));
    case 'ours': {
      if (!values.model || !(values.model in MODELS)) throw new Error(`--model must be one of ${Object.keys(MODELS).join(', ')}`);
      if (!values.task || !(TASKS as readonly string[]).includes(values.task)) throw new Error(`--task must be one of ${TASKS.join(', ')}`);
      if (values.device !== 'cuda' && values.device !== 'cpu') throw new Error('--device must be cuda or cpu');
      return ours({
        model: values.model, task: values.task as Task, work, device: values.device,
        steps: values.steps === undefined ? undefined : positive(values.steps, 'steps', 1),
        warmup: values.warmup === '0' ? 0 : positive(values.warmup, 'warmup', 10),
        batch: values.batch === undefined ? undefined : positive(values.batch, 'batch', 1),
        n: values.n === undefined ? undefined : positive(values.n, 'n', 1),
        maxLength: positive(values['max-length'], 'max-length', MAX_LENGTH),
        maxSeconds: positive(values['max-seconds'], 'max-seconds', 60),
        profile: values.profile === true,
      });
    }
    case 'table': {
      const peak = values['peak-tflops'] === undefined ? undefined : Number(values['peak-tflops']);
      if (peak !== undefined && !(peak > 0)) throw new Error('--peak-tflops must be a positive number');
      const { rows, header } = await buildTable(work, peak);
      const text = formatGpuTable(rows, header);
      fs.writeFileSync(path.join(work, 'table.md'), text + '\n');
      fs.writeFileSync(path.join(work, 'results.json'), JSON.stringify({ rows }, null, 1) + '\n');
      console.log(text);
      const profiles = formatProfiles(work);
      if (profiles) {
        fs.writeFileSync(path.join(work, 'profile.md'), profiles + '\n');
        console.log('\n' + profiles);
      }
      return;
    }
    case 'fake':
      return fake(work);
    default:
      throw new Error(usage);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`[gpu-bench] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
