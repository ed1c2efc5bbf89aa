// Reading and writing Hugging Face `config.json` for the supported model families.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { NativeModelConfig } from './native';
import { formatZodError, readJsonFile } from './util';

/** model_type → the sequence-classification class transformers loads for it. */
export const SUPPORTED_MODEL_TYPES = {
  bert: 'BertForSequenceClassification',
  roberta: 'RobertaForSequenceClassification',
  'xlm-roberta': 'XLMRobertaForSequenceClassification',
  electra: 'ElectraForSequenceClassification',
  'deberta-v2': 'DebertaV2ForSequenceClassification',
  modernbert: 'ModernBertForSequenceClassification',
  qwen3: 'Qwen3ForSequenceClassification',
  qwen2: 'Qwen2ForSequenceClassification',
} as const;

/** Decoder families' causal-LM classes, scored as Qwen3-Reranker scores them: logit("yes") - logit("no"). */
const CAUSAL_LM_CLASSES = { qwen3: 'Qwen3ForCausalLM', qwen2: 'Qwen2ForCausalLM' } as const;
export type ModelType = keyof typeof SUPPORTED_MODEL_TYPES;

const dtypeName = z.enum(['float32', 'float16', 'bfloat16', 'float64']);
const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);
const activation = z.enum(['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'tanh', 'silu', 'swish']);

// Keys shared by every family (HF's BertConfig names). Other keys are kept as they are and written back on save.
const commonKeys = {
  architectures: z.array(z.string()).optional(),
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  intermediate_size: positiveInt,
  max_position_embeddings: positiveInt.default(512),
  hidden_dropout_prob: probability.default(0.1),
  attention_probs_dropout_prob: probability.default(0.1),
  classifier_dropout: probability.nullable().default(null),
  initializer_range: z.number().positive().default(0.02),
  hidden_act: activation.default('gelu'),
  num_labels: positiveInt.optional(),
  id2label: z.record(z.string(), z.string()).optional(),
  label2id: z.record(z.string(), z.number()).optional(),
  dtype: dtypeName.nullable().optional(),
  torch_dtype: dtypeName.nullable().optional(),
  position_embedding_type: z.literal('absolute').optional(),
};

const bertLike = (modelType: z.ZodType, padDefault: number, extra: z.ZodRawShape = {}) => z.looseObject({
  ...commonKeys,
  model_type: modelType,
  type_vocab_size: z.number().int().nonnegative().default(2),
  layer_norm_eps: z.number().positive().default(1e-12),
  pad_token_id: z.number().int().nonnegative().nullable().default(padDefault),
  ...extra,
});

const schemas = {
  bert: bertLike(z.literal('bert'), 0),
  roberta: bertLike(z.enum(['roberta', 'xlm-roberta']), 1),
  electra: bertLike(z.literal('electra'), 0, { embedding_size: positiveInt.optional() }),
  'deberta-v2': z.looseObject({
    ...commonKeys,
    model_type: z.literal('deberta-v2'),
    type_vocab_size: z.number().int().nonnegative().default(0),
    layer_norm_eps: z.number().positive().default(1e-7),
    pad_token_id: z.number().int().nonnegative().nullable().default(0),
    embedding_size: positiveInt.optional(),
    position_biased_input: z.boolean().default(true),
    relative_attention: z.boolean().default(false),
    max_relative_positions: z.number().int().default(-1),
    position_buckets: z.number().int().default(-1),
    pos_att_type: z.union([z.array(z.enum(['p2c', 'c2p'])), z.string()]).nullable().default(null),
    share_att_key: z.boolean().default(false),
    norm_rel_ebd: z.string().default('none'),
    pooler_hidden_act: activation.default('gelu'),
    pooler_dropout: probability.default(0),
    pooler_hidden_size: positiveInt.optional(),
    cls_dropout: probability.nullable().optional(),
    conv_kernel_size: z.literal(0).optional(),
  }),
};

const theta = z.number().positive();
// HF 5.x writes rope_parameters ({rope_type, rope_theta}); configs on the Hub have the older top-level keys.
const ropeParameters = z.looseObject({ rope_type: z.string().default('default'), rope_theta: theta.optional() });

const modernBertSchema = z.looseObject({
  architectures: z.array(z.string()).optional(),
  model_type: z.literal('modernbert'),
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  intermediate_size: positiveInt,
  max_position_embeddings: positiveInt.default(8192),
  hidden_activation: activation.default('gelu'),
  initializer_range: z.number().positive().default(0.02),
  initializer_cutoff_factor: z.number().positive().nullable().default(2),
  norm_eps: z.number().positive().default(1e-5),
  norm_bias: z.boolean().default(false),
  pad_token_id: z.number().int().nonnegative().nullable().default(50283),
  global_rope_theta: theta.default(160000),
  local_rope_theta: theta.default(10000),
  rope_parameters: z.record(z.string(), ropeParameters).nullable().optional(),
  rope_scaling: z.null().optional(),
  global_attn_every_n_layers: positiveInt.default(3),
  layer_types: z.array(z.enum(['full_attention', 'sliding_attention'])).optional(),
  local_attention: positiveInt.default(128),
  attention_bias: z.boolean().default(false),
  attention_dropout: probability.default(0),
  embedding_dropout: probability.default(0),
  mlp_bias: z.boolean().default(false),
  mlp_dropout: probability.default(0),
  classifier_pooling: z.enum(['cls', 'mean']).default('cls'),
  classifier_dropout: probability.default(0),
  classifier_bias: z.boolean().default(false),
  classifier_activation: activation.default('gelu'),
  num_labels: positiveInt.optional(),
  id2label: z.record(z.string(), z.string()).optional(),
  label2id: z.record(z.string(), z.number()).optional(),
});

const qwenSchema = z.looseObject({
  architectures: z.array(z.string()).optional(),
  model_type: z.enum(['qwen3', 'qwen2']),
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.nullable().optional(),
  head_dim: positiveInt.nullable().optional(),
  intermediate_size: positiveInt,
  max_position_embeddings: positiveInt.default(32768),
  hidden_act: activation.default('silu'),
  initializer_range: z.number().positive().default(0.02),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: theta.optional(),
  rope_parameters: ropeParameters.nullable().optional(),
  rope_scaling: z.looseObject({ rope_type: z.string().optional(), type: z.string().optional() }).nullable().optional(),
  attention_bias: z.boolean().default(false),
  attention_dropout: probability.default(0),
  use_sliding_window: z.boolean().default(false),
  tie_word_embeddings: z.boolean().default(false),
  pad_token_id: z.number().int().nonnegative().nullable().optional(),
  num_labels: positiveInt.optional(),
  id2label: z.record(z.string(), z.string()).optional(),
  label2id: z.record(z.string(), z.number()).optional(),
});

export type HfConfig = Record<string, unknown>;

export interface ResolvedModelConfig {
  /** The config.json object as read (written back on save). */
  raw: HfConfig;
  modelType: ModelType;
  native: NativeModelConfig;
  labels: string[];
  /** The longest input the position embeddings allow. */
  maxTokens: number;
  /** The class transformers loads the saved folder as (config.json's architectures). */
  architecture: string;
  /** Decoders (Qwen): read at the last real token, pairs padded on either side. */
  decoder: boolean;
  /** Keys the file wrote as floats (configJson keeps them so). */
  floatKeys?: Set<string>;
}

/** Options of the decoder rerankers that config.json does not hold. */
export interface DecoderOptions {
  /** The ids of the "yes" and "no" tokens (a *ForCausalLM reranker), from the tokenizer. */
  yesTokenId?: number;
  noTokenId?: number;
}

/** Parses a config.json object; `source` names the file in errors. */
export function resolveModelConfig(raw: unknown, source: string, overrides: { numLabels?: number } & DecoderOptions = {}): ResolvedModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  const obj = raw as HfConfig;
  const supported = Object.keys(SUPPORTED_MODEL_TYPES).join(', ');
  const modelType = obj.model_type;
  if (typeof modelType !== 'string') throw new Error(`${source}: required key "model_type" is missing (supported: ${supported})`);
  if (!(modelType in SUPPORTED_MODEL_TYPES)) {
    throw new Error(`${source}: model_type "${modelType}" is not supported (supported: ${supported})`);
  }
  if (modelType === 'modernbert') return resolveModernBert(obj, source, overrides);
  if (modelType === 'qwen3' || modelType === 'qwen2') return resolveQwen(obj, source, overrides);
  const family = modelType === 'xlm-roberta' ? 'roberta' : (modelType as keyof typeof schemas);
  const parsed = schemas[family].safeParse(obj);
  if (!parsed.success) throw new Error(formatZodError(parsed.error, source));
  const c = parsed.data as z.infer<typeof schemas['deberta-v2']> & { type_vocab_size: number; embedding_size?: number };
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new Error(`${source}: hidden_size: ${c.hidden_size} must be a multiple of num_attention_heads (${c.num_attention_heads})`);
  }
  if (family === 'deberta-v2' && c.pooler_hidden_size !== undefined && c.pooler_hidden_size !== c.hidden_size) {
    throw new Error(`${source}: pooler_hidden_size: only pooler_hidden_size = hidden_size is supported`);
  }
  const { labelCount, labels } = labelsOf(c, overrides);
  const posAtt = typeof c.pos_att_type === 'string' ? c.pos_att_type.toLowerCase().split('|').map((s) => s.trim()) : (c.pos_att_type ?? []);
  const padTokenId = c.pad_token_id ?? 0;
  const native: NativeModelConfig = {
    modelType: family === 'roberta' ? 'roberta' : family,
    ...sizesOf(c),
    embeddingSize: c.embedding_size ?? c.hidden_size,
    typeVocabSize: c.type_vocab_size,
    numLabels: labelCount,
    padTokenId,
    layerNormEps: c.layer_norm_eps,
    hiddenDropoutProb: c.hidden_dropout_prob,
    attentionProbsDropoutProb: c.attention_probs_dropout_prob,
    classifierDropout: (family === 'deberta-v2' ? c.cls_dropout : c.classifier_dropout) ?? c.hidden_dropout_prob,
    initializerRange: c.initializer_range,
    hiddenAct: c.hidden_act,
    positionBiasedInput: family === 'deberta-v2' ? c.position_biased_input : true,
    relativeAttention: family === 'deberta-v2' && c.relative_attention,
    maxRelativePositions: family === 'deberta-v2' ? c.max_relative_positions : -1,
    positionBuckets: family === 'deberta-v2' ? c.position_buckets : -1,
    c2p: posAtt.includes('c2p'),
    p2c: posAtt.includes('p2c'),
    shareAttKey: family === 'deberta-v2' && c.share_att_key,
    normRelEmbedding: family === 'deberta-v2' && c.norm_rel_ebd.split('|').map((s) => s.trim()).includes('layer_norm'),
    poolerHiddenAct: family === 'deberta-v2' ? c.pooler_hidden_act : 'tanh',
    poolerDropout: family === 'deberta-v2' ? c.pooler_dropout : 0,
  };
  // RoBERTa's positions start after padding_idx, so padding_idx + 1 of them are never used by tokens.
  const maxTokens = family === 'roberta' ? c.max_position_embeddings - padTokenId - 1 : c.max_position_embeddings;
  return { raw: { ...obj }, modelType: modelType as ModelType, native, labels, maxTokens, architecture: SUPPORTED_MODEL_TYPES[modelType as ModelType], decoder: false };
}

function labelsOf(c: { id2label?: Record<string, string>; num_labels?: number }, overrides: { numLabels?: number }): { labelCount: number; labels: string[] } {
  const labelCount = overrides.numLabels ?? (c.id2label ? Object.keys(c.id2label).length : c.num_labels ?? 1);
  return { labelCount, labels: Array.from({ length: labelCount }, (_, i) => c.id2label?.[String(i)] ?? `LABEL_${i}`) };
}

// The sizes every family's config.json names alike.
function sizesOf(c: { vocab_size: number; hidden_size: number; num_hidden_layers: number; num_attention_heads: number; intermediate_size: number; max_position_embeddings: number }):
  Pick<NativeModelConfig, 'vocabSize' | 'hiddenSize' | 'numHiddenLayers' | 'numAttentionHeads' | 'intermediateSize' | 'maxPositionEmbeddings'> {
  return {
    vocabSize: c.vocab_size, hiddenSize: c.hidden_size, numHiddenLayers: c.num_hidden_layers, numAttentionHeads: c.num_attention_heads,
    intermediateSize: c.intermediate_size, maxPositionEmbeddings: c.max_position_embeddings,
  };
}

// The neutral values of the BERT-family keys, for the families that have none of them.
const bertNeutral = {
  embeddingSize: 0, typeVocabSize: 0, hiddenDropoutProb: 0, positionBiasedInput: true, relativeAttention: false, maxRelativePositions: -1,
  positionBuckets: -1, c2p: false, p2c: false, shareAttKey: false, normRelEmbedding: false, poolerHiddenAct: 'tanh', poolerDropout: 0,
};

function resolveModernBert(obj: HfConfig, source: string, overrides: { numLabels?: number }): ResolvedModelConfig {
  const parsed = modernBertSchema.safeParse(obj);
  if (!parsed.success) throw new Error(formatZodError(parsed.error, source));
  const c = parsed.data;
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new Error(`${source}: hidden_size: ${c.hidden_size} must be a multiple of num_attention_heads (${c.num_attention_heads})`);
  }
  if (c.layer_types && c.layer_types.length !== c.num_hidden_layers) {
    throw new Error(`${source}: layer_types: ${c.layer_types.length} entries for num_hidden_layers ${c.num_hidden_layers}`);
  }
  for (const [kind, p] of Object.entries(c.rope_parameters ?? {})) {
    if (p.rope_type !== 'default') throw new Error(`${source}: rope_parameters.${kind}.rope_type: only "default" RoPE is supported, got "${p.rope_type}"`);
  }
  const localLayers = c.layer_types ? c.layer_types.map((t) => t === 'sliding_attention')
    : Array.from({ length: c.num_hidden_layers }, (_, i) => i % c.global_attn_every_n_layers !== 0);
  const { labelCount, labels } = labelsOf(c, overrides);
  const native: NativeModelConfig = {
    ...bertNeutral,
    modelType: 'modernbert',
    ...sizesOf(c),
    numLabels: labelCount,
    padTokenId: c.pad_token_id ?? -1,
    layerNormEps: c.norm_eps,
    attentionProbsDropoutProb: c.attention_dropout,
    classifierDropout: c.classifier_dropout,
    initializerRange: c.initializer_range,
    hiddenAct: c.hidden_activation,
    normBias: c.norm_bias,
    attentionBias: c.attention_bias,
    mlpBias: c.mlp_bias,
    classifierBias: c.classifier_bias,
    globalRopeTheta: c.rope_parameters?.full_attention?.rope_theta ?? c.global_rope_theta,
    localRopeTheta: c.rope_parameters?.sliding_attention?.rope_theta ?? c.local_rope_theta,
    localLayers,
    localAttention: c.local_attention,
    meanPooling: c.classifier_pooling === 'mean',
    classifierActivation: c.classifier_activation,
    embeddingDropout: c.embedding_dropout,
    mlpDropout: c.mlp_dropout,
  };
  return { raw: { ...obj }, modelType: 'modernbert', native, labels, maxTokens: c.max_position_embeddings, architecture: SUPPORTED_MODEL_TYPES.modernbert, decoder: false };
}

function resolveQwen(obj: HfConfig, source: string, overrides: { numLabels?: number } & DecoderOptions): ResolvedModelConfig {
  const parsed = qwenSchema.safeParse(obj);
  if (!parsed.success) throw new Error(formatZodError(parsed.error, source));
  const c = parsed.data;
  const family = c.model_type;
  const kvHeads = c.num_key_value_heads ?? c.num_attention_heads;
  if (c.num_attention_heads % kvHeads !== 0) {
    throw new Error(`${source}: num_key_value_heads: ${kvHeads} must divide num_attention_heads (${c.num_attention_heads})`);
  }
  // Qwen3Config's head_dim defaults to 128; Qwen2 splits the hidden size.
  const headDim = c.head_dim ?? (family === 'qwen3' ? 128 : c.hidden_size / c.num_attention_heads);
  if (!Number.isInteger(headDim)) throw new Error(`${source}: hidden_size: ${c.hidden_size} must be a multiple of num_attention_heads (${c.num_attention_heads})`);
  const ropeType = c.rope_parameters?.rope_type ?? c.rope_scaling?.rope_type ?? c.rope_scaling?.type ?? 'default';
  if (ropeType !== 'default') throw new Error(`${source}: rope_parameters: only "default" RoPE is supported, got rope_type "${ropeType}"`);
  if (c.use_sliding_window) throw new Error(`${source}: use_sliding_window: sliding-window attention is not supported for ${family} (set it to false)`);
  const architecture = c.architectures?.[0] ?? SUPPORTED_MODEL_TYPES[family];
  const yesNo = architecture.endsWith('ForCausalLM');
  if (!yesNo && !architecture.endsWith('ForSequenceClassification')) {
    throw new Error(`${source}: architectures: "${architecture}" is not a reranker class (${SUPPORTED_MODEL_TYPES[family]}, or ${CAUSAL_LM_CLASSES[family]} scored by the logits of "yes" and "no")`);
  }
  const { labelCount, labels } = yesNo ? { labelCount: 1, labels: ['yes'] } : labelsOf(c, overrides);
  if (yesNo && overrides.numLabels !== undefined && overrides.numLabels !== 1) {
    throw new Error(`${source}: a ${architecture} reranker has one score (yes - no); num_labels ${overrides.numLabels} needs ${SUPPORTED_MODEL_TYPES[family]}`);
  }
  const native: NativeModelConfig = {
    ...bertNeutral,
    modelType: family,
    ...sizesOf(c),
    numLabels: labelCount,
    padTokenId: c.pad_token_id ?? -1,
    layerNormEps: c.rms_norm_eps,
    attentionProbsDropoutProb: c.attention_dropout,
    classifierDropout: 0,
    initializerRange: c.initializer_range,
    hiddenAct: c.hidden_act,
    numKeyValueHeads: kvHeads,
    headDim,
    ropeTheta: c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000,
    qkNorm: family === 'qwen3',
    // Qwen2's q/k/v always carry biases and its o_proj none; Qwen3's four follow attention_bias.
    qkvBias: family === 'qwen2' || c.attention_bias,
    attentionBias: family === 'qwen3' && c.attention_bias,
    tieWordEmbeddings: c.tie_word_embeddings,
    decoderHead: yesNo ? 'yes_no' : 'score',
    ...(yesNo ? { yesTokenId: overrides.yesTokenId ?? -1, noTokenId: overrides.noTokenId ?? -1 } : {}),
  };
  return {
    raw: { ...obj }, modelType: family, native, labels, maxTokens: c.max_position_embeddings,
    architecture: yesNo ? CAUSAL_LM_CLASSES[family] : SUPPORTED_MODEL_TYPES[family], decoder: true,
  };
}

/** Reads `dir/config.json`; `configOverrides` replace keys of it (e.g. hidden_dropout_prob), as HF's from_pretrained kwargs. */
export function readModelConfig(dir: string, overrides: { numLabels?: number; configOverrides?: Record<string, unknown> } & DecoderOptions = {}): ResolvedModelConfig {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new Error(`${dir}: no config.json (expected a Hugging Face model folder)`);
  const raw = readJsonFile(file);
  const merged = overrides.configOverrides && typeof raw === 'object' && raw !== null ? { ...raw, ...overrides.configOverrides } : raw;
  return { ...resolveModelConfig(merged, file, overrides), floatKeys: floatKeysOf(fs.readFileSync(file, 'utf8')) };
}

/**
 * The prompt template a saved folder was trained and scored with (config.json's `rrnative_prompt`, which
 * transformers keeps as an unused attribute), so that loading it again puts pairs in the same prompt.
 */
export interface SavedPrompt { template: 'qwen3-reranker' | 'none'; instruction?: string }

export function savedPrompt(config: ResolvedModelConfig, source: string): SavedPrompt | undefined {
  const saved = config.raw.rrnative_prompt;
  if (saved === undefined || saved === null) return undefined;
  const parsed = z.strictObject({ template: z.enum(['qwen3-reranker', 'none']), instruction: z.string().optional() }).safeParse(saved);
  if (!parsed.success) throw new Error(formatZodError(parsed.error, `${source} (rrnative_prompt)`));
  return parsed.data;
}

// Keys transformers 5's config classes type as float: written as 2.0, not 2, or its strict dataclass check refuses
// them (initializer_cutoff_factor 2, global_rope_theta 160000). JSON.parse forgets which numbers had a point, so
// floats are known by name, and by the file they were read from (floatKeysOf).
const FLOAT_KEY = /(dropout|_eps|_theta|initializer_range|_factor|_prob)$/;

/** The keys whose numbers were written with a decimal point or an exponent in a config.json text. */
export function floatKeysOf(text: string): Set<string> {
  const keys = new Set<string>();
  for (const m of text.matchAll(/"([^"\\]+)"\s*:\s*-?\d+(\.\d+)?([eE][-+]?\d+)?/g)) if (m[2] || m[3]) keys.add(m[1]);
  return keys;
}

/** config.json's text: float keys with integral values keep their decimal point. */
export function configJson(config: HfConfig, floatKeys: ReadonlySet<string> = new Set()): string {
  const marker = '\u0000rrnative-float:';
  const text = JSON.stringify(config, (key, value) =>
    (typeof value === 'number' && Number.isInteger(value) && (FLOAT_KEY.test(key) || floatKeys.has(key)) ? `${marker}${value}` : value), 2);
  return text.replace(/"\\u0000rrnative-float:(-?\d+)"/g, '$1.0') + '\n';
}

/** The config.json to save: the original keys, with the classification head described as transformers expects. */
export function configForSave(config: ResolvedModelConfig, prompt?: SavedPrompt): HfConfig {
  const out: HfConfig = { ...config.raw };
  if (prompt) out.rrnative_prompt = prompt;
  else delete out.rrnative_prompt;
  out.architectures = [config.architecture];
  out.model_type = config.modelType;
  out.id2label = Object.fromEntries(config.labels.map((l, i) => [String(i), l]));
  out.label2id = Object.fromEntries(config.labels.map((l, i) => [l, i]));
  delete out.num_labels;  // transformers derives it from id2label
  // Weights are always written as float32; keep whichever dtype key the folder used.
  if ('torch_dtype' in out && !('dtype' in out)) out.torch_dtype = 'float32';
  else out.dtype = 'float32';
  return out;
}
