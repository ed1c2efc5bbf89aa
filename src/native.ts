// The whole native surface of the addon, as types. The rest of src/ reaches the addon only through
// this file (as node-llama-cpp does with its AddonTypes). Keep in step with native/bindings.cpp.
import path from 'node:path';
import fs from 'node:fs';

/** The model hyper-parameters the native core reads (resolved from config.json by hfconfig.ts). */
export interface NativeModelConfig {
  modelType: 'bert';
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  numLabels: number;
  padTokenId: number;
  layerNormEps: number;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  classifierDropout: number;
  initializerRange: number;
  hiddenAct: string;
}

/** A padded batch of token ids, row-major [batch, length]. */
export interface NativeTokenBatch {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array | null;
  batch: number;
  length: number;
}

export interface NativeLoadReport {
  /** Tensors in the file that the model does not use (ignored, as Hugging Face does). */
  unexpected: string[];
  /** Head parameters the file lacks, left freshly initialised. */
  initialized: string[];
}

export interface NativeCrossEncoder {
  /** Eval-mode logits, row-major [batch, numLabels]. */
  forward(batch: NativeTokenBatch): Promise<Float32Array>;
  loadWeights(safetensorsPath: string): Promise<NativeLoadReport>;
  saveWeights(safetensorsPath: string, metadata: Record<string, string>): Promise<void>;
  /** Frees the model once the jobs already queued for it are done. */
  dispose(): void;
}

export interface NativeRuntimeInfo {
  torchVersion: string;
  cudaAvailable: boolean;
  numThreads: number;
}

export interface NativeAddon {
  createModel(config: NativeModelConfig, options: { device: string; seed: number }): Promise<NativeCrossEncoder>;
  runtimeInfo(): NativeRuntimeInfo;
}

let cached: NativeAddon | undefined;

/** The addon, loaded on first use from build/Release (cmake-js's output). */
export function addon(): NativeAddon {
  if (cached) return cached;
  const root = path.resolve(__dirname, '..', '..');
  const file = path.join(root, 'build', 'Release', 'rrnative.node');
  if (!fs.existsSync(file)) {
    throw new Error(`rrnative: the native addon is not built (${file} is missing). Run \`npm run setup\` in ${root}.`);
  }
  cached = require(file) as NativeAddon;
  return cached;
}
