// Pair tokenization with Hugging Face's Rust tokenizer (the `tokenizers` package), and batch padding.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Each pair is encoded by a task on libuv's thread pool (the package's encodeBatch takes no pairs), which has 4
// threads unless UV_THREADPOOL_SIZE says otherwise; libuv reads it when the pool first starts, so set it here,
// before any tokenization, to the machine's cores (a user's own setting wins).
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, os.availableParallelism()));

import {
  Tokenizer,
  WordPiece,
  bertNormalizer,
  bertPreTokenizer,
  bertProcessing,
  wordPieceDecoder,
} from 'tokenizers';
import type { NativeTokenBatch } from './native';
import { readJsonFile } from './util';

export interface EncodedPair {
  ids: number[];
  typeIds: number[];
}

/** Files that make up a tokenizer in a HF model folder, copied along when a model is saved. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'added_tokens.json'];

export class PairTokenizer {
  private truncationLength: number | null = null;
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly tokenizer: Tokenizer,
    /** The folder the tokenizer came from. */
    readonly sourceDir: string,
    /** tokenizer_config.json's model_max_length, when it is a real limit. */
    readonly modelMaxLength: number | undefined,
    readonly padTokenId: number,
  ) {}

  /** Loads `tokenizer.json`, or builds a BERT WordPiece tokenizer from `vocab.txt` + `tokenizer_config.json`. */
  static async load(dir: string): Promise<PairTokenizer> {
    const configFile = path.join(dir, 'tokenizer_config.json');
    const config = fs.existsSync(configFile) ? (readJsonFile(configFile) as Record<string, unknown>) : {};
    const maxLen = typeof config.model_max_length === 'number' && config.model_max_length < 1e9 ? config.model_max_length : undefined;
    const jsonFile = path.join(dir, 'tokenizer.json');
    let tokenizer: Tokenizer;
    if (fs.existsSync(jsonFile)) {
      try {
        tokenizer = Tokenizer.fromFile(jsonFile);
      } catch (err) {
        throw new Error(`${jsonFile}: cannot load tokenizer (${(err as Error).message})`);
      }
    } else if (fs.existsSync(path.join(dir, 'vocab.txt'))) {
      tokenizer = await wordPieceFromVocab(dir, config);
    } else {
      const sentencepiece = fs.readdirSync(dir).find((f) => f.endsWith('.model'));
      const hint = sentencepiece
        ? ` It has a SentencePiece model (${sentencepiece}): convert it once with Python, e.g. ` +
          `\`AutoTokenizer.from_pretrained(dir).save_pretrained(dir)\`, which writes tokenizer.json.`
        : '';
      throw new Error(`${dir}: no tokenizer.json or vocab.txt found.${hint}`);
    }
    tokenizer.disablePadding();
    const padToken = typeof config.pad_token === 'string' ? config.pad_token : '[PAD]';
    const padId = tokenizer.tokenToId(padToken) ?? 0;
    return new PairTokenizer(tokenizer, dir, maxLen, padId);
  }

  /**
   * Encodes (query, document) pairs as `[CLS] query [SEP] document [SEP]`. With `truncate`, pairs are cut to
   * `maxLength` longest-first (as HF's truncation=True); without it a longer pair is a RangeError naming it.
   * `indexOffset`: added to the index an error names (when `pairs` is a slice of the caller's list).
   */
  async encodePairs(pairs: ReadonlyArray<readonly [string, string]>, maxLength: number, truncate: boolean, indexOffset = 0): Promise<EncodedPair[]> {
    // Truncation is a setting of the shared Rust tokenizer, read when each encode runs: calls take turns.
    const turn = this.queue.then(async () => {
      this.setTruncation(truncate ? maxLength : null);
      return Promise.all(pairs.map(([query, document]) => this.tokenizer.encode(query, document)));
    });
    this.queue = turn.then(() => undefined, () => undefined);
    const encodings = await turn;
    return encodings.map((encoding, i) => {
      const ids = encoding.getIds();
      if (ids.length > maxLength) {
        throw new RangeError(`pairs[${indexOffset + i}] is ${ids.length} tokens long, over maxLength ${maxLength}, and truncation is off`);
      }
      return { ids, typeIds: encoding.getTypeIds() };
    });
  }

  /** Number of token ids, added tokens included. */
  get vocabSize(): number {
    return this.tokenizer.getVocabSize(true);
  }

  /** A hash of the tokenizer's files: token-id caches are keyed by it. */
  fingerprint(): string {
    const hash = crypto.createHash('sha256');
    for (const name of TOKENIZER_FILES) {
      const file = path.join(this.sourceDir, name);
      if (fs.existsSync(file)) hash.update(name).update(fs.readFileSync(file));
    }
    return hash.digest('hex');
  }

  /** Writes the tokenizer files into a model folder (tokenizer.json always, the rest when the source had them). */
  save(dir: string): void {
    for (const name of TOKENIZER_FILES) {
      const from = path.join(this.sourceDir, name);
      if (name !== 'tokenizer.json' && fs.existsSync(from) && path.resolve(from) !== path.resolve(dir, name)) {
        fs.copyFileSync(from, path.join(dir, name));
      }
    }
    const previous = this.truncationLength;
    this.setTruncation(null);  // tokenizer.json is saved without our runtime truncation, as HF folders ship it
    this.tokenizer.save(path.join(dir, 'tokenizer.json'));
    this.setTruncation(previous);
  }

  private setTruncation(maxLength: number | null): void {
    if (maxLength === this.truncationLength) return;
    if (maxLength === null) this.tokenizer.disableTruncation();
    else this.tokenizer.setTruncation(maxLength, { strategy: 'LongestFirst' as never });
    this.truncationLength = maxLength;
  }
}

async function wordPieceFromVocab(dir: string, config: Record<string, unknown>): Promise<Tokenizer> {
  const vocabFile = path.join(dir, 'vocab.txt');
  const vocab = fs.readFileSync(vocabFile, 'utf8').split('\n');
  if (vocab.at(-1) === '') vocab.pop();
  const idOf = (token: string): number => {
    const id = vocab.indexOf(token);
    if (id < 0) throw new Error(`${vocabFile}: special token ${token} is not in the vocabulary`);
    return id;
  };
  const str = (key: string, fallback: string) => (typeof config[key] === 'string' ? (config[key] as string) : fallback);
  const cls = str('cls_token', '[CLS]');
  const sep = str('sep_token', '[SEP]');
  const unk = str('unk_token', '[UNK]');
  const lowercase = config.do_lower_case !== false;
  const model = await WordPiece.fromFile(vocabFile, { unkToken: unk });
  const tokenizer = new Tokenizer(model);
  tokenizer.setNormalizer(bertNormalizer({
    cleanText: true,
    handleChineseChars: config.tokenize_chinese_chars !== false,
    // HF: strip_accents None follows do_lower_case
    stripAccents: typeof config.strip_accents === 'boolean' ? config.strip_accents : lowercase,
    lowercase,
  }));
  tokenizer.setPreTokenizer(bertPreTokenizer());
  tokenizer.setPostProcessor(bertProcessing([sep, idOf(sep)], [cls, idOf(cls)]));
  tokenizer.setDecoder(wordPieceDecoder('##'));
  const specials = [str('pad_token', '[PAD]'), unk, cls, sep, str('mask_token', '[MASK]')].filter((t) => vocab.includes(t));
  tokenizer.addSpecialTokens(specials);
  return tokenizer;
}

/** Pads encoded pairs to the longest one into a flat [batch, length] batch. */
export function padBatch(pairs: readonly EncodedPair[], padTokenId: number): NativeTokenBatch {
  const length = Math.max(...pairs.map((p) => p.ids.length));
  const batch = pairs.length;
  const inputIds = new Int32Array(batch * length).fill(padTokenId);
  const attentionMask = new Int32Array(batch * length);
  const tokenTypeIds = new Int32Array(batch * length);
  pairs.forEach((pair, row) => {
    const offset = row * length;
    inputIds.set(pair.ids, offset);
    tokenTypeIds.set(pair.typeIds, offset);
    attentionMask.fill(1, offset, offset + pair.ids.length);
  });
  return { inputIds, attentionMask, tokenTypeIds, batch, length };
}
