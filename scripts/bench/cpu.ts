// CPU throughput of rrnative against the PyTorch eager peer (../shared/peers/cpu_bert_peer.py), one machine, one
// run, the same model and the same token ids on both sides.
//
//   npx tsc -p . && node dist/scripts/bench/cpu.js [--models minilm[,bert-base]] [--pairs 512] [--score-batch 32]
//       [--train-batch 16] [--train-steps 3] [--max-length 256] [--threads N] [--repeats 1] [--peer-torch-threads 1]
//       [--tokenizer DIR] [--peer ../shared/peers/cpu_bert_peer.py] [--python /usr/bin/python3] [--json out.json]
//       [--only score,train,score-int8] [--hf-python ~/.cache/rrnative-peers/venv/bin/python] [--profile]
//
// With --hf-python (the venv ../shared/peers/setup-hf-peers.sh makes), each task also runs the real Hugging Face
// stack's peers (../shared/peers/hf_cpu_peer.py), interleaved with ours in the same repeats, each its own row:
// scoring: sentence-transformers CrossEncoder.predict on the text (its tokenization timed, as ours is) and
// onnxruntime fp32 on the same token ids (transformers' model exported by torch.onnx, untimed; its tokenization
// not timed); score int8: onnxruntime on its own quantize_dynamic of that export; training: the transformers
// Trainer (num_labels=1, MSE, AdamW lr 1e-4, decay 0.01, clip 1.0, dynamic padding; its tokenization timed).
// Targets (issue 23): fp32 >= 1.5x onnxruntime, >= 2x sentence-transformers; int8 >= 1.2x onnxruntime int8;
// training >= 2x the Trainer.
//
// The defaults take about 3 minutes on 2 cores (MiniLM-L6 only; BERT-base is ~8x the work per pair: shrink
// --pairs / --train-batch for it). The peer needs Debian's python3-torch (apt-get install -y python3-torch),
// run with /usr/bin/python3, not a python3 of pyenv/venv without torch.
//
// What it does:
// - Tokenizer: a BERT WordPiece vocabulary trained on the bundled debdesc train split (--vocab-size 30522; about
//   10 s, not timed), or --tokenizer DIR.
// - Models: random-init BERT configs (MiniLM-L6-H384: 6 x 384, 12 heads, 1536; BERT-base: 12 x 768, 12 heads,
//   3072; vocab 30522), created with Reranker.create (seed 0) and written with save() to a temp folder: both
//   sides load that folder.
// - Pairs: debdesc dev rows, synopsis (query) + long description (document); every other pair is a positive, the
//   rest take a random other row's description (label 0). They are tokenized once here (truncated to
//   --max-length) and written as the peer's JSONL ({input_ids, token_type_ids, label}).
// - Scoring: ours is `Reranker.score(pairs, { batchSize })` on the TEXT (its tokenization is timed); the peer is
//   `cpu_bert_peer.py infer --sort` on the token ids (not timed on its side). Both length-sort, and the pair
//   count is a multiple of the batch size, so both run the same batches. One warm-up batch, untimed, each side.
// - Scoring in int8 ("score int8"): ours loads the model with dtype 'int8' (native/kernels/int8_linear.h); the peer is
//   scripts/bench/cpu_int8_peer.py, the shared peer's model under torch.ao's dynamic quantization (qint8 weights per
//   output channel, activations per call, engine onednn), the same ids, batches and timing as its `infer --sort`.
//   Ours runs its int8 products on torch's intra-op pool with all N threads; the peer gets `--threads N` (no
//   thread-matched variant: both sides' int8 products run on torch's pool).
// - Training: the first (steps + 1) x batch pairs in file order, one step per batch, BCE, AdamW (lr 1e-4, weight
//   decay 0.01, clip 1.0), dropout on; step 0 is a warm-up and not timed. Ours tokenizes each batch's text
//   inside the timed loop (encodePairs + padBatch + native trainStep + optimizerStep); the peer gets ids. Ours
//   runs each batch as `rrtrain` does on the CPU (training.length_slices auto: for these models one forward on
//   packed tokens, attention included, so no padding is computed; the same loss and gradients); the peer pads
//   the batch.
// - OpenBLAS's idle-thread spin: rrnative sets OPENBLAS_THREAD_TIMEOUT=10 (2^10 cycles) when it is unset, as it
//   loads; this script loads it first, so both sides' processes inherit the same value (the header shows it).
// - OpenMP's idle-thread spin: rrnative sets OMP_WAIT_POLICY=PASSIVE when neither it nor GOMP_SPINCOUNT is set
//   (src/native.ts); the peers run with the environment this script was started with, as their users would.
// - Threads: ours RRNATIVE_NUM_THREADS=N, the peer `--threads N` (and OPENBLAS_NUM_THREADS=N), N = --threads,
//   default all cores. With OpenBLAS, ours gives its N threads to OpenBLAS and 1 to torch's own pool, while the
//   peer's `--threads N` gives N to both pools, which then compete for the cores: --peer-torch-threads 1 adds
//   an informational table of the peer run as ours is (torch 1 thread, OpenBLAS N).
// - Each measurement is its own process, so peak RSS (ru_maxrss) is per measurement; it includes loading the
//   model (ours: Node + tokenizer too; the peer: the Python torch import). --repeats R runs both sides R times,
//   alternating which goes first, and keeps each side's best run (a shared machine's load varies).
// - --profile: after each task's timed runs, ours runs once more under LibTorch's profiler (untimed) and the
//   largest CPU operators are printed after the table: where the time goes, before choosing what to speed up.
// Prints one Markdown table and, with --json, writes the raw results.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadDebdesc } from '../../src/data/debdesc';
import { Rng } from '../../src/data/rng';
import { Reranker } from '../../src/model';
import { addon, type NativeProfileSummary } from '../../src/native';
import { formatCpuProfile } from './profile';
import { peerEnv, runProcess, startOmpWaitPolicy, tail } from './processes';
import { PairTokenizer, padBatch } from '../../src/tokenize';
import { packsTokens, resolveLengthSlices } from '../../src/train/trainer';
import { trainWordPiece } from '../../src/train/vocab';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const defaultPeer = path.resolve(repoRoot, '..', 'shared', 'peers', 'cpu_bert_peer.py');
const defaultHfPeer = path.resolve(repoRoot, '..', 'shared', 'peers', 'hf_cpu_peer.py');

export const MODEL_CONFIGS: Record<string, { label: string; config: Record<string, unknown> }> = {
  minilm: {
    label: 'MiniLM-L6-H384',
    config: { hidden_size: 384, num_hidden_layers: 6, num_attention_heads: 12, intermediate_size: 1536 },
  },
  'bert-base': {
    label: 'BERT-base',
    config: { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 },
  },
};

// Training hyper-parameters, the peer's (cpu_bert_peer.py train): AdamW defaults, lr 1e-4, decay 0.01, clip 1.0.
const TRAIN = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1.0 };

interface Options {
  models: string[];
  pairs: number;
  scoreBatch: number;
  trainBatch: number;
  trainSteps: number;
  maxLength: number;
  threads: number;
  vocabSize: number;
  tokenizer?: string;
  peer: string;
  python: string;
  json?: string;
  keep: boolean;
  only: Set<string>;
  repeats: number;
  /** Also run the peer with this torch thread count (OpenBLAS keeps --threads): the peer as tuned as ours. */
  peerTorchThreads?: number;
  /** A python with the HF stack (torch 2.x, transformers, sentence-transformers, onnxruntime): adds its peers. */
  hfPython?: string;
  hfPeer: string;
  /** After the timed runs, run ours once more under LibTorch's profiler and print where the time goes. */
  profile: boolean;
}

/** What a child measurement is told to do (passed as a JSON file). */
interface ChildSpec {
  kind: 'score' | 'train';
  dtype: 'fp32' | 'int8';
  modelDir: string;
  textFile: string;   // JSON: { pairs: [q, d][], labels: number[] }
  tokensFile: string; // the peer's JSONL: ours checks that its own tokenization gives the same ids
  batch: number;
  steps: number;
  maxLength: number;
  /** Run the timed part under LibTorch's profiler and write its summary here (a separate, untimed child). */
  profileFile?: string;
}

export interface Measurement {
  pairsPerSecond: number;
  /** pairs/s of every repeat (the table shows the best). */
  runs?: number[];
  seconds: number;
  pairs: number;
  peakRssMb: number;
  extra?: Record<string, unknown>;
}

export interface ResultRow {
  model: string;
  task: Task;
  batch: number;
  pairs: number;
  ours: Measurement | { error: string };
  /** Which peer this row compares with. */
  peerName: string;
  peer: Measurement | { error: string };
  target: number;
}

type Task = 'score' | 'train' | 'score int8';
const TASKS: Record<string, Task> = { score: 'score', train: 'train', 'score-int8': 'score int8' };

function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

export function parseOptions(argv: string[]): Options & { child?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string', default: 'minilm' },
      pairs: { type: 'string', default: '512' },
      'score-batch': { type: 'string', default: '32' },
      'train-batch': { type: 'string', default: '16' },
      'train-steps': { type: 'string', default: '3' },
      'max-length': { type: 'string', default: '256' },
      threads: { type: 'string' },
      'vocab-size': { type: 'string', default: '30522' },
      tokenizer: { type: 'string' },
      peer: { type: 'string', default: defaultPeer },
      python: { type: 'string', default: '/usr/bin/python3' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      only: { type: 'string', default: 'score,train,score-int8' },
      repeats: { type: 'string', default: '1' },
      'peer-torch-threads': { type: 'string' },
      'hf-python': { type: 'string' },
      'hf-peer': { type: 'string', default: defaultHfPeer },
      profile: { type: 'boolean', default: false },
      child: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    const source = path.join(repoRoot, 'scripts', 'bench', 'cpu.ts');
    const text = fs.existsSync(source) ? fs.readFileSync(source, 'utf8') : '// see scripts/bench/cpu.ts';
    console.log(text.split('\n').filter((l) => l.startsWith('//')).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    process.exit(0);
  }
  const models = values.models.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of models) if (!(m in MODEL_CONFIGS)) throw new Error(`--models: unknown model ${m} (${Object.keys(MODEL_CONFIGS).join(', ')})`);
  const only = new Set(values.only.split(','));
  for (const t of only) if (!(t in TASKS)) throw new Error(`--only: unknown task ${t} (${Object.keys(TASKS).join(', ')})`);
  const scoreBatch = positiveInt(values['score-batch'], 'score-batch');
  let pairs = positiveInt(values.pairs, 'pairs');
  // A multiple of the batch: ours sorts longest-first, the peer shortest-first; whole batches make them the same.
  pairs = Math.max(scoreBatch, Math.floor(pairs / scoreBatch) * scoreBatch);
  return {
    models,
    pairs,
    scoreBatch,
    trainBatch: positiveInt(values['train-batch'], 'train-batch'),
    trainSteps: positiveInt(values['train-steps'], 'train-steps'),
    maxLength: positiveInt(values['max-length'], 'max-length'),
    threads: values.threads === undefined ? os.cpus().length : positiveInt(values.threads, 'threads'),
    vocabSize: positiveInt(values['vocab-size'], 'vocab-size'),
    tokenizer: values.tokenizer,
    peer: path.resolve(values.peer),
    python: values.python,
    json: values.json,
    keep: values.keep,
    only,
    repeats: positiveInt(values.repeats, 'repeats'),
    peerTorchThreads: values['peer-torch-threads'] === undefined ? undefined : positiveInt(values['peer-torch-threads'], 'peer-torch-threads'),
    hfPython: values['hf-python'],
    hfPeer: path.resolve(values['hf-peer']),
    child: values.child,
    profile: values.profile,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Child measurements (ours): one process per measurement, so peak RSS is that measurement's.

async function runChild(specFile: string): Promise<void> {
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8')) as ChildSpec;
  const text = JSON.parse(fs.readFileSync(spec.textFile, 'utf8')) as { pairs: [string, string][]; labels: number[] };
  const model = await Reranker.load(spec.modelDir, { device: 'cpu', maxLength: spec.maxLength, dtype: spec.dtype });
  try {
    let result: Measurement;
    if (spec.kind === 'score') {
      await model.score(text.pairs.slice(0, spec.batch), { batchSize: spec.batch });  // warm-up
      if (spec.profileFile) await addon().startProfiler({ cuda: false });
      const t0 = process.hrtime.bigint();
      const scores = await model.score(text.pairs, { batchSize: spec.batch });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (spec.profileFile) writeProfile(spec.profileFile, await addon().stopProfiler(), seconds);
      if (scores.some((s) => !Number.isFinite(s))) throw new Error('a score is not finite');
      result = { pairsPerSecond: text.pairs.length / seconds, seconds, pairs: text.pairs.length, peakRssMb: 0 };
    } else {
      const { batch, steps } = spec;
      // What `rrtrain` does on the CPU (training.length_slices: auto): these BERT models run on packed tokens, one
      // forward per batch.
      const lengthSlices = resolveLengthSlices('auto', 'cpu', false, packsTokens(model));
      const step = async (k: number): Promise<number> => {
        const pairs = text.pairs.slice(k * batch, (k + 1) * batch);
        const encoded = await model.tokenizer.encodePairs(pairs, spec.maxLength, true);
        const tokens = padBatch(encoded, model.tokenizer.padTokenId);
        const labels = Float32Array.from(text.labels.slice(k * batch, (k + 1) * batch));
        const loss = await model.native.trainStep(tokens, { kind: 'bce', groupSize: 1, labels, teacherScores: null, scale: 1, bf16: false, lengthSlices });
        await model.native.optimizerStep(TRAIN);
        return loss;
      };
      await step(0);  // warm-up
      if (spec.profileFile) await addon().startProfiler({ cuda: false });
      const t0 = process.hrtime.bigint();
      let loss = 0;
      for (let k = 1; k <= steps; k++) loss = await step(k);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (spec.profileFile) writeProfile(spec.profileFile, await addon().stopProfiler(), seconds);
      if (!Number.isFinite(loss)) throw new Error(`the loss is ${loss}`);
      result = { pairsPerSecond: (steps * batch) / seconds, seconds, pairs: steps * batch, peakRssMb: 0, extra: { lastLoss: loss } };
    }
    // Same token ids as the peer's file (checked after timing).
    const encoded = await model.tokenizer.encodePairs(text.pairs, spec.maxLength, true);
    const ours = hashIds(encoded.map((e) => [e.ids, e.typeIds]));
    const peers = hashIds(fs.readFileSync(spec.tokensFile, 'utf8').trim().split('\n').map((l) => {
      const r = JSON.parse(l) as { input_ids: number[]; token_type_ids: number[] };
      return [r.input_ids, r.token_type_ids];
    }));
    if (ours !== peers) throw new Error('our tokenization of the pairs differs from the ids given to the peer');
    result.peakRssMb = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    model.dispose();
  }
}

function writeProfile(file: string, summary: NativeProfileSummary, seconds: number): void {
  fs.writeFileSync(file, JSON.stringify({ seconds, summary }));
}

function hashIds(rows: (number[] | number[][])[]): string {
  return crypto.createHash('sha256').update(JSON.stringify(rows)).digest('hex');
}

// ---------------------------------------------------------------------------------------------------------
// Running a measurement in a child process

async function measureOurs(spec: ChildSpec, work: string, threads: number, timeoutMs: number): Promise<Measurement | { error: string }> {
  const specFile = path.join(work, `spec-${spec.kind}-${spec.dtype}-${path.basename(spec.modelDir)}.json`);
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const env = { ...process.env, RRNATIVE_NUM_THREADS: String(threads) };
  const r = await runProcess(process.execPath, [__filename, '--child', specFile], env, timeoutMs);
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.code !== 0 || !line) return { error: `ours exited ${r.code}: ${tail(r.stderr || r.stdout)}` };
  return JSON.parse(line.slice('RESULT '.length)) as Measurement;
}

// The peer under a wrapper that reports its peak RSS (ru_maxrss) at exit.
const PEER_WRAPPER = [
  'import atexit, json, resource, runpy, sys',
  'atexit.register(lambda: print("PEAKRSS_KB " + str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), flush=True))',
  'sys.argv = sys.argv[1:]',
  'runpy.run_path(sys.argv[0], run_name="__main__")',
].join('\n');

// PyTorch's dynamic int8 quantization of the shared peer's model (scripts/bench/cpu_int8_peer.py).
const int8Peer = path.join(repoRoot, 'scripts', 'bench', 'cpu_int8_peer.py');

async function measurePeer(opts: Options, mode: 'infer' | 'train' | 'infer-int8', modelDir: string, tokensFile: string, batch: number, steps: number,
  timeoutMs: number, torchThreads: number): Promise<Measurement | { error: string }> {
  const args = mode === 'infer-int8'
    ? ['-c', PEER_WRAPPER, int8Peer, opts.peer, modelDir, tokensFile, '--batch', String(batch), '--threads', String(torchThreads)]
    : ['-c', PEER_WRAPPER, opts.peer, mode, modelDir, tokensFile, '--batch', String(batch), '--threads', String(torchThreads)];
  if (mode === 'infer') args.push('--sort');
  else if (mode === 'train') args.push('--steps', String(steps));
  const env = peerEnv({ OPENBLAS_NUM_THREADS: String(opts.threads) });
  let r;
  try {
    r = await runProcess(opts.python, args, env, timeoutMs);
  } catch (err) {
    return { error: `cannot run ${opts.python}: ${(err as Error).message}` };
  }
  const json = r.stdout.split('\n').find((l) => l.startsWith('{'));
  const rss = /PEAKRSS_KB (\d+)/.exec(r.stdout);
  if (r.code !== 0 || !json) return { error: `peer exited ${r.code}: ${tail(r.stderr || r.stdout)}` };
  const p = JSON.parse(json) as { pairs_per_s: number; seconds: number; pairs?: number; steps?: number; batch: number; threads: number; torch: string; engine?: string };
  return {
    pairsPerSecond: p.pairs_per_s, seconds: p.seconds, pairs: p.pairs ?? (p.steps ?? 0) * p.batch,
    peakRssMb: rss ? Number(rss[1]) / 1024 : NaN, extra: { threads: p.threads, torch: p.torch, ...(p.engine ? { engine: p.engine } : {}) },
  };
}

/** One hf_cpu_peer.py mode under the RSS wrapper; every pool of the peer's process gets `threads`. */
async function runHfPeer(opts: Options, args: string[], threads: number, timeoutMs: number): Promise<Measurement | { error: string }> {
  const env = peerEnv({ OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) });
  let r;
  try {
    r = await runProcess(opts.hfPython!, ['-c', PEER_WRAPPER, opts.hfPeer, ...args], env, timeoutMs);
  } catch (err) {
    return { error: `cannot run ${opts.hfPython}: ${(err as Error).message}` };
  }
  const json = r.stdout.split('\n').reverse().find((l) => l.startsWith('{'));
  const rss = /PEAKRSS_KB (\d+)/.exec(r.stdout);
  if (r.code !== 0 || !json) return { error: `hf_cpu_peer.py ${args[0]} exited ${r.code}: ${tail(r.stderr || r.stdout)}` };
  const p = JSON.parse(json) as Record<string, unknown> & { pairs_per_s?: number; pairs?: number; steps?: number; batch?: number };
  if (p.pairs_per_s === undefined) return { error: `hf_cpu_peer.py ${args[0]}: no pairs_per_s in ${json}` };
  const pairs = p.pairs ?? (p.steps ?? 0) * (p.batch ?? 0);
  const { pairs_per_s: _rate, ...extra } = p;
  return { pairsPerSecond: p.pairs_per_s, seconds: pairs / p.pairs_per_s, pairs, peakRssMb: rss ? Number(rss[1]) / 1024 : NaN, extra };
}

/** A pairs file as hf_cpu_peer.py reads it: [[query, document, label], ...]. */
function writeHfPairs(text: { pairs: [string, string][]; labels: number[] }, file: string): void {
  fs.writeFileSync(file, JSON.stringify(text.pairs.map(([q, d], i) => [q, d, text.labels[i]])));
}

// ---------------------------------------------------------------------------------------------------------
// Data

/** Debdesc pairs: even rows a random other description (label 0), odd rows the row's own (label 1). */
export function makePairs(rows: { query: string; document: string }[], n: number, seed: number): { pairs: [string, string][]; labels: number[] } {
  const rng = new Rng(seed);
  const pairs: [string, string][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = rows[i % rows.length];
    if (i % 2) {
      pairs.push([r.query, r.document]);
      labels.push(1);
    } else {
      let j = rng.int(rows.length);
      if (j === i % rows.length) j = (j + 1) % rows.length;
      pairs.push([r.query, rows[j].document]);
      labels.push(0);
    }
  }
  return { pairs, labels };
}

async function writeTokens(tokenizer: PairTokenizer, text: { pairs: [string, string][]; labels: number[] }, maxLength: number, file: string): Promise<number[]> {
  const encoded = await tokenizer.encodePairs(text.pairs, maxLength, true);
  fs.writeFileSync(file, encoded.map((e, i) => JSON.stringify({ input_ids: e.ids, token_type_ids: e.typeIds, label: text.labels[i] })).join('\n') + '\n');
  return encoded.map((e) => e.ids.length);
}

/** Real tokens / padded tokens when `lengths` are run length-sorted in batches of `batch`. */
export function paddingEfficiency(lengths: number[], batch: number, sorted: boolean): number {
  const ls = sorted ? [...lengths].sort((a, b) => a - b) : lengths;
  let real = 0, padded = 0;
  for (let i = 0; i < ls.length; i += batch) {
    const chunk = ls.slice(i, i + batch);
    real += chunk.reduce((s, x) => s + x, 0);
    padded += Math.max(...chunk) * chunk.length;
  }
  return real / padded;
}

// ---------------------------------------------------------------------------------------------------------
// The table

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

export function formatTable(rows: ResultRow[], header: string[]): string {
  const lines = [...header, '',
    '| model | task | peer | batch | pairs | ours pairs/s | peer pairs/s | ours / peer | target | ours peak RSS MB | peer peak RSS MB |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const r of rows) {
    const o = 'error' in r.ours ? null : r.ours;
    const p = 'error' in r.peer ? null : r.peer;
    const ratio = o && p ? o.pairsPerSecond / p.pairsPerSecond : NaN;
    const verdict = Number.isFinite(ratio) ? (ratio >= r.target ? ' (met)' : ' (missed)') : '';
    lines.push(`| ${r.model} | ${r.task} | ${r.peerName} | ${r.batch} | ${r.pairs} | ${o ? fmt(o.pairsPerSecond) : 'error'} | ${p ? fmt(p.pairsPerSecond) : 'error'} | ` +
      `${fmt(ratio, 2)}x | >= ${r.target}x${verdict} | ${o ? fmt(o.peakRssMb, 0) : '-'} | ${p ? fmt(p.peakRssMb, 0) : '-'} |`);
  }
  for (const r of rows) {
    if ('error' in r.ours) lines.push(`ours, ${r.model} ${r.task}: ${r.ours.error}`);
    if ('error' in r.peer) lines.push(`${r.peerName}, ${r.model} ${r.task}: ${r.peer.error}`);
  }
  return lines.join('\n');
}

function cpuName(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch { /* not Linux */ }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
    if (m) return m[1];
  } catch { /* not Linux */ }
  return `${os.type()} ${os.release()}`;
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.child) return runChild(opts.child);
  if (!fs.existsSync(opts.peer)) throw new Error(`--peer: ${opts.peer} not found (../shared/peers/cpu_bert_peer.py)`);
  const pyCheck = await runProcess(opts.python, ['-c', 'import torch, numpy; print(torch.__version__)'], process.env, 60_000).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  // The PyTorch 1.13 peer is one row among the HF peers; without Debian's python3-torch it is skipped when they run.
  const oldPeerRuns = pyCheck.code === 0;
  if (!oldPeerRuns && opts.hfPython) {
    console.error(`[cpu-bench] ${opts.python} cannot import torch (apt-get install -y python3-torch): the PyTorch 1.13 eager rows are left out`);
  } else if (!oldPeerRuns) {
    throw new Error(`${opts.python} cannot import torch and numpy (${tail(pyCheck.stderr)}). Debian: apt-get install -y python3-torch, ` +
      'and run with --python /usr/bin/python3');
  }
  let hfVersions = '';
  if (opts.hfPython) {
    if (!fs.existsSync(opts.hfPeer)) throw new Error(`--hf-peer: ${opts.hfPeer} not found (../shared/peers/hf_cpu_peer.py)`);
    const v = await runProcess(opts.hfPython, ['-c', 'import torch, transformers, sentence_transformers, onnxruntime as o; ' +
      'print(f"torch {torch.__version__}, transformers {transformers.__version__}, sentence-transformers {sentence_transformers.__version__}, onnxruntime {o.__version__}")'],
    process.env, 120_000).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
    if (v.code !== 0) throw new Error(`--hf-python: ${opts.hfPython} cannot import the HF stack (${tail(v.stderr)}); make it with bash ../shared/peers/setup-hf-peers.sh`);
    hfVersions = v.stdout.trim();
  }
  const started = Date.now();
  const info = addon().runtimeInfo();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rrnative-cpu-bench-'));
  if (!opts.keep) process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));  // also on Ctrl-C
  const log = (s: string) => console.error(`[cpu-bench ${((Date.now() - started) / 1000).toFixed(0)}s] ${s}`);
  try {
    // Tokenizer
    let tokenizerDir = opts.tokenizer;
    if (!tokenizerDir) {
      tokenizerDir = path.join(work, 'tokenizer');
      log(`training a WordPiece vocabulary (${opts.vocabSize}) on debdesc train`);
      const train = await loadDebdesc('train');
      await trainWordPiece(train.flatMap((r) => [r.query, r.document]), tokenizerDir, { vocabSize: opts.vocabSize });
    }
    const tokenizer = await PairTokenizer.load(tokenizerDir);

    // Pairs and their token ids (the peer's input)
    const dev = await loadDebdesc('dev');
    const scoreText = makePairs(dev, opts.pairs, 1);
    const trainText = makePairs(dev.slice().reverse(), (opts.trainSteps + 1) * opts.trainBatch, 2);
    const scoreTextFile = path.join(work, 'score-text.json');
    const trainTextFile = path.join(work, 'train-text.json');
    fs.writeFileSync(scoreTextFile, JSON.stringify(scoreText));
    fs.writeFileSync(trainTextFile, JSON.stringify(trainText));
    const scoreTokens = path.join(work, 'score-tokens.jsonl');
    const trainTokens = path.join(work, 'train-tokens.jsonl');
    const scoreLengths = await writeTokens(tokenizer, scoreText, opts.maxLength, scoreTokens);
    const trainLengths = await writeTokens(tokenizer, trainText, opts.maxLength, trainTokens);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const scoreHfPairs = path.join(work, 'score-pairs.hf.json');
    const trainHfPairs = path.join(work, 'train-pairs.hf.json');
    writeHfPairs(scoreText, scoreHfPairs);
    writeHfPairs(trainText, trainHfPairs);

    const rows: ResultRow[] = [];
    const extraRows: ResultRow[] = [];
    const profiles: string[] = [];
    const timeoutMs = 20 * 60_000;
    for (const name of opts.models) {
      const { label, config } = MODEL_CONFIGS[name];
      const modelDir = path.join(work, `model-${name}`);
      const model = await Reranker.create({
        config: {
          model_type: 'bert', vocab_size: 30522, max_position_embeddings: 512, type_vocab_size: 2, hidden_act: 'gelu',
          hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, layer_norm_eps: 1e-12, initializer_range: 0.02, ...config,
        },
        tokenizer: tokenizerDir, maxLength: opts.maxLength, device: 'cpu', seed: 0,
      });
      await model.save(modelDir);
      model.dispose();

      // The HF stack's side: transformers' model exported to ONNX once (untimed), and onnxruntime's int8 of it.
      const onnxFp32 = path.join(work, `model-${name}.onnx`);
      const onnxInt8 = path.join(work, `model-${name}.int8.onnx`);
      if (opts.hfPython && (opts.only.has('score') || opts.only.has('score-int8'))) {
        log(`${label}: exporting to ONNX (hf_cpu_peer.py onnx-export, onnx-int8)`);
        for (const args of [['onnx-export', modelDir, onnxFp32], ['onnx-int8', onnxFp32, onnxInt8]]) {
          const r = await runProcess(opts.hfPython, [opts.hfPeer, ...args], peerEnv({}), timeoutMs);
          if (r.code !== 0) throw new Error(`hf_cpu_peer.py ${args[0]} exited ${r.code}: ${tail(r.stderr || r.stdout)}`);
        }
      }
      type HfPeer = { name: string; target: number; run: () => Promise<Measurement | { error: string }> };
      const n = String(opts.threads);
      const hfPeers = (task: Task): HfPeer[] => {
        if (!opts.hfPython) return [];
        if (task === 'score') {
          return [
            { name: 'sentence-transformers predict', target: 2, run: () => runHfPeer(opts, ['st-predict', modelDir, scoreHfPairs, '--batch', String(opts.scoreBatch), '--max-length', String(opts.maxLength), '--threads', n, '--repeats', '1'], opts.threads, timeoutMs) },
            { name: 'onnxruntime fp32', target: 1.5, run: () => runHfPeer(opts, ['ort-infer', onnxFp32, scoreTokens, '--batch', String(opts.scoreBatch), '--threads', n, '--repeats', '1'], opts.threads, timeoutMs) },
          ];
        }
        if (task === 'score int8') {
          return [{ name: 'onnxruntime int8', target: 1.2, run: () => runHfPeer(opts, ['ort-infer', onnxInt8, scoreTokens, '--batch', String(opts.scoreBatch), '--threads', n, '--repeats', '1'], opts.threads, timeoutMs) }];
        }
        return [{ name: 'transformers Trainer', target: 2, run: () => runHfPeer(opts, ['hf-train', modelDir, trainHfPairs, '--batch', String(opts.trainBatch), '--steps', String(opts.trainSteps), '--max-length', String(opts.maxLength), '--threads', n], opts.threads, timeoutMs) }];
      };

      // Each repeat runs every side, alternating which goes first; the table keeps each side's best run.
      const measure = async (task: Task, spec: ChildSpec, peerMode: 'infer' | 'train' | 'infer-int8', tokens: string, batch: number, steps: number) => {
        const ours: Measurement[] = [], peer: Measurement[] = [], extra: Measurement[] = [];
        let oursErr: { error: string } | undefined, peerErr: { error: string } | undefined, extraErr: { error: string } | undefined;
        const others = hfPeers(task).map((p) => ({ ...p, runs: [] as Measurement[], err: undefined as { error: string } | undefined }));
        for (let r = 0; r < opts.repeats; r++) {
          const runOurs = async () => {
            log(`${label}: ${task}, ours${opts.repeats > 1 ? ` (repeat ${r + 1}/${opts.repeats})` : ''}`);
            const m = await measureOurs(spec, work, opts.threads, timeoutMs);
            if ('error' in m) oursErr = m; else ours.push(m);
          };
          const runPeer = async () => {
            if (!oldPeerRuns) return;
            log(`${label}: ${task}, peer${opts.repeats > 1 ? ` (repeat ${r + 1}/${opts.repeats})` : ''}`);
            const m = await measurePeer(opts, peerMode, modelDir, tokens, batch, steps, timeoutMs, opts.threads);
            if ('error' in m) peerErr = m; else peer.push(m);
            if (opts.peerTorchThreads !== undefined && task !== 'score int8') {
              log(`${label}: ${task}, peer with torch threads ${opts.peerTorchThreads}`);
              const e = await measurePeer(opts, peerMode, modelDir, tokens, batch, steps, timeoutMs, opts.peerTorchThreads);
              if ('error' in e) extraErr = e; else extra.push(e);
            }
          };
          const runOthers = async () => {
            for (const o of others) {
              log(`${label}: ${task}, ${o.name}${opts.repeats > 1 ? ` (repeat ${r + 1}/${opts.repeats})` : ''}`);
              const m = await o.run();
              if ('error' in m) o.err = m; else o.runs.push(m);
            }
          };
          if (r % 2 === 0) { await runOurs(); await runPeer(); await runOthers(); } else { await runOthers(); await runPeer(); await runOurs(); }
        }
        if (opts.profile) {
          const profileFile = path.join(work, `profile-${name}-${task.replace(' ', '-')}.json`);
          log(`${label}: ${task}, ours under LibTorch's profiler (untimed)`);
          const m = await measureOurs({ ...spec, profileFile }, work, opts.threads, timeoutMs);
          profiles.push('error' in m ? `### ${label} ${task}: no profile (${m.error})\n` : formatCpuProfile(`${label} ${task}, ours`, profileFile));
        }
        const best = (ms: Measurement[], err: { error: string } | undefined) =>
          ms.length ? { ...ms.reduce((a, b) => (b.pairsPerSecond > a.pairsPerSecond ? b : a)), runs: ms.map((m) => m.pairsPerSecond) } : err ?? { error: 'not run' };
        const pairs = task === 'train' ? opts.trainSteps * opts.trainBatch : opts.pairs;
        const target = task === 'train' ? 1.1 : 1.3;
        const oldPeer = peerMode === 'infer-int8' ? 'PyTorch 1.13 eager, torch.ao int8' : 'PyTorch 1.13 eager (cpu_bert_peer.py)';
        for (const o of others) rows.push({ model: label, task, batch, pairs, ours: best(ours, oursErr), peerName: o.name, peer: best(o.runs, o.err), target: o.target });
        if (oldPeerRuns) rows.push({ model: label, task, batch, pairs, ours: best(ours, oursErr), peerName: oldPeer, peer: best(peer, peerErr), target });
        if (opts.peerTorchThreads !== undefined && task !== 'score int8') {
          extraRows.push({ model: label, task, batch, pairs, ours: best(ours, oursErr), peerName: oldPeer, peer: best(extra, extraErr), target });
        }
      };
      if (opts.only.has('score')) {
        const spec: ChildSpec = { kind: 'score', dtype: 'fp32', modelDir, textFile: scoreTextFile, tokensFile: scoreTokens, batch: opts.scoreBatch, steps: 0, maxLength: opts.maxLength };
        await measure('score', spec, 'infer', scoreTokens, opts.scoreBatch, 0);
      }
      if (opts.only.has('score-int8')) {
        const spec: ChildSpec = { kind: 'score', dtype: 'int8', modelDir, textFile: scoreTextFile, tokensFile: scoreTokens, batch: opts.scoreBatch, steps: 0, maxLength: opts.maxLength };
        await measure('score int8', spec, 'infer-int8', scoreTokens, opts.scoreBatch, 0);
      }
      if (opts.only.has('train')) {
        const spec: ChildSpec = { kind: 'train', dtype: 'fp32', modelDir, textFile: trainTextFile, tokensFile: trainTokens, batch: opts.trainBatch, steps: opts.trainSteps, maxLength: opts.maxLength };
        await measure('train', spec, 'train', trainTokens, opts.trainBatch, opts.trainSteps);
      }
      if (!opts.keep) fs.rmSync(modelDir, { recursive: true, force: true });
    }

    const peerTorch = rows.filter((r) => r.peerName.startsWith('PyTorch 1.13')).map((r) => ('error' in r.peer ? undefined : r.peer.extra?.torch)).find(Boolean) ?? 'n/a';
    const header = [
      `## rrnative vs ${opts.hfPython ? 'sentence-transformers, onnxruntime, the transformers Trainer' + (oldPeerRuns ? ' and ' : '') : ''}${oldPeerRuns ? 'cpu_bert_peer.py (PyTorch eager)' : ''}, CPU, ${new Date().toISOString().slice(0, 10)}`,
      '',
      `- device: ${cpuName()}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${osName()}`,
      `- ours: Node ${process.version}, LibTorch ${info.torchVersion}, BLAS ${info.blas}, threads ${opts.threads} ` +
        `(RRNATIVE_NUM_THREADS; torch intra-op ${info.intraOpThreads === 1 && info.blas.startsWith('openblas') ? '1, OpenBLAS pool ' + opts.threads : opts.threads})`,
      ...(opts.hfPython ? [`- HF peers: ${path.basename(opts.hfPeer)} with ${opts.hfPython} (${hfVersions}), every pool ${opts.threads} threads; ` +
        'sentence-transformers and the Trainer tokenize inside their timing, onnxruntime gets our token ids (untimed)'] : []),
      ...(oldPeerRuns ? [`- peer: ${path.basename(opts.peer)} with ${opts.python}, torch ${peerTorch}, --threads ${opts.threads}, OPENBLAS_NUM_THREADS=${opts.threads}, infer --sort`] : []),
      ...(opts.only.has('score-int8') ? [`- score int8: ours with dtype 'int8'; the peer ${path.basename(int8Peer)} (torch.ao quantize_dynamic of the same model, qint8 per-channel weights, ` +
        `engine ${rows.map((r) => ('error' in r.peer ? undefined : r.peer.extra?.engine)).find(Boolean) ?? 'n/a'})`] : []),
      `- both sides: OPENBLAS_THREAD_TIMEOUT=${process.env.OPENBLAS_THREAD_TIMEOUT ?? 'unset'} (rrnative sets 10 when unset), OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? 'unset'} (rrnative sets SKYLAKEX on AMD CPUs with AVX-512 when unset: src/native.ts)`,
      `- OMP_WAIT_POLICY: ours ${process.env.OMP_WAIT_POLICY ?? 'unset'} (rrnative sets PASSIVE when it and GOMP_SPINCOUNT are unset), the peers ${startOmpWaitPolicy ?? 'unset'} (as started)`,
      `- models: random-init (seed 0), vocab 30522, tokenizer: ${opts.tokenizer ?? `WordPiece ${opts.vocabSize} trained on debdesc train`}; max_length ${opts.maxLength}`,
      `- pairs: debdesc dev synopsis + description, half positives, half random negatives; ` +
        `scoring: mean ${mean(scoreLengths).toFixed(1)} tokens/pair, ${(100 * scoreLengths.filter((l) => l >= opts.maxLength).length / scoreLengths.length).toFixed(0)}% truncated, ` +
        `padding efficiency ${(100 * paddingEfficiency(scoreLengths, opts.scoreBatch, true)).toFixed(0)}% (length-sorted); ` +
        `training: mean ${mean(trainLengths).toFixed(1)} tokens/pair, padding efficiency ${(100 * paddingEfficiency(trainLengths.slice(opts.trainBatch), opts.trainBatch, false)).toFixed(0)}% (file order; ours packs the real tokens)`,
      `- timing: ours includes tokenization (scoring: score() on text; training: encodePairs + padBatch each step), the peer's does not; ` +
        `one warm-up batch/step untimed each side; training: ${opts.trainSteps} timed steps, BCE, AdamW lr 1e-4, clip 1.0, dropout 0.1`,
      ...(opts.repeats > 1 ? [`- ${opts.repeats} repeats, alternating which side runs first; each side's best run is shown (every run's pairs/s in --json)`] : []),
      `- total wall time ${((Date.now() - started) / 1000).toFixed(0)} s`,
    ];
    console.log(formatTable(rows, header));
    if (extraRows.length) {
      console.log(formatTable(extraRows, ['', `Informational: the peer with torch threads ${opts.peerTorchThreads} and OPENBLAS_NUM_THREADS=${opts.threads} ` +
        '(the split rrnative uses with OpenBLAS), same runs of ours:']));
    }
    if (profiles.length) console.log(['', '## Where our time goes (LibTorch profiler, CPU operators)', '', ...profiles].join('\n'));
    if (opts.json) {
      fs.writeFileSync(opts.json, JSON.stringify({ options: { ...opts, only: [...opts.only] }, runtime: info, rows, extraRows }, null, 2) + '\n');
    }
  } finally {
    if (opts.keep) log(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
