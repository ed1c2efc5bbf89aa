// `rrtrain tokenizer`: train a WordPiece vocabulary for a model trained from scratch.
import fs from 'node:fs';
import type { CommandModule } from 'yargs';
import { loadDebdesc, type DebdescSplit } from '../data/debdesc';
import { parseJsonObjectLine, readTextLines } from '../data/records';
import { trainWordPiece } from '../train/vocab';

interface Args {
  data: string;
  out: string;
  'vocab-size': number;
  cased: boolean;
  force: boolean;
}

export const tokenizerCommand: CommandModule<object, Args> = {
  command: 'tokenizer',
  describe: 'train a BERT WordPiece vocabulary (vocab.txt + tokenizer.json) on text data',
  builder: (y) => y
    .option('data', { type: 'string', demandOption: true, describe: 'debdesc:train (bundled) or a JSONL file whose records have query/document/text fields' })
    .option('out', { type: 'string', demandOption: true, describe: 'tokenizer folder to write' })
    .option('vocab-size', { type: 'number', default: 16000 })
    .option('cased', { type: 'boolean', default: false, describe: 'keep case (default: lowercase, as bert-base-uncased)' })
    .option('force', { type: 'boolean', default: false, describe: 'overwrite an existing tokenizer folder' }) as never,
  handler: async (argv) => {
    if (fs.existsSync(`${argv.out}/vocab.txt`) && !argv.force) {
      console.log(`${argv.out} already has a vocabulary (pass --force to retrain)`);
      return;
    }
    const texts = await collectTexts(argv.data);
    const started = Date.now();
    const tokenizer = await trainWordPiece(texts, argv.out, { vocabSize: argv['vocab-size'], lowercase: !argv.cased });
    console.log(`trained a ${argv['vocab-size']}-piece WordPiece vocabulary on ${texts.length} texts in ${((Date.now() - started) / 1000).toFixed(1)} s → ${tokenizer.sourceDir}`);
  },
};

async function collectTexts(spec: string): Promise<string[]> {
  if (spec.startsWith('debdesc')) {
    const split = (spec.split(':')[1] ?? 'train') as DebdescSplit;
    return (await loadDebdesc(split)).flatMap((r) => [r.query, r.document]);
  }
  if (!fs.existsSync(spec)) throw new Error(`--data ${spec}: no such file`);
  const texts: string[] = [];
  for await (const { text, line } of readTextLines(spec)) {
    if (!text.trim()) continue;
    const record = parseJsonObjectLine(text, `${spec}:${line}`, 'a line must be a JSON object with query/document/text fields');
    for (const key of ['query', 'document', 'text']) if (typeof record[key] === 'string') texts.push(record[key] as string);
  }
  return texts;
}
