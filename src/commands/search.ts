// `rrtrain search`: first-stage retrieval (BM25, dense or hybrid) over a corpus, reranked by a cross-encoder;
// prints a table or JSON.
import type { CommandModule } from 'yargs';
import { loadCorpus } from '../retrieve/corpus';
import { parseFusion, pipeline, type PipelineHit } from '../retrieve/pipeline';
import { openRetriever, type RetrieverKind } from '../retrieve/retriever';
import type { DeviceRequest } from '../model';
import type { NativeDtype } from '../native';
import {
  commandDevice, deviceOption, dtypeOption, longDocumentArgs, longDocumentOptions, retrieverArgs, retrieverOptions, type LongDocumentArgs, type RetrieverArgs,
} from './load-options';

interface Args extends LongDocumentArgs, RetrieverArgs {
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

const num = (v: number | undefined, digits: number, width: number): string => (v === undefined ? '-' : v.toFixed(digits)).padStart(width);

/** The hits as a table: the final and rerank scores, then the first stage's (hybrid: fused, BM25, dense; '-' where a list missed the document). */
export function formatHits(hits: readonly PipelineHit[], retriever: RetrieverKind = 'bm25'): string {
  if (hits.length === 0) return '(no document matches the query)';
  const idWidth = Math.min(30, Math.max(2, ...hits.map((h) => (h.id ?? String(h.index)).length)));
  const hybrid = retriever === 'hybrid';
  const dense = retriever !== 'bm25';
  const bm25 = retriever !== 'dense';
  const header = [`${'#'.padStart(3)}`, `${'score'.padStart(9)}`, `${'rerank'.padStart(9)}`];
  if (hybrid) header.push('hybrid'.padStart(8));
  if (bm25) header.push('bm25'.padStart(8));
  if (dense) header.push('dense'.padStart(8));
  const lines = [[...header, 'id'.padEnd(idWidth), 'document'].join('  ')];
  hits.forEach((h, i) => {
    const cells = [String(i + 1).padStart(3), num(h.score, 4, 9), num(h.rerankScore, 4, 9)];
    if (hybrid) cells.push(num(h.retrievalScore, 4, 8));
    if (bm25) cells.push(num(h.bm25Score, 3, 8));
    if (dense) cells.push(num(h.denseScore, 4, 8));
    lines.push([...cells, oneLine(h.id ?? String(h.index), idWidth).padEnd(idWidth), oneLine(h.document, 80)].join('  '));
  });
  return lines.join('\n');
}

export const searchCommand: CommandModule<object, Args> = {
  command: 'search <query..>',
  describe: 'retrieve (BM25, dense or hybrid) and rerank with a cross-encoder: rrtrain search --model DIR --corpus FILE|debdesc [--retriever hybrid --embedder E] "query"',
  builder: (y) => y
    .positional('query', { type: 'string', array: true, demandOption: true, describe: 'the query (several words are joined with spaces)' })
    .option('model', { type: 'string', demandOption: true, describe: 'reranker model folder' })
    .option('corpus', { type: 'string', demandOption: true, describe: 'debdesc[:split], a JSONL of {id?, text} / {id?, document}, or a .txt (one document a line)' })
    .option('retrieve-k', { type: 'number', default: 100, describe: 'first-stage candidates to rerank' })
    .option('top-k', { type: 'number', default: 10, describe: 'results to print' })
    .option('fusion', { type: 'string', describe: 'combine with the first stage: linear[:weight] (weight of the reranker, default 0.5) or rrf[:k] (default 60); default: plain reranking' })
    .option('json', { type: 'boolean', default: false, describe: 'print a JSON array' })
    .option('k1', { type: 'number' })
    .option('b', { type: 'number' })
    .option('batch-size', { type: 'number', default: 64 })
    .option('max-length', { type: 'number' })
    .options(longDocumentOptions)
    .options(retrieverOptions)
    .option('device', deviceOption)
    .option('dtype', dtypeOption) as never,
  handler: async (argv) => {
    const query = argv.query.map(String).join(' ');
    if (query.trim() === '') throw new Error('search: the query is empty');
    const fusion = argv.fusion ? parseFusion(argv.fusion) : undefined;
    const corpus = await loadCorpus(argv.corpus);
    const device = commandDevice(argv.device, argv.dtype);
    const retriever = await openRetriever({ corpus, ...retrieverArgs(argv, device), k1: argv.k1, b: argv.b });
    const p = await pipeline({
      corpus,
      retriever,
      reranker: argv.model,
      batchSize: argv['batch-size'],
      longDocuments: longDocumentArgs(argv),
      maxLength: argv['max-length'],
      device,
      dtype: argv.dtype,
    }).catch(async (err) => {
      await retriever.dispose();
      throw err;
    });
    try {
      const hits = await p.search(query, { retrieveK: argv['retrieve-k'], topK: argv['top-k'], fusion });
      console.log(argv.json ? JSON.stringify(hits, null, 2) : formatHits(hits, retriever.kind));
    } finally {
      await p.dispose();
      await retriever.dispose();
    }
  },
};
