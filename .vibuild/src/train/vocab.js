"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.SPECIAL_TOKENS = void 0;
exports.trainWordPiece = trainWordPiece;
// Training a BERT WordPiece vocabulary with Hugging Face's tokenizers library, for models trained from scratch.
//
// The npm binding trains with the library's default WordPiece trainer (30,000 pieces, no special tokens), so
// the vocabulary is cut to the wanted size afterwards: its pieces come ordered as the alphabet first, then
// merges by frequency, so the first N are the N most useful. The BERT special tokens are put in front and the
// folder is written as a standard BERT tokenizer (vocab.txt, tokenizer_config.json, tokenizer.json).
const node_fs_1 = __importDefault(require("node:fs"));
const node_os_1 = __importDefault(require("node:os"));
const node_path_1 = __importDefault(require("node:path"));
const tokenizers_1 = require("tokenizers");
const tokenize_1 = require("../tokenize");
const util_1 = require("../util");
exports.SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
/** Trains a vocabulary on `texts` and writes a BERT tokenizer folder to `outDir`. */
async function trainWordPiece(texts, outDir, options) {
    if (!Number.isInteger(options.vocabSize) || options.vocabSize < 300) {
        throw new RangeError(`vocabSize must be an integer of at least 300, got ${options.vocabSize}`);
    }
    const lowercase = options.lowercase ?? true;
    const scratch = node_fs_1.default.mkdtempSync(node_path_1.default.join(node_os_1.default.tmpdir(), 'rrnative-vocab-'));
    try {
        const corpus = node_path_1.default.join(scratch, 'corpus.txt');
        const fd = node_fs_1.default.openSync(corpus, 'w');
        for (const text of texts)
            node_fs_1.default.writeSync(fd, text.replace(/\n/g, ' ') + '\n');
        node_fs_1.default.closeSync(fd);
        const trainer = new tokenizers_1.Tokenizer(tokenizers_1.WordPiece.empty());
        trainer.setNormalizer((0, tokenizers_1.bertNormalizer)({ lowercase, stripAccents: lowercase, cleanText: true, handleChineseChars: true }));
        trainer.setPreTokenizer((0, tokenizers_1.bertPreTokenizer)());
        trainer.train([corpus]);
        const pieces = Object.entries(trainer.getVocab()).sort((a, b) => a[1] - b[1]).map(([piece]) => piece)
            .filter((piece) => !exports.SPECIAL_TOKENS.includes(piece));
        const vocab = [...exports.SPECIAL_TOKENS, ...pieces.slice(0, options.vocabSize - exports.SPECIAL_TOKENS.length)];
        node_fs_1.default.mkdirSync(outDir, { recursive: true });
        (0, util_1.writeFileAtomic)(node_path_1.default.join(outDir, 'vocab.txt'), vocab.join('\n') + '\n');
        (0, util_1.writeFileAtomic)(node_path_1.default.join(outDir, 'tokenizer_config.json'), JSON.stringify({
            tokenizer_class: 'BertTokenizer', do_lower_case: lowercase, strip_accents: null, tokenize_chinese_chars: true,
            model_max_length: options.modelMaxLength ?? 512, pad_token: '[PAD]', unk_token: '[UNK]', cls_token: '[CLS]',
            sep_token: '[SEP]', mask_token: '[MASK]',
        }, null, 2) + '\n');
        (0, util_1.writeFileAtomic)(node_path_1.default.join(outDir, 'special_tokens_map.json'), JSON.stringify({
            pad_token: '[PAD]', unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', mask_token: '[MASK]',
        }, null, 2) + '\n');
        node_fs_1.default.rmSync(node_path_1.default.join(outDir, 'tokenizer.json'), { force: true });
        const tokenizer = await tokenize_1.PairTokenizer.load(outDir); // built from vocab.txt ...
        tokenizer.save(outDir); // ... and saved as tokenizer.json
        return tokenize_1.PairTokenizer.load(outDir);
    }
    finally {
        node_fs_1.default.rmSync(scratch, { recursive: true, force: true });
    }
}
