// An embedding model (a sentence-transformers folder, local or by Hub name) run by the addon: texts tokenized
// here, the encoder forward and the Pooling / Normalize modules in native code (native/layers/pooling.h), off the JS
// thread. embed() is sentence-transformers' encode(): the same prompts, truncation at max_seq_length, pooling.
import fs from 'node:fs';
import path from 'node:path';
import { resolveModelFolder } from '../hub/models';
import { readModelConfig, type ResolvedModelConfig } from '../hfconfig';
import { addon, type NativeCrossEncoder, type NativeTokenBatch } from '../native';
import { PairTokenizer, padBatch, type EncodedPair } from '../tokenize';
import { checkOneOf, checkPositiveInt, checkString, describe } from '../validate';
import { readSentenceTransformerFolder, type PoolingMode, type SentenceTransformerFolder, type Similarity } from './st-folder';

export interface EmbedderLoadOptions {
  /** 'cpu' (default) or 'cuda'. */
  device?: 'cpu' | 'cuda';
  /** 'fp32' (default), or 'bf16' weights (inference in bf16; meant for CUDA). */
  dtype?: 'fp32' | 'bf16';
  /** Tokens per text; default the folder's max_seq_length, else the tokenizer's limit capped by the model's. */
  maxLength?: number;
  /** For a Hub id: a branch, tag or commit. */
  revision?: string;
  /** For a Hub id: the local cache only. */
  localFilesOnly?: boolean;
}

export interface EmbedOptions {
  /** A prompt prepended to every text (sentence-transformers' `prompt`). */
  prompt?: string;
  /** One of the folder's named prompts (`prompt_name`); default the folder's default_prompt_name. */
  promptName?: string;
  /** Texts per forward (default 32). */
  batchSize?: number;
  /**
   * true: L2-normalize each embedding (encode's normalize_embeddings). A folder with a Normalize module always
   * gives unit vectors; false is then an error rather than a silent no-op.
   */
  normalize?: boolean;
  /** bf16 autocast on CUDA. */
  bf16?: boolean;
}

const DEFAULT_BATCH_SIZE = 32;

export class Embedder {
  private disposed = false;
  private readonly promptLengths = new Map<string, Promise<number>>();

  private constructor(
    private readonly nativeModel: NativeCrossEncoder,
    private readonly tokenizer: PairTokenizer,
    /** The folder as sentence-transformers reads it: pooling, prompts, similarity. */
    readonly folder: SentenceTransformerFolder,
    readonly config: ResolvedModelConfig,
    /** What the embedder was loaded as (a Hub id or a path): index files record it. */
    readonly name: string,
    readonly device: 'cpu' | 'cuda',
    readonly maxLength: number,
  ) {}

  /** Loads a sentence-transformers folder (or a plain encoder folder: mean pooling), or a Hub id of one. */
  static async load(nameOrDir: string, options: EmbedderLoadOptions = {}): Promise<Embedder> {
    checkString(nameOrDir, 'embedder');
    if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object, got ${describe(options)}`);
    const device = options.device === undefined ? 'cpu' : checkOneOf(options.device, 'options.device', ['cpu', 'cuda']);
    const dtype = options.dtype === undefined ? 'fp32' : checkOneOf(options.dtype, 'options.dtype', ['fp32', 'bf16']);
    const dir = await resolveModelFolder(nameOrDir, { revision: options.revision, localFilesOnly: options.localFilesOnly });
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: no such model folder`);
    const folder = readSentenceTransformerFolder(dir);
    const weights = path.join(folder.encoderDir, 'model.safetensors');
    if (!fs.existsSync(weights)) throw new Error(`${folder.encoderDir}: no model.safetensors (the embedder's Transformer module)`);
    const config = readModelConfig(folder.encoderDir);
    const tokenizer = await PairTokenizer.load(folder.encoderDir);
    if (tokenizer.vocabSize > config.native.vocabSize) {
      throw new Error(`${folder.encoderDir}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${config.native.vocabSize}`);
    }
    const hidden = config.native.hiddenSize;
    if (folder.embeddingDimension !== undefined && folder.embeddingDimension !== hidden) {
      throw new Error(`${dir}: the Pooling module's word_embedding_dimension is ${folder.embeddingDimension} but the encoder's hidden_size is ${hidden}`);
    }
    const limit = config.maxTokens;
    const maxLength = options.maxLength !== undefined
      ? checkPositiveInt(options.maxLength, 'options.maxLength', limit)
      : Math.min(folder.maxSeqLength ?? tokenizer.modelMaxLength ?? limit, limit);
    const native = await addon().createModel(config.native, { device, seed: 0 });
    try {
      // A sentence-transformers Transformer module saves the base model alone (no "bert." prefix, no head): the
      // loader maps the names, and the cross-encoder head it reports as new is never used here.
      await native.loadWeights(weights);
      if (dtype !== 'fp32') await native.setDtype(dtype);
    } catch (err) {
      native.dispose();
      throw err;
    }
    return new Embedder(native, tokenizer, folder, config, nameOrDir, device, maxLength);
  }

  /** The embedding width: hidden size × pooling modes. */
  get dimension(): number {
    return this.config.native.hiddenSize * this.folder.pooling.length;
  }

  /** The folder's similarity function (config_sentence_transformers.json; cosine by default). */
  get similarity(): Similarity {
    return this.folder.similarity;
  }

  /** Embeddings of `texts`, row-major (texts.length × dimension), in input order. */
  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array> {
    this.checkLive();
    if (!Array.isArray(texts)) throw new TypeError(`texts must be an array of strings, got ${describe(texts)}`);
    texts.forEach((t, i) => {
      if (typeof t !== 'string') throw new TypeError(`texts[${i}] must be a string, got ${describe(t)}`);
    });
    if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object, got ${describe(options)}`);
    const batchSize = options.batchSize === undefined ? DEFAULT_BATCH_SIZE : checkPositiveInt(options.batchSize, 'options.batchSize');
    const prompt = this.resolvePrompt(options);
    const normalize = this.resolveNormalize(options.normalize);
    if (options.bf16 !== undefined && typeof options.bf16 !== 'boolean') throw new TypeError(`options.bf16 must be a boolean, got ${describe(options.bf16)}`);
    const out = new Float32Array(texts.length * this.dimension);
    if (texts.length === 0) return out;

    // As sentence-transformers: the prompt is prepended to the text and the whole is tokenized (and cut) as one;
    // with include_prompt false, the prompt's tokens are left out of pooling.
    const prepared = texts.map((t) => (prompt ? prompt + t : t)).map((t) => (this.folder.doLowerCase ? t.toLowerCase() : t));
    const excludedPrefix = prompt && !this.folder.includePrompt
      ? await this.promptLength(this.folder.doLowerCase ? prompt.toLowerCase() : prompt) : 0;
    const encoded = await this.tokenizer.encodeTexts(prepared, this.maxLength);
    // Longest first, batched: each batch pads to its own longest text.
    const order = encoded.map((_, i) => i).sort((a, b) => encoded[b].ids.length - encoded[a].ids.length || a - b);
    const batches: NativeTokenBatch[] = [];
    const rowsOf: number[][] = [];
    for (let start = 0; start < order.length; start += batchSize) {
      const rows = order.slice(start, start + batchSize);
      batches.push(padBatch(rows.map((r): EncodedPair => encoded[r]), this.tokenizer.padTokenId));
      rowsOf.push(rows);
    }
    const pooled = await this.nativeModel.embedMany(batches, {
      pooling: this.folder.pooling as PoolingMode[], excludedPrefix, normalize, bf16: options.bf16 ?? false,
    });
    const d = this.dimension;
    pooled.forEach((flat, b) => rowsOf[b].forEach((row, i) => out.set(flat.subarray(i * d, (i + 1) * d), row * d)));
    return out;
  }

  /** Frees the native model; later calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.nativeModel.dispose();
  }

  private resolvePrompt(options: EmbedOptions): string {
    if (options.prompt !== undefined && options.promptName !== undefined) {
      throw new TypeError('options.prompt and options.promptName are both set: give one (as sentence-transformers, which then uses prompt)');
    }
    if (options.prompt !== undefined) {
      if (typeof options.prompt !== 'string') throw new TypeError(`options.prompt must be a string, got ${describe(options.prompt)}`);
      return options.prompt;
    }
    const name = options.promptName ?? this.folder.defaultPromptName;
    if (name === undefined) return '';
    if (typeof name !== 'string') throw new TypeError(`options.promptName must be a string, got ${describe(name)}`);
    const prompt = this.folder.prompts[name];
    if (prompt === undefined) {
      const known = Object.keys(this.folder.prompts);
      throw new RangeError(`options.promptName '${name}' is not one of the embedder's prompts (${known.length ? known.join(', ') : 'it has none'})`);
    }
    return prompt;
  }

  private resolveNormalize(normalize: unknown): boolean {
    if (normalize === undefined) return this.folder.normalize;
    if (typeof normalize !== 'boolean') throw new TypeError(`options.normalize must be a boolean, got ${describe(normalize)}`);
    if (!normalize && this.folder.normalize) {
      throw new RangeError('options.normalize is false but the embedder ends in a Normalize module: its embeddings are always unit vectors');
    }
    return normalize;
  }

  private promptLength(prompt: string): Promise<number> {
    let length = this.promptLengths.get(prompt);
    if (!length) {
      length = this.tokenizer.promptLength(prompt);
      this.promptLengths.set(prompt, length);
    }
    return length;
  }

  private checkLive(): void {
    if (this.disposed) throw new Error('this Embedder has been disposed');
  }
}
