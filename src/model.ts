// The Reranker: a cross-encoder loaded from (or saved to) a Hugging Face model folder, scoring pairs
// through the native addon.
import fs from 'node:fs';
import { resolveModelFolder } from './hub/models';
import path from 'node:path';
import { addon, type NativeCrossEncoder, type NativeDtype, type NativeTokenBatch } from './native';
import { configForSave, configJson, readModelConfig, resolveModelConfig, savedPrompt, type HfConfig, type ResolvedModelConfig } from './hfconfig';
import {
  DEFAULT_CHUNK_OVERLAP, DEFAULT_MAX_CHUNKS, PairTokenizer, padBatch, type ChunkAggregate, type EncodedPair, type LongDocuments,
  type TruncationDirection,
} from './tokenize';
import { TokenizePool, tokenizeWorkersFor } from './tokenize-pool';
import type { TemplateName } from './prompt';
import { checkOneOf, checkPairs, checkPositiveInt, checkString, describe, type Pair } from './validate';
import { fsyncPath, readJsonFile, writeFileAtomic } from './util';

export type Device = 'cpu' | 'cuda';
/** A device as asked for: 'auto' is CUDA when LibTorch sees a GPU, else the CPU (as sentence-transformers picks). */
export type DeviceRequest = Device | 'auto';

/** The device `requested` names; `setting` (e.g. '--device', 'training.device') names it in the error. */
/** 'auto': CUDA when LibTorch sees a GPU, else the CPU; and the CPU for dtype 'int8' (its products are CPU-only). */
export function resolveDevice(requested: DeviceRequest, setting: string, dtype?: NativeDtype): Device {
  if (requested === 'auto' && dtype === 'int8') return 'cpu';
  const cuda = addon().runtimeInfo().cudaAvailable;
  if (requested === 'cuda' && !cuda) throw new Error(`${setting}: cuda was asked for, but no CUDA device is available to LibTorch`);
  return requested === 'auto' ? (cuda ? 'cuda' : 'cpu') : requested;
}

export interface LoadOptions {
  /** 'cpu' (default) or 'cuda'. */
  device?: Device;
  /** Longest pair in tokens; defaults to the tokenizer's model_max_length capped by max_position_embeddings. */
  maxLength?: number;
  /** Seed for any freshly initialised head parameters. */
  seed?: number;
  /** Keys that replace config.json's (e.g. `{ hidden_dropout_prob: 0 }`), as transformers' from_pretrained kwargs. */
  configOverrides?: Record<string, unknown>;
  /**
   * 'fp32' (default), or 'bf16' weights for inference only (as transformers' `dtype=torch.bfloat16`): half the
   * memory and every score computed in bf16, within ~1e-2 of fp32; meant for CUDA (it runs on the CPU, slowly
   * on most). Such a model cannot be trained; save() writes BF16 tensors.
   * 'int8': float32 weights, with the encoder layers' matrix products run in int8 on the CPU (PyTorch's dynamic
   * quantization: weights per output channel, activations per call; native/kernels/int8_linear.h): faster scoring, within
   * ~1e-2 of fp32. CPU only; such a model cannot be trained; save() writes the float32 weights unchanged.
   */
  dtype?: NativeDtype;
  /** For a Hugging Face Hub id: a branch, tag or commit (also `org/name@revision`); default "main". */
  revision?: string;
  /** For a Hub id: the local cache only, no request (as transformers' local_files_only; HF_HUB_OFFLINE=1 for all). */
  localFilesOnly?: boolean;
  /**
   * The prompt pairs are put in: 'qwen3-reranker' (Qwen3-Reranker's, built from the model's chat template; the
   * default for Qwen3ForCausalLM / Qwen2ForCausalLM rerankers) or 'none' (the tokenizer's own pair encoding; the
   * default for every other model, the *-seq-cls conversions of Qwen3-Reranker included, which need 'qwen3-reranker').
   */
  template?: TemplateName;
  /** The template's instruction when score() names none (default: Qwen3-Reranker's web-search instruction). */
  instruction?: string;
  /**
   * A *ForCausalLM reranker's answer tokens: its score is logit(yes) - logit(no) at the last token. Strings are
   * looked up in the tokenizer (default "yes" and "no"); numbers are token ids (a folder without a tokenizer).
   */
  answerTokens?: { yes: string | number; no: string | number };
}

export interface CreateOptions extends LoadOptions {
  /** A Hugging Face config.json object for the new model (model_type, sizes, …). */
  config: HfConfig;
  /** A folder holding the tokenizer files (tokenizer.json, or vocab.txt + tokenizer_config.json). */
  tokenizer: string;
  /** Number of output logits (default: from the config's id2label, else 1). */
  numLabels?: number;
}

export interface ScoreOptions {
  /** Pairs per forward pass (default 32). Pairs are sorted by length into batches to cut padding. */
  batchSize?: number;
  /** Cut pairs longer than maxLength, longest-first (default true). Off, a longer pair is a RangeError. */
  truncation?: boolean;
  /** 'none' (raw logit, default) or 'sigmoid'. */
  activation?: 'none' | 'sigmoid';
  /** For models with several labels: which logit to return (index or id2label name). */
  label?: number | string;
  /** bf16 autocast (CUDA models only; about 2-3× the fp32 throughput, scores within ~1e-2). Default false. */
  bf16?: boolean;
  /**
   * A pair longer than maxLength: 'truncate' (default) cuts it; 'chunk' splits the document into overlapping
   * windows of tokens, each scored after the query, and the document gets their aggregate.
   */
  longDocuments?: LongDocuments;
  /** Chunking: windows per document at most (default 10; the rest of a longer document is not read). */
  maxChunks?: number;
  /** Chunking: tokens a window shares with the one before (default 32; at most half a window). */
  chunkOverlap?: number;
  /** Chunking: 'max' (default, MaxP: the best chunk's logits), 'first' or 'mean' (the chunks' mean logits). */
  aggregate?: ChunkAggregate;
  /** Truncating: which end of the pair is cut, 'right' (default, as transformers) or 'left'. */
  truncationDirection?: TruncationDirection;
  /** A prompt-template model's instruction for these pairs (Qwen3-Reranker's `<Instruct>`); default the model's. */
  instruction?: string;
}

/** The long-document options of score(), which the pipeline and the retrieval eval pass on. */
export type LongDocumentScoreOptions = Pick<ScoreOptions, 'longDocuments' | 'maxChunks' | 'chunkOverlap' | 'aggregate' | 'truncationDirection'>;

/** The long-document options, checked, with their defaults. */
export interface LongDocumentOptions {
  longDocuments: LongDocuments;
  maxChunks: number;
  chunkOverlap: number;
  aggregate: ChunkAggregate;
  truncationDirection: TruncationDirection;
}

/** Checks the long-document options of `options` (named `prefix`.key in errors) and fills in the defaults. */
export function checkLongDocumentOptions(options: Partial<LongDocumentOptions> & { chunkAggregate?: ChunkAggregate }, prefix = 'options'): LongDocumentOptions {
  const aggregate = options.aggregate ?? options.chunkAggregate;
  return {
    longDocuments: options.longDocuments === undefined ? 'truncate' : checkOneOf(options.longDocuments, `${prefix}.longDocuments`, ['truncate', 'chunk']),
    maxChunks: options.maxChunks === undefined ? DEFAULT_MAX_CHUNKS : checkPositiveInt(options.maxChunks, `${prefix}.maxChunks`),
    chunkOverlap: options.chunkOverlap === undefined ? DEFAULT_CHUNK_OVERLAP : checkNonNegativeInt(options.chunkOverlap, `${prefix}.chunkOverlap`),
    aggregate: aggregate === undefined ? 'max' : checkOneOf(aggregate, `${prefix}.aggregate`, ['max', 'first', 'mean']),
    truncationDirection: options.truncationDirection === undefined ? 'right'
      : checkOneOf(options.truncationDirection, `${prefix}.truncationDirection`, ['right', 'left']),
  };
}

function checkNonNegativeInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new TypeError(`${name} must be a non-negative integer, got ${describe(value)}`);
  return value;
}

/**
 * Chunked documents' logits, one row per document: 'max' the row of the chunk highest in `column` (MaxP; the
 * first of equals), 'first' the first chunk's, 'mean' the rows' mean. A document with one pair keeps its row.
 */
export function aggregateRows(rows: readonly number[][], owners: readonly number[], documents: number, aggregate: ChunkAggregate, column: number): number[][] {
  const out: number[][] = new Array(documents);
  const counts = new Array<number>(documents).fill(0);
  for (let p = 0; p < rows.length; p++) {
    const d = owners[p];
    const row = rows[p];
    const seen = counts[d]++;
    if (seen === 0) out[d] = aggregate === 'mean' ? [...row] : row;
    else if (aggregate === 'max') {
      if (row[column] > out[d][column]) out[d] = row;
    } else if (aggregate === 'mean') {
      for (let k = 0; k < row.length; k++) out[d][k] += row[k];
    }
  }
  if (aggregate === 'mean') for (let d = 0; d < documents; d++) if (counts[d] > 1) out[d] = out[d].map((v) => v / counts[d]);
  return out;
}

export interface RankOptions extends ScoreOptions {
  /** Return only the best topK documents (default: all). */
  topK?: number;
}

export interface RankedDocument {
  index: number;
  score: number;
  document: string;
}

/** Pre-tokenized input: arrays of rows, or flat typed arrays with `shape: [batch, length]`. */
export interface TokenInput {
  inputIds: number[][] | Int32Array | BigInt64Array | number[];
  attentionMask?: number[][] | Int32Array | BigInt64Array | number[];
  tokenTypeIds?: number[][] | Int32Array | BigInt64Array | number[];
  shape?: [number, number];
}

const DEFAULT_BATCH_SIZE = 32;
/** score() on CUDA: pairs are tokenized in chunks of this many batches, each overlapping the model's work on the last. */
const PIPELINE_BATCHES = 8;

export class Reranker {
  private disposed = false;
  /** score() on CUDA with many pairs and cores: tokenization on worker threads (tokenize-pool.ts). */
  private tokenizePool: TokenizePool | null = null;

  private constructor(
    private readonly nativeModel: NativeCrossEncoder,
    readonly config: ResolvedModelConfig,
    /** null for a folder without tokenizer files: then only scoreTokens() works. */
    private readonly pairTokenizer: PairTokenizer | PairTokenizerMissing,
    readonly device: Device,
    readonly dtype: NativeDtype,
    readonly maxLength: number,
    /** Head parameters the loaded folder lacked and that were initialised fresh. */
    readonly initializedParameters: readonly string[],
  ) {}

  /**
   * Loads a Hugging Face model folder (config.json, model.safetensors, tokenizer files), or a model by its Hub id
   * (`org/name`, `org/name@revision`) through the Hugging Face cache, downloading what is missing (src/hub/).
   */
  static async load(nameOrDir: string, options: LoadOptions = {}): Promise<Reranker> {
    checkString(nameOrDir, 'dir');
    const dir = await resolveModelFolder(nameOrDir, { revision: options.revision, localFilesOnly: options.localFilesOnly });
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: no such model folder`);
    const weights = weightFiles(dir);
    const config = readModelConfig(dir, { configOverrides: options.configOverrides });
    const tokenizerOptions = checkTemplateOptions(options, config, savedPrompt(config, path.join(dir, 'config.json')));
    const tokenizer = hasTokenizerFiles(dir) ? await PairTokenizer.load(dir, tokenizerOptions) : new PairTokenizerMissing(dir);
    if (tokenizer instanceof PairTokenizer) checkVocabularies(tokenizer, config, dir);
    resolveAnswerTokens(options, config, tokenizer instanceof PairTokenizer ? tokenizer : null, dir);
    const { device, seed, dtype } = checkLoadOptions(options);
    const native = await addon().createModel(config.native, { device, seed });
    try {
      const report = await native.loadWeights(weights);
      if (dtype !== 'fp32') await native.setDtype(dtype);
      return new Reranker(native, config, tokenizer, device, dtype, resolveMaxLength(options, config, tokenizer), report.initialized);
    } catch (err) {
      native.dispose();
      throw err;
    }
  }

  /** A new model from a config, initialised as Hugging Face does (normal(0, initializer_range), zero biases), seeded. */
  static async create(options: CreateOptions): Promise<Reranker> {
    if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object with config and tokenizer, got ${describe(options)}`);
    checkString(options.tokenizer, 'options.tokenizer (a folder with tokenizer.json or vocab.txt)');
    const config = resolveModelConfig({ ...options.config, ...options.configOverrides }, 'model.config', { numLabels: options.numLabels });
    const tokenizerDir = await resolveModelFolder(options.tokenizer, { revision: options.revision, localFilesOnly: options.localFilesOnly, files: 'tokenizer' });
    const tokenizer = await PairTokenizer.load(tokenizerDir, checkTemplateOptions(options, config));
    checkVocabularies(tokenizer, config, options.tokenizer);
    resolveAnswerTokens(options, config, tokenizer, options.tokenizer);
    const { device, seed, dtype } = checkLoadOptions(options);
    const native = await addon().createModel(config.native, { device, seed });
    try {
      if (dtype !== 'fp32') await native.setDtype(dtype);
      return new Reranker(native, config, tokenizer, device, dtype, resolveMaxLength(options, config, tokenizer), []);
    } catch (err) {
      native.dispose();
      throw err;
    }
  }

  /** The instruction option, checked: only a prompt-template model takes one. */
  private checkInstruction(value: unknown): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw new TypeError(`options.instruction must be a string, got ${describe(value)}`);
    if (!this.tokenizer.template) {
      throw new RangeError('options.instruction needs a model with a prompt template (a Qwen3-Reranker; or load with template: \'qwen3-reranker\')');
    }
    return value;
  }

  /** The pair tokenizer; an error for a model folder that has no tokenizer files. */
  get tokenizer(): PairTokenizer {
    if (this.pairTokenizer instanceof PairTokenizerMissing) throw this.pairTokenizer.error();
    return this.pairTokenizer;
  }

  get numLabels(): number {
    return this.config.native.numLabels;
  }

  get labels(): readonly string[] {
    return this.config.labels;
  }

  /** One relevance score per pair, in input order. */
  async score(pairs: readonly Pair[], options: ScoreOptions = {}): Promise<number[]> {
    this.checkLive();
    const column = this.labelColumn(options.label);
    const activation = options.activation === undefined ? 'none' : checkOneOf(options.activation, 'options.activation', ['none', 'sigmoid']);
    const rows = await this.logits(pairs, { ...options, label: column });
    return rows.map((row) => (activation === 'sigmoid' ? sigmoid(row[column]) : row[column]));
  }

  /** The full logits vector of every pair, in input order. */
  async logits(pairs: readonly Pair[], options: ScoreOptions = {}): Promise<number[][]> {
    this.checkLive();
    const checked = checkPairs(pairs);
    const batchSize = options.batchSize === undefined ? DEFAULT_BATCH_SIZE : checkPositiveInt(options.batchSize, 'options.batchSize');
    const truncation = options.truncation ?? true;
    if (typeof truncation !== 'boolean') throw new TypeError(`options.truncation must be a boolean, got ${describe(truncation)}`);
    const bf16 = this.checkBf16(options.bf16);
    const long = checkLongDocumentOptions(options);
    const instruction = this.checkInstruction(options.instruction);
    if (checked.length === 0) return [];
    if (long.longDocuments === 'chunk' || long.truncationDirection === 'left') {
      return this.logitsByDocument(checked, long, truncation, batchSize, bf16, this.labelColumn(options.label), instruction);
    }
    // On a GPU, tokenized in chunks: the next chunk's tokenization (on the thread pool) overlaps the model's work
    // on this one, which would otherwise wait for every pair to be tokenized first. On the CPU both compete for
    // the same cores and sorting fewer pairs by length pads more (measured 10% slower), so one chunk.
    const chunkSize = this.device === 'cuda' ? batchSize * PIPELINE_BATCHES : checked.length;
    const order = chunkOrder(checked, chunkSize, truncation);
    const out: number[][] = new Array(checked.length);
    const forwards: Promise<void>[] = [];
    let failure: unknown;
    const workers = this.device === 'cuda' && !this.tokenizePool ? tokenizeWorkersFor(checked.length) : 0;
    if (workers > 0) {
      const { template, instruction: defaultInstruction } = this.tokenizer;
      this.tokenizePool = TokenizePool.start(this.tokenizer.sourceDir, workers, { template: template?.name, instruction: defaultInstruction ?? undefined });
    }
    const tokenizer = this.tokenizePool ?? this.tokenizer;  // the pool exists only for CUDA models
    const encode = (start: number) =>
      tokenizer.encodePairs(order.slice(start, start + chunkSize).map((i) => checked[i]), this.maxLength, truncation, start, instruction);
    let next = encode(0);
    for (let start = 0; start < checked.length; start += chunkSize) {
      const encoded = await next;
      if (start + chunkSize < checked.length) next = encode(start + chunkSize);
      for (const done of this.forwardSorted(encoded, order.slice(start, start + chunkSize), batchSize, bf16, out)) {
        forwards.push(done.catch((err: unknown) => { failure ??= err; }));  // handled now: no unhandled rejection
      }
    }
    await Promise.all(forwards);
    if (failure !== undefined) throw failure;
    return out;
  }

  // Pairs grouped by query, each group's documents cut or chunked by PairTokenizer.encodeDocuments; rows of
  // chunks are aggregated back into one per pair.
  private async logitsByDocument(
    pairs: ReadonlyArray<readonly [string, string]>, long: LongDocumentOptions, truncate: boolean, batchSize: number, bf16: boolean, column: number,
    instruction: string | undefined,
  ): Promise<number[][]> {
    const groups = new Map<string, number[]>();
    pairs.forEach(([query], i) => {
      const group = groups.get(query);
      if (group) group.push(i);
      else groups.set(query, [i]);
    });
    const encoded: EncodedPair[] = [];
    const owners: number[] = [];
    for (const [query, indexes] of groups) {
      const docs = await this.tokenizer.encodeDocuments(query, indexes.map((i) => pairs[i][1]), {
        maxLength: this.maxLength, longDocuments: long.longDocuments, truncate, direction: long.truncationDirection, instruction,
        maxChunks: long.maxChunks, chunkOverlap: long.chunkOverlap,
      }, indexes);
      for (let p = 0; p < docs.pairs.length; p++) {
        encoded.push(docs.pairs[p]);
        owners.push(indexes[docs.owners[p]]);
      }
    }
    const rows: number[][] = new Array(encoded.length);
    await Promise.all(this.forwardSorted(encoded, encoded.map((_, i) => i), batchSize, bf16, rows));
    return aggregateRows(rows, owners, pairs.length, long.aggregate, column);
  }

  /** Documents ordered by score, best first. */
  async rank(query: string, documents: readonly string[], options: RankOptions = {}): Promise<RankedDocument[]> {
    this.checkLive();
    checkString(query, 'query');
    if (!Array.isArray(documents)) throw new TypeError(`documents must be an array of strings, got ${describe(documents)}`);
    documents.forEach((d, i) => checkString(d, `documents[${i}]`));
    const topK = options.topK === undefined ? documents.length : checkPositiveInt(options.topK, 'options.topK');
    const scores = await this.score(documents.map((d) => [query, d] as const), options);
    return scores
      .map((score, index) => ({ index, score, document: documents[index] }))
      .sort((a, b) => b.score - a.score || a.index - b.index)
      .slice(0, topK);
  }

  /** Logits rows for an already tokenized, padded batch. `bf16`: as in score(). */
  async scoreTokens(input: TokenInput, options: { bf16?: boolean } = {}): Promise<number[][]> {
    this.checkLive();
    const bf16 = this.checkBf16(options.bf16);
    const batch = toNativeBatch(input, this.config.native.vocabSize, this.config.maxTokens, this.config.native.typeVocabSize);
    if (batch.batch === 0) return [];
    const flat = await this.nativeModel.forward(batch, { bf16 });
    return splitRows(flat, this.numLabels);
  }

  /** Writes a Hugging Face model folder: config.json, model.safetensors, tokenizer files. */
  async save(dir: string): Promise<void> {
    this.checkLive();
    checkString(dir, 'dir');
    fs.mkdirSync(dir, { recursive: true });
    const weights = path.join(dir, 'model.safetensors');
    const tmp = path.join(dir, `.model.safetensors.${process.pid}.tmp`);
    await this.nativeModel.saveWeights(tmp, { format: 'pt' });
    fsyncPath(tmp);
    fs.renameSync(tmp, weights);
    const template = this.pairTokenizer instanceof PairTokenizer ? this.pairTokenizer.template : null;
    const prompt = template && this.pairTokenizer instanceof PairTokenizer
      ? { template: template.name, instruction: this.pairTokenizer.instruction ?? undefined } : undefined;
    writeFileAtomic(path.join(dir, 'config.json'), configJson(configForSave(this.config, prompt), this.config.floatKeys));
    if (this.pairTokenizer instanceof PairTokenizer) this.pairTokenizer.save(dir);
  }

  /** Frees the native model. Every later call fails. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.nativeModel.dispose();
    void this.tokenizePool?.close();
  }

  /** @internal the native handle, for the trainer. */
  get native(): NativeCrossEncoder {
    this.checkLive();
    return this.nativeModel;
  }

  private checkLive(): void {
    if (this.disposed) throw new Error('this Reranker has been disposed');
  }

  private labelColumn(label: number | string | undefined): number {
    if (label === undefined) {
      if (this.numLabels !== 1) {
        throw new RangeError(`the model has ${this.numLabels} labels (${this.labels.join(', ')}): pass options.label or use logits()`);
      }
      return 0;
    }
    const index = typeof label === 'string' ? this.labels.indexOf(label) : label;
    if (!Number.isInteger(index) || index < 0 || index >= this.numLabels) {
      throw new RangeError(`options.label ${JSON.stringify(label)} is not one of the model's labels (${this.labels.join(', ')})`);
    }
    return index;
  }

  // Whether to run under bf16 autocast. A bf16 model computes in bf16 whatever options.bf16 says.
  private checkBf16(value: unknown): boolean {
    const bf16 = value ?? false;
    if (typeof bf16 !== 'boolean') throw new TypeError(`options.bf16 must be a boolean, got ${describe(bf16)}`);
    if (this.dtype === 'bf16') return false;
    if (bf16 && this.device !== 'cuda') throw new RangeError(`options.bf16 needs a CUDA model (this one is on ${this.device})`);
    return bf16;
  }

  // Sorts by length so each batch pads little, queues the batches, and writes row i to out[positions[i]].
  // On CUDA a chunk's batches go in one job (one wait for the GPU); on the CPU one job each, so other
  // callers' batches can run in between.
  private forwardSorted(encoded: EncodedPair[], positions: readonly number[], batchSize: number, bf16: boolean, out: number[][]): Promise<void>[] {
    const order = encoded.map((_, i) => i).sort((a, b) => encoded[b].ids.length - encoded[a].ids.length || a - b);
    const indices: number[][] = [];
    const batches: NativeTokenBatch[] = [];
    for (let start = 0; start < order.length; start += batchSize) {
      indices.push(order.slice(start, start + batchSize));
      batches.push(padBatch(indices[indices.length - 1].map((i) => encoded[i]), this.tokenizer.padTokenId));
    }
    const place = (flat: Float32Array, rows: number[]) => {
      splitRows(flat, this.numLabels).forEach((row, j) => { out[positions[rows[j]]] = row; });
    };
    if (this.device === 'cuda') {
      return [this.nativeModel.forwardMany(batches, { bf16 }).then((flats) => flats.forEach((flat, b) => place(flat, indices[b])))];
    }
    return batches.map((batch, b) => this.nativeModel.forward(batch, { bf16 }).then((flat) => place(flat, indices[b])));
  }
}

/**
 * The order score() tokenizes pairs in. Cut into several chunks, pairs go longest first by characters (query +
 * document), so a chunk holds pairs of similar token length and its batches, sorted by tokens within the chunk,
 * pad little: on 16,384 debdesc pairs in chunks of 2,048, 1.08 padded tokens per real one instead of 1.21 in input
 * order. Input order in one chunk, and without truncation, where an over-long pair is named by its input index.
 */
export function chunkOrder(pairs: readonly (readonly [string, string])[], chunkSize: number, truncation: boolean): number[] {
  const order = pairs.map((_, i) => i);
  if (pairs.length <= chunkSize || !truncation) return order;
  const chars = pairs.map(([query, document]) => query.length + document.length);
  return order.sort((a, b) => chars[b] - chars[a] || a - b);
}

// The template a model's pairs are put in: the option, else Qwen3-Reranker's for a yes/no decoder.
function checkTemplateOptions(options: LoadOptions, config: ResolvedModelConfig, saved?: { template: TemplateName; instruction?: string }): { template: TemplateName; instruction?: string } {
  if (saved && options.template === undefined && options.instruction === undefined) return saved;
  const fallback: TemplateName = saved?.template ?? (config.native.decoderHead === 'yes_no' ? 'qwen3-reranker' : 'none');
  const template = options.template === undefined ? fallback : checkOneOf(options.template, 'options.template', ['qwen3-reranker', 'none']);
  if (options.instruction !== undefined && typeof options.instruction !== 'string') {
    throw new TypeError(`options.instruction must be a string, got ${describe(options.instruction)}`);
  }
  if (options.instruction !== undefined && template === 'none') {
    throw new RangeError('options.instruction needs a prompt template (options.template \'qwen3-reranker\')');
  }
  // A saved folder's instruction stays with its template unless another is given.
  return { template, instruction: options.instruction ?? (saved?.template === template ? saved.instruction : undefined) };
}

// A yes/no reranker's answer token ids, into config.native: from options.answerTokens (ids, or tokens looked up in
// the tokenizer), else the tokenizer's "yes" and "no".
function resolveAnswerTokens(options: LoadOptions, config: ResolvedModelConfig, tokenizer: PairTokenizer | null, source: string): void {
  if (config.native.decoderHead !== 'yes_no') {
    if (options.answerTokens !== undefined) throw new RangeError(`options.answerTokens is for *ForCausalLM rerankers; ${source} is a ${config.architecture}`);
    return;
  }
  const asked = options.answerTokens ?? { yes: 'yes', no: 'no' };
  if (typeof asked !== 'object' || asked === null) throw new TypeError(`options.answerTokens must be { yes, no }, got ${describe(asked)}`);
  const idOf = (key: 'yes' | 'no'): number => {
    const value = asked[key];
    if (typeof value === 'number') {
      if (!Number.isInteger(value) || value < 0 || value >= config.native.vocabSize) {
        throw new RangeError(`options.answerTokens.${key}: ${value} is not a token id below vocab_size ${config.native.vocabSize}`);
      }
      return value;
    }
    if (typeof value !== 'string') throw new TypeError(`options.answerTokens.${key} must be a token (string) or a token id, got ${describe(value)}`);
    if (!tokenizer) {
      throw new Error(`${source}: no tokenizer files, so the "${value}" token's id is unknown: pass options.answerTokens with token ids`);
    }
    const id = tokenizer.tokenId(value);
    if (id === undefined) throw new Error(`${source}: the tokenizer has no "${value}" token (options.answerTokens.${key}), which a ${config.architecture} reranker's score reads`);
    return id;
  };
  config.native.yesTokenId = idOf('yes');
  config.native.noTokenId = idOf('no');
}

/**
 * The safetensors files of a model folder: model.safetensors, or the shards model.safetensors.index.json names
 * (transformers' sharded checkpoints: Qwen3-Reranker-4B / -8B), each checked to be there.
 */
export function weightFiles(dir: string): string[] {
  const single = path.join(dir, 'model.safetensors');
  if (fs.existsSync(single)) return [single];
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(indexFile)) {
    const index = readJsonFile(indexFile) as { weight_map?: unknown };
    const map = index?.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.keys(map).length === 0) {
      throw new Error(`${indexFile}: "weight_map" must be an object of tensor name -> shard file`);
    }
    const shards = [...new Set(Object.values(map as Record<string, unknown>))];
    return shards.map((shard) => {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || !shard.endsWith('.safetensors')) {
        throw new Error(`${indexFile}: weight_map names ${JSON.stringify(shard)}, not a .safetensors file in the folder`);
      }
      const file = path.join(dir, shard);
      if (!fs.existsSync(file)) throw new Error(`${indexFile}: shard ${shard} is missing from the folder`);
      return file;
    });
  }
  const hint = fs.existsSync(path.join(dir, 'pytorch_model.bin'))
    ? ' (it has pytorch_model.bin: convert it to safetensors with transformers\' save_pretrained(safe_serialization=True))'
    : '';
  throw new Error(`${dir}: no model.safetensors (or model.safetensors.index.json)${hint}`);
}

function checkLoadOptions(options: LoadOptions): { device: Device; seed: number; dtype: NativeDtype } {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const device = options.device === undefined ? 'cpu' : checkOneOf(options.device, 'options.device', ['cpu', 'cuda']);
  const seed = options.seed === undefined ? 42 : options.seed;
  if (!Number.isInteger(seed) || seed < 0) throw new TypeError(`options.seed must be a non-negative integer, got ${describe(seed)}`);
  const dtype = options.dtype === undefined ? 'fp32' : checkOneOf(options.dtype, 'options.dtype', ['fp32', 'bf16', 'int8']);
  if (dtype === 'int8' && device !== 'cpu') throw new RangeError(`options.dtype 'int8' runs on the CPU only (options.device is '${device}')`);
  return { device, seed, dtype };
}

function resolveMaxLength(options: LoadOptions, config: ResolvedModelConfig, tokenizer: PairTokenizer | PairTokenizerMissing): number {
  const limit = config.maxTokens;
  if (options.maxLength !== undefined) return checkPositiveInt(options.maxLength, 'options.maxLength', limit);
  return Math.min((tokenizer instanceof PairTokenizer ? tokenizer.modelMaxLength : undefined) ?? limit, limit);
}

// A tokenizer with more ids than the model has embedding rows would index past them at the first batch.
function checkVocabularies(tokenizer: PairTokenizer, config: ResolvedModelConfig, source: string): void {
  if (tokenizer.vocabSize > config.native.vocabSize) {
    throw new Error(`${source}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${config.native.vocabSize}; ` +
      'use the tokenizer the model was trained with (or a config with a larger vocab_size)');
  }
}

function hasTokenizerFiles(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'tokenizer.json')) || fs.existsSync(path.join(dir, 'vocab.txt'));
}

// Stands in for the tokenizer of a folder that has none, and explains what to do when text is scored.
class PairTokenizerMissing {
  constructor(private readonly dir: string) {}
  error(): Error {
    const sentencepiece = fs.readdirSync(this.dir).find((f) => f.endsWith('.model'));
    const hint = sentencepiece
      ? ` It has a SentencePiece model (${sentencepiece}): convert it once with Python, ` +
        '`AutoTokenizer.from_pretrained(dir).save_pretrained(dir)`, which writes tokenizer.json.'
      : ' Copy the tokenizer files of the base model into it, or use scoreTokens() with token ids.';
    return new Error(`${this.dir}: no tokenizer.json or vocab.txt, so text cannot be tokenized.${hint}`);
  }
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function splitRows(flat: Float32Array, width: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < flat.length; i += width) rows.push(Array.from(flat.subarray(i, i + width)));
  return rows;
}

// Turns rows or flat arrays into a checked [batch, length] Int32 batch.
function toNativeBatch(input: TokenInput, vocabSize: number, maxPositions: number, typeVocabSize: number): NativeTokenBatch {
  if (typeof input !== 'object' || input === null) throw new TypeError(`input must be an object with inputIds, got ${describe(input)}`);
  const ids = flatten(input.inputIds, 'input.inputIds', input.shape);
  const [batch, length] = ids.shape;
  if (length > maxPositions) throw new RangeError(`input.inputIds rows are ${length} long, over the model's ${maxPositions} positions (max_position_embeddings)`);
  const checkRange = (data: Int32Array, name: string, max: number) => {
    for (let i = 0; i < data.length; i++) {
      if (data[i] < 0 || data[i] >= max) {
        throw new RangeError(`${name}[${Math.floor(i / length)}][${i % length}] is ${data[i]}, outside [0, ${max})`);
      }
    }
  };
  checkRange(ids.data, 'input.inputIds', vocabSize);
  const sameShape = (name: string, value: TokenInput['inputIds'] | undefined) => {
    if (value === undefined) return null;
    const t = flatten(value, name, [batch, length]);
    if (t.shape[0] !== batch || t.shape[1] !== length) throw new RangeError(`${name} has shape [${t.shape}], inputIds [${batch}, ${length}]`);
    return t.data;
  };
  const attentionMask = sameShape('input.attentionMask', input.attentionMask) ?? new Int32Array(batch * length).fill(1);
  checkRange(attentionMask, 'input.attentionMask', 2);
  const tokenTypeIds = sameShape('input.tokenTypeIds', input.tokenTypeIds);
  if (tokenTypeIds) checkRange(tokenTypeIds, 'input.tokenTypeIds', Math.max(typeVocabSize, 1));
  return { inputIds: ids.data, attentionMask, tokenTypeIds, batch, length };
}

function flatten(value: TokenInput['inputIds'], name: string, shape: [number, number] | undefined): { data: Int32Array; shape: [number, number] } {
  if (Array.isArray(value) && (value.length === 0 || Array.isArray(value[0]))) {
    const rows = value as number[][];
    const length = rows.length ? rows[0].length : 0;
    const data = new Int32Array(rows.length * length);
    rows.forEach((row, r) => {
      if (!Array.isArray(row) || row.length !== length) throw new RangeError(`${name}[${r}] must be an array of ${length} token ids (rows must be padded to one length)`);
      row.forEach((v, c) => {
        if (!Number.isInteger(v)) throw new TypeError(`${name}[${r}][${c}] must be an integer, got ${describe(v)}`);
        data[r * length + c] = v;
      });
    });
    return { data, shape: [rows.length, length] };
  }
  if (value instanceof Int32Array || value instanceof BigInt64Array || Array.isArray(value)) {
    if (!shape || shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new TypeError(`${name} is flat: input.shape must be [batch, length]`);
    }
    if (value.length !== shape[0] * shape[1]) throw new RangeError(`${name} has ${value.length} values, shape [${shape}] needs ${shape[0] * shape[1]}`);
    const data = new Int32Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const v = Number(value[i]);
      if (!Number.isInteger(v)) throw new TypeError(`${name}[${i}] must be an integer`);
      data[i] = v;
    }
    return { data, shape };
  }
  throw new TypeError(`${name} must be an array of rows, an Int32Array or a BigInt64Array, got ${describe(value)}`);
}
