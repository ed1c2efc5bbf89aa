"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.SUPPORTED_MODEL_TYPES = void 0;
exports.resolveModelConfig = resolveModelConfig;
exports.readModelConfig = readModelConfig;
exports.configForSave = configForSave;
// Reading and writing Hugging Face `config.json` for the supported model families.
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const zod_1 = require("zod");
const util_1 = require("./util");
/** model_type → the sequence-classification class transformers loads for it. */
exports.SUPPORTED_MODEL_TYPES = {
    bert: 'BertForSequenceClassification',
    roberta: 'RobertaForSequenceClassification',
    'xlm-roberta': 'XLMRobertaForSequenceClassification',
    electra: 'ElectraForSequenceClassification',
    'deberta-v2': 'DebertaV2ForSequenceClassification',
};
const dtypeName = zod_1.z.enum(['float32', 'float16', 'bfloat16', 'float64']);
const positiveInt = zod_1.z.number().int().positive();
const probability = zod_1.z.number().min(0).max(1);
const activation = zod_1.z.enum(['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'tanh', 'silu', 'swish']);
// Keys shared by every family (HF's BertConfig names). Other keys are kept as they are and written back on save.
const commonKeys = {
    architectures: zod_1.z.array(zod_1.z.string()).optional(),
    vocab_size: positiveInt,
    hidden_size: positiveInt,
    num_hidden_layers: positiveInt,
    num_attention_heads: positiveInt,
    intermediate_size: positiveInt,
    max_position_embeddings: positiveInt.default(512),
    hidden_dropout_prob: probability.default(0.1),
    attention_probs_dropout_prob: probability.default(0.1),
    classifier_dropout: probability.nullable().default(null),
    initializer_range: zod_1.z.number().positive().default(0.02),
    hidden_act: activation.default('gelu'),
    num_labels: positiveInt.optional(),
    id2label: zod_1.z.record(zod_1.z.string(), zod_1.z.string()).optional(),
    label2id: zod_1.z.record(zod_1.z.string(), zod_1.z.number()).optional(),
    dtype: dtypeName.nullable().optional(),
    torch_dtype: dtypeName.nullable().optional(),
    position_embedding_type: zod_1.z.literal('absolute').optional(),
};
const bertLike = (modelType, padDefault, extra = {}) => zod_1.z.looseObject({
    ...commonKeys,
    model_type: modelType,
    type_vocab_size: zod_1.z.number().int().nonnegative().default(2),
    layer_norm_eps: zod_1.z.number().positive().default(1e-12),
    pad_token_id: zod_1.z.number().int().nonnegative().nullable().default(padDefault),
    ...extra,
});
const schemas = {
    bert: bertLike(zod_1.z.literal('bert'), 0),
    roberta: bertLike(zod_1.z.enum(['roberta', 'xlm-roberta']), 1),
    electra: bertLike(zod_1.z.literal('electra'), 0, { embedding_size: positiveInt.optional() }),
    'deberta-v2': zod_1.z.looseObject({
        ...commonKeys,
        model_type: zod_1.z.literal('deberta-v2'),
        type_vocab_size: zod_1.z.number().int().nonnegative().default(0),
        layer_norm_eps: zod_1.z.number().positive().default(1e-7),
        pad_token_id: zod_1.z.number().int().nonnegative().nullable().default(0),
        embedding_size: positiveInt.optional(),
        position_biased_input: zod_1.z.boolean().default(true),
        relative_attention: zod_1.z.boolean().default(false),
        max_relative_positions: zod_1.z.number().int().default(-1),
        position_buckets: zod_1.z.number().int().default(-1),
        pos_att_type: zod_1.z.union([zod_1.z.array(zod_1.z.enum(['p2c', 'c2p'])), zod_1.z.string()]).nullable().default(null),
        share_att_key: zod_1.z.boolean().default(false),
        norm_rel_ebd: zod_1.z.string().default('none'),
        pooler_hidden_act: activation.default('gelu'),
        pooler_dropout: probability.default(0),
        pooler_hidden_size: positiveInt.optional(),
        cls_dropout: probability.nullable().optional(),
        conv_kernel_size: zod_1.z.literal(0).optional(),
    }),
};
/** Parses a config.json object; `source` names the file in errors. */
function resolveModelConfig(raw, source, overrides = {}) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new Error(`${source}: expected a JSON object`);
    }
    const obj = raw;
    const supported = Object.keys(exports.SUPPORTED_MODEL_TYPES).join(', ');
    const modelType = obj.model_type;
    if (typeof modelType !== 'string')
        throw new Error(`${source}: required key "model_type" is missing (supported: ${supported})`);
    if (!(modelType in exports.SUPPORTED_MODEL_TYPES)) {
        throw new Error(`${source}: model_type "${modelType}" is not supported (supported: ${supported})`);
    }
    const family = modelType === 'xlm-roberta' ? 'roberta' : modelType;
    const parsed = schemas[family].safeParse(obj);
    if (!parsed.success)
        throw new Error((0, util_1.formatZodError)(parsed.error, source));
    const c = parsed.data;
    if (c.hidden_size % c.num_attention_heads !== 0) {
        throw new Error(`${source}: hidden_size: ${c.hidden_size} must be a multiple of num_attention_heads (${c.num_attention_heads})`);
    }
    if (family === 'deberta-v2' && c.pooler_hidden_size !== undefined && c.pooler_hidden_size !== c.hidden_size) {
        throw new Error(`${source}: pooler_hidden_size: only pooler_hidden_size = hidden_size is supported`);
    }
    const labelCount = overrides.numLabels ?? (c.id2label ? Object.keys(c.id2label).length : c.num_labels ?? 1);
    const labels = Array.from({ length: labelCount }, (_, i) => c.id2label?.[String(i)] ?? `LABEL_${i}`);
    const posAtt = typeof c.pos_att_type === 'string' ? c.pos_att_type.toLowerCase().split('|').map((s) => s.trim()) : (c.pos_att_type ?? []);
    const padTokenId = c.pad_token_id ?? 0;
    const native = {
        modelType: family === 'roberta' ? 'roberta' : family,
        vocabSize: c.vocab_size,
        hiddenSize: c.hidden_size,
        embeddingSize: c.embedding_size ?? c.hidden_size,
        numHiddenLayers: c.num_hidden_layers,
        numAttentionHeads: c.num_attention_heads,
        intermediateSize: c.intermediate_size,
        maxPositionEmbeddings: c.max_position_embeddings,
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
    return { raw: { ...obj }, modelType: modelType, native, labels, maxTokens };
}
/** Reads `dir/config.json`; `configOverrides` replace keys of it (e.g. hidden_dropout_prob), as HF's from_pretrained kwargs. */
function readModelConfig(dir, overrides = {}) {
    const file = node_path_1.default.join(dir, 'config.json');
    if (!node_fs_1.default.existsSync(file))
        throw new Error(`${dir}: no config.json (expected a Hugging Face model folder)`);
    const raw = (0, util_1.readJsonFile)(file);
    const merged = overrides.configOverrides && typeof raw === 'object' && raw !== null ? { ...raw, ...overrides.configOverrides } : raw;
    return resolveModelConfig(merged, file, overrides);
}
/** The config.json to save: the original keys, with the classification head described as transformers expects. */
function configForSave(config) {
    const out = { ...config.raw };
    out.architectures = [exports.SUPPORTED_MODEL_TYPES[config.modelType]];
    out.model_type = config.modelType;
    out.id2label = Object.fromEntries(config.labels.map((l, i) => [String(i), l]));
    out.label2id = Object.fromEntries(config.labels.map((l, i) => [l, i]));
    delete out.num_labels; // transformers derives it from id2label
    // Weights are always written as float32; keep whichever dtype key the folder used.
    if ('torch_dtype' in out && !('dtype' in out))
        out.torch_dtype = 'float32';
    else
        out.dtype = 'float32';
    return out;
}
