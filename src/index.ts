// rrnative's public API: load a cross-encoder, score and rank pairs, save Hugging Face folders.
import path from 'node:path';
import { Reranker, type LoadOptions, type ScoreOptions } from './model';
import { addon, type NativeRuntimeInfo } from './native';
import { loadConfig, validateConfig } from './config/load';
import type { TrainConfig } from './config/schema';
import { train as runTraining, type TrainOptions as TrainerOptions, type TrainResult } from './train/trainer';
import type { Pair } from './validate';

export { Reranker } from './model';
export type { CreateOptions, Device, LoadOptions, RankOptions, RankedDocument, ScoreOptions, TokenInput } from './model';
export type { Pair } from './validate';
export { ConfigError } from './config/load';
export type { RunConfig, TrainConfig, TrainingArgs } from './config/schema';
export { TrainingAborted } from './train/trainer';
export type { LogEntry, TrainResult } from './train/trainer';
export { pipeline, fuseScores, parseFusion } from './retrieve/pipeline';
export type { Fusion, Pipeline, PipelineHit, PipelineOptions, PipelineSearchOptions } from './retrieve/pipeline';
export { evaluateRetrieval, runRetrievalEval, formatRetrievalEval } from './retrieve/evaluate';
export type { EvaluateRetrievalOptions, RetrievalEvaluation, RetrievalEvalReport, RetrievalMetrics, RunRetrievalEvalOptions } from './retrieve/evaluate';
export { mineHardNegatives, mineToFile } from './retrieve/mine';
export type { MineFileOptions, MineOptions, MineStats, MinedGroup } from './retrieve/mine';
export { labelGrouped } from './retrieve/label';
export type { LabelOptions, LabelStats } from './retrieve/label';
export { loadCorpus, corpusFromArray, readQueries } from './retrieve/corpus';
export type { Corpus, CorpusInput, PositiveRef, QueryWithPositives } from './retrieve/corpus';
import { Embedder, type EmbedderLoadOptions } from './retrieve/embedder';
export { Embedder };
export type { EmbedderLoadOptions };
export type { EmbedOptions } from './retrieve/embedder';
export { Bm25Retriever, DenseRetriever, HybridRetriever, embedCorpus, fuseLists, openRetriever, parseHybridFusion } from './retrieve/retriever';
export type { HybridFusion, OpenRetrieverOptions, RetrievalHit, Retriever, RetrieverKind } from './retrieve/retriever';
export { ExactIndex, UsearchIndex } from './retrieve/vector-index';
export type { ExactIndexOptions, UsearchIndexOptions, VectorStorage } from './retrieve/vector-index';
export type { VectorHit, VectorMetric, VectorStore } from './retrieve/vector-store';
export { openIndexFolder, readIndexMetadata, writeIndexFolder } from './retrieve/index-file';
export type { IndexMetadata, OpenIndexOptions, WriteIndexOptions } from './retrieve/index-file';

/** Loads a Hugging Face model folder, or a model by its Hub id (`org/name`, `org/name@revision`) through the HF cache. */
export function load(dir: string, options: LoadOptions = {}): Promise<Reranker> {
  return Reranker.load(dir, options);
}

/**
 * Loads an embedding model: a sentence-transformers folder (modules.json, Pooling, Normalize, prompts) or a plain
 * encoder folder (mean pooling), or a Hub id of one. `embed(texts, {prompt | promptName, batchSize, normalize})`.
 */
export function loadEmbedder(dir: string, options: EmbedderLoadOptions = {}): Promise<Embedder> {
  return Embedder.load(dir, options);
}

/** Creates a freshly initialised model (see Reranker.create). */
export const create = Reranker.create;

export interface TopLevelScoreOptions extends ScoreOptions, LoadOptions {
  /** Model folder or Hub id; defaults to the RRNATIVE_MODEL environment variable. */
  model?: string;
}

const modelCache = new Map<string, Promise<Reranker>>();

/** Scores pairs with a model loaded once per (folder, device, maxLength, dtype) and cached. */
export async function score(pairs: readonly Pair[], options: TopLevelScoreOptions = {}): Promise<number[]> {
  const dir = options.model ?? process.env.RRNATIVE_MODEL;
  if (!dir) {
    throw new TypeError('rrnative.score: no model given: pass options.model (a Hugging Face model folder) or set RRNATIVE_MODEL');
  }
  const key = JSON.stringify([path.resolve(dir), options.revision ?? null, options.device ?? 'cpu', options.maxLength ?? null, options.dtype ?? 'fp32']);
  let model = modelCache.get(key);
  if (!model) {
    model = Reranker.load(dir, { device: options.device, maxLength: options.maxLength, seed: options.seed, dtype: options.dtype,
      revision: options.revision, localFilesOnly: options.localFilesOnly });
    modelCache.set(key, model);
    model.catch(() => modelCache.delete(key));  // a failed load is not cached
  }
  return (await model).score(pairs, options);
}

export interface TrainOptions extends Omit<TrainerOptions, 'distributed'> {
  /** `--set`-style overrides of a YAML config's keys: ['training.max_steps=10']. */
  set?: string[];
}

/**
 * Trains a reranker: the trainer `rrtrain <config.yaml>` runs, from a YAML file's path or a config object (the
 * same keys). Resolves to the output folder, the logged entries and the final eval metrics. `onLog` receives each
 * entry as it is logged; `signal` stops the run at the next step with a checkpoint written (rejects with
 * TrainingAborted; `resume: true` continues it). Messages go to `log` (default console.log); no progress bar
 * unless `progress` asks for one.
 */
export async function train(config: string | TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const { set, ...rest } = options;
  if (typeof config !== 'string' && set?.length) throw new TypeError('rrnative.train: options.set applies to a YAML config path; edit the object instead');
  const resolved = typeof config === 'string' ? loadConfig(config, set ?? []) : validateConfig(config);
  return runTraining(resolved, { progress: 'none', ...rest });
}

/** Frees the models cached by score(). */
export async function clearCache(): Promise<void> {
  const models = [...modelCache.values()];
  modelCache.clear();
  for (const m of models) (await m.catch(() => null))?.dispose();
}

/** LibTorch version, CUDA availability and the native thread count. */
export function runtimeInfo(): NativeRuntimeInfo {
  return addon().runtimeInfo();
}
