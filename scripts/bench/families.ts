// CPU scoring throughput of the ModernBERT and Qwen3 rerankers: rrnative (packed tokens, and padded with
// RRNATIVE_PACKING=off) beside Hugging Face transformers (scripts/bench/families_peer.py), one machine, the same
// random-init model folder, the same token ids in the same batches, the same thread count.
//
//   npx tsc -p tsconfig.json && node dist/scripts/bench/families.js [--models modernbert,qwen3] [--pairs 64]
//       [--qwen-pairs 16] [--batch 16] [--threads 2] [--repeats 2] [--max-length 256] [--seed 0]
//       [--hf-python ~/.cache/rrnative-peers/venv/bin/python] [--work DIR] [--out FILE.json] [--tiny]
//       [--no-st] [--st-pairs 64] [--st-qwen-pairs 16]
//
// What it does:
// - Models: random init by transformers at a real model's shape (families_peer.py create: AutoConfig.for_model,
//   *ForSequenceClassification(config), seed 0, save_pretrained in float32) in --work (default
//   os.tmpdir()/rrnative-families-bench), kept there: a folder whose bench-spec.json matches is reused.
//   ModernBERT-base: vocab 50368, 22 x 768, 12 heads, 1152, global attention every 3rd layer, local window 128,
//   mean pooling. Qwen3-0.6B: vocab 151669, 28 x 1024, 16 heads, 8 KV heads, head_dim 128, 3072, tied embeddings.
//   --tiny shrinks both (hidden 64, 2-3 layers; vocab 1000 for Qwen, 8064 for ModernBERT so that bert-mini-a's
//   WordPiece fits for the text part) and the pair counts: a check of the script in about a minute.
// - Token ids: no tokenizer for either model. The lengths are real ones: debdesc dev pairs as scripts/bench/cpu.ts
//   makes them, tokenized by bert-mini-a's WordPiece (test/fixtures/hf, truncated to --max-length); each pair
//   becomes seeded random ids of its length. ModernBERT rows are [CLS] ids [SEP]; Qwen rows get 50 more ids, what
//   Qwen3-Reranker's prompt (prefix + suffix) adds to a pair. The ids skip each vocabulary's special tokens:
//   transformers' Qwen head reads the last token that is not the pad id.
// - Batches: pairs sorted by length, --batch per batch, padded to the batch's longest: right padding for
//   ModernBERT, left for Qwen (as HF rerankers do). Every side gets these identical batches (rrnative reads a
//   decoder's last real token from the attention mask, so left padding is fine for it).
// - Sides: ours in this process, `load(dir)` then `scoreTokens()` per batch (flat Int32Array + shape), packed
//   (default) and padded (RRNATIVE_PACKING=off, read at every forward); the peer, a fresh Python process per round
//   (from_pretrained, default attention implementation, torch.set_num_threads, inference_mode). Model loading is
//   not timed; one warm-up batch (the longest) is, untimed, before each side's timed pass over every batch.
// - Threads: ours RRNATIVE_NUM_THREADS=--threads; the peer torch.set_num_threads and OMP/MKL/OpenBLAS_NUM_THREADS
//   the same, with OpenMP's wait policy as this script was started (rrnative sets PASSIVE for itself; cpu.ts
//   peerEnv()).
// - Rounds: --repeats rounds, each running every side (ours packed, ours padded, transformers; odd rounds in the
//   reverse order); each side's best round is shown, every round's pairs/s is in --out.
// - Agreement: max |ours - transformers| over the first (shortest) batch's logits, and over all batches.
// Prints a Markdown table; --out writes the raw results as JSON.
//
// Second part, text (skip with --no-st): rrnative's score() beside sentence-transformers' CrossEncoder.predict(),
// tokenization timed on both sides.
// - Folders: <name>-text beside each model folder, hard links (else copies) of its config.json and
//   model.safetensors plus a tokenizer: ModernBERT gets bert-mini-a's WordPiece (test/fixtures/hf; ids < 8000,
//   [CLS] q [SEP] d [SEP] as ModernBERT's own tokenizer builds a pair), Qwen3 qwen3-reranker-tiny's BPE with
//   chat_template taken out of tokenizer_config.json (sentence-transformers 6 sends a model with a chat template
//   down its message path, which refuses plain pairs), so both sides encode plain (query, document) pairs;
//   rrnative loads it with template 'none' (its default for a seq-cls model). Remade on every run.
// - Pairs: the debdesc dev pairs of scripts/bench/cpu.ts, --st-pairs for ModernBERT, --st-qwen-pairs for Qwen,
//   max_length --max-length on both sides (truncation longest-first on both).
// - Sides: ours `load(dir, { maxLength })` then `score(pairs, { batchSize: --batch })`, packed and padded
//   (RRNATIVE_PACKING=off); sentence-transformers `CrossEncoder(dir, max_length, device='cpu')` then
//   `predict(pairs, batch_size, activation_fn=Identity, show_progress_bar=False)` in a fresh Python process
//   per round (families_peer.py st-predict; the peer's environment and threads as above). Load untimed; one
//   untimed warm-up call on the first 4 pairs; then one timed call over every pair. Both sort by length into
//   batches themselves (ours by tokens, sentence-transformers by characters).
// - Scores: raw logits on both sides. CrossEncoder.predict applies `activation_fn or model.activation_fn`, and
//   the default for num_labels 1 is Sigmoid, so the peer passes torch.nn.Identity(); agreement is max |diff|
//   over every pair. Tokens/pair is rrnative's tokenizer's count; the peer's count (its own tokenizer, after the
//   clock) is checked against it, pair by pair.
// - Rounds: --repeats, alternating order, best round shown; a second Markdown table, and `text` in --out.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadDebdesc } from '../../src/data/debdesc';
import { Rng } from '../../src/data/rng';
import { load, type Reranker } from '../../src/index';
import { addon } from '../../src/native';
import { PairTokenizer } from '../../src/tokenize';
import { makePairs, paddingEfficiency } from './cpu';
import { peerEnv, runProcess, startOmpWaitPolicy, tail } from './processes';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const peerScript = path.join(repoRoot, 'scripts', 'bench', 'families_peer.py');
const fixtures = path.join(repoRoot, 'test', 'fixtures', 'hf');
const defaultTokenizer = path.join(fixtures, 'bert-mini-a');
const defaultHfPython = path.join(os.homedir(), '.cache', 'rrnative-peers', 'venv', 'bin', 'python');

// Qwen3-Reranker's prompt around a pair (system + instruction prefix, assistant suffix) is about 50 tokens.
const QWEN_PROMPT_TOKENS = 50;

interface Family {
  key: string;
  label: string;
  arch: string;
  /** AutoConfig.for_model's arguments, model_type among them. */
  config: Record<string, unknown>;
  /** Random ids are drawn from [10, idEnd): below the vocabulary's special tokens. */
  idEnd: number;
  pad: number;
  /** First and last id of every row (ModernBERT's [CLS] and [SEP]); none for Qwen. */
  cls?: number;
  sep?: number;
  /** Ids added to each pair's length (the Qwen3-Reranker prompt). */
  extraTokens: number;
  padding: 'right' | 'left';
}

export function families(tiny: boolean): Family[] {
  // ModernBERT's tokenizer: [UNK] 50280, [CLS] 50281, [SEP] 50282, [PAD] 50283 (HF's ModernBertConfig defaults
  // for bos/eos/cls/sep). Tiny: the same layout at 997-999, in a vocabulary of 8064 ids (the text part's
  // WordPiece has 8000; the token-id rows stay below 1000).
  const modernbert: Family = tiny
    ? {
      key: 'modernbert', label: 'ModernBERT (tiny)', arch: 'ModernBertForSequenceClassification', idEnd: 997, pad: 999, cls: 997, sep: 998, extraTokens: 0, padding: 'right',
      config: {
        model_type: 'modernbert', vocab_size: 8064, hidden_size: 64, num_hidden_layers: 3, num_attention_heads: 4, intermediate_size: 96,
        max_position_embeddings: 8192, global_attn_every_n_layers: 3, local_attention: 128, classifier_pooling: 'mean', num_labels: 1,
        pad_token_id: 999, bos_token_id: 997, cls_token_id: 997, eos_token_id: 998, sep_token_id: 998,
      },
    }
    : {
      key: 'modernbert', label: 'ModernBERT-base', arch: 'ModernBertForSequenceClassification', idEnd: 50280, pad: 50283, cls: 50281, sep: 50282, extraTokens: 0, padding: 'right',
      config: {
        model_type: 'modernbert', vocab_size: 50368, hidden_size: 768, num_hidden_layers: 22, num_attention_heads: 12, intermediate_size: 1152,
        max_position_embeddings: 8192, global_attn_every_n_layers: 3, local_attention: 128, classifier_pooling: 'mean', num_labels: 1,
        pad_token_id: 50283,
      },
    };
  // Qwen3's special tokens start at 151643 (<|endoftext|>, its pad token).
  const qwenShape = tiny
    ? { vocab_size: 1000, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, intermediate_size: 128, pad_token_id: 999 }
    : { vocab_size: 151669, hidden_size: 1024, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, intermediate_size: 3072, pad_token_id: 151643 };
  const qwen3: Family = {
    key: 'qwen3', label: tiny ? 'Qwen3 (tiny)' : 'Qwen3-0.6B', arch: 'Qwen3ForSequenceClassification', idEnd: qwenShape.pad_token_id, pad: qwenShape.pad_token_id,
    extraTokens: QWEN_PROMPT_TOKENS, padding: 'left',
    config: {
      model_type: 'qwen3', ...qwenShape, tie_word_embeddings: true, rms_norm_eps: 1e-6, rope_theta: 1e6, max_position_embeddings: 40960, num_labels: 1,
    },
  };
  return [modernbert, qwen3];
}

interface Options {
  models: string[];
  pairs: number;
  qwenPairs: number;
  batch: number;
  threads: number;
  repeats: number;
  maxLength: number;
  seed: number;
  hfPython: string;
  tokenizer: string;
  work: string;
  out?: string;
  tiny: boolean;
  /** The text part (rrnative score() vs sentence-transformers CrossEncoder.predict). */
  st: boolean;
  stPairs: number;
  stQwenPairs: number;
}

function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string', default: 'modernbert,qwen3' },
      pairs: { type: 'string' },
      'qwen-pairs': { type: 'string' },
      batch: { type: 'string' },
      threads: { type: 'string', default: '2' },
      repeats: { type: 'string', default: '2' },
      'max-length': { type: 'string', default: '256' },
      seed: { type: 'string', default: '0' },
      'hf-python': { type: 'string', default: defaultHfPython },
      tokenizer: { type: 'string', default: defaultTokenizer },
      work: { type: 'string', default: path.join(os.tmpdir(), 'rrnative-families-bench') },
      out: { type: 'string' },
      tiny: { type: 'boolean', default: false },
      'no-st': { type: 'boolean', default: false },
      'st-pairs': { type: 'string' },
      'st-qwen-pairs': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    const source = path.join(repoRoot, 'scripts', 'bench', 'families.ts');
    const text = fs.existsSync(source) ? fs.readFileSync(source, 'utf8') : '// see scripts/bench/families.ts';
    console.log(text.split('\n').filter((l) => l.startsWith('//')).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    process.exit(0);
  }
  const tiny = values.tiny;
  const known = families(tiny).map((f) => f.key);
  const models = values.models.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of models) if (!known.includes(m)) throw new Error(`--models: unknown model ${m} (${known.join(', ')})`);
  const batch = positiveInt(values.batch ?? (tiny ? '8' : '16'), 'batch');
  // Whole batches: every batch is full, so each side's pairs/s counts the same work.
  const whole = (n: number) => Math.max(batch, Math.floor(n / batch) * batch);
  return {
    models,
    pairs: whole(positiveInt(values.pairs ?? (tiny ? '32' : '64'), 'pairs')),
    qwenPairs: whole(positiveInt(values['qwen-pairs'] ?? (tiny ? '16' : '16'), 'qwen-pairs')),
    batch,
    threads: positiveInt(values.threads, 'threads'),
    repeats: positiveInt(values.repeats, 'repeats'),
    maxLength: positiveInt(values['max-length'], 'max-length'),
    seed: Number(values.seed),
    hfPython: values['hf-python'],
    tokenizer: path.resolve(values.tokenizer),
    work: path.resolve(values.work),
    out: values.out,
    tiny,
    st: !values['no-st'],
    stPairs: positiveInt(values['st-pairs'] ?? (tiny ? '32' : '64'), 'st-pairs'),
    stQwenPairs: positiveInt(values['st-qwen-pairs'] ?? '16', 'st-qwen-pairs'),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Processes

/** The peer's environment: ours, every pool at `threads`, OpenMP's wait policy as this script was started. */
function peerThreadsEnv(threads: number): NodeJS.ProcessEnv {
  const n = String(threads);
  const env = peerEnv({ OMP_NUM_THREADS: n, MKL_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, HF_HUB_DISABLE_PROGRESS_BARS: '1' });
  delete env.RRNATIVE_PACKING;
  return env;
}

const TIMEOUT_MS = 30 * 60_000;

/** The random-init model folder: made by transformers unless `dir/bench-spec.json` says it is this one already. */
async function ensureModel(opts: Options, family: Family, dir: string, log: (s: string) => void): Promise<{ params?: number; created: boolean }> {
  const spec = JSON.stringify({ arch: family.arch, config: family.config, seed: opts.seed });
  const specFile = path.join(dir, 'bench-spec.json');
  if (fs.existsSync(specFile) && fs.existsSync(path.join(dir, 'model.safetensors'))) {
    const saved = JSON.parse(fs.readFileSync(specFile, 'utf8')) as { spec: string; params?: number };
    if (saved.spec === spec) return { params: saved.params, created: false };
  }
  log(`${family.label}: creating the random-init model in ${dir} (transformers, untimed)`);
  fs.rmSync(dir, { recursive: true, force: true });
  const r = await runProcess(opts.hfPython, [peerScript, 'create', family.arch, JSON.stringify(family.config), dir, '--seed', String(opts.seed)], peerThreadsEnv(os.cpus().length), TIMEOUT_MS);
  const line = r.stdout.split('\n').reverse().find((l) => l.startsWith('{'));
  if (r.code !== 0 || !line) throw new Error(`families_peer.py create ${family.arch} exited ${r.code}: ${tail(r.stderr || r.stdout, 600)}`);
  const params = (JSON.parse(line) as { params: number }).params;
  fs.writeFileSync(specFile, JSON.stringify({ spec, params }) + '\n');
  return { params, created: true };
}

// ---------------------------------------------------------------------------------------------------------
// Batches

interface Batch {
  rows: number;
  length: number;
  inputIds: Int32Array;
  attentionMask: Int32Array;
}

/** Seeded random rows of the given lengths (plus the family's extra tokens), length-sorted into padded batches. */
export function makeBatches(family: Family, pairLengths: number[], batch: number, seed: number): Batch[] {
  const rng = new Rng(seed);
  const rows = pairLengths.map((l) => {
    const n = l + family.extraTokens;
    const ids = Array.from({ length: n }, () => 10 + rng.int(family.idEnd - 10));
    if (family.cls !== undefined) ids[0] = family.cls;
    if (family.sep !== undefined) ids[n - 1] = family.sep;
    return ids;
  });
  rows.sort((a, b) => a.length - b.length);  // stable: equal lengths keep their order
  const batches: Batch[] = [];
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    const length = Math.max(...chunk.map((r) => r.length));
    const inputIds = new Int32Array(chunk.length * length).fill(family.pad);
    const attentionMask = new Int32Array(chunk.length * length);
    chunk.forEach((r, k) => {
      const start = k * length + (family.padding === 'left' ? length - r.length : 0);
      inputIds.set(r, start);
      attentionMask.fill(1, start, start + r.length);
    });
    batches.push({ rows: chunk.length, length, inputIds, attentionMask });
  }
  return batches;
}

function rowsOf(data: Int32Array, rows: number, length: number): number[][] {
  return Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * length, (r + 1) * length)));
}

// ---------------------------------------------------------------------------------------------------------
// The sides

interface Run {
  pairsPerSecond: number;
  seconds: number;
  /** Logits per batch, [rows][labels]. */
  logits: number[][][];
  extra?: Record<string, unknown>;
}

type Side = 'rrnative packed' | 'rrnative padded' | 'transformers';
const SIDES: Side[] = ['rrnative packed', 'rrnative padded', 'transformers'];

async function scoreOurs(model: Reranker, batches: Batch[], warmup: number, packed: boolean): Promise<Run> {
  const before = process.env.RRNATIVE_PACKING;
  if (packed) delete process.env.RRNATIVE_PACKING;
  else process.env.RRNATIVE_PACKING = 'off';
  try {
    const input = (b: Batch) => ({ inputIds: b.inputIds, attentionMask: b.attentionMask, shape: [b.rows, b.length] as [number, number] });
    await model.scoreTokens(input(batches[warmup]));
    // Which path ran: the packed run's forwards are all packed, the padded run's none.
    const packedBefore = addon().runtimeInfo().packedForwards;
    const logits: number[][][] = [];
    const t0 = process.hrtime.bigint();
    for (const b of batches) logits.push(await model.scoreTokens(input(b)));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const packedForwards = addon().runtimeInfo().packedForwards - packedBefore;
    const pairs = batches.reduce((s, b) => s + b.rows, 0);
    return { pairsPerSecond: pairs / seconds, seconds, logits, extra: { packedForwards, forwards: batches.length } };
  } finally {
    if (before === undefined) delete process.env.RRNATIVE_PACKING;
    else process.env.RRNATIVE_PACKING = before;
  }
}

async function scorePeer(opts: Options, dir: string, batchesFile: string, warmup: number): Promise<Run> {
  const args = [peerScript, 'score', dir, batchesFile, '--threads', String(opts.threads), '--warmup', String(warmup)];
  const r = await runProcess(opts.hfPython, args, peerThreadsEnv(opts.threads), TIMEOUT_MS);
  const line = r.stdout.split('\n').reverse().find((l) => l.startsWith('{'));
  if (r.code !== 0 || !line) throw new Error(`families_peer.py score exited ${r.code}: ${tail(r.stderr || r.stdout, 600)}`);
  const p = JSON.parse(line) as { pairs_per_s: number; seconds: number; logits: number[][][]; attn_implementation: string; torch: string; transformers: string; threads: number };
  return {
    pairsPerSecond: p.pairs_per_s, seconds: p.seconds, logits: p.logits,
    extra: { attnImplementation: p.attn_implementation, torch: p.torch, transformers: p.transformers, threads: p.threads },
  };
}

function maxAbsDiff(a: number[][][], b: number[][][], batches = a.length): number {
  let m = 0;
  for (let i = 0; i < batches; i++) {
    a[i].forEach((row, r) => row.forEach((v, c) => { m = Math.max(m, Math.abs(v - b[i][r][c])); }));
  }
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// Text: rrnative score() vs sentence-transformers CrossEncoder.predict()

/** The text part's tokenizer for a family: a fixture folder, and the files of it that are copied. */
const TEXT_TOKENIZERS: Record<string, { dir: string; files: string[] }> = {
  modernbert: { dir: path.join(fixtures, 'bert-mini-a'), files: ['tokenizer.json', 'vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json'] },
  qwen3: { dir: path.join(fixtures, 'qwen3-reranker-tiny'), files: ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt', 'special_tokens_map.json'] },
};

/** Hard link `from` at `to`, or copy it where a link cannot be made (another file system, no permission). */
function linkOrCopy(from: string, to: string): 'link' | 'copy' {
  try {
    fs.linkSync(from, to);
    return 'link';
  } catch {
    fs.copyFileSync(from, to);
    return 'copy';
  }
}

/**
 * `<modelDir>-text`, made afresh: config.json and model.safetensors of the model folder (hard links), the
 * family's tokenizer files, tokenizer_config.json without chat_template.
 */
export function makeTextFolder(family: Family, modelDir: string): { dir: string; weights: 'link' | 'copy'; tokenizer: string; files: string[] } {
  const dir = `${modelDir}-text`;
  const source = TEXT_TOKENIZERS[family.key];
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  linkOrCopy(path.join(modelDir, 'config.json'), path.join(dir, 'config.json'));
  const weights = linkOrCopy(path.join(modelDir, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  const files = source.files.filter((f) => fs.existsSync(path.join(source.dir, f)));
  for (const f of files) {
    if (f === 'tokenizer_config.json') {
      const config = JSON.parse(fs.readFileSync(path.join(source.dir, f), 'utf8')) as Record<string, unknown>;
      delete config.chat_template;
      fs.writeFileSync(path.join(dir, f), JSON.stringify(config, null, 2) + '\n');
    } else {
      fs.copyFileSync(path.join(source.dir, f), path.join(dir, f));
    }
  }
  return { dir, weights, tokenizer: path.relative(repoRoot, source.dir), files };
}

interface TextRun {
  pairsPerSecond: number;
  seconds: number;
  scores: number[];
  extra?: Record<string, unknown>;
}

type TextSide = 'rrnative packed' | 'rrnative padded' | 'sentence-transformers';
const TEXT_SIDES: TextSide[] = ['rrnative packed', 'rrnative padded', 'sentence-transformers'];
const TEXT_WARMUP_PAIRS = 4;

async function scoreOursText(model: Reranker, pairs: [string, string][], batch: number, packed: boolean): Promise<TextRun> {
  const before = process.env.RRNATIVE_PACKING;
  if (packed) delete process.env.RRNATIVE_PACKING;
  else process.env.RRNATIVE_PACKING = 'off';
  try {
    await model.score(pairs.slice(0, TEXT_WARMUP_PAIRS), { batchSize: batch });
    const packedBefore = addon().runtimeInfo().packedForwards;
    const t0 = process.hrtime.bigint();
    const scores = await model.score(pairs, { batchSize: batch });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const packedForwards = addon().runtimeInfo().packedForwards - packedBefore;
    return { pairsPerSecond: pairs.length / seconds, seconds, scores, extra: { packedForwards, forwards: Math.ceil(pairs.length / batch) } };
  } finally {
    if (before === undefined) delete process.env.RRNATIVE_PACKING;
    else process.env.RRNATIVE_PACKING = before;
  }
}

async function scoreSt(opts: Options, dir: string, pairsFile: string): Promise<TextRun> {
  const args = [peerScript, 'st-predict', dir, pairsFile, '--threads', String(opts.threads), '--batch', String(opts.batch),
    '--max-length', String(opts.maxLength), '--warmup', String(TEXT_WARMUP_PAIRS)];
  const r = await runProcess(opts.hfPython, args, peerThreadsEnv(opts.threads), TIMEOUT_MS);
  const line = r.stdout.split('\n').reverse().find((l) => l.startsWith('{'));
  if (r.code !== 0 || !line) throw new Error(`families_peer.py st-predict exited ${r.code}: ${tail(r.stderr || r.stdout, 600)}`);
  const p = JSON.parse(line) as { pairs_per_s: number; seconds: number; scores: number[]; tokens: number[] } & Record<string, unknown>;
  const { pairs_per_s: pairsPerSecond, seconds, scores, ...rest } = p;
  return { pairsPerSecond, seconds, scores, extra: rest };
}

function maxAbsDiffFlat(a: number[], b: number[]): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

interface TextResult {
  key: string;
  label: string;
  dir: string;
  weights: 'link' | 'copy';
  tokenizer: string;
  tokenizerFiles: string[];
  pairs: number;
  batch: number;
  maxLength: number;
  tokensPerPair: number;
  /** Pairs whose token count differs between rrnative's tokenizer and the CrossEncoder's. */
  tokenCountMismatches: number;
  paddingEfficiency: number;
  sides: Record<TextSide, { pairsPerSecond: number; seconds: number; runs: number[]; extra?: Record<string, unknown> }>;
  ratios: { packedOverSt: number; paddedOverSt: number; packedOverPadded: number };
  agreement: { maxAbsDiff: { packed: number; padded: number }; packedVsPadded: number; maxAbsScore: number };
}

async function runText(opts: Options, family: Family, modelDir: string, pairs: [string, string][], log: (s: string) => void): Promise<TextResult> {
  const folder = makeTextFolder(family, modelDir);
  const pairsFile = path.join(opts.work, `${path.basename(folder.dir)}-pairs.json`);
  fs.writeFileSync(pairsFile, JSON.stringify({ pairs }));
  log(`${family.label}: text, ${folder.dir} (weights ${folder.weights === 'link' ? 'hard-linked' : 'copied'}); loading into rrnative (untimed)`);
  const model = await load(folder.dir, { device: 'cpu', maxLength: opts.maxLength, template: 'none' });
  const runs: Record<TextSide, TextRun[]> = { 'rrnative packed': [], 'rrnative padded': [], 'sentence-transformers': [] };
  let lengths: number[];
  try {
    lengths = (await model.tokenizer.encodePairs(pairs, opts.maxLength, true)).map((e) => e.ids.length);
    for (let r = 0; r < opts.repeats; r++) {
      for (const side of r % 2 === 0 ? TEXT_SIDES : [...TEXT_SIDES].reverse()) {
        log(`${family.label}: text, ${side} (round ${r + 1}/${opts.repeats}, ${pairs.length} pairs, batches of ${opts.batch})`);
        const run = side === 'sentence-transformers' ? await scoreSt(opts, folder.dir, pairsFile) : await scoreOursText(model, pairs, opts.batch, side === 'rrnative packed');
        if (run.scores.length !== pairs.length || run.scores.some((v) => !Number.isFinite(v))) throw new Error(`${family.label}, text, ${side}: ${run.scores.length} scores for ${pairs.length} pairs, or one not finite`);
        runs[side].push(run);
      }
    }
  } finally {
    model.dispose();
  }
  const packedRun = runs['rrnative packed'][0], paddedRun = runs['rrnative padded'][0], stRun = runs['sentence-transformers'][0];
  const forwards = Math.ceil(pairs.length / opts.batch);
  const packedCount = runs['rrnative packed'].map((r) => r.extra?.packedForwards);
  if (packedCount.some((n) => n !== forwards) || runs['rrnative padded'].some((r) => r.extra?.packedForwards !== 0)) {
    log(`${family.label}: text, warning: packed forwards per run ${JSON.stringify(packedCount)} (packed), ` +
      `${JSON.stringify(runs['rrnative padded'].map((r) => r.extra?.packedForwards))} (padded), of ${forwards}`);
  }
  const stTokens = stRun.extra?.tokens as number[];
  const tokenCountMismatches = lengths.filter((n, i) => n !== stTokens[i]).length;
  if (tokenCountMismatches > 0) log(`${family.label}: text, warning: ${tokenCountMismatches} of ${pairs.length} pairs have another token count in the CrossEncoder's tokenizer`);
  const best = (side: TextSide) => {
    const b = runs[side].reduce((a, x) => (x.pairsPerSecond > a.pairsPerSecond ? x : a));
    const extra = { ...b.extra };
    delete extra.tokens;
    return { pairsPerSecond: b.pairsPerSecond, seconds: b.seconds, runs: runs[side].map((x) => x.pairsPerSecond), extra };
  };
  const sides = { 'rrnative packed': best('rrnative packed'), 'rrnative padded': best('rrnative padded'), 'sentence-transformers': best('sentence-transformers') };
  return {
    key: family.key, label: family.label, dir: folder.dir, weights: folder.weights, tokenizer: folder.tokenizer, tokenizerFiles: folder.files,
    pairs: pairs.length, batch: opts.batch, maxLength: opts.maxLength,
    tokensPerPair: lengths.reduce((s, x) => s + x, 0) / lengths.length,
    tokenCountMismatches,
    paddingEfficiency: paddingEfficiency(lengths, opts.batch, true),
    sides,
    ratios: {
      packedOverSt: sides['rrnative packed'].pairsPerSecond / sides['sentence-transformers'].pairsPerSecond,
      paddedOverSt: sides['rrnative padded'].pairsPerSecond / sides['sentence-transformers'].pairsPerSecond,
      packedOverPadded: sides['rrnative packed'].pairsPerSecond / sides['rrnative padded'].pairsPerSecond,
    },
    agreement: {
      maxAbsDiff: { packed: maxAbsDiffFlat(packedRun.scores, stRun.scores), padded: maxAbsDiffFlat(paddedRun.scores, stRun.scores) },
      packedVsPadded: maxAbsDiffFlat(packedRun.scores, paddedRun.scores),
      maxAbsScore: stRun.scores.reduce((m, v) => Math.max(m, Math.abs(v)), 0),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Machine

function cpuName(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch { /* not Linux */ }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const fmtDiff = (x: number) => (Number.isFinite(x) ? x.toExponential(1) : 'n/a');

// ---------------------------------------------------------------------------------------------------------

interface ModelResult {
  key: string;
  label: string;
  arch: string;
  config: Record<string, unknown>;
  params?: number;
  dir: string;
  pairs: number;
  batch: number;
  batches: number;
  tokensPerPair: number;
  paddingEfficiency: number;
  sides: Record<Side, { pairsPerSecond: number; seconds: number; runs: number[]; extra?: Record<string, unknown> }>;
  ratios: { packedOverTransformers: number; packedOverPadded: number; paddedOverTransformers: number };
  agreement: { firstBatchMaxAbsDiff: { packed: number; padded: number }; allBatchesMaxAbsDiff: { packed: number; padded: number } };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (!fs.existsSync(opts.hfPython)) throw new Error(`--hf-python: ${opts.hfPython} not found (the venv ../shared/peers/setup-hf-peers.sh makes)`);
  // Before the addon loads: it reads the thread count as it starts.
  process.env.RRNATIVE_NUM_THREADS = String(opts.threads);
  const started = Date.now();
  const log = (s: string) => console.error(`[families-bench ${((Date.now() - started) / 1000).toFixed(0)}s] ${s}`);
  fs.mkdirSync(opts.work, { recursive: true });
  const info = addon().runtimeInfo();

  // Real pair lengths: cpu.ts's debdesc dev pairs under a BERT WordPiece tokenizer.
  const tokenizer = await PairTokenizer.load(opts.tokenizer);
  const dev = await loadDebdesc('dev');
  const lengthsOf = async (n: number) => (await tokenizer.encodePairs(makePairs(dev, n, 1).pairs, opts.maxLength, true)).map((e) => e.ids.length);

  const results: ModelResult[] = [];
  const modelDirs: { family: Family; dir: string }[] = [];
  let peerVersions = { torch: 'n/a', transformers: 'n/a' };
  for (const [index, family] of families(opts.tiny).entries()) {
    if (!opts.models.includes(family.key)) continue;
    const dir = path.join(opts.work, family.key + (opts.tiny ? '-tiny' : ''));
    const { params } = await ensureModel(opts, family, dir, log);
    modelDirs.push({ family, dir });
    const pairLengths = await lengthsOf(family.key === 'qwen3' ? opts.qwenPairs : opts.pairs);
    const batches = makeBatches(family, pairLengths, opts.batch, opts.seed + index);
    const rowLengths = pairLengths.map((l) => l + family.extraTokens);
    const warmup = batches.length - 1;  // the longest: the allocators reach their peak before the clock starts
    const batchesFile = path.join(opts.work, `${family.key}${opts.tiny ? '-tiny' : ''}-batches.json`);
    fs.writeFileSync(batchesFile, JSON.stringify({ batches: batches.map((b) => ({ input_ids: rowsOf(b.inputIds, b.rows, b.length), attention_mask: rowsOf(b.attentionMask, b.rows, b.length) })) }));

    log(`${family.label}: loading into rrnative (untimed)`);
    const model = await load(dir, { device: 'cpu' });
    const runs: Record<Side, Run[]> = { 'rrnative packed': [], 'rrnative padded': [], transformers: [] };
    try {
      const measure = async (side: Side, round: number) => {
        log(`${family.label}: ${side} (round ${round + 1}/${opts.repeats}, ${batches.length} batches of ${opts.batch})`);
        const run = side === 'transformers' ? await scorePeer(opts, dir, batchesFile, warmup) : await scoreOurs(model, batches, warmup, side === 'rrnative packed');
        if (run.logits.flat(2).some((v) => !Number.isFinite(v))) throw new Error(`${family.label}, ${side}: a logit is not finite`);
        runs[side].push(run);
      };
      for (let r = 0; r < opts.repeats; r++) {
        for (const side of r % 2 === 0 ? SIDES : [...SIDES].reverse()) await measure(side, r);
      }
    } finally {
      model.dispose();
    }
    const packedRun = runs['rrnative packed'][0], paddedRun = runs['rrnative padded'][0], peerRun = runs.transformers[0];
    const packedCount = runs['rrnative packed'].map((r) => r.extra?.packedForwards);
    if (packedCount.some((n) => n !== batches.length) || runs['rrnative padded'].some((r) => r.extra?.packedForwards !== 0)) {
      log(`${family.label}: warning: packed forwards per run ${JSON.stringify(packedCount)} (packed), ` +
        `${JSON.stringify(runs['rrnative padded'].map((r) => r.extra?.packedForwards))} (padded), of ${batches.length}`);
    }
    peerVersions = { torch: String(peerRun.extra?.torch), transformers: String(peerRun.extra?.transformers) };
    const best = (side: Side) => {
      const b = runs[side].reduce((a, x) => (x.pairsPerSecond > a.pairsPerSecond ? x : a));
      return { pairsPerSecond: b.pairsPerSecond, seconds: b.seconds, runs: runs[side].map((x) => x.pairsPerSecond), extra: b.extra };
    };
    const sides = { 'rrnative packed': best('rrnative packed'), 'rrnative padded': best('rrnative padded'), transformers: best('transformers') };
    results.push({
      key: family.key, label: family.label, arch: family.arch, config: family.config, params, dir,
      pairs: pairLengths.length, batch: opts.batch, batches: batches.length,
      tokensPerPair: rowLengths.reduce((s, x) => s + x, 0) / rowLengths.length,
      paddingEfficiency: paddingEfficiency(rowLengths, opts.batch, true),
      sides,
      ratios: {
        packedOverTransformers: sides['rrnative packed'].pairsPerSecond / sides.transformers.pairsPerSecond,
        packedOverPadded: sides['rrnative packed'].pairsPerSecond / sides['rrnative padded'].pairsPerSecond,
        paddedOverTransformers: sides['rrnative padded'].pairsPerSecond / sides.transformers.pairsPerSecond,
      },
      agreement: {
        firstBatchMaxAbsDiff: { packed: maxAbsDiff(packedRun.logits, peerRun.logits, 1), padded: maxAbsDiff(paddedRun.logits, peerRun.logits, 1) },
        allBatchesMaxAbsDiff: { packed: maxAbsDiff(packedRun.logits, peerRun.logits), padded: maxAbsDiff(paddedRun.logits, peerRun.logits) },
      },
    });
  }

  // The text part, after the token-id one: the same model folders, with tokenizers.
  const textResults: TextResult[] = [];
  if (opts.st) {
    for (const { family, dir } of modelDirs) {
      const pairs = makePairs(dev, family.key === 'qwen3' ? opts.stQwenPairs : opts.stPairs, 1).pairs;
      textResults.push(await runText(opts, family, dir, pairs, log));
    }
  }

  const date = new Date().toISOString();
  const machine = { cpu: cpuName(), cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), threads: opts.threads };
  const attn = [...new Set(results.map((r) => `${r.label} ${String(r.sides.transformers.extra?.attnImplementation)}`))].join(', ');
  const lines = [
    `## rrnative vs transformers, ModernBERT and Qwen3 scoring, CPU, ${date.slice(0, 10)}${opts.tiny ? ' (--tiny: a check of the script, not a measurement)' : ''}`,
    '',
    `- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; every side ${opts.threads} threads`,
    `- ours: Node ${process.version}, LibTorch ${info.torchVersion}, float32 products ${info.cpuGemm ? `${info.cpuGemm} sgemm` : `BLAS ${info.blas}`}, RRNATIVE_NUM_THREADS=${opts.threads}, in this process; ` +
      `packed = default, padded = RRNATIVE_PACKING=off`,
    `- transformers: torch ${peerVersions.torch}, transformers ${peerVersions.transformers} (${opts.hfPython}), attention: ${attn}; ` +
      `torch.set_num_threads(${opts.threads}), OMP/MKL/OPENBLAS_NUM_THREADS=${opts.threads}, inference_mode, a fresh process per round`,
    `- OMP_WAIT_POLICY: ours ${process.env.OMP_WAIT_POLICY ?? 'unset'} (rrnative sets PASSIVE when unset), transformers ${startOmpWaitPolicy ?? 'unset'} (as started); ` +
      `OPENBLAS_THREAD_TIMEOUT=${process.env.OPENBLAS_THREAD_TIMEOUT ?? 'unset'}, OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? 'unset'}`,
    `- models: random init by transformers (seed ${opts.seed}), float32, one folder both sides load; token ids: seeded random, lengths of debdesc dev pairs ` +
      `under bert-mini-a's WordPiece (max_length ${opts.maxLength}), Qwen rows +${QWEN_PROMPT_TOKENS} for Qwen3-Reranker's prompt; ` +
      `length-sorted batches of ${opts.batch}, ModernBERT right-padded, Qwen left-padded, identical on every side`,
    `- timing: model load not timed, one warm-up batch (the longest) untimed per side and round; ${opts.repeats} rounds, ` +
      'alternating the order; best round shown (every round in --out)',
    `- agreement: max |rrnative - transformers| over the logits of the first batch (all batches in parentheses)`,
    `- total wall time ${((Date.now() - started) / 1000).toFixed(0)} s`,
    '',
    '| model | params | pairs | tokens/pair | padding eff. | rrnative packed pairs/s | rrnative padded pairs/s | transformers pairs/s | packed / transformers | packed / padded | max abs diff packed | max abs diff padded |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.label} | ${r.params === undefined ? '-' : `${(r.params / 1e6).toFixed(r.params < 1e7 ? 2 : 0)}M`} | ${r.pairs} | ${fmt(r.tokensPerPair)} | ` +
      `${fmt(100 * r.paddingEfficiency, 0)}% | ${fmt(r.sides['rrnative packed'].pairsPerSecond, 2)} | ${fmt(r.sides['rrnative padded'].pairsPerSecond, 2)} | ` +
      `${fmt(r.sides.transformers.pairsPerSecond, 2)} | ${fmt(r.ratios.packedOverTransformers, 2)}x | ${fmt(r.ratios.packedOverPadded, 2)}x | ` +
      `${fmtDiff(r.agreement.firstBatchMaxAbsDiff.packed)} (${fmtDiff(r.agreement.allBatchesMaxAbsDiff.packed)}) | ` +
      `${fmtDiff(r.agreement.firstBatchMaxAbsDiff.padded)} (${fmtDiff(r.agreement.allBatchesMaxAbsDiff.padded)}) |`),
  ];
  if (textResults.length > 0) {
    const st = textResults[0].sides['sentence-transformers'].extra ?? {};
    const stAttn = textResults.map((r) => `${r.label} ${String(r.sides['sentence-transformers'].extra?.attn_implementation)}`).join(', ');
    lines.push(
      '',
      `### Text: rrnative score() vs sentence-transformers CrossEncoder.predict(), tokenization timed on both sides`,
      '',
      `- sentence-transformers ${String(st.sentence_transformers)} (transformers ${String(st.transformers)}, torch ${String(st.torch)}), ` +
        `CrossEncoder(dir, max_length=${opts.maxLength}, device='cpu').predict(pairs, batch_size=${opts.batch}, activation_fn=Identity), attention: ${stAttn}; ` +
        `torch.set_num_threads(${opts.threads}), a fresh process per round`,
      `- rrnative: load(dir, { maxLength: ${opts.maxLength}, template: 'none' }).score(pairs, { batchSize: ${opts.batch} }); packed = default, padded = RRNATIVE_PACKING=off`,
      `- folders: <model>-text, the weights above (hard links) + tokenizer: ModernBERT ${textResults.find((r) => r.key === 'modernbert')?.tokenizer ?? '-'} (WordPiece), ` +
        `Qwen3 ${textResults.find((r) => r.key === 'qwen3')?.tokenizer ?? '-'} (BPE, chat_template removed); plain (query, document) pairs on both sides`,
      `- pairs: debdesc dev (as scripts/bench/cpu.ts), truncated longest-first to ${opts.maxLength}; tokens/pair as rrnative's tokenizer counts them ` +
        `(the CrossEncoder's differs on ${textResults.map((r) => `${r.tokenCountMismatches}/${r.pairs}`).join(', ')} pairs); padding eff. for length-sorted batches of ${opts.batch}`,
      `- timing: load untimed; one untimed warm-up call on ${TEXT_WARMUP_PAIRS} pairs; one timed call over every pair; ${opts.repeats} rounds, alternating the order, best shown`,
      `- agreement: max |rrnative - CrossEncoder| over every pair's raw logit (the CrossEncoder's default, Sigmoid for one label, replaced by Identity)`,
      '',
      '| model | pairs | tokens/pair | padding eff. | rrnative packed pairs/s | rrnative padded pairs/s | sentence-transformers pairs/s | packed / ST | padded / ST | packed / padded | max abs diff packed | max abs diff padded |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...textResults.map((r) => `| ${r.label} | ${r.pairs} | ${fmt(r.tokensPerPair)} | ${fmt(100 * r.paddingEfficiency, 0)}% | ` +
        `${fmt(r.sides['rrnative packed'].pairsPerSecond, 2)} | ${fmt(r.sides['rrnative padded'].pairsPerSecond, 2)} | ${fmt(r.sides['sentence-transformers'].pairsPerSecond, 2)} | ` +
        `${fmt(r.ratios.packedOverSt, 2)}x | ${fmt(r.ratios.paddedOverSt, 2)}x | ${fmt(r.ratios.packedOverPadded, 2)}x | ` +
        `${fmtDiff(r.agreement.maxAbsDiff.packed)} | ${fmtDiff(r.agreement.maxAbsDiff.padded)} |`),
    );
  }
  console.log(lines.join('\n'));
  if (opts.out) {
    const json = { date, machine, options: opts, ours: { node: process.version, runtime: info }, transformers: { python: opts.hfPython, ...peerVersions }, models: results, text: textResults };
    fs.writeFileSync(opts.out, JSON.stringify(json, null, 2) + '\n');
    log(`wrote ${opts.out}`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
