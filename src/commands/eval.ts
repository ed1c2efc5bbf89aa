// `rrtrain eval`: evaluate a model on labelled data, or (--retrieval) rerank the first stage's top-k over a corpus
// and compare it with BM25.
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import { loadConfig } from '../config/load';
import type { DataSourceConfig } from '../config/schema';
import { Reranker, type DeviceRequest } from '../model';
import { describeDataSource } from '../data/formats';
import { evaluate, loadEvalSet } from '../train/evaluate';
import { rerankEvalCommand, retrievalEvalOptions } from './rerank-eval';
import type { NativeDtype } from '../native';
import { commandDevice, deviceOption, dtypeOption, longDocumentArgs, longDocumentOptions, type LongDocumentArgs } from './load-options';

interface Args extends LongDocumentArgs {
  config?: string;
  model?: string;
  data?: string;
  format: 'auto' | 'pairs' | 'grouped' | 'hf_msmarco';
  set?: string[];
  'batch-size': number;
  'max-queries'?: number;
  'max-length'?: number;
  retrieval?: string;
  'retrieval-queries'?: string;
  device: DeviceRequest;
  dtype: NativeDtype;
}

export const evalCommand: CommandModule<object, Args> = {
  command: 'eval [config]',
  describe: 'evaluate a model on labelled data (MRR@10, NDCG@10, MAP, recall, accuracy, F1, PR-AUC), or with --retrieval against the first stage (BM25, dense, hybrid)',
  builder: (y) => y
    .positional('config', { type: 'string', describe: 'a training config (uses its output_dir and data.eval)' })
    .option('model', { type: 'string', describe: 'model folder' })
    .option('data', { type: 'string', describe: 'eval data (grouped, pairs or hf_msmarco JSONL)' })
    .option('format', { type: 'string', choices: ['auto', 'pairs', 'grouped', 'hf_msmarco'], default: 'auto' })
    .option('set', { type: 'string', array: true })
    .option('batch-size', { type: 'number', default: 64 })
    .option('max-queries', { type: 'number', describe: 'evaluate only the first N queries (with --retrieval: a seeded random sample of N)' })
    .option('max-length', { type: 'number' })
    .options(retrievalEvalOptions)
    .options(longDocumentOptions)
    .option('device', deviceOption)
    .option('dtype', dtypeOption)
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress on stderr' }) as never,
  handler: async (argv) => {
    if (argv.retrieval || argv['retrieval-queries']) {
      // Retrieve, then rerank: BM25's top-k over the corpus, the model reranking it, side by side.
      const model = argv.model ?? (argv.config ? loadConfig(argv.config, argv.set ?? []).training.output_dir : undefined);
      await rerankEvalCommand.handler({ ...argv, model } as unknown as ArgumentsCamelCase<never>);
      return;
    }
    let modelDir = argv.model;
    let source: Partial<DataSourceConfig> | undefined = argv.data ? { path: argv.data, format: argv.format } : undefined;
    if (argv.config) {
      const config = loadConfig(argv.config, argv.set ?? []);
      modelDir ??= config.training.output_dir;
      source ??= config.data.eval;
    }
    if (!modelDir) throw new Error('eval: give --model DIR (or a config whose training.output_dir holds a trained model)');
    if (!source) throw new Error('eval: give --data FILE (or a config with data.eval)');
    if (argv['max-queries']) source = { ...source, max_records: argv['max-queries'] };
    const queries = await loadEvalSet(source, 'error');
    const model = await Reranker.load(modelDir, { maxLength: argv['max-length'], device: commandDevice(argv.device, argv.dtype), dtype: argv.dtype });
    try {
      const metrics = await evaluate(model, queries, argv['batch-size'], longDocumentArgs(argv));
      console.log(`model ${modelDir} on ${describeDataSource(source)} (${queries.length} queries)`);
      for (const [k, v] of Object.entries(metrics)) console.log(`  ${k.padEnd(10)} ${Number.isInteger(v) ? v : v.toFixed(4)}`);
    } finally {
      model.dispose();
    }
  },
};
