// The options of commands that load a model: --device (all of them), --dtype (the scoring ones).
import { resolveDevice, type Device, type DeviceRequest, type LongDocumentScoreOptions } from '../model';
import { DEFAULT_CHUNK_OVERLAP, DEFAULT_MAX_CHUNKS, type ChunkAggregate, type LongDocuments } from '../tokenize';
import type { NativeDtype } from '../native';

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
