// `rrtrain eval-retrieval`: first-stage retrieval (BM25, dense or hybrid) over a corpus, then the reranker on its
// top-k, side by side
// (MRR@10, NDCG@10, Recall@10, Recall@k). See src/retrieve/evaluate.ts for the metric definitions.
import type { CommandModule } from 'yargs';
import { formatRetrievalEval, runRetrievalEval } from '../retrieve/evaluate';
import type { DeviceRequest } from '../model';
import type { NativeDtype } from '../native';
import {
  commandDevice, deviceOption, dtypeOption, longDocumentArgs, longDocumentOptions, retrieverArgs, retrieverOptions, type LongDocumentArgs, type RetrieverArgs,
} from './load-options';

interface Args extends LongDocumentArgs, RetrieverArgs {
  model?: string;
  retrieval?: string;
  'retrieval-queries'?: string;
  corpus?: string;
  'retrieve-k': number;
  'max-queries'?: number;
  seed: number;
  fusion?: string;
  json: boolean;
  k1?: number;
  b?: number;
  'batch-size': number;
  'max-length'?: number;
  device: DeviceRequest;
  dtype: NativeDtype;
  quiet: boolean;
}

/** The options `rrtrain eval --retrieval` shares with this command (for merging into eval.ts). */
export const retrievalEvalOptions = {
  retrieval: { type: 'string', describe: 'queries: debdesc:dev (or another split) or a JSONL of {query, positives} (positives: corpus ids or texts)' },
  'retrieval-queries': { type: 'string', describe: 'same as --retrieval (a JSONL query file; needs --corpus)' },
  corpus: { type: 'string', describe: 'debdesc[:split] or a corpus file (JSONL {id?, text} or .txt); default for debdesc queries: all 63.8k documents' },
  'retrieve-k': { type: 'number', default: 100, describe: 'first-stage candidates reranked per query' },
  seed: { type: 'number', default: 42, describe: 'seed of the --max-queries sample' },
  fusion: { type: 'string', describe: 'add a fused column: linear[:w] (w = reranker weight, default 0.5) or rrf[:k]' },
  json: { type: 'boolean', default: false, describe: 'print JSON' },
  k1: { type: 'number', describe: 'BM25 k1 (default 0.9)' },
  b: { type: 'number', describe: 'BM25 b (default 0.4)' },
  ...retrieverOptions,
} as const;

export const rerankEvalCommand: CommandModule<object, Args> = {
  command: 'eval-retrieval',
  describe: 'retrieval eval: the first stage\'s top-k (BM25, dense, hybrid) over a corpus vs. the model reranking it (MRR@10, NDCG@10, Recall@10, Recall@k)',
  builder: (y) => y
    .option('model', { type: 'string', describe: 'reranker model folder (without it: the first stage only)' })
    .options(retrievalEvalOptions)
    .option('max-queries', { type: 'number', describe: 'evaluate a seeded random sample of N queries (--seed)' })
    .option('batch-size', { type: 'number', default: 64 })
    .option('max-length', { type: 'number' })
    .options(longDocumentOptions)
    .option('device', deviceOption)
    .option('dtype', dtypeOption)
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress on stderr' }) as never,
  handler: async (argv) => {
    if (argv.retrieval && argv['retrieval-queries']) throw new Error('give --retrieval or --retrieval-queries, not both');
    const queries = argv.retrieval ?? argv['retrieval-queries'];
    if (!queries) throw new Error('eval-retrieval: give --retrieval debdesc:dev or --retrieval-queries FILE --corpus FILE');
    let lastReport = 0;
    const report = await runRetrievalEval({
      queries,
      corpus: argv.corpus,
      model: argv.model,
      retrieveK: argv['retrieve-k'],
      maxQueries: argv['max-queries'],
      seed: argv.seed,
      fusion: argv.fusion,
      batchSize: argv['batch-size'],
      longDocuments: longDocumentArgs(argv),
      maxLength: argv['max-length'],
      device: argv.model ? commandDevice(argv.device, argv.dtype) : 'cpu',  // the first stage alone loads no reranker
      dtype: argv.dtype,
      k1: argv.k1,
      b: argv.b,
      firstStage: retrieverArgs(argv, argv.model || argv.embedder ? commandDevice(argv.device, argv.dtype) : 'cpu'),
      onProgress: argv.quiet || (!argv.model && argv.retriever === 'bm25') ? undefined : (done, total) => {
        const now = Date.now();
        if (done === total || now - lastReport > 5000) {
          lastReport = now;
          process.stderr.write(`eval-retrieval: ${done}/${total} queries ${argv.model ? 'reranked' : 'retrieved'}\n`);
        }
      },
    });
    if (argv.json) console.log(JSON.stringify(report, null, 2));
    else console.log(formatRetrievalEval(report));
  },
};
