// The options of commands that load a model: --device (all of them), --dtype (the scoring ones).
import { resolveDevice, type Device, type DeviceRequest, type LongDocumentScoreOptions } from '../model';
import { DEFAULT_CHUNK_OVERLAP, DEFAULT_MAX_CHUNKS, type ChunkAggregate, type LongDocuments } from '../tokenize';
import type { NativeDtype } from '../native';
import { parseHybridFusion, type OpenRetrieverOptions, type RetrieverKind } from '../retrieve/retriever';

export const deviceOption = {
  type: 'string', choices: ['auto', 'cpu', 'cuda'], default: 'auto',
  describe: 'auto: CUDA when LibTorch sees a GPU, else the CPU',
} as const;

export const dtypeOption = {
  type: 'string', choices: ['fp32', 'bf16', 'int8'], default: 'fp32',
  describe: 'bf16: bf16 weights for inference (half the memory; scores within ~1e-2 of fp32; meant for CUDA); ' +
    'int8: int8 products on the CPU (dynamic quantization: faster, scores within ~1e-2 of fp32)',
} as const;

/** How the scoring commands treat documents longer than the model's window (Reranker.score's long-document options). */
export const longDocumentOptions = {
  'long-documents': { type: 'string', choices: ['truncate', 'chunk'], default: 'truncate', describe: 'a document longer than the window after the query: cut it, or score overlapping chunks and aggregate' },
  'max-chunks': { type: 'number', default: DEFAULT_MAX_CHUNKS, describe: 'chunking: windows per document at most' },
  'chunk-overlap': { type: 'number', default: DEFAULT_CHUNK_OVERLAP, describe: 'chunking: tokens a window shares with the one before (at most half a window)' },
  'chunk-aggregate': { type: 'string', choices: ['max', 'first', 'mean'], default: 'max', describe: 'chunking: a document\'s score from its chunks\' (max: MaxP)' },
} as const;

export interface LongDocumentArgs {
  'long-documents': LongDocuments;
  'max-chunks': number;
  'chunk-overlap': number;
  'chunk-aggregate': ChunkAggregate;
}

export function longDocumentArgs(argv: LongDocumentArgs): LongDocumentScoreOptions {
  const count = (flag: 'max-chunks' | 'chunk-overlap', min: number) => {
    const v = argv[flag];
    if (!Number.isInteger(v) || v < min) throw new Error(`--${flag} must be a whole number >= ${min}, got ${v}`);
    return v;
  };
  return {
    longDocuments: argv['long-documents'], maxChunks: count('max-chunks', 1), chunkOverlap: count('chunk-overlap', 0), aggregate: argv['chunk-aggregate'],
  };
}

export function commandDevice(requested: DeviceRequest, dtype?: NativeDtype): Device {
  return resolveDevice(requested, '--device', dtype);
}

/** The first-stage options of search, mine and eval: --retriever, --embedder, --index, --hybrid. */
export const retrieverOptions = {
  retriever: { type: 'string', choices: ['bm25', 'dense', 'hybrid'], default: 'bm25', describe: 'first stage: BM25, an embedding model (--embedder), or both fused (--hybrid)' },
  embedder: { type: 'string', describe: 'dense / hybrid: a sentence-transformers model folder or Hub id' },
  index: { type: 'string', describe: 'dense / hybrid: an index folder from `rrtrain index` for this corpus and embedder (default: embed the corpus now)' },
  'index-search': { type: 'string', choices: ['exact', 'usearch'], default: 'exact', describe: 'with --index: exact search, or the saved usearch HNSW graph (approximate)' },
  hybrid: { type: 'string', describe: 'hybrid fusion of the BM25 and dense lists: rrf[:k] (default rrf:60) or linear[:weight] (the dense weight, default 0.5)' },
  'embed-batch-size': { type: 'number', default: 32, describe: 'dense / hybrid: texts per embedding forward' },
} as const;

export interface RetrieverArgs {
  retriever: RetrieverKind;
  embedder?: string;
  index?: string;
  'index-search': 'exact' | 'usearch';
  hybrid?: string;
  'embed-batch-size': number;
}

/** The retriever options as openRetriever takes them; flags that do not fit the retriever are errors. */
export function retrieverArgs(argv: RetrieverArgs, device: Device): Omit<OpenRetrieverOptions, 'corpus'> {
  const kind = argv.retriever;
  if (kind === 'bm25') {
    for (const flag of ['embedder', 'index', 'hybrid'] as const) {
      if (argv[flag] !== undefined) throw new Error(`--${flag} needs --retriever dense or hybrid (the retriever is bm25)`);
    }
  } else if (argv.embedder === undefined) {
    throw new Error(`--retriever ${kind} needs --embedder (a sentence-transformers folder or Hub id)`);
  }
  if (kind === 'dense' && argv.hybrid !== undefined) throw new Error('--hybrid needs --retriever hybrid (the retriever is dense)');
  if (argv['index-search'] === 'usearch' && argv.index === undefined) throw new Error('--index-search usearch needs --index DIR (an index folder built with `rrtrain index … --ann usearch`)');
  if (!Number.isInteger(argv['embed-batch-size']) || argv['embed-batch-size'] < 1) {
    throw new Error(`--embed-batch-size must be a whole number >= 1, got ${argv['embed-batch-size']}`);
  }
  return {
    retriever: kind,
    embedder: argv.embedder,
    index: argv.index,
    indexSearch: argv['index-search'],
    hybrid: argv.hybrid !== undefined ? parseHybridFusion(argv.hybrid, '--hybrid') : undefined,
    device,
    embedBatchSize: argv['embed-batch-size'],
  };
}
