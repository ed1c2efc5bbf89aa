// `rrtrain mine`: hard-negative mining with BM25, an embedding model (--retriever dense) or both (hybrid),
// optionally rescored by a cross-encoder, into grouped JSONL.
import type { CommandModule } from 'yargs';
import { Reranker, type DeviceRequest } from '../model';
import { mineToFile, type MineStats } from '../retrieve/mine';
import { commandDevice, deviceOption, retrieverArgs, retrieverOptions, type RetrieverArgs } from './load-options';

interface Args extends RetrieverArgs {
  queries: string;
  corpus?: string;
  output: string;
  model?: string;
  'retrieve-k'?: number;
  'range-min': number;
  'range-max': number;
  'num-negatives': number;
  sampling: 'top' | 'random';
  seed: number;
  margin?: number;
  'relative-margin'?: number;
  'with-scores': boolean;
  'max-queries'?: number;
  k1?: number;
  b?: number;
  workers?: number;
  'batch-size': number;
  'max-length'?: number;
  device: DeviceRequest;
  quiet: boolean;
}

function progressLine(s: MineStats): string {
  const rate = s.seconds > 0 ? ` (${(s.queries / s.seconds).toFixed(0)} queries/s)` : '';
  return `mine: ${s.queries} queries, ${s.written} groups, ${s.negatives} negatives, ${s.seconds.toFixed(1)} s${rate}`;
}

export const mineCommand: CommandModule<object, Args> = {
  command: 'mine',
  describe: 'mine hard negatives with BM25, an embedder (--retriever dense --embedder E) or both (hybrid), optionally rescored by a cross-encoder, into grouped JSONL {query, positives, negatives}',
  builder: (y) => y
    .option('queries', { type: 'string', demandOption: true, describe: 'debdesc:train (positive = the package\'s own document) or a JSONL of {query, positives} / {query, pos} (positives are document texts)' })
    .option('corpus', { type: 'string', describe: 'debdesc[:all|train|dev|test] or a JSONL of {id?, text} / {id?, document} or a .txt (one document a line); default for debdesc queries: their own split' })
    .option('output', { type: 'string', demandOption: true, describe: 'grouped JSONL to write (atomically)' })
    .option('model', { type: 'string', describe: 'rescore the first stage\'s top --retrieve-k with this cross-encoder and rank by its logits' })
    .option('retrieve-k', { type: 'number', describe: 'with --model: first-stage candidates to rescore (default: --range-max)' })
    .option('range-min', { type: 'number', default: 10, describe: 'first rank kept (1-based)' })
    .option('range-max', { type: 'number', default: 100, describe: 'last rank kept (inclusive)' })
    .option('num-negatives', { type: 'number', default: 15 })
    .option('sampling', { type: 'string', choices: ['top', 'random'], default: 'top', describe: 'best-ranked eligible candidates, or a seeded random sample of them' })
    .option('seed', { type: 'number', default: 42 })
    .option('margin', { type: 'number', describe: 'drop candidates scoring above positive_score - margin' })
    .option('relative-margin', { type: 'number', describe: 'drop candidates scoring above positive_score * (1 - r)' })
    .option('with-scores', { type: 'boolean', default: false, alias: 'output-scores', describe: 'add pos_scores / neg_scores (the first stage\'s scores, or the model\'s logits; sentence-transformers\' output_scores)' })
    .option('max-queries', { type: 'number', describe: 'mine a seeded random sample of N queries (--seed)' })
    .option('k1', { type: 'number', describe: 'BM25 k1 (default 0.9)' })
    .option('b', { type: 'number', describe: 'BM25 b (default 0.4)' })
    .option('workers', { type: 'number', describe: 'threads searching BM25 (default: one per core, up to 16, for 2,000+ queries; 0: none)' })
    .option('batch-size', { type: 'number', default: 64 })
    .option('max-length', { type: 'number' })
    .options(retrieverOptions)
    .option('device', deviceOption)
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress on stderr' }) as never,
  handler: async (argv) => {
    const device = commandDevice(argv.device);
    const firstStage = retrieverArgs(argv, device);  // checked before anything loads
    if (argv.retriever !== 'bm25' && argv.workers !== undefined) throw new Error(`--workers searches BM25 in parallel; it does not apply to --retriever ${argv.retriever}`);
    const model = argv.model ? await Reranker.load(argv.model, { maxLength: argv['max-length'], device }) : undefined;
    try {
      const stats = await mineToFile({
        queries: argv.queries,
        corpus: argv.corpus,
        output: argv.output,
        reranker: model,
        firstStage,
        retrieveK: argv['retrieve-k'],
        rangeMin: argv['range-min'],
        rangeMax: argv['range-max'],
        numNegatives: argv['num-negatives'],
        sampling: argv.sampling,
        seed: argv.seed,
        margin: argv.margin,
        relativeMargin: argv['relative-margin'],
        withScores: argv['with-scores'],
        maxQueries: argv['max-queries'],
        k1: argv.k1,
        b: argv.b,
        workers: argv.workers,
        batchSize: argv['batch-size'],
        onProgress: argv.quiet ? undefined : (s) => process.stderr.write(progressLine(s) + '\n'),
      });
      console.log(
        `mined ${argv.queries} over ${stats.corpus} (${stats.corpusSize} documents; ${stats.retriever}, built in ${stats.indexSeconds.toFixed(1)} s): ` +
          `${stats.queries} queries, ${stats.written} groups written to ${argv.output}, ${stats.skipped} skipped (no eligible negative), ` +
          `${stats.short} with fewer than ${argv['num-negatives']} negatives; ${stats.negatives} negatives; dropped in range: ` +
          `${stats.droppedPositive} positive/identical, ${stats.droppedDuplicate} duplicate, ${stats.droppedMargin} by margin; ${stats.seconds.toFixed(1)} s`,
      );
    } finally {
      model?.dispose();
    }
  },
};
