#!/usr/bin/env node
// rrtrain: train, evaluate and use cross-encoder rerankers from the command line.
import fs from 'node:fs';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadConfig } from './config/load';
import { readTextLines } from './data/records';
import { Reranker } from './model';
import { evaluate, loadEvalSet } from './train/evaluate';
import { train } from './train/trainer';
import { formatEntry } from './train/progress';

const SCORE_CHUNK = 1024;

async function trainCommand(argv: { config: string; set?: string[]; resume?: string | boolean }): Promise<void> {
  const config = loadConfig(argv.config, argv.set ?? []);
  const resume = argv.resume === '' ? true : argv.resume;
  const result = await train(config, { resume });
  if (result.finalMetrics) console.log(formatEntry({ stage: 0, step: result.globalStep, epoch: 0, ...result.finalMetrics }));
}

async function evalCommand(argv: { config?: string; model?: string; data?: string; format?: string; set?: string[]; 'batch-size': number; 'max-queries'?: number; 'max-length'?: number }): Promise<void> {
  let modelDir = argv.model;
  let source: { path?: string; format?: 'auto' | 'pairs' | 'grouped' | 'hf_msmarco' | 'msmarco'; max_records?: number } | undefined =
    argv.data ? { path: argv.data, format: (argv.format ?? 'auto') as 'auto' } : undefined;
  if (argv.config) {
    const config = loadConfig(argv.config, argv.set ?? []);
    modelDir ??= config.training.output_dir;
    source ??= config.data.eval;
  }
  if (!modelDir) throw new Error('eval: give --model DIR (or a config whose training.output_dir holds a trained model)');
  if (!source) throw new Error('eval: give --data FILE (or a config with data.eval)');
  if (argv['max-queries']) source = { ...source, max_records: argv['max-queries'] };
  const queries = await loadEvalSet(source, 'error');
  const model = await Reranker.load(modelDir, { maxLength: argv['max-length'] });
  try {
    const metrics = await evaluate(model, queries, argv['batch-size']);
    console.log(`model ${modelDir} on ${source.path ?? 'msmarco files'} (${queries.length} queries)`);
    for (const [k, v] of Object.entries(metrics)) console.log(`  ${k.padEnd(10)} ${Number.isInteger(v) ? v : v.toFixed(4)}`);
  } finally {
    model.dispose();
  }
}

async function scoreCommand(argv: { model: string; input: string; output?: string; 'batch-size': number; 'max-length'?: number; activation: string }): Promise<void> {
  if (!fs.existsSync(argv.input)) throw new Error(`--input ${argv.input}: no such file`);
  const model = await Reranker.load(argv.model, { maxLength: argv['max-length'] });
  const out = argv.output ? fs.createWriteStream(`${argv.output}.tmp-${process.pid}`) : process.stdout;
  const activation = argv.activation as 'none' | 'sigmoid';
  let chunk: [string, string][] = [];
  const flush = async () => {
    const scores = await model.score(chunk, { batchSize: argv['batch-size'], activation });
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
  } finally {
    model.dispose();
  }
  if (argv.output && out !== process.stdout) {
    await new Promise<void>((resolve, reject) => (out as fs.WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve())));
    fs.renameSync(`${argv.output}.tmp-${process.pid}`, argv.output);
  }
}

function parsePairLine(text: string, where: string): [string, string] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: invalid JSON (${(err as Error).message})`);
  }
  const pair = Array.isArray(value) ? { query: value[0], document: value[1] } : (value as { query?: unknown; document?: unknown });
  if (typeof pair?.query !== 'string' || !pair.query) throw new Error(`${where}: "query" must be a non-empty string`);
  if (typeof pair.document !== 'string' || !pair.document) throw new Error(`${where}: "document" must be a non-empty string`);
  return [pair.query, pair.document];
}

export async function main(args: string[]): Promise<void> {
  await yargs(args)
    .scriptName('rrtrain')
    .usage('$0 <config.yaml> [--set key=value …] [--resume [dir]]\n\nTrain, evaluate and use cross-encoder rerankers.')
    .command(['train <config>', '$0 <config>'], 'train a reranker from a YAML config', (y) => y
      .positional('config', { type: 'string', demandOption: true, describe: 'YAML config file' })
      .option('set', { type: 'string', array: true, describe: 'override a config key: --set training.learning_rate=1e-4' })
      .option('resume', { type: 'string', describe: 'continue from the latest checkpoint in output_dir, or from the given checkpoint folder' }),
    (argv) => trainCommand(argv as never))
    .command('eval [config]', 'evaluate a model on labelled data (MRR@10, NDCG@10, MAP, recall, accuracy, F1, PR-AUC)', (y) => y
      .positional('config', { type: 'string', describe: 'a training config (uses its output_dir and data.eval)' })
      .option('model', { type: 'string', describe: 'model folder' })
      .option('data', { type: 'string', describe: 'eval data (grouped, pairs or hf_msmarco JSONL)' })
      .option('format', { type: 'string', choices: ['auto', 'pairs', 'grouped', 'hf_msmarco'], default: 'auto' })
      .option('set', { type: 'string', array: true })
      .option('batch-size', { type: 'number', default: 64 })
      .option('max-queries', { type: 'number', describe: 'evaluate only the first N queries' })
      .option('max-length', { type: 'number' }),
    (argv) => evalCommand(argv as never))
    .command('score', 'score (query, document) pairs from JSONL; prints one {"score"} line per pair, in input order', (y) => y
      .option('model', { type: 'string', demandOption: true, describe: 'model folder' })
      .option('input', { type: 'string', demandOption: true, describe: 'JSONL of {"query","document"} or ["query","document"]' })
      .option('output', { type: 'string', describe: 'write here instead of stdout' })
      .option('batch-size', { type: 'number', default: 32 })
      .option('max-length', { type: 'number' })
      .option('activation', { type: 'string', choices: ['none', 'sigmoid'], default: 'none' }),
    (argv) => scoreCommand(argv as never))
    .demandCommand(1, 'give a config file or a command (see --help)')
    .strict()
    .help()
    .fail((message, error, y) => {
      if (error) throw error;
      console.error(`${message}\n\n${y.help()}`);
      process.exit(2);
    })
    .parseAsync();
}

if (require.main === module) {
  main(hideBin(process.argv)).catch((err: Error) => {
    console.error(`rrtrain: ${err.message}`);
    process.exit(1);
  });
}
