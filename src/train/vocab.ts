// Training a BERT WordPiece vocabulary with Hugging Face's tokenizers library, for models trained from scratch.
//
// The npm binding trains with the library's default WordPiece trainer (30,000 pieces, no special tokens), so
// the vocabulary is cut to the wanted size afterwards: its pieces come ordered as the alphabet first, then
// merges by frequency, so the first N are the N most useful. The BERT special tokens are put in front and the
// folder is written as a standard BERT tokenizer (vocab.txt, tokenizer_config.json, tokenizer.json).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tokenizer, WordPiece, bertNormalizer, bertPreTokenizer } from 'tokenizers';
import { PairTokenizer } from '../tokenize';
import { writeFileAtomic } from '../util';

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

export interface VocabOptions {
  vocabSize: number;
  lowercase?: boolean;
  modelMaxLength?: number;
}

/** Trains a vocabulary on `texts` and writes a BERT tokenizer folder to `outDir`. */
export async function trainWordPiece(texts: Iterable<string>, outDir: string, options: VocabOptions): Promise<PairTokenizer> {
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < 300) {
    throw new RangeError(`vocabSize must be an integer of at least 300, got ${options.vocabSize}`);
  }
  const lowercase = options.lowercase ?? true;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rrnative-vocab-'));
  try {
    const corpus = path.join(scratch, 'corpus.txt');
    const fd = fs.openSync(corpus, 'w');
    for (const text of texts) fs.writeSync(fd, text.replace(/\n/g, ' ') + '\n');
    fs.closeSync(fd);

    const trainer = new Tokenizer(WordPiece.empty());
    trainer.setNormalizer(bertNormalizer({ lowercase, stripAccents: lowercase, cleanText: true, handleChineseChars: true }));
    trainer.setPreTokenizer(bertPreTokenizer());
    trainer.train([corpus]);
    const pieces = Object.entries(trainer.getVocab()).sort((a, b) => a[1] - b[1]).map(([piece]) => piece)
      .filter((piece) => !(SPECIAL_TOKENS as readonly string[]).includes(piece));
    const vocab = [...SPECIAL_TOKENS, ...pieces.slice(0, options.vocabSize - SPECIAL_TOKENS.length)];

    fs.mkdirSync(outDir, { recursive: true });
    writeFileAtomic(path.join(outDir, 'vocab.txt'), vocab.join('\n') + '\n');
    writeFileAtomic(path.join(outDir, 'tokenizer_config.json'), JSON.stringify({
      tokenizer_class: 'BertTokenizer', do_lower_case: lowercase, strip_accents: null, tokenize_chinese_chars: true,
      model_max_length: options.modelMaxLength ?? 512, pad_token: '[PAD]', unk_token: '[UNK]', cls_token: '[CLS]',
      sep_token: '[SEP]', mask_token: '[MASK]',
    }, null, 2) + '\n');
    writeFileAtomic(path.join(outDir, 'special_tokens_map.json'), JSON.stringify({
      pad_token: '[PAD]', unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', mask_token: '[MASK]',
    }, null, 2) + '\n');
    fs.rmSync(path.join(outDir, 'tokenizer.json'), { force: true });
    const tokenizer = await PairTokenizer.load(outDir);  // built from vocab.txt ...
    tokenizer.save(outDir);                             // ... and saved as tokenizer.json
    return PairTokenizer.load(outDir);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
