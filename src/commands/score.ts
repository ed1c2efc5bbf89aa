// `rrtrain score`: score (query, document) pairs from a JSONL file, in input order.
import fs from 'node:fs';
import type { CommandModule } from 'yargs';
import { parseJsonObjectLine, readTextLines } from '../data/records';
import { Reranker, type DeviceRequest } from '../model';
import type { NativeDtype } from '../native';
import { commandDevice, deviceOption, dtypeOption } from './load-options';

const SCORE_CHUNK = 1024;

interface Args {
  model: string;
  input: string;
  output?: string;
  'batch-size': number;
  'max-length'?: number;
  activation: 'none' | 'sigmoid';
  device: DeviceRequest;
  dtype: NativeDtype;
  template?: 'qwen3-reranker' | 'none';
  instruction?: string;
}

export const scoreCommand: CommandModule<object, Args> = {
  command: 'score',
  describe: 'score (query, document) pairs from JSONL; prints one {"score"} line per pair, in input order',
  builder: (y) => y
    .option('model', { type: 'string', demandOption: true, describe: 'model folder' })
    .option('input', { type: 'string', demandOption: true, describe: 'JSONL of {"query","document"} or ["query","document"]' })
    .option('output', { type: 'string', describe: 'write here instead of stdout' })
    .option('batch-size', { type: 'number', default: 32 })
    .option('max-length', { type: 'number' })
    .option('activation', { type: 'string', choices: ['none', 'sigmoid'], default: 'none' })
    .option('device', deviceOption)
    .option('dtype', dtypeOption)
    .option('template', { type: 'string', choices: ['qwen3-reranker', 'none'], describe: 'prompt pairs are put in (default: the model\'s; qwen3-reranker for Qwen3ForCausalLM)' })
    .option('instruction', { type: 'string', describe: 'a prompt-template model\'s instruction (Qwen3-Reranker\'s <Instruct>)' }) as never,
  handler: async (argv) => {
    if (!fs.existsSync(argv.input)) throw new Error(`--input ${argv.input}: no such file`);
    const model = await Reranker.load(argv.model, {
      maxLength: argv['max-length'], device: commandDevice(argv.device, argv.dtype), dtype: argv.dtype, template: argv.template, instruction: argv.instruction,
    });
    const tmp = argv.output ? `${argv.output}.tmp-${process.pid}` : null;
    const out = tmp ? fs.createWriteStream(tmp) : process.stdout;
    let chunk: [string, string][] = [];
    const flush = async () => {
      const scores = await model.score(chunk, { batchSize: argv['batch-size'], activation: argv.activation });
      const text = scores.map((score) => JSON.stringify({ score })).join('\n') + '\n';
      if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      chunk = [];
    };
    try {
      for await (const { text, line } of readTextLines(argv.input)) {
        if (!text.trim()) continue;
        chunk.push(parsePairLine(text, `${argv.input}:${line}`));
        if (chunk.length === SCORE_CHUNK) await flush();
      }
      if (chunk.length) await flush();
    } catch (err) {
      if (tmp) fs.rmSync(tmp, { force: true });
      throw err;
    } finally {
      model.dispose();
    }
    if (tmp && argv.output) {
      await new Promise<void>((resolve, reject) => (out as fs.WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve())));
      fs.renameSync(tmp, argv.output);
    }
  },
};

function parsePairLine(text: string, where: string): [string, string] {
  // A ["query", "document"] line is read as {"query", "document"}.
  const asObject = text.trimStart().startsWith('[') ? `{"pair":${text}}` : text;
  const value = parseJsonObjectLine(asObject, where, 'a line must be {"query", "document"} or ["query", "document"]');
  const pair = Array.isArray(value.pair) ? { query: value.pair[0], document: value.pair[1] } : value;
  if (typeof pair?.query !== 'string' || !pair.query) throw new Error(`${where}: "query" must be a non-empty string`);
  if (typeof pair.document !== 'string' || !pair.document) throw new Error(`${where}: "document" must be a non-empty string`);
  return [pair.query, pair.document];
}
