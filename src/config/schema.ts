// The training config (YAML) schema. `training` uses Hugging Face TrainingArguments names and defaults.
import { z } from 'zod';
import { DATA_FORMATS, RECORD_FIELDS } from '../data/records';
import { looksLikeHubId } from '../hub/models';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

const dataSourceSchema = z.strictObject({
  /** A local .jsonl(.gz) or .parquet file. */
  path: z.string().min(1).optional(),
  /** Or a Hugging Face dataset by name (microsoft/ms_marco, ms_marco, org/name@revision), read from its Parquet files. */
  hub: z.string().min(1).refine(looksLikeHubId, 'not a Hugging Face dataset id (org/name or name, optional @revision)').optional(),
  config: z.string().min(1).optional(),
  split: z.string().min(1).optional(),
  revision: z.string().min(1).optional(),
  /** rrnative's field → the dataset's column, e.g. { query: question, document: answer, label: score }. */
  columns: z.partialRecord(z.enum(RECORD_FIELDS), z.string().min(1)).optional(),
  format: z.enum(DATA_FORMATS).default('auto'),
  collection: z.string().min(1).optional(),
  queries: z.string().min(1).optional(),
  qrels: z.string().min(1).optional(),
  triples: z.string().min(1).optional(),
  top1000: z.string().min(1).optional(),
  /** Training: read at most this many source rows (the guide's select(range(N))); evaluation: this many queries. */
  max_records: positiveInt.optional(),
});

export const LOSSES = ['bce', 'mse', 'listwise_ce', 'margin_mse', 'distill_mse', 'lambda_loss'] as const;
export type LossName = (typeof LOSSES)[number];

export const trainingSchema = z.strictObject({
  output_dir: z.string().min(1),
  learning_rate: z.number().positive().default(5e-5),
  weight_decay: z.number().nonnegative().default(0),
  adam_beta1: z.number().min(0).lt(1).default(0.9),
  adam_beta2: z.number().min(0).lt(1).default(0.999),
  adam_epsilon: z.number().positive().default(1e-8),
  max_grad_norm: z.number().nonnegative().default(1.0),
  num_train_epochs: z.number().positive().default(3),
  max_steps: z.number().int().default(-1),
  warmup_steps: nonNegativeInt.default(0),
  warmup_ratio: z.number().min(0).max(1).default(0),
  lr_scheduler_type: z.enum(['linear', 'cosine', 'constant', 'constant_with_warmup']).default('linear'),
  per_device_train_batch_size: positiveInt.default(8),
  per_device_eval_batch_size: positiveInt.default(8),
  gradient_accumulation_steps: positiveInt.default(1),
  eval_strategy: z.enum(['no', 'steps', 'epoch']).default('no'),
  eval_steps: positiveInt.optional(),
  save_strategy: z.enum(['no', 'steps', 'epoch']).default('steps'),
  save_steps: positiveInt.default(500),
  save_total_limit: positiveInt.optional(),
  load_best_model_at_end: z.boolean().default(false),
  metric_for_best_model: z.string().min(1).optional(),
  greater_is_better: z.boolean().optional(),
  early_stopping_patience: positiveInt.optional(),
  logging_steps: positiveInt.default(500),
  seed: nonNegativeInt.default(42),
  bf16: z.boolean().default(false),
  /** HF's key: batches of pairs of similar length (little padding), ordered by length within runs of 50 batches. */
  group_by_length: z.boolean().default(false),
  /**
   * rrnative's own key: replay each training step as a CUDA graph (one per batch size, length bucket of 32 and
   * loss), which removes the host's per-kernel launch cost. CUDA, one process, any loss but lambda_loss.
   */
  cuda_graphs: z.boolean().default(false),
  /**
   * rrnative's own key: forward each batch's pairs sorted by length in up to this many slices, each padded only
   * to its own longest pair, when that saves work (a grouped loss pads a whole query group to the batch's
   * longest pair). Same logits. 'auto': 4 on the CPU and with cuda_graphs (both measured faster), 1 (off) on
   * eager CUDA steps (not measured). With cuda_graphs: equal runs of the length-sorted pairs, a graph per
   * combination of their bucketed lengths.
   */
  length_slices: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default('auto'),
  device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
  /** Data-parallel runs (--nproc, or torchrun's variables): the torch.distributed backend. Default nccl on CUDA, gloo on CPU. */
  ddp_backend: z.enum(['gloo', 'nccl']).optional(),
  /** Data-parallel runs: seconds the rendezvous and each collective wait for the other ranks before the job fails. */
  ddp_timeout: positiveInt.default(1800),
});

export type TrainingArgs = z.infer<typeof trainingSchema>;

const dataSchema = z.strictObject({
  train: dataSourceSchema.optional(),
  eval: dataSourceSchema.optional(),
  shuffle: z.boolean().default(true),
  train_group_size: positiveInt.default(8),
  on_bad_record: z.enum(['error', 'skip']).default('error'),
  cache_dir: z.string().min(1).default('.rrnative-cache'),
});

const lossSchema = z.union([
  z.enum(LOSSES),
  z.strictObject({ name: z.enum(LOSSES) }),
]).transform((l) => (typeof l === 'string' ? { name: l } : l));

const modelSchema = z.strictObject({
  /** A Hugging Face model folder to start from, or a Hub id (org/name, org/name@revision). */
  path: z.string().min(1).optional(),
  /** Or a new model: a config.json object (or a path to one) and a tokenizer folder (or the Hub id of a model's). */
  config: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
  tokenizer: z.string().min(1).optional(),
  /** For Hub ids: a branch, tag or commit (default main). */
  revision: z.string().min(1).optional(),
  max_length: positiveInt.default(512),
  num_labels: positiveInt.default(1),
  config_overrides: z.record(z.string(), z.unknown()).default({}),
  /** The prompt pairs are put in (Reranker.load's `template`): 'qwen3-reranker', or 'none'; default the model's. */
  template: z.enum(['qwen3-reranker', 'none']).optional(),
  /** The prompt template's instruction (Qwen3-Reranker's <Instruct>), for training and the saved model. */
  instruction: z.string().min(1).optional(),
}).refine((m) => Boolean(m.path) !== Boolean(m.config), {
  message: 'give either model.path (a Hugging Face folder) or model.config + model.tokenizer (a new model)',
}).refine((m) => !m.config || Boolean(m.tokenizer), { message: 'a new model (model.config) needs model.tokenizer', path: ['tokenizer'] });

// A stage overrides only the keys it names (zod's .partial() would fill in every default again).
function overridesOf<T extends z.ZodRawShape>(schema: z.ZodObject<T>) {
  return z.strictObject(Object.fromEntries(Object.entries(schema.shape).map(([key, field]) => {
    const inner = field instanceof z.ZodDefault ? field.unwrap() : field;
    return [key, (inner as z.ZodType).optional()];
  })));
}

export interface StageConfig {
  name?: string;
  data?: Partial<DataConfig>;
  loss?: { name: LossName };
  training?: Partial<Omit<TrainingArgs, 'output_dir'>>;
}

const stageSchema: z.ZodType<StageConfig> = z.strictObject({
  name: z.string().min(1).regex(/^[\w.-]+$/, 'use letters, digits, _ . -').optional(),
  data: overridesOf(dataSchema).optional(),
  loss: lossSchema.optional(),
  training: overridesOf(trainingSchema.omit({ output_dir: true })).optional(),
}) as unknown as z.ZodType<StageConfig>;

export const configSchema = z.strictObject({
  model: modelSchema,
  data: dataSchema,
  loss: lossSchema.default({ name: 'bce' }),
  training: trainingSchema,
  stages: z.array(stageSchema).min(1).optional(),
});

export type RunConfig = z.infer<typeof configSchema>;
/** A config as written (YAML or rr.train's object): the keys with defaults may be left out. */
export type TrainConfig = z.input<typeof configSchema>;
export type DataConfig = z.infer<typeof dataSchema>;
export type DataSourceConfig = z.infer<typeof dataSourceSchema>;
export type ModelConfigSection = z.infer<typeof modelSchema>;
