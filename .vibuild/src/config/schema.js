"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.configSchema = exports.trainingSchema = exports.LOSSES = void 0;
// The training config (YAML) schema. `training` uses Hugging Face TrainingArguments names and defaults.
const zod_1 = require("zod");
const records_1 = require("../data/records");
const models_1 = require("../hub/models");
const positiveInt = zod_1.z.number().int().positive();
const nonNegativeInt = zod_1.z.number().int().nonnegative();
const dataSourceSchema = zod_1.z.strictObject({
    /** A local .jsonl(.gz) or .parquet file. */
    path: zod_1.z.string().min(1).optional(),
    /** Or a Hugging Face dataset by name (microsoft/ms_marco, ms_marco, org/name@revision), read from its Parquet files. */
    hub: zod_1.z.string().min(1).refine(models_1.looksLikeHubId, 'not a Hugging Face dataset id (org/name or name, optional @revision)').optional(),
    config: zod_1.z.string().min(1).optional(),
    split: zod_1.z.string().min(1).optional(),
    revision: zod_1.z.string().min(1).optional(),
    /** rrnative's field → the dataset's column, e.g. { query: question, document: answer, label: score }. */
    columns: zod_1.z.partialRecord(zod_1.z.enum(records_1.RECORD_FIELDS), zod_1.z.string().min(1)).optional(),
    format: zod_1.z.enum(records_1.DATA_FORMATS).default('auto'),
    collection: zod_1.z.string().min(1).optional(),
    queries: zod_1.z.string().min(1).optional(),
    qrels: zod_1.z.string().min(1).optional(),
    triples: zod_1.z.string().min(1).optional(),
    top1000: zod_1.z.string().min(1).optional(),
    /** Training: read at most this many source rows (the guide's select(range(N))); evaluation: this many queries. */
    max_records: positiveInt.optional(),
});
exports.LOSSES = ['bce', 'mse', 'listwise_ce', 'margin_mse', 'distill_mse', 'lambda_loss'];
exports.trainingSchema = zod_1.z.strictObject({
    output_dir: zod_1.z.string().min(1),
    learning_rate: zod_1.z.number().positive().default(5e-5),
    weight_decay: zod_1.z.number().nonnegative().default(0),
    adam_beta1: zod_1.z.number().min(0).lt(1).default(0.9),
    adam_beta2: zod_1.z.number().min(0).lt(1).default(0.999),
    adam_epsilon: zod_1.z.number().positive().default(1e-8),
    max_grad_norm: zod_1.z.number().nonnegative().default(1.0),
    num_train_epochs: zod_1.z.number().positive().default(3),
    max_steps: zod_1.z.number().int().default(-1),
    warmup_steps: nonNegativeInt.default(0),
    warmup_ratio: zod_1.z.number().min(0).max(1).default(0),
    lr_scheduler_type: zod_1.z.enum(['linear', 'cosine', 'constant', 'constant_with_warmup']).default('linear'),
    per_device_train_batch_size: positiveInt.default(8),
    per_device_eval_batch_size: positiveInt.default(8),
    gradient_accumulation_steps: positiveInt.default(1),
    eval_strategy: zod_1.z.enum(['no', 'steps', 'epoch']).default('no'),
    eval_steps: positiveInt.optional(),
    save_strategy: zod_1.z.enum(['no', 'steps', 'epoch']).default('steps'),
    save_steps: positiveInt.default(500),
    save_total_limit: positiveInt.optional(),
    load_best_model_at_end: zod_1.z.boolean().default(false),
    metric_for_best_model: zod_1.z.string().min(1).optional(),
    greater_is_better: zod_1.z.boolean().optional(),
    early_stopping_patience: positiveInt.optional(),
    logging_steps: positiveInt.default(500),
    seed: nonNegativeInt.default(42),
    bf16: zod_1.z.boolean().default(false),
    /** HF's key: batches of pairs of similar length (little padding), ordered by length within runs of 50 batches. */
    group_by_length: zod_1.z.boolean().default(false),
    /**
     * rrnative's own key: replay each training step as a CUDA graph (one per batch size, length bucket of 32 and
     * loss), which removes the host's per-kernel launch cost. CUDA, one process, any loss but lambda_loss.
     */
    cuda_graphs: zod_1.z.boolean().default(false),
    /**
     * rrnative's own key: forward each batch's pairs sorted by length in up to this many slices, each padded only
     * to its own longest pair, when that saves work (a grouped loss pads a whole query group to the batch's
     * longest pair). Same logits. 'auto': 4 on the CPU and with cuda_graphs (both measured faster), 1 (off) on
     * eager CUDA steps (not measured). With cuda_graphs: equal runs of the length-sorted pairs, a graph per
     * combination of their bucketed lengths.
     */
    length_slices: zod_1.z.union([zod_1.z.literal('auto'), zod_1.z.number().int().min(1).max(64)]).default('auto'),
    device: zod_1.z.enum(['auto', 'cpu', 'cuda']).default('auto'),
    /** Data-parallel runs (--nproc, or torchrun's variables): the torch.distributed backend. Default nccl on CUDA, gloo on CPU. */
    ddp_backend: zod_1.z.enum(['gloo', 'nccl']).optional(),
    /** Data-parallel runs: seconds the rendezvous and each collective wait for the other ranks before the job fails. */
    ddp_timeout: positiveInt.default(1800),
});
const dataSchema = zod_1.z.strictObject({
    train: dataSourceSchema.optional(),
    eval: dataSourceSchema.optional(),
    shuffle: zod_1.z.boolean().default(true),
    train_group_size: positiveInt.default(8),
    on_bad_record: zod_1.z.enum(['error', 'skip']).default('error'),
    cache_dir: zod_1.z.string().min(1).default('.rrnative-cache'),
});
const lossSchema = zod_1.z.union([
    zod_1.z.enum(exports.LOSSES),
    zod_1.z.strictObject({ name: zod_1.z.enum(exports.LOSSES) }),
]).transform((l) => (typeof l === 'string' ? { name: l } : l));
const modelSchema = zod_1.z.strictObject({
    /** A Hugging Face model folder to start from, or a Hub id (org/name, org/name@revision). */
    path: zod_1.z.string().min(1).optional(),
    /** Or a new model: a config.json object (or a path to one) and a tokenizer folder (or the Hub id of a model's). */
    config: zod_1.z.union([zod_1.z.string().min(1), zod_1.z.record(zod_1.z.string(), zod_1.z.unknown())]).optional(),
    tokenizer: zod_1.z.string().min(1).optional(),
    /** For Hub ids: a branch, tag or commit (default main). */
    revision: zod_1.z.string().min(1).optional(),
    max_length: positiveInt.default(512),
    num_labels: positiveInt.default(1),
    config_overrides: zod_1.z.record(zod_1.z.string(), zod_1.z.unknown()).default({}),
}).refine((m) => Boolean(m.path) !== Boolean(m.config), {
    message: 'give either model.path (a Hugging Face folder) or model.config + model.tokenizer (a new model)',
}).refine((m) => !m.config || Boolean(m.tokenizer), { message: 'a new model (model.config) needs model.tokenizer', path: ['tokenizer'] });
// A stage overrides only the keys it names (zod's .partial() would fill in every default again).
function overridesOf(schema) {
    return zod_1.z.strictObject(Object.fromEntries(Object.entries(schema.shape).map(([key, field]) => {
        const inner = field instanceof zod_1.z.ZodDefault ? field.unwrap() : field;
        return [key, inner.optional()];
    })));
}
const stageSchema = zod_1.z.strictObject({
    name: zod_1.z.string().min(1).regex(/^[\w.-]+$/, 'use letters, digits, _ . -').optional(),
    data: overridesOf(dataSchema).optional(),
    loss: lossSchema.optional(),
    training: overridesOf(exports.trainingSchema.omit({ output_dir: true })).optional(),
});
exports.configSchema = zod_1.z.strictObject({
    model: modelSchema,
    data: dataSchema,
    loss: lossSchema.default({ name: 'bce' }),
    training: exports.trainingSchema,
    stages: zod_1.z.array(stageSchema).min(1).optional(),
});
