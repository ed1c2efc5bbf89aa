// The whole native surface of the addon, as types. The rest of src/ reaches the addon only through
// this file (as node-llama-cpp does with its AddonTypes). Keep in step with native/runtime/bindings.cpp.
import path from 'node:path';
import fs from 'node:fs';
import { addonFile, packageRoot, setupHelp } from './install/addon';

/** The model hyper-parameters the native core reads (resolved from config.json by hfconfig.ts). */
export interface NativeModelConfig {
  modelType: 'bert' | 'roberta' | 'electra' | 'deberta-v2' | 'modernbert' | 'qwen3' | 'qwen2';
  vocabSize: number;
  hiddenSize: number;
  /** ELECTRA / DeBERTa: the embedding width before the projection to hiddenSize. */
  embeddingSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  numLabels: number;
  padTokenId: number;
  layerNormEps: number;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  classifierDropout: number;
  initializerRange: number;
  hiddenAct: string;
  // DeBERTa-v2/v3 (the other families pass the neutral values: true, false, -1, -1, false, false, false, false)
  positionBiasedInput: boolean;
  relativeAttention: boolean;
  maxRelativePositions: number;
  positionBuckets: number;
  c2p: boolean;
  p2c: boolean;
  shareAttKey: boolean;
  normRelEmbedding: boolean;
  poolerHiddenAct: string;
  poolerDropout: number;
  // ModernBERT (layerNormEps is norm_eps, hiddenAct hidden_activation, attentionProbsDropoutProb attention_dropout)
  normBias?: boolean;
  attentionBias?: boolean;
  mlpBias?: boolean;
  classifierBias?: boolean;
  globalRopeTheta?: number;
  localRopeTheta?: number;
  /** Per layer: a sliding-window (local) layer, else global. */
  localLayers?: boolean[];
  /** local_attention: local layers see tokens within half of it on each side. */
  localAttention?: number;
  /** classifier_pooling 'mean' (else 'cls'). */
  meanPooling?: boolean;
  classifierActivation?: string;
  embeddingDropout?: number;
  mlpDropout?: number;
  // Qwen3 / Qwen2 (layerNormEps is rms_norm_eps)
  numKeyValueHeads?: number;
  headDim?: number;
  ropeTheta?: number;
  /** Qwen3: RMSNorm over each head of q and k. */
  qkNorm?: boolean;
  /** Qwen2: q/k/v projections with biases. */
  qkvBias?: boolean;
  tieWordEmbeddings?: boolean;
  /** 'score': a Linear on the last real token (*ForSequenceClassification); 'yes_no': logit(yes) - logit(no) there (*ForCausalLM). */
  decoderHead?: 'score' | 'yes_no';
  yesTokenId?: number;
  noTokenId?: number;
}

/** A padded batch of token ids, row-major [batch, length]. */
export interface NativeTokenBatch {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array | null;
  batch: number;
  length: number;
}

export interface NativeLoadReport {
  /** Tensors in the file that the model does not use (ignored, as Hugging Face does). */
  unexpected: string[];
  /** Head parameters the file lacks, left freshly initialised. */
  initialized: string[];
}

export type NativeLossKind = 'bce' | 'mse' | 'listwise_ce' | 'margin_mse' | 'distill_mse' | 'lambda_loss';

export interface NativeLossInput {
  kind: NativeLossKind;
  /** Pairs per group (grouped losses see the batch as [batch / groupSize, groupSize], positive first). */
  groupSize: number;
  /** One label per pair. */
  labels: Float32Array;
  /** One teacher score per pair (margin_mse, distill_mse). */
  teacherScores: Float32Array | null;
  /** Multiplies the loss before backward (1 / gradient_accumulation_steps). */
  scale: number;
  /** bf16 autocast (CUDA only). */
  bf16: boolean;
  /**
   * Resolve to null instead of the loss, so the step never waits for the GPU; the loss is kept on the device
   * and read with takeTrainStats().
   */
  deferLoss?: boolean;
  /**
   * Replay a CUDA graph of this step (captured once per batch size, length bucket of 32 and loss; the first
   * two calls run eagerly). Needs deferLoss, a CUDA model and a CUDA build (runtimeInfo().cudaGraphs).
   */
  cudaGraphs?: boolean;
  /**
   * Forward the rows sorted by length in up to this many slices, each padded only to its own longest row,
   * when that saves at least 2% of the batch's padded tokens per extra slice (same logits, less work; grouped
   * losses pad a whole query group to the batch's longest pair). 1 (the default): one padded forward. With
   * cudaGraphs: always this many equal runs of the sorted rows, each length rounded up to the bucket of 32 (a
   * graph per combination of the slices' lengths).
   */
  lengthSlices?: number;
}

export interface NativeOptimizerStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient L2 norm to this (0: no clipping). */
  maxGradNorm: number;
  /** Resolve to null instead of the norm (no wait for the GPU); takeTrainStats() returns the last one. */
  deferGradNorm?: boolean;
  /** Replay a CUDA graph of the step (see NativeLossInput.cudaGraphs); needs deferGradNorm. */
  cudaGraphs?: boolean;
}

/** Training figures kept on the device since the last takeTrainStats(). */
export interface NativeTrainStats {
  /** Mean over the optimizer steps of each step's mean micro-batch loss; null when no step was taken. */
  loss: number | null;
  steps: number;
  /** The gradient norm (before clipping) of the last optimizer step; null before the first. */
  gradNorm: number | null;
  /** Micro-batches forwarded in length slices (see NativeLossInput.lengthSlices). */
  slicedMicroBatches: number;
}

export type NativePoolingMode = 'cls' | 'max' | 'mean' | 'mean_sqrt_len' | 'weightedmean' | 'lasttoken';

export interface NativePoolingOptions {
  /** Modes whose vectors are concatenated, in this order. */
  pooling: NativePoolingMode[];
  /** Tokens at the start of every row left out of pooling (a prompt, with include_prompt false). */
  excludedPrefix?: number;
  /** L2-normalize each embedding (a Normalize module). */
  normalize?: boolean;
  /** bf16 autocast (CUDA). */
  bf16?: boolean;
}

/** Exact nearest-neighbour search in the addon (native/kernels/vector_index.h). */
export interface NativeVectorIndex {
  /** Appends rows (Float32Array, or a Uint16Array of float16 bits) and resolves to the new size. */
  add(vectors: Float32Array | Uint16Array): Promise<number>;
  /** The k best rows per query, row-major [queries, k'] with k' = min(k, size), best first. */
  search(queries: Float32Array, k: number): Promise<{ rows: Int32Array; scores: Float32Array; k: number }>;
  /** The stored vectors (unit vectors for cosine): Float32Array for 'fp32' storage, float16 bits for 'fp16'. */
  stored(): Promise<Float32Array | Uint16Array>;
  /** Rows added by finished add() calls. */
  readonly size: number;
  dispose(): void;
}

export interface NativeVectorIndexOptions {
  dimension: number;
  metric: 'cosine' | 'dot';
  storage: 'fp32' | 'fp16';
  device: string;
}

export interface NativeCrossEncoder {
  /** Eval-mode logits, row-major [batch, numLabels]. */
  forward(batch: NativeTokenBatch, options?: { bf16?: boolean }): Promise<Float32Array>;
  /** forward() of several batches in one job; on CUDA one wait for all their logits (the host runs ahead). */
  forwardMany(batches: NativeTokenBatch[], options?: { bf16?: boolean }): Promise<Float32Array[]>;
  /**
   * Sentence embeddings of batches of single texts (eval mode): the base model's token states pooled as
   * sentence-transformers' Pooling (+ Normalize) modules do (native/layers/pooling.h). Each result is row-major
   * [batch, hidden × pooling.length], float32.
   */
  embedMany(batches: NativeTokenBatch[], options: NativePoolingOptions): Promise<Float32Array[]>;
  /** Train-mode forward, loss and backward; gradients accumulate until optimizerStep. Resolves to the (unscaled) loss. */
  trainStep(batch: NativeTokenBatch, loss: NativeLossInput & { deferLoss: true }): Promise<null>;
  trainStep(batch: NativeTokenBatch, loss: NativeLossInput): Promise<number>;
  /**
   * Clips, takes an AdamW step (no decay on biases and LayerNorm; fused multi-tensor kernels on CUDA), clears
   * gradients. Resolves to the norm before clipping.
   */
  optimizerStep(options: NativeOptimizerStep & { deferGradNorm: true }): Promise<null>;
  optimizerStep(options: NativeOptimizerStep): Promise<number>;
  /** Reads (one GPU sync) and resets the loss kept since the last call; see deferLoss. */
  takeTrainStats(): Promise<NativeTrainStats>;
  /** AdamW moments, step count and the torch CPU RNG, as safetensors. */
  saveOptimizer(path: string): Promise<void>;
  loadOptimizer(path: string): Promise<void>;
  /** One safetensors file, or the shards of a sharded checkpoint (tensors looked up across them). */
  loadWeights(safetensorsPath: string | string[]): Promise<NativeLoadReport>;
  saveWeights(safetensorsPath: string, metadata: Record<string, string>): Promise<void>;
  /**
   * Casts the parameters: 'bf16' for inference only (half the memory, no casts per forward; trainStep and
   * optimizerStep then reject), 'fp32' back.
   */
  setDtype(dtype: NativeDtype): Promise<void>;
  /** Frees the model once the jobs already queued for it are done. */
  dispose(): void;
}

export type NativeDtype = 'fp32' | 'bf16' | 'int8';

export interface NativeRuntimeInfo {
  torchVersion: string;
  cudaAvailable: boolean;
  /** Cores used (RRNATIVE_NUM_THREADS, else all). */
  numThreads: number;
  /** torch's intra-op threads: 1 when OpenBLAS runs the matrix products on its own pool. */
  intraOpThreads: number;
  /** "openblas (Haswell)": OpenBLAS with the kernels it picked (or OPENBLAS_CORETYPE); else "built-in" (LibTorch's own, e.g. MKL). */
  blas: string;
  /** Freed memory stays in the process for reuse (glibc; RRNATIVE_MALLOC=system turns it off): see README. */
  keepsFreedMemory: boolean;
  /** Fused attention kernels allowed on CUDA (RRNATIVE_SDPA: flash, efficient, cudnn, math), or "default". */
  attentionBackends: string;
  /** Whether this build can capture training steps as CUDA graphs (a CUDA LibTorch 2.4 or later). */
  cudaGraphs: boolean;
  /**
   * Forwards since the addon loaded whose BERT-family layers ran on packed tokens, skipping the padding (on
   * the CPU: every float32 batch; bf16 weights when padding is 2% of the batch or more: native/layers/packing.h).
   */
  packedForwards: number;
  /** Attention forwards since the addon loaded that ran on packed tokens (CPU float32: native/kernels/packed_attention.h). */
  packedAttentionCalls: number;
  /** Feed-forward activations since the addon loaded that ran as one bias + GELU pass (CPU float32: native/kernels/bias_gelu.h). */
  biasGeluCalls: number;
  /** Bias + residual + LayerNorm passes since the addon loaded (CPU float32 and int8 inference: native/kernels/residual_norm.h). */
  residualLayerNormCalls: number;
  /** Int8 products since the addon loaded (models loaded with dtype 'int8': native/kernels/int8_linear.h). */
  int8Products: number;
  /** The int8 engine ('onednn', 'x86', 'fbgemm'), once a model was given dtype 'int8'; '' before. */
  int8Engine: string;
  /**
   * What runs the int8 products: 'gemm_u8s8s32' (oneDNN's integer GEMM called directly, where its symbols are
   * visible, as in Debian's libdnnl: native/kernels/int8_linear.h; RRNATIVE_CPU_GEMM=torch turns it off),
   * 'linear_dynamic' (LibTorch's quantized::linear_dynamic), '' before the first int8 model.
   */
  int8Kernel: '' | 'gemm_u8s8s32' | 'linear_dynamic';
  /**
   * 'onednn' where the float32 CPU linear products go through oneDNN's sgemm (a LibTorch linking a visible
   * libdnnl, as Debian's: native/kernels/cpu_gemm.h; RRNATIVE_CPU_GEMM=torch turns it off); '' where LibTorch runs them.
   */
  cpuGemm: string;
  /** Products since the addon loaded that went through that sgemm (forward and backward). */
  cpuGemmCalls: number;
  /**
   * The int8 products' activations: 'u8' (full range) where the CPU multiplies with VNNI, 'u7' (reduce_range, as
   * PyTorch's x86 / FBGEMM configs) where it does not, or oneDNN's ISA cap (ONEDNN_MAX_CPU_ISA) rules VNNI out;
   * '' before the first int8 model.
   */
  int8Activations: '' | 'u8' | 'u7';
  /**
   * oneDNN's primitive cache capacity once an int8 model exists: 0 (set by rrnative: its cached int8 products held
   * memory per batch shape) unless ONEDNN_PRIMITIVE_CACHE_CAPACITY is set; -1 before, or where it cannot be read.
   */
  onednnPrimitiveCache: number;
}

export type NativeDdpBackend = 'gloo' | 'nccl';

/** One rank's place in a data-parallel job (torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). */
export interface NativeDistributedOptions {
  rank: number;
  worldSize: number;
  /** This rank's GPU on its machine (CUDA training binds the torch thread to it). */
  localRank: number;
  /** Rank 0 serves the rendezvous (a c10d TCPStore) here; the others connect to it. */
  masterAddr: string;
  masterPort: number;
  backend: NativeDdpBackend;
  /** How long the rendezvous and each collective may wait for the other ranks before failing. */
  timeoutSeconds: number;
  /** The training device ('cpu', 'cuda'). */
  device: string;
}

/**
 * A torch.distributed process group (c10d TCPStore + Gloo, or NCCL on CUDA). Every method is a collective: all
 * ranks call it in the same order. A collective that cannot complete (a rank died or hangs) rejects within
 * the timeout, naming the rank that stopped answering when that can be told; the group is unusable after.
 */
export interface NativeProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend: NativeDdpBackend;
  /** Copies rank 0's parameters into this rank's model. */
  broadcastParameters(model: NativeCrossEncoder): Promise<void>;
  /**
   * Averages the gradients over the ranks (25 MB buckets, all-reduce SUM / world size): call after the
   * micro-batches' trainStep and before optimizerStep. `values` come back summed over the ranks.
   */
  allReduceGradients(model: NativeCrossEncoder, values: Float64Array): Promise<Float64Array>;
  allReduce(values: Float64Array, op?: 'sum' | 'max' | 'min'): Promise<Float64Array>;
  /** Every rank's values, rank-major (each rank passes the same number of values). */
  allGather(values: Float64Array): Promise<Float64Array>;
  barrier(): Promise<void>;
  /** Leaves the group (no collective: barrier() first for an orderly end). */
  destroy(): Promise<void>;
}

export interface NativeAddon {
  createModel(config: NativeModelConfig, options: { device: string; seed: number }): Promise<NativeCrossEncoder>;
  createVectorIndex(options: NativeVectorIndexOptions): NativeVectorIndex;
  runtimeInfo(): NativeRuntimeInfo;
  /** Seeds torch's default generators (dropout masks). */
  manualSeed(seed: number): Promise<void>;
  /** Forms this process's data-parallel group (one per process); rejects, naming the address, when the ranks do not all arrive in time. */
  initProcessGroup(options: NativeDistributedOptions): Promise<NativeProcessGroup>;
  /** The torch.distributed backends of this build: [] without c10d/Gloo, ['gloo'], or ['gloo', 'nccl']. */
  distributedBackends(): NativeDdpBackend[];
  /**
   * Starts LibTorch's profiler around the torch thread's work (jobs queued after this one); `cuda` also records
   * the GPU's kernels. Rejects when a profile is already running.
   */
  startProfiler(options: { cuda: boolean }): Promise<void>;
  /** Ends the profile (waiting for the GPU), sums it by name, and writes a Chrome trace to `tracePath` if given. */
  stopProfiler(options?: { tracePath?: string }): Promise<NativeProfileSummary>;
  /**
   * The CPU dropout keep mask (native/layers/dropout.h) of `count` elements under `seed`, as the forward pass applies it
   * (1 / (1 - p) with probability 1 - p, else 0) and as the backward pass recomputes it. The model draws its masks
   * this way on the CPU; exposed so tests can check the statistics.
   */
  dropoutMask(options: { count: number; p: number; seed: number }): Promise<{ forward: Float32Array; backward: Float32Array }>;
  /**
   * The CPU attention kernels (native/kernels/packed_attention.h) on their own: `qkv` holds sum(rowLengths) packed token
   * rows of [Q | K | V] (3 x hidden floats each). Returns the [tokens, hidden] context; with `gradOut` (the
   * context's gradient) the training kernel runs, with dropout `dropout` under `seed`, and `gradQkv` is qkv's
   * gradient. For tests.
   */
  /** `kvHeads` (default heads): grouped K/V heads, qkv rows then [Q | K | V] of (heads + 2 kvHeads) x headDim; `window`: keys
   * |i - j| <= window only; `causal`: keys j <= i only (the training kernel: kvHeads = heads). */
  packedAttention(options: { qkv: Float32Array; rowLengths: number[]; heads: number; kvHeads?: number; window?: number; causal?: boolean;
    gradOut?: Float32Array; dropout?: number; seed?: number }):
    Promise<{ out: Float32Array; gradQkv?: Float32Array }>;
  /**
   * The CPU bias + exact GELU kernel (native/kernels/bias_gelu.h) on its own: gelu(product + bias) over rows of
   * bias.length values. With `gradOut` its backward pass runs too: the gradients of product and bias. For tests.
   */
  biasGelu(options: { product: Float32Array; bias: Float32Array; gradOut?: Float32Array }):
    Promise<{ out: Float32Array; gradProduct?: Float32Array; gradBias?: Float32Array }>;
  /**
   * The CPU bias + residual + LayerNorm kernel (native/kernels/residual_norm.h) on its own: LayerNorm(product + bias +
   * residual) over rows of weight.length values, with the norm's weight, bias (normBias) and eps. For tests.
   */
  residualLayerNorm(options: { product: Float32Array; residual: Float32Array; bias?: Float32Array; weight: Float32Array; normBias: Float32Array; eps: number }):
    Promise<{ out: Float32Array }>;
  /**
   * Stops the torch thread for good: queued jobs are dropped, the running one may finish (up to 10 s). Called on
   * process 'exit' (below): exit() would otherwise run LibTorch's static destructors under a running job.
   */
  stopForExit(): void;
}

export interface NativeProfileEntry {
  name: string;
  /** 'cpu': an operator or a CUDA runtime call, on the torch thread; 'cuda': a kernel, copy or memset on the GPU. */
  device: 'cpu' | 'cuda';
  calls: number;
  /** Summed durations; CPU operators nest (aten::linear holds aten::addmm), so CPU totals overlap. */
  totalUs: number;
}

export interface NativeProfileSummary {
  /** From the start job to the stop job, after the GPU finished. */
  wallUs: number;
  /** The GPU events' summed durations (with one stream: the time the GPU was busy). */
  cudaKernelUs: number;
  /** Largest total first. */
  entries: NativeProfileEntry[];
  /** Set when a trace was asked for and could not be written (e.g. LibTorch built without Kineto, as Debian's). */
  traceError?: string;
}

let cached: NativeAddon | undefined;

function readCpuInfo(): string {
  try {
    return fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';  // not Linux: OpenBLAS chooses alone
  }
}

/**
 * The OpenBLAS kernel family to ask for on this CPU, or undefined to let OpenBLAS choose. OpenBLAS before 0.3.22
 * (Debian bookworm ships 0.3.21) runs AMD CPUs with AVX-512 (Zen 4 and 5) on its AVX2 Haswell kernels; its
 * SkylakeX kernels need only AVX-512 F/BW/DQ/VL, which those CPUs have. Measured on a 2-core Zen 5 EPYC
 * (scripts/bench/cpu.ts, MiniLM-L6 scoring): 72.7 pairs/s on Haswell, 87.4 on SkylakeX. Newer OpenBLAS picks
 * these kernels itself, so asking changes nothing there; Intel CPUs are detected right by every version.
 */
export function openBlasCoreFor(cpuinfo: string): string | undefined {
  const vendor = /^vendor_id\s*:\s*(\S+)/m.exec(cpuinfo)?.[1];
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/));
  const avx512 = ['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f));
  return vendor === 'AuthenticAMD' && avx512 ? 'SKYLAKEX' : undefined;
}

/** The addon, loaded on first use from build/Release (cmake-js's output). */
export function addon(): NativeAddon {
  if (cached) return cached;
  const file = addonFile();
  if (!fs.existsSync(file)) {
    // A development checkout builds with scripts/setup.sh; an installed package with `rrtrain setup`.
    if (fs.existsSync(path.join(packageRoot, 'src', 'native.ts'))) {
      throw new Error(`rrnative: the native addon is not built (${file} is missing). Run \`npm run setup\` in ${packageRoot}.`);
    }
    throw new Error(setupHelp(`${file} is missing`));
  }
  // OpenBLAS's idle threads spin for 2^28 cycles (about 0.1 s) after each matrix product before they sleep, so
  // between products they hold the cores that the packed attention kernel's threads need (native/
  // packed_attention.h): on the 2-core machine its two threads ran no faster than one (MiniLM scoring: 1.35 s of
  // attention, 0.70 s with a 2^10-cycle spin; the products' time unchanged). OpenBLAS reads this as it loads,
  // with the addon; a value already set is kept.
  if (process.env.OPENBLAS_THREAD_TIMEOUT === undefined) process.env.OPENBLAS_THREAD_TIMEOUT = '10';
  // OpenMP's (libgomp's) idle threads do the same after each parallel region, oneDNN's products among them
  // (native/kernels/cpu_gemm.h, native/kernels/int8_linear.h): 300,000 spins before they sleep, while the attention and GELU
  // kernels' threads need the cores. Sleeping at once (PASSIVE) measured on the 2-core machine, MiniLM scoring:
  // attention 1.0 s -> 0.62 s, int8 146-162 -> 213-220 pairs/s, float32 102-121 -> 112-129. libgomp reads it as
  // it loads, with the addon; a wait policy or spin count already set is kept.
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) process.env.OMP_WAIT_POLICY = 'PASSIVE';
  // native/kernels/cpu_gemm.h reads it as it first multiplies: 'torch' leaves the float32 CPU products to LibTorch.
  const gemm = process.env.RRNATIVE_CPU_GEMM;
  if (gemm !== undefined && gemm !== '' && gemm !== 'torch' && gemm !== 'onednn') {
    throw new Error(`RRNATIVE_CPU_GEMM: expected 'onednn' (the default where oneDNN's sgemm is found) or 'torch', got ${JSON.stringify(gemm)}`);
  }
  const core = process.env.OPENBLAS_CORETYPE === undefined ? openBlasCoreFor(readCpuInfo()) : undefined;
  if (core) process.env.OPENBLAS_CORETYPE = core;
  cached = require(file) as NativeAddon;
  const loaded = cached;
  process.once('exit', () => loaded.stopForExit());
  return cached;
}
