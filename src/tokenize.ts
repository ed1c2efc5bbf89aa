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
  Encoding,
  Tokenizer,
  WordPiece,
  bertNormalizer,
  bertPreTokenizer,
  bertProcessing,
  wordPieceDecoder,
} from 'tokenizers';
import type { NativeTokenBatch } from './native';
import { qwen3RerankerTemplate, type PromptTemplate, type TemplateName } from './prompt';
import { readJsonFile } from './util';

export interface EncodedPair {
  ids: number[];
  typeIds: number[];
}

/** What is done with a document longer than the model's window after the query. */
export type LongDocuments = 'truncate' | 'chunk';
/** How a chunked document's score comes from its chunks' (MaxP, FirstP, MeanP). */
export type ChunkAggregate = 'max' | 'first' | 'mean';
export type TruncationDirection = 'right' | 'left';

export interface DocumentEncodeOptions {
  /** The pair limit in tokens (query, document and special tokens). */
  maxLength: number;
  /** 'truncate' (default): cut to the limit. 'chunk': overlapping windows of the document, each after the query. */
  longDocuments?: LongDocuments;
  /** truncate: off, a pair over the limit is a RangeError naming it (default true). */
  truncate?: boolean;
  /** truncate: which end is cut (default 'right', as transformers' truncation_side). */
  direction?: TruncationDirection;
  /** chunk: windows per document at most (default 10, Cohere's max_chunks_per_doc). */
  maxChunks?: number;
  /** chunk: tokens each window shares with the one before (default 32; at most half a window). */
  chunkOverlap?: number;
  /** The document's tokens looked at, at most (Cohere v2's max_tokens_per_doc): its first ones. */
  maxDocumentTokens?: number;
  /** A prompt-template model's instruction (default: the tokenizer's). */
  instruction?: string;
}

export interface PairTokenizerOptions {
  /** A prompt template pairs are put in ('none': the tokenizer's own pair encoding, [CLS] q [SEP] d [SEP]). */
  template?: TemplateName;
  /** The template's instruction when a call names none (default: the template's, e.g. Qwen3-Reranker's web search one). */
  instruction?: string;
}

export interface EncodedDocuments {
  /** One pair per window: a document alone, or each of its chunks. */
  pairs: EncodedPair[];
  /** For each pair, the index of its document. */
  owners: number[];
  /** Documents with tokens that no pair holds (cut, or past the last chunk). */
  truncated: number;
  /** Documents split into two or more chunks. */
  chunked: number;
  /** The query's tokens, and the special tokens of a pair: the length of a pair with an empty document. */
  queryTokens: number;
  specialTokens: number;
}

export const DEFAULT_MAX_CHUNKS = 10;
export const DEFAULT_CHUNK_OVERLAP = 32;

// A long document is cut to a prefix before it is tokenized, so that a 20,000-character document costs what the
// tokens it can use cost (the Rust tokenizer encodes the whole text and only then truncates, holding every token's
// offsets and strings). The prefix ends before a whitespace, so its tokens are the whole text's first tokens; it
// is sized at this many characters per token needed, and grown when a text packs more characters per token.
const PREFIX_CHARS_PER_TOKEN = 8;

/** Files that make up a tokenizer in a HF model folder, copied along when a model is saved. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'added_tokens.json', 'vocab.json', 'merges.txt', 'chat_template.jinja'];

export class PairTokenizer {
  private truncation: { maxLength: number; direction: TruncationDirection } | null = null;
  /** The template's prefix and suffix as token ids, encoded on first use. */
  private templateIds: Promise<[number[], number[]]> | undefined;
  /** Special tokens the post-processor adds to a pair ([CLS] q [SEP] d [SEP]: 3). */
  private pairSpecials: number | undefined;
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly tokenizer: Tokenizer,
    /** The folder the tokenizer came from. */
    readonly sourceDir: string,
    /** tokenizer_config.json's model_max_length, when it is a real limit. */
    readonly modelMaxLength: number | undefined,
    readonly padTokenId: number,
    /** The prompt template pairs are put in, or null (plain pair encoding). */
    readonly template: PromptTemplate | null = null,
    /** The template's instruction when a call names none. */
    readonly instruction: string | null = null,
  ) {}

  /**
   * Loads `tokenizer.json`, or builds a BERT WordPiece tokenizer from `vocab.txt` + `tokenizer_config.json`; with
   * `options.template`, pairs are put in that prompt (src/prompt.ts).
   */
  static async load(dir: string, options: PairTokenizerOptions = {}): Promise<PairTokenizer> {
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
    const padToken = typeof config.pad_token === 'string' ? config.pad_token
      : typeof (config.pad_token as { content?: unknown } | undefined)?.content === 'string' ? (config.pad_token as { content: string }).content : '[PAD]';
    const padId = tokenizer.tokenToId(padToken) ?? 0;
    const template = options.template === 'qwen3-reranker' ? qwen3RerankerTemplate(dir, (t) => tokenizer.tokenToId(t) !== undefined && tokenizer.tokenToId(t) !== null) : null;
    const instruction = template ? options.instruction ?? template.defaultInstruction : null;
    return new PairTokenizer(tokenizer, dir, maxLen, padId, template, instruction);
  }

  // Truncation is a setting of the shared Rust tokenizer, read as each encode runs: calls take turns, each run
  // after the one before has settled (failed or not).
  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.queue.then(work);
    this.queue = turn.then(() => undefined, () => undefined);
    return turn;
  }

  /** A token's id, or undefined when the vocabulary has no such token. */
  tokenId(token: string): number | undefined {
    const id = this.tokenizer.tokenToId(token);
    return id === null || id === undefined ? undefined : id;
  }

  // Prompt-template pairs: prefix ids + the body (instruction, query, document) cut to what the limit leaves, from
  // the right, so from the document's end + suffix ids, as Qwen3-Reranker's recipe does. A document far longer
  // than the room is cut to a prefix before tokenizing (PREFIX_CHARS_PER_TOKEN).
  private async encodeTemplated(pairs: ReadonlyArray<readonly [string, string]>, maxLength: number, truncate: boolean, instruction: string | undefined,
    indexOffset: number, indexes?: readonly number[]): Promise<EncodedPair[]> {
    const template = this.template!;
    const [prefixIds, suffixIds] = await (this.templateIds ??= Promise.all([template.prefix, template.suffix].map(async (text) => {
      this.setTruncation(null);
      return (await this.tokenizer.encode(text, null, { addSpecialTokens: false })).getIds();
    })) as Promise<[number[], number[]]>);
    const room = maxLength - prefixIds.length - suffixIds.length;
    if (room < 1) throw new RangeError(`maxLength ${maxLength} leaves no room for a query and a document after the ${template.name} prompt's ${prefixIds.length + suffixIds.length} tokens`);
    const chosen = instruction ?? this.instruction ?? template.defaultInstruction;
    const limit = (room + 1) * PREFIX_CHARS_PER_TOKEN;
    const bodies = pairs.map(([query, document]) =>
      template.body(chosen, query, truncate && document.length > limit ? prefixAtSpace(document, limit) ?? document : document));
    this.setTruncation(truncate ? { maxLength: room, direction: 'right' } : null);
    const encodings = await Promise.all(bodies.map((body) => this.tokenizer.encode(body)));
    return encodings.map((encoding, i) => {
      const ids = [...prefixIds, ...encoding.getIds(), ...suffixIds];
      if (ids.length > maxLength) {
        throw new RangeError(`pairs[${indexes?.[i] ?? indexOffset + i}] is ${ids.length} tokens long in the ${template.name} prompt, over maxLength ${maxLength}, and truncation is off`);
      }
      return { ids, typeIds: new Array<number>(ids.length).fill(0) };
    });
  }

  /**
   * Encodes (query, document) pairs as `[CLS] query [SEP] document [SEP]`. With `truncate`, pairs are cut to
   * `maxLength` longest-first (as HF's truncation=True); without it a longer pair is a RangeError naming it.
   * `indexOffset`: added to the index an error names (when `pairs` is a slice of the caller's list).
   */
  async encodePairs(pairs: ReadonlyArray<readonly [string, string]>, maxLength: number, truncate: boolean, indexOffset = 0, instruction?: string): Promise<EncodedPair[]> {
    if (this.template) {
      return this.inTurn(() => this.encodeTemplated(pairs, maxLength, truncate, instruction, indexOffset));
    }
    const turn = this.inTurn(async () => {
      this.setTruncation(truncate ? { maxLength, direction: 'right' } : null);
      return Promise.all(pairs.map(([query, document]) => this.tokenizer.encode(query, document)));
    });
    const encodings = await turn;
    return encodings.map((encoding, i) => {
      const ids = encoding.getIds();
      if (ids.length > maxLength) {
        throw new RangeError(`pairs[${indexOffset + i}] is ${ids.length} tokens long, over maxLength ${maxLength}, and truncation is off`);
      }
      return { ids, typeIds: encoding.getTypeIds() };
    });
  }

  /**
   * Encodes single texts (`[CLS] text [SEP]`), as an embedding model reads them, cut to `maxLength` tokens
   * (special tokens included), as sentence-transformers' max_seq_length. Token type ids are all 0.
   */
  async encodeTexts(texts: readonly string[], maxLength: number): Promise<EncodedPair[]> {
    const turn = this.inTurn(async () => {
      this.setTruncation({ maxLength, direction: 'right' });
      return Promise.all(texts.map((text) => this.tokenizer.encode(text)));
    });
    return (await turn).map((encoding) => ({ ids: encoding.getIds(), typeIds: encoding.getTypeIds() }));
  }

  /**
   * A prompt's length in tokens as sentence-transformers counts it to leave the prompt out of pooling: the prompt
   * encoded alone, less its trailing special token ([SEP], </s>) when it has one.
   */
  async promptLength(prompt: string): Promise<number> {
    const turn = this.inTurn(async () => {
      this.setTruncation(null);
      return this.tokenizer.encode(prompt);
    });
    const encoding = await turn;
    const special = encoding.getSpecialTokensMask();
    return encoding.getIds().length - (special.length > 0 && special[special.length - 1] === 1 ? 1 : 0);
  }

  /** Number of token ids, added tokens included. */
  get vocabSize(): number {
    return this.tokenizer.getVocabSize(true);
  }

  /** A hash of the tokenizer's files: token-id caches are keyed by it. */
  fingerprint(): string {
    const hash = crypto.createHash('sha256');
    if (this.template) hash.update(JSON.stringify([this.template.name, this.template.prefix, this.template.suffix, this.instruction]));
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
    const previous = this.truncation;
    this.setTruncation(null);  // tokenizer.json is saved without our runtime truncation, as HF folders ship it
    this.tokenizer.save(path.join(dir, 'tokenizer.json'));
    this.setTruncation(previous);
  }

  /**
   * Encodes one query with each of its documents for scoring. A long document is tokenized only as far as a pair
   * can use (see PREFIX_CHARS_PER_TOKEN), and a truncated pair is token for token what encodePairs gives. With
   * longDocuments 'chunk', a document that does not fit after the query becomes overlapping windows, each after
   * the query (the query cut to half the room when it is longer), put together by the tokenizer's post-processor.
   * `indexes`: the documents' indexes in the caller's list, which an error names (default: their own).
   */
  async encodeDocuments(query: string, documents: readonly string[], options: DocumentEncodeOptions, indexes?: readonly number[]): Promise<EncodedDocuments> {
    const { maxLength } = options;
    const mode = options.longDocuments ?? 'truncate';
    const direction = options.direction ?? 'right';
    const truncate = options.truncate ?? true;
    const maxChunks = options.maxChunks ?? DEFAULT_MAX_CHUNKS;
    const plain = { addSpecialTokens: false };
    if (this.template) return this.encodeTemplatedDocuments(query, documents, options, indexes);
    const turn = this.inTurn(async () => {
      // Truncation is the tokenizer's setting, read as each encode runs: off while texts are counted.
      this.setTruncation(null);
      const empty = await this.tokenizer.encode('', null, plain);
      const specials = (this.pairSpecials ??= this.tokenizer.postProcess(empty, empty, true).getLength());
      const room = maxLength - specials;  // tokens for the query and the document
      if (room < 2) throw new RangeError(`maxLength ${maxLength} leaves no room for a query and a document after ${specials} special tokens`);
      const queryEncoding = await this.tokenizer.encode(query, null, plain);
      const queryTokens = queryEncoding.getLength();
      const result: EncodedDocuments = { pairs: [], owners: [], truncated: 0, chunked: 0, queryTokens, specialTokens: specials };
      if (mode === 'chunk') {
        await this.chunkDocuments(query, queryEncoding, documents, room, maxChunks, options, result);
      } else {
        await this.truncateDocuments(query, queryTokens, documents, maxLength, room, truncate, direction, indexes, result);
      }
      return result;
    });
    return turn;
  }

  // A prompt-template model's documents: cut at the right of the prompt's body (its recipe's way); windows of chunks
  // would each need the whole prompt, and left truncation would cut the instruction, so both are refused.
  private async encodeTemplatedDocuments(query: string, documents: readonly string[], options: DocumentEncodeOptions, indexes?: readonly number[]): Promise<EncodedDocuments> {
    const name = this.template!.name;
    if ((options.longDocuments ?? 'truncate') === 'chunk') throw new RangeError(`longDocuments 'chunk' is not supported with the ${name} prompt template (use 'truncate')`);
    if ((options.direction ?? 'right') !== 'right') throw new RangeError(`truncationDirection 'left' is not supported with the ${name} prompt template: it would cut the instruction`);
    const turn = this.inTurn(async () => {
      // Cohere v2's max_tokens_per_doc: each document's first tokens only.
      this.setTruncation(null);
      const capped = options.maxDocumentTokens === undefined ? documents : await Promise.all(documents.map(async (d) => {
        const e = await this.tokenizer.encode(d, null, { addSpecialTokens: false });
        return e.getLength() > options.maxDocumentTokens! ? this.tokenizer.decode(e.getIds().slice(0, options.maxDocumentTokens), false) : d;
      }));
      const truncate = options.truncate ?? true;
      const pairs = await this.encodeTemplated(capped.map((d) => [query, d] as const), options.maxLength, truncate, options.instruction, 0, indexes);
      const empty = (await this.encodeTemplated([[query, '']], Number.MAX_SAFE_INTEGER, false, options.instruction, 0))[0].ids.length;
      const [prefixIds, suffixIds] = await this.templateIds!;
      const specials = prefixIds.length + suffixIds.length;
      // A pair at the limit was cut when its document alone would not fit after the rest of the prompt.
      let truncated = 0;
      for (let i = 0; i < pairs.length; i++) {
        if (capped[i] !== documents[i]) truncated++;
        else if (pairs[i].ids.length >= options.maxLength) {
          this.setTruncation(null);
          const alone = (await this.tokenizer.encode(documents[i], null, { addSpecialTokens: false })).getLength();
          if (empty + alone > options.maxLength) truncated++;
        }
      }
      return { pairs, owners: pairs.map((_, i) => i), truncated, chunked: 0, queryTokens: empty - specials, specialTokens: specials };
    });
    return turn;
  }

  private async truncateDocuments(
    query: string, queryTokens: number, documents: readonly string[], maxLength: number, room: number, truncate: boolean,
    direction: TruncationDirection, indexes: readonly number[] | undefined, out: EncodedDocuments,
  ): Promise<void> {
    // LongestFirst cuts the longer text first: a part of a document keeps the whole one's result when it is over
    // the room and longer than the query, as the whole one is.
    const needed = Math.max(room, queryTokens) + 1;
    const parts = await Promise.all(documents.map((d) => (d.length > needed * PREFIX_CHARS_PER_TOKEN ? this.encodeEnd(d, needed, direction) : null)));
    const texts = documents.map((d, i) => parts[i]?.text ?? d);
    if (!truncate) {
      const encoded = await Promise.all(texts.map((t) => this.tokenizer.encode(query, t)));
      for (let i = 0; i < encoded.length; i++) {
        if (encoded[i].getLength() > maxLength) {
          const whole = parts[i]?.cut ? (await this.tokenizer.encode(query, documents[i])).getLength() : encoded[i].getLength();
          throw new RangeError(`pairs[${indexes?.[i] ?? i}] is ${whole} tokens long, over maxLength ${maxLength}, and truncation is off`);
        }
        out.pairs.push({ ids: encoded[i].getIds(), typeIds: encoded[i].getTypeIds() });
        out.owners.push(i);
      }
      return;
    }
    this.setTruncation({ maxLength, direction });
    const encoded = await Promise.all(texts.map((t) => this.tokenizer.encode(query, t)));
    // A whole document whose pair came out at the limit may have been cut: count its tokens.
    const atLimit = encoded.flatMap((e, i) => (e.getLength() >= maxLength && !parts[i]?.cut ? [i] : []));
    this.setTruncation(null);
    const counts = await Promise.all(atLimit.map((i) => this.tokenizer.encode(documents[i], null, { addSpecialTokens: false })));
    const over = new Set(atLimit.filter((i, j) => queryTokens + counts[j].getLength() > room));
    for (let i = 0; i < encoded.length; i++) {
      out.pairs.push({ ids: encoded[i].getIds(), typeIds: encoded[i].getTypeIds() });
      out.owners.push(i);
      if (parts[i]?.cut || over.has(i)) out.truncated++;
    }
  }

  private async chunkDocuments(
    query: string, queryEncoding: Encoding, documents: readonly string[], room: number, maxChunks: number,
    options: DocumentEncodeOptions, out: EncodedDocuments,
  ): Promise<void> {
    const queryTokens = queryEncoding.getLength();
    const chunkQuery = await this.tokenizer.encode(query, null, { addSpecialTokens: false });
    const chunkQueryTokens = Math.min(queryTokens, Math.floor(room / 2));
    chunkQuery.truncate(chunkQueryTokens, 0, 'right');
    const window = room - chunkQueryTokens;
    const overlap = Math.min(options.chunkOverlap ?? DEFAULT_CHUNK_OVERLAP, Math.floor(window / 2));
    const docCap = options.maxDocumentTokens ?? Infinity;
    const needed = Math.min(docCap, window + (maxChunks - 1) * (window - overlap)) + 1;
    const docs = await Promise.all(documents.map((d) => this.encodeEnd(d, needed, 'right')));
    // Nothing is cut from here on: every pair fits, and a window fills the room exactly.
    for (let i = 0; i < docs.length; i++) {
      const { encoding: doc, cut } = docs[i];
      const capped = doc.getLength() > docCap;
      if (capped) doc.truncate(docCap, 0, 'right');
      const take = (e: Encoding) => {
        out.pairs.push({ ids: e.getIds(), typeIds: e.getTypeIds() });
        out.owners.push(i);
      };
      if (queryTokens + doc.getLength() <= room) {
        take(this.tokenizer.postProcess(queryEncoding, doc, true));
        if (capped || cut) out.truncated++;
        continue;
      }
      doc.truncate(window, overlap, 'right');
      const windows = [doc, ...doc.getOverflowing()];
      for (const w of windows.slice(0, maxChunks)) take(this.tokenizer.postProcess(chunkQuery, w, true));
      if (windows.length > 1 && maxChunks > 1) out.chunked++;
      if (windows.length > maxChunks || capped || cut) out.truncated++;
    }
  }

  // Tokenizes a text without special tokens, or only the end of it (`side`) that holds at least `needed` tokens.
  // `cut`: the text is longer than `text`, the part tokenized, and so has more tokens than `needed`.
  private async encodeEnd(text: string, needed: number, side: TruncationDirection): Promise<{ encoding: Encoding; text: string; cut: boolean }> {
    const plain = { addSpecialTokens: false };
    for (let chars = needed * PREFIX_CHARS_PER_TOKEN; chars < text.length; chars *= 4) {
      const part = side === 'right' ? prefixAtSpace(text, chars) : suffixAtSpace(text, chars);
      if (part === null) break;
      const encoding = await this.tokenizer.encode(part, null, plain);
      if (encoding.getLength() >= needed) return { encoding, text: part, cut: true };
    }
    return { encoding: await this.tokenizer.encode(text, null, plain), text, cut: false };
  }

  private setTruncation(truncation: { maxLength: number; direction: TruncationDirection } | null): void {
    const now = this.truncation;
    if (truncation?.maxLength === now?.maxLength && truncation?.direction === now?.direction) return;
    if (truncation === null) this.tokenizer.disableTruncation();
    else {
      this.tokenizer.setTruncation(truncation.maxLength, {
        strategy: 'LongestFirst' as never, direction: truncation.direction as never,  // the binding takes 'left' / 'right'
      });
    }
    this.truncation = truncation;
  }
}

// The text up to the last whitespace at or before `chars` (its last word whole, so tokenized alone it gives the
// whole text's first tokens); null when there is none.
function prefixAtSpace(text: string, chars: number): string | null {
  for (let i = chars; i > 0; i--) if (isSpace(text.charCodeAt(i))) return text.slice(0, i);
  return null;
}

// The text from the first whitespace at or after length - chars (kept, so that the first word reads as it does
// after a space); null when there is none.
function suffixAtSpace(text: string, chars: number): string | null {
  for (let i = text.length - chars; i < text.length; i++) if (isSpace(text.charCodeAt(i))) return i > 0 ? text.slice(i) : null;
  return null;
}

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 9 || code === 13;
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
