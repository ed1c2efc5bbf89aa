// Reading and writing Hugging Face `config.json` for the supported model families.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { NativeModelConfig } from './native';
import { formatZodError, readJsonFile } from './util';

export const SUPPORTED_ARCHITECTURES = ['BertForSequenceClassification'] as const;

const dtypeName = z.enum(['float32', 'float16', 'bfloat16', 'float64']);
const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);

// Keys we read; any other key (HF has dozens) is kept as it is and passed through on save.
const bertConfigSchema = z.looseObject({
  model_type: z.literal('bert'),
  architectures: z.array(z.string()).optional(),
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  intermediate_size: positiveInt,
  max_position_embeddings: positiveInt.default(512),
  type_vocab_size: z.number().int().nonnegative().default(2),
  layer_norm_eps: z.number().positive().default(1e-12),
  hidden_dropout_prob: probability.default(0.1),
  attention_probs_dropout_prob: probability.default(0.1),
  classifier_dropout: probability.nullable().default(null),
  initializer_range: z.number().positive().default(0.02),
  hidden_act: z.enum(['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'tanh', 'silu', 'swish']).default('gelu'),
  pad_token_id: z.number().int().nonnegative().nullable().default(0),
  num_labels: positiveInt.optional(),
  id2label: z.record(z.string(), z.string()).optional(),
  label2id: z.record(z.string(), z.number()).optional(),
  dtype: dtypeName.nullable().optional(),
  torch_dtype: dtypeName.nullable().optional(),
  position_embedding_type: z.literal('absolute').optional(),
}).refine((c) => c.hidden_size % c.num_attention_heads === 0, {
  message: 'hidden_size must be a multiple of num_attention_heads',
  path: ['hidden_size'],
});

export type HfConfig = Record<string, unknown>;

export interface ResolvedModelConfig {
  /** The config.json object as read, defaults filled in (written back on save). */
  raw: HfConfig;
  native: NativeModelConfig;
  labels: string[];
}

/** Parses a config.json object; `source` names the file in errors. */
export function resolveModelConfig(raw: unknown, source: string, overrides: { numLabels?: number } = {}): ResolvedModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  const obj = raw as HfConfig;
  const modelType = obj.model_type;
  if (typeof modelType !== 'string') {
    throw new Error(`${source}: required key "model_type" is missing (supported: bert)`);
  }
  if (modelType !== 'bert') {
    throw new Error(`${source}: model_type "${modelType}" is not supported (supported: bert)`);
  }
  const parsed = bertConfigSchema.safeParse(obj);
  if (!parsed.success) throw new Error(formatZodError(parsed.error, source));
  const c = parsed.data;
  const labelCount = overrides.numLabels ?? (c.id2label ? Object.keys(c.id2label).length : c.num_labels ?? 1);
  const labels = Array.from({ length: labelCount }, (_, i) => c.id2label?.[String(i)] ?? `LABEL_${i}`);
  const native: NativeModelConfig = {
    modelType: 'bert',
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    numHiddenLayers: c.num_hidden_layers,
    numAttentionHeads: c.num_attention_heads,
    intermediateSize: c.intermediate_size,
    maxPositionEmbeddings: c.max_position_embeddings,
    typeVocabSize: c.type_vocab_size,
    numLabels: labelCount,
    padTokenId: c.pad_token_id ?? 0,
    layerNormEps: c.layer_norm_eps,
    hiddenDropoutProb: c.hidden_dropout_prob,
    attentionProbsDropoutProb: c.attention_probs_dropout_prob,
    classifierDropout: c.classifier_dropout ?? c.hidden_dropout_prob,
    initializerRange: c.initializer_range,
    hiddenAct: c.hidden_act,
  };
  return { raw: { ...obj }, native, labels };
}

/** Reads `dir/config.json`; `configOverrides` replace keys of it (e.g. hidden_dropout_prob), as HF's from_pretrained kwargs. */
export function readModelConfig(dir: string, overrides: { numLabels?: number; configOverrides?: Record<string, unknown> } = {}): ResolvedModelConfig {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new Error(`${dir}: no config.json (expected a Hugging Face model folder)`);
  const raw = readJsonFile(file);
  const merged = overrides.configOverrides && typeof raw === 'object' && raw !== null ? { ...raw, ...overrides.configOverrides } : raw;
  return resolveModelConfig(merged, file, overrides);
}

/** The config.json to save: the original keys, with the classification head described as transformers expects. */
export function configForSave(config: ResolvedModelConfig): HfConfig {
  const out: HfConfig = { ...config.raw };
  out.architectures = ['BertForSequenceClassification'];
  out.model_type = 'bert';
  out.id2label = Object.fromEntries(config.labels.map((l, i) => [String(i), l]));
  out.label2id = Object.fromEntries(config.labels.map((l, i) => [l, i]));
  delete out.num_labels;  // transformers derives it from id2label
  // Weights are always written as float32; keep whichever dtype key the folder used.
  if ('torch_dtype' in out && !('dtype' in out)) out.torch_dtype = 'float32';
  else out.dtype = 'float32';
  return out;
}
