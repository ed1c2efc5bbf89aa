"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.PairTokenizer = exports.DEFAULT_CHUNK_OVERLAP = exports.DEFAULT_MAX_CHUNKS = void 0;
exports.padBatch = padBatch;
// Pair tokenization with Hugging Face's Rust tokenizer (the `tokenizers` package), and batch padding.
const node_crypto_1 = __importDefault(require("node:crypto"));
const node_fs_1 = __importDefault(require("node:fs"));
const node_os_1 = __importDefault(require("node:os"));
const node_path_1 = __importDefault(require("node:path"));
// Each pair is encoded by a task on libuv's thread pool (the package's encodeBatch takes no pairs), which has 4
// threads unless UV_THREADPOOL_SIZE says otherwise; libuv reads it when the pool first starts, so set it here,
// before any tokenization, to the machine's cores (a user's own setting wins).
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, node_os_1.default.availableParallelism()));
const tokenizers_1 = require("tokenizers");
const util_1 = require("./util");
exports.DEFAULT_MAX_CHUNKS = 10;
exports.DEFAULT_CHUNK_OVERLAP = 32;
// A long document is cut to a prefix before it is tokenized, so that a 20,000-character document costs what the
// tokens it can use cost (the Rust tokenizer encodes the whole text and only then truncates, holding every token's
// offsets and strings). The prefix ends before a whitespace, so its tokens are the whole text's first tokens; it
// is sized at this many characters per token needed, and grown when a text packs more characters per token.
const PREFIX_CHARS_PER_TOKEN = 8;
/** Files that make up a tokenizer in a HF model folder, copied along when a model is saved. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'added_tokens.json'];
class PairTokenizer {
    tokenizer;
    sourceDir;
    modelMaxLength;
    padTokenId;
    truncation = null;
    /** Special tokens the post-processor adds to a pair ([CLS] q [SEP] d [SEP]: 3). */
    pairSpecials;
    queue = Promise.resolve();
    constructor(tokenizer, 
    /** The folder the tokenizer came from. */
    sourceDir, 
    /** tokenizer_config.json's model_max_length, when it is a real limit. */
    modelMaxLength, padTokenId) {
        this.tokenizer = tokenizer;
        this.sourceDir = sourceDir;
        this.modelMaxLength = modelMaxLength;
        this.padTokenId = padTokenId;
    }
    /** Loads `tokenizer.json`, or builds a BERT WordPiece tokenizer from `vocab.txt` + `tokenizer_config.json`. */
    static async load(dir) {
        const configFile = node_path_1.default.join(dir, 'tokenizer_config.json');
        const config = node_fs_1.default.existsSync(configFile) ? (0, util_1.readJsonFile)(configFile) : {};
        const maxLen = typeof config.model_max_length === 'number' && config.model_max_length < 1e9 ? config.model_max_length : undefined;
        const jsonFile = node_path_1.default.join(dir, 'tokenizer.json');
        let tokenizer;
        if (node_fs_1.default.existsSync(jsonFile)) {
            try {
                tokenizer = tokenizers_1.Tokenizer.fromFile(jsonFile);
            }
            catch (err) {
                throw new Error(`${jsonFile}: cannot load tokenizer (${err.message})`);
            }
        }
        else if (node_fs_1.default.existsSync(node_path_1.default.join(dir, 'vocab.txt'))) {
            tokenizer = await wordPieceFromVocab(dir, config);
        }
        else {
            const sentencepiece = node_fs_1.default.readdirSync(dir).find((f) => f.endsWith('.model'));
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
    async encodePairs(pairs, maxLength, truncate, indexOffset = 0) {
        // Truncation is a setting of the shared Rust tokenizer, read when each encode runs: calls take turns.
        const turn = this.queue.then(async () => {
            this.setTruncation(truncate ? { maxLength, direction: 'right' } : null);
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
    /**
     * Encodes single texts (`[CLS] text [SEP]`), as an embedding model reads them, cut to `maxLength` tokens
     * (special tokens included), as sentence-transformers' max_seq_length. Token type ids are all 0.
     */
    async encodeTexts(texts, maxLength) {
        const turn = this.queue.then(async () => {
            this.setTruncation({ maxLength, direction: 'right' });
            return Promise.all(texts.map((text) => this.tokenizer.encode(text)));
        });
        this.queue = turn.then(() => undefined, () => undefined);
        return (await turn).map((encoding) => ({ ids: encoding.getIds(), typeIds: encoding.getTypeIds() }));
    }
    /**
     * A prompt's length in tokens as sentence-transformers counts it to leave the prompt out of pooling: the prompt
     * encoded alone, less its trailing special token ([SEP], </s>) when it has one.
     */
    async promptLength(prompt) {
        const turn = this.queue.then(async () => {
            this.setTruncation(null);
            return this.tokenizer.encode(prompt);
        });
        this.queue = turn.then(() => undefined, () => undefined);
        const encoding = await turn;
        const special = encoding.getSpecialTokensMask();
        return encoding.getIds().length - (special.length > 0 && special[special.length - 1] === 1 ? 1 : 0);
    }
    /** Number of token ids, added tokens included. */
    get vocabSize() {
        return this.tokenizer.getVocabSize(true);
    }
    /** A hash of the tokenizer's files: token-id caches are keyed by it. */
    fingerprint() {
        const hash = node_crypto_1.default.createHash('sha256');
        for (const name of TOKENIZER_FILES) {
            const file = node_path_1.default.join(this.sourceDir, name);
            if (node_fs_1.default.existsSync(file))
                hash.update(name).update(node_fs_1.default.readFileSync(file));
        }
        return hash.digest('hex');
    }
    /** Writes the tokenizer files into a model folder (tokenizer.json always, the rest when the source had them). */
    save(dir) {
        for (const name of TOKENIZER_FILES) {
            const from = node_path_1.default.join(this.sourceDir, name);
            if (name !== 'tokenizer.json' && node_fs_1.default.existsSync(from) && node_path_1.default.resolve(from) !== node_path_1.default.resolve(dir, name)) {
                node_fs_1.default.copyFileSync(from, node_path_1.default.join(dir, name));
            }
        }
        const previous = this.truncation;
        this.setTruncation(null); // tokenizer.json is saved without our runtime truncation, as HF folders ship it
        this.tokenizer.save(node_path_1.default.join(dir, 'tokenizer.json'));
        this.setTruncation(previous);
    }
    /**
     * Encodes one query with each of its documents for scoring. A long document is tokenized only as far as a pair
     * can use (see PREFIX_CHARS_PER_TOKEN), and a truncated pair is token for token what encodePairs gives. With
     * longDocuments 'chunk', a document that does not fit after the query becomes overlapping windows, each after
     * the query (the query cut to half the room when it is longer), put together by the tokenizer's post-processor.
     * `indexes`: the documents' indexes in the caller's list, which an error names (default: their own).
     */
    async encodeDocuments(query, documents, options, indexes) {
        const { maxLength } = options;
        const mode = options.longDocuments ?? 'truncate';
        const direction = options.direction ?? 'right';
        const truncate = options.truncate ?? true;
        const maxChunks = options.maxChunks ?? exports.DEFAULT_MAX_CHUNKS;
        const plain = { addSpecialTokens: false };
        const turn = this.queue.then(async () => {
            // Truncation is the tokenizer's setting, read as each encode runs: off while texts are counted.
            this.setTruncation(null);
            const empty = await this.tokenizer.encode('', null, plain);
            const specials = (this.pairSpecials ??= this.tokenizer.postProcess(empty, empty, true).getLength());
            const room = maxLength - specials; // tokens for the query and the document
            if (room < 2)
                throw new RangeError(`maxLength ${maxLength} leaves no room for a query and a document after ${specials} special tokens`);
            const queryEncoding = await this.tokenizer.encode(query, null, plain);
            const queryTokens = queryEncoding.getLength();
            const result = { pairs: [], owners: [], truncated: 0, chunked: 0, queryTokens, specialTokens: specials };
            if (mode === 'chunk') {
                await this.chunkDocuments(query, queryEncoding, documents, room, maxChunks, options, result);
            }
            else {
                await this.truncateDocuments(query, queryTokens, documents, maxLength, room, truncate, direction, indexes, result);
            }
            return result;
        });
        this.queue = turn.then(() => undefined, () => undefined);
        return turn;
    }
    async truncateDocuments(query, queryTokens, documents, maxLength, room, truncate, direction, indexes, out) {
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
            if (parts[i]?.cut || over.has(i))
                out.truncated++;
        }
    }
    async chunkDocuments(query, queryEncoding, documents, room, maxChunks, options, out) {
        const queryTokens = queryEncoding.getLength();
        const chunkQuery = await this.tokenizer.encode(query, null, { addSpecialTokens: false });
        const chunkQueryTokens = Math.min(queryTokens, Math.floor(room / 2));
        chunkQuery.truncate(chunkQueryTokens, 0, 'right');
        const window = room - chunkQueryTokens;
        const overlap = Math.min(options.chunkOverlap ?? exports.DEFAULT_CHUNK_OVERLAP, Math.floor(window / 2));
        const docCap = options.maxDocumentTokens ?? Infinity;
        const needed = Math.min(docCap, window + (maxChunks - 1) * (window - overlap)) + 1;
        const docs = await Promise.all(documents.map((d) => this.encodeEnd(d, needed, 'right')));
        // Nothing is cut from here on: every pair fits, and a window fills the room exactly.
        for (let i = 0; i < docs.length; i++) {
            const { encoding: doc, cut } = docs[i];
            const capped = doc.getLength() > docCap;
            if (capped)
                doc.truncate(docCap, 0, 'right');
            const take = (e) => {
                out.pairs.push({ ids: e.getIds(), typeIds: e.getTypeIds() });
                out.owners.push(i);
            };
            if (queryTokens + doc.getLength() <= room) {
                take(this.tokenizer.postProcess(queryEncoding, doc, true));
                if (capped || cut)
                    out.truncated++;
                continue;
            }
            doc.truncate(window, overlap, 'right');
            const windows = [doc, ...doc.getOverflowing()];
            for (const w of windows.slice(0, maxChunks))
                take(this.tokenizer.postProcess(chunkQuery, w, true));
            if (windows.length > 1 && maxChunks > 1)
                out.chunked++;
            if (windows.length > maxChunks || capped || cut)
                out.truncated++;
        }
    }
    // Tokenizes a text without special tokens, or only the end of it (`side`) that holds at least `needed` tokens.
    // `cut`: the text is longer than `text`, the part tokenized, and so has more tokens than `needed`.
    async encodeEnd(text, needed, side) {
        const plain = { addSpecialTokens: false };
        for (let chars = needed * PREFIX_CHARS_PER_TOKEN; chars < text.length; chars *= 4) {
            const part = side === 'right' ? prefixAtSpace(text, chars) : suffixAtSpace(text, chars);
            if (part === null)
                break;
            const encoding = await this.tokenizer.encode(part, null, plain);
            if (encoding.getLength() >= needed)
                return { encoding, text: part, cut: true };
        }
        return { encoding: await this.tokenizer.encode(text, null, plain), text, cut: false };
    }
    setTruncation(truncation) {
        const now = this.truncation;
        if (truncation?.maxLength === now?.maxLength && truncation?.direction === now?.direction)
            return;
        if (truncation === null)
            this.tokenizer.disableTruncation();
        else {
            this.tokenizer.setTruncation(truncation.maxLength, {
                strategy: 'LongestFirst', direction: truncation.direction, // the binding takes 'left' / 'right'
            });
        }
        this.truncation = truncation;
    }
}
exports.PairTokenizer = PairTokenizer;
// The text up to the last whitespace at or before `chars` (its last word whole, so tokenized alone it gives the
// whole text's first tokens); null when there is none.
function prefixAtSpace(text, chars) {
    for (let i = chars; i > 0; i--)
        if (isSpace(text.charCodeAt(i)))
            return text.slice(0, i);
    return null;
}
// The text from the first whitespace at or after length - chars (kept, so that the first word reads as it does
// after a space); null when there is none.
function suffixAtSpace(text, chars) {
    for (let i = text.length - chars; i < text.length; i++)
        if (isSpace(text.charCodeAt(i)))
            return i > 0 ? text.slice(i) : null;
    return null;
}
function isSpace(code) {
    return code === 32 || code === 10 || code === 9 || code === 13;
}
async function wordPieceFromVocab(dir, config) {
    const vocabFile = node_path_1.default.join(dir, 'vocab.txt');
    const vocab = node_fs_1.default.readFileSync(vocabFile, 'utf8').split('\n');
    if (vocab.at(-1) === '')
        vocab.pop();
    const idOf = (token) => {
        const id = vocab.indexOf(token);
        if (id < 0)
            throw new Error(`${vocabFile}: special token ${token} is not in the vocabulary`);
        return id;
    };
    const str = (key, fallback) => (typeof config[key] === 'string' ? config[key] : fallback);
    const cls = str('cls_token', '[CLS]');
    const sep = str('sep_token', '[SEP]');
    const unk = str('unk_token', '[UNK]');
    const lowercase = config.do_lower_case !== false;
    const model = await tokenizers_1.WordPiece.fromFile(vocabFile, { unkToken: unk });
    const tokenizer = new tokenizers_1.Tokenizer(model);
    tokenizer.setNormalizer((0, tokenizers_1.bertNormalizer)({
        cleanText: true,
        handleChineseChars: config.tokenize_chinese_chars !== false,
        // HF: strip_accents None follows do_lower_case
        stripAccents: typeof config.strip_accents === 'boolean' ? config.strip_accents : lowercase,
        lowercase,
    }));
    tokenizer.setPreTokenizer((0, tokenizers_1.bertPreTokenizer)());
    tokenizer.setPostProcessor((0, tokenizers_1.bertProcessing)([sep, idOf(sep)], [cls, idOf(cls)]));
    tokenizer.setDecoder((0, tokenizers_1.wordPieceDecoder)('##'));
    const specials = [str('pad_token', '[PAD]'), unk, cls, sep, str('mask_token', '[MASK]')].filter((t) => vocab.includes(t));
    tokenizer.addSpecialTokens(specials);
    return tokenizer;
}
/** Pads encoded pairs to the longest one into a flat [batch, length] batch. */
function padBatch(pairs, padTokenId) {
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
