"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.POOLING_MODES = void 0;
exports.readSentenceTransformerFolder = readSentenceTransformerFolder;
// A sentence-transformers model folder, read as sentence-transformers reads it: modules.json (the Transformer
// at the root, then Pooling, then an optional Normalize), sentence_bert_config.json (max_seq_length,
// do_lower_case), the Pooling module's config.json (its modes, which may be combined: the outputs are
// concatenated in sentence-transformers' order), and config_sentence_transformers.json (prompts,
// default_prompt_name, similarity_fn_name). A folder without modules.json is a plain encoder: mean pooling, no
// normalization, as sentence-transformers falls back to. Every mistake names the file and the key.
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const util_1 = require("../util");
/** Pooling modes in the order sentence-transformers concatenates them (models/Pooling.py). */
exports.POOLING_MODES = ['cls', 'max', 'mean', 'mean_sqrt_len', 'weightedmean', 'lasttoken'];
const POOLING_KEYS = {
    cls: 'pooling_mode_cls_token',
    max: 'pooling_mode_max_tokens',
    mean: 'pooling_mode_mean_tokens',
    mean_sqrt_len: 'pooling_mode_mean_sqrt_len_tokens',
    weightedmean: 'pooling_mode_weightedmean_tokens',
    lasttoken: 'pooling_mode_lasttoken',
};
// The module classes under the names sentence-transformers writes in modules.json: 2.x–5.x and 6.x.
const MODULE_TYPES = {
    transformer: ['sentence_transformers.models.Transformer', 'sentence_transformers.base.modules.transformer.Transformer'],
    pooling: ['sentence_transformers.models.Pooling', 'sentence_transformers.sentence_transformer.modules.pooling.Pooling'],
    normalize: ['sentence_transformers.models.Normalize', 'sentence_transformers.base.modules.normalize.Normalize'],
};
/** Reads `dir` as sentence-transformers would; throws an Error naming the file and key on anything it cannot run. */
function readSentenceTransformerFolder(dir) {
    if (!node_fs_1.default.existsSync(node_path_1.default.join(dir, 'config.json')) && !node_fs_1.default.existsSync(node_path_1.default.join(dir, 'modules.json'))) {
        throw new Error(`${dir}: not a model folder (no modules.json or config.json)`);
    }
    const settings = readSentenceBertConfig(dir);
    const st = readStConfig(dir);
    const modulesFile = node_path_1.default.join(dir, 'modules.json');
    if (!node_fs_1.default.existsSync(modulesFile)) {
        return { rootDir: dir, encoderDir: dir, pooling: ['mean'], includePrompt: true, embeddingDimension: undefined, normalize: false, ...settings, ...st, fromModulesJson: false };
    }
    const modules = (0, util_1.readJsonFile)(modulesFile);
    if (!Array.isArray(modules) || modules.length === 0)
        throw new Error(`${modulesFile}: expected a non-empty array of modules`);
    const entries = modules.map((m, i) => {
        if (!m || typeof m !== 'object' || typeof m.type !== 'string' || typeof m.path !== 'string') {
            throw new Error(`${modulesFile}: [${i}] must be an object with string "type" and "path"`);
        }
        return m;
    });
    const [first, ...rest] = entries;
    if (!MODULE_TYPES.transformer.includes(first.type)) {
        throw new Error(`${modulesFile}: [0].type is ${first.type}; the first module must be a Transformer (${MODULE_TYPES.transformer.join(' or ')})`);
    }
    const encoderDir = node_path_1.default.join(dir, first.path);
    // A Transformer module may keep its own sentence_bert_config.json in its folder.
    const encoderSettings = first.path ? { ...settings, ...readSentenceBertConfig(encoderDir) } : settings;
    let pooling;
    let normalize = false;
    rest.forEach((m, k) => {
        const i = k + 1;
        if (MODULE_TYPES.pooling.includes(m.type) && !pooling && !normalize)
            pooling = readPoolingConfig(node_path_1.default.join(dir, m.path, 'config.json'));
        else if (MODULE_TYPES.normalize.includes(m.type) && pooling && !normalize)
            normalize = true;
        else {
            throw new Error(`${modulesFile}: [${i}].type ${m.type} is not supported here: rrnative runs Transformer, then Pooling, then an optional Normalize`);
        }
    });
    if (!pooling)
        throw new Error(`${modulesFile}: no Pooling module (${MODULE_TYPES.pooling.join(' or ')}) after the Transformer`);
    return { rootDir: dir, encoderDir, ...pooling, normalize, ...encoderSettings, ...st, fromModulesJson: true };
}
function readSentenceBertConfig(dir) {
    const file = node_path_1.default.join(dir, 'sentence_bert_config.json');
    if (!node_fs_1.default.existsSync(file))
        return { maxSeqLength: undefined, doLowerCase: false };
    const config = (0, util_1.readJsonFile)(file);
    const max = config.max_seq_length;
    if (max !== undefined && max !== null && !(Number.isInteger(max) && max > 0)) {
        throw new Error(`${file}: max_seq_length must be a positive integer, got ${JSON.stringify(max)}`);
    }
    const lower = config.do_lower_case ?? false;
    if (typeof lower !== 'boolean')
        throw new Error(`${file}: do_lower_case must be true or false, got ${JSON.stringify(lower)}`);
    return { maxSeqLength: max ?? undefined, doLowerCase: lower };
}
function readPoolingConfig(file) {
    if (!node_fs_1.default.existsSync(file))
        throw new Error(`${file}: missing (the Pooling module's config)`);
    const config = (0, util_1.readJsonFile)(file);
    // sentence-transformers 6 writes "pooling_mode": one name or a list, concatenated in the list's order; older
    // versions one boolean per mode, concatenated in POOLING_MODES' order.
    const named = config.pooling_mode;
    let pooling;
    if (named !== undefined && named !== null) {
        const names = Array.isArray(named) ? named : [named];
        if (names.length === 0)
            throw new Error(`${file}: pooling_mode is an empty list`);
        pooling = names.map((name) => {
            const mode = String(name).replace(/_tokens$/, ''); // mean_sqrt_len_tokens -> mean_sqrt_len
            if (typeof name !== 'string' || !exports.POOLING_MODES.includes(mode)) {
                throw new Error(`${file}: pooling_mode ${JSON.stringify(name)} is not one of cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken`);
            }
            return mode;
        });
        if (new Set(pooling).size !== pooling.length)
            throw new Error(`${file}: pooling_mode ${JSON.stringify(named)} names a mode twice`);
    }
    else {
        pooling = exports.POOLING_MODES.filter((mode) => {
            const v = config[POOLING_KEYS[mode]] ?? false;
            if (typeof v !== 'boolean')
                throw new Error(`${file}: ${POOLING_KEYS[mode]} must be true or false, got ${JSON.stringify(v)}`);
            return v;
        });
    }
    if (pooling.length === 0)
        throw new Error(`${file}: no pooling mode is on (set one of ${Object.values(POOLING_KEYS).join(', ')})`);
    const includePrompt = config.include_prompt ?? true;
    if (typeof includePrompt !== 'boolean')
        throw new Error(`${file}: include_prompt must be true or false, got ${JSON.stringify(includePrompt)}`);
    const dimKey = config.embedding_dimension !== undefined ? 'embedding_dimension' : 'word_embedding_dimension'; // 6.x, older
    const dim = config[dimKey];
    if (dim !== undefined && !(Number.isInteger(dim) && dim > 0)) {
        throw new Error(`${file}: ${dimKey} must be a positive integer, got ${JSON.stringify(dim)}`);
    }
    return { pooling, includePrompt, embeddingDimension: dim };
}
// sentence-transformers 6 gives every model the prompts "query" and "document" (empty unless the folder sets
// them), so encode(prompt_name='query') works on any model and encode_document() picks "document" first.
const DEFAULT_PROMPTS = { query: '', document: '' };
function readStConfig(dir) {
    const file = node_path_1.default.join(dir, 'config_sentence_transformers.json');
    if (!node_fs_1.default.existsSync(file))
        return { prompts: { ...DEFAULT_PROMPTS }, defaultPromptName: undefined, similarity: 'cosine' };
    const config = (0, util_1.readJsonFile)(file);
    const given = config.prompts ?? {};
    if (typeof given !== 'object' || given === null || Array.isArray(given) || Object.values(given).some((p) => typeof p !== 'string' && p !== null)) {
        throw new Error(`${file}: prompts must map names to strings, got ${JSON.stringify(given)}`);
    }
    const prompts = { ...DEFAULT_PROMPTS };
    for (const [name, prompt] of Object.entries(given))
        prompts[name] = prompt ?? '';
    const defaultPromptName = config.default_prompt_name ?? undefined;
    if (defaultPromptName !== undefined && (typeof defaultPromptName !== 'string' || !(defaultPromptName in prompts))) {
        throw new Error(`${file}: default_prompt_name ${JSON.stringify(defaultPromptName)} is not one of the prompts (${Object.keys(prompts).join(', ') || 'none'})`);
    }
    const similarity = config.similarity_fn_name ?? 'cosine';
    const allowed = ['cosine', 'dot', 'euclidean', 'manhattan'];
    const name = similarity === 'dot_product' ? 'dot' : similarity;
    if (!allowed.includes(name))
        throw new Error(`${file}: similarity_fn_name ${JSON.stringify(similarity)} is not one of cosine, dot, euclidean, manhattan`);
    return { prompts: prompts, defaultPromptName: defaultPromptName, similarity: name };
}
