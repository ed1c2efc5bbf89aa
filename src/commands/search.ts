// `rrtrain search`: BM25 retrieval over a corpus, reranked by a cross-encoder; prints a table or JSON.
import type { CommandModule } from 'yargs';
import { loadCorpus } from '../retrieve/corpus';
import { parseFusion, pipeline, type PipelineHit } from '../retrieve/pipeline';
import type { DeviceRequest } from '../model';
import type { NativeDtype } from '../native';
import { commandDevice, deviceOption, dtypeOption, longDocumentArgs, longDocumentOptions, type LongDocumentArgs } from './load-options';

interface Args extends LongDocumentArgs {
  query: string[];
  model: string;
  corpus: string;
  'retrieve-k': number;
  'top-k': number;
  fusion?: string;
  json: boolean;
  k1?: number;
  b?: number;
  'batch-size': number;
  'max-length'?: number;
  device: DeviceRequest;
  dtype: NativeDtype;
}

function oneLine(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

export function formatHits(hits: readonly PipelineHit[]): string {
  if (hits.length === 0) return '(no document matches the query)';
  const idWidth = Math.min(30, Math.max(2, ...hits.map((h) => (h.id ?? String(h.index)).length)));
  const lines = [`${'#'.padStart(3)}  ${'score'.padStart(9)}  ${'rerank'.padStart(9)}  ${'bm25'.padStart(8)}  ${'id'.padEnd(idWidth)}  document`];
  hits.forEach((h, i) => {
    const id = oneLine(h.id ?? String(h.index), idWidth);
    lines.push(
      `${String(i + 1).padStart(3)}  ${h.score.toFixed(4).padStart(9)}  ${h.rerankScore.toFixed(4).padStart(9)}  ${h.bm25Score.toFixed(3).padStart(8)}  ${id.padEnd(idWidth)}  ${oneLine(h.document, 80)}`,
    );
  });
  return lines.join('\n');
}

export const searchCommand: CommandModule<object, Args> = {
  command: 'search <query..>',
  describe: 'retrieve with BM25 and rerank with a cross-encoder: rrtrain search --model DIR --corpus FILE|debdesc "query"',
  builder: (y) => y
    .positional('query', { type: 'string', array: true, demandOption: true, describe: 'the query (several words are joined with spaces)' })
    .option('model', { type: 'string', demandOption: true, describe: 'reranker model folder' })
    .option('corpus', { type: 'string', demandOption: true, describe: 'debdesc[:split], a JSONL of {id?, text} / {id?, document}, or a .txt (one document a line)' })
    .option('retrieve-k', { type: 'number', default: 100, describe: 'BM25 candidates to rerank' })
    .option('top-k', { type: 'number', default: 10, describe: 'results to print' })
    .option('fusion', { type: 'string', describe: 'combine with BM25: linear[:weight] (weight of the reranker, default 0.5) or rrf[:k] (default 60); default: plain reranking' })
    .option('json', { type: 'boolean', default: false, describe: 'print a JSON array' })
    .option('k1', { type: 'number' })
    .option('b', { type: 'number' })
    .option('batch-size', { type: 'number', default: 64 })
    .option('max-length', { type: 'number' })
    .options(longDocumentOptions)
    .option('device', deviceOption)
    .option('dtype', dtypeOption) as never,
  handler: async (argv) => {
    const query = argv.query.map(String).join(' ');
    if (query.trim() === '') throw new Error('search: the query is empty');
    const fusion = argv.fusion ? parseFusion(argv.fusion) : undefined;
    const corpus = await loadCorpus(argv.corpus);
    const p = await pipeline({
      corpus,
      reranker: argv.model,
      k1: argv.k1,
      b: argv.b,
      batchSize: argv['batch-size'],
      longDocuments: longDocumentArgs(argv),
      maxLength: argv['max-length'],
      device: commandDevice(argv.device, argv.dtype),
      dtype: argv.dtype,
    });
    try {
      const hits = await p.search(query, { retrieveK: argv['retrieve-k'], topK: argv['top-k'], fusion });
      console.log(argv.json ? JSON.stringify(hits, null, 2) : formatHits(hits));
    } finally {
      p.dispose();
    }
  },
};
