"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.create = exports.writeIndexFolder = exports.readIndexMetadata = exports.openIndexFolder = exports.UsearchIndex = exports.ExactIndex = exports.parseHybridFusion = exports.openRetriever = exports.fuseLists = exports.embedCorpus = exports.HybridRetriever = exports.DenseRetriever = exports.Bm25Retriever = exports.Embedder = exports.readQueries = exports.corpusFromArray = exports.loadCorpus = exports.labelGrouped = exports.mineToFile = exports.mineHardNegatives = exports.formatRetrievalEval = exports.runRetrievalEval = exports.evaluateRetrieval = exports.parseFusion = exports.fuseScores = exports.pipeline = exports.TrainingAborted = exports.ConfigError = exports.Reranker = void 0;
exports.load = load;
exports.loadEmbedder = loadEmbedder;
exports.score = score;
exports.train = train;
exports.clearCache = clearCache;
exports.runtimeInfo = runtimeInfo;
// rrnative's public API: load a cross-encoder, score and rank pairs, save Hugging Face folders.
const node_path_1 = __importDefault(require("node:path"));
const model_1 = require("./model");
const native_1 = require("./native");
const load_1 = require("./config/load");
const trainer_1 = require("./train/trainer");
var model_2 = require("./model");
Object.defineProperty(exports, "Reranker", { enumerable: true, get: function () { return model_2.Reranker; } });
var load_2 = require("./config/load");
Object.defineProperty(exports, "ConfigError", { enumerable: true, get: function () { return load_2.ConfigError; } });
var trainer_2 = require("./train/trainer");
Object.defineProperty(exports, "TrainingAborted", { enumerable: true, get: function () { return trainer_2.TrainingAborted; } });
var pipeline_1 = require("./retrieve/pipeline");
Object.defineProperty(exports, "pipeline", { enumerable: true, get: function () { return pipeline_1.pipeline; } });
Object.defineProperty(exports, "fuseScores", { enumerable: true, get: function () { return pipeline_1.fuseScores; } });
Object.defineProperty(exports, "parseFusion", { enumerable: true, get: function () { return pipeline_1.parseFusion; } });
var evaluate_1 = require("./retrieve/evaluate");
Object.defineProperty(exports, "evaluateRetrieval", { enumerable: true, get: function () { return evaluate_1.evaluateRetrieval; } });
Object.defineProperty(exports, "runRetrievalEval", { enumerable: true, get: function () { return evaluate_1.runRetrievalEval; } });
Object.defineProperty(exports, "formatRetrievalEval", { enumerable: true, get: function () { return evaluate_1.formatRetrievalEval; } });
var mine_1 = require("./retrieve/mine");
Object.defineProperty(exports, "mineHardNegatives", { enumerable: true, get: function () { return mine_1.mineHardNegatives; } });
Object.defineProperty(exports, "mineToFile", { enumerable: true, get: function () { return mine_1.mineToFile; } });
var label_1 = require("./retrieve/label");
Object.defineProperty(exports, "labelGrouped", { enumerable: true, get: function () { return label_1.labelGrouped; } });
var corpus_1 = require("./retrieve/corpus");
Object.defineProperty(exports, "loadCorpus", { enumerable: true, get: function () { return corpus_1.loadCorpus; } });
Object.defineProperty(exports, "corpusFromArray", { enumerable: true, get: function () { return corpus_1.corpusFromArray; } });
Object.defineProperty(exports, "readQueries", { enumerable: true, get: function () { return corpus_1.readQueries; } });
const embedder_1 = require("./retrieve/embedder");
Object.defineProperty(exports, "Embedder", { enumerable: true, get: function () { return embedder_1.Embedder; } });
var retriever_1 = require("./retrieve/retriever");
Object.defineProperty(exports, "Bm25Retriever", { enumerable: true, get: function () { return retriever_1.Bm25Retriever; } });
Object.defineProperty(exports, "DenseRetriever", { enumerable: true, get: function () { return retriever_1.DenseRetriever; } });
Object.defineProperty(exports, "HybridRetriever", { enumerable: true, get: function () { return retriever_1.HybridRetriever; } });
Object.defineProperty(exports, "embedCorpus", { enumerable: true, get: function () { return retriever_1.embedCorpus; } });
Object.defineProperty(exports, "fuseLists", { enumerable: true, get: function () { return retriever_1.fuseLists; } });
Object.defineProperty(exports, "openRetriever", { enumerable: true, get: function () { return retriever_1.openRetriever; } });
Object.defineProperty(exports, "parseHybridFusion", { enumerable: true, get: function () { return retriever_1.parseHybridFusion; } });
var vector_index_1 = require("./retrieve/vector-index");
Object.defineProperty(exports, "ExactIndex", { enumerable: true, get: function () { return vector_index_1.ExactIndex; } });
Object.defineProperty(exports, "UsearchIndex", { enumerable: true, get: function () { return vector_index_1.UsearchIndex; } });
var index_file_1 = require("./retrieve/index-file");
Object.defineProperty(exports, "openIndexFolder", { enumerable: true, get: function () { return index_file_1.openIndexFolder; } });
Object.defineProperty(exports, "readIndexMetadata", { enumerable: true, get: function () { return index_file_1.readIndexMetadata; } });
Object.defineProperty(exports, "writeIndexFolder", { enumerable: true, get: function () { return index_file_1.writeIndexFolder; } });
/** Loads a Hugging Face model folder, or a model by its Hub id (`org/name`, `org/name@revision`) through the HF cache. */
function load(dir, options = {}) {
    return model_1.Reranker.load(dir, options);
}
/**
 * Loads an embedding model: a sentence-transformers folder (modules.json, Pooling, Normalize, prompts) or a plain
 * encoder folder (mean pooling), or a Hub id of one. `embed(texts, {prompt | promptName, batchSize, normalize})`.
 */
function loadEmbedder(dir, options = {}) {
    return embedder_1.Embedder.load(dir, options);
}
/** Creates a freshly initialised model (see Reranker.create). */
exports.create = model_1.Reranker.create;
const modelCache = new Map();
/** Scores pairs with a model loaded once per (folder, device, maxLength, dtype) and cached. */
async function score(pairs, options = {}) {
    const dir = options.model ?? process.env.RRNATIVE_MODEL;
    if (!dir) {
        throw new TypeError('rrnative.score: no model given: pass options.model (a Hugging Face model folder) or set RRNATIVE_MODEL');
    }
    const key = JSON.stringify([node_path_1.default.resolve(dir), options.revision ?? null, options.device ?? 'cpu', options.maxLength ?? null, options.dtype ?? 'fp32']);
    let model = modelCache.get(key);
    if (!model) {
        model = model_1.Reranker.load(dir, { device: options.device, maxLength: options.maxLength, seed: options.seed, dtype: options.dtype,
            revision: options.revision, localFilesOnly: options.localFilesOnly });
        modelCache.set(key, model);
        model.catch(() => modelCache.delete(key)); // a failed load is not cached
    }
    return (await model).score(pairs, options);
}
/**
 * Trains a reranker: the trainer `rrtrain <config.yaml>` runs, from a YAML file's path or a config object (the
 * same keys). Resolves to the output folder, the logged entries and the final eval metrics. `onLog` receives each
 * entry as it is logged; `signal` stops the run at the next step with a checkpoint written (rejects with
 * TrainingAborted; `resume: true` continues it). Messages go to `log` (default console.log); no progress bar
 * unless `progress` asks for one.
 */
async function train(config, options = {}) {
    const { set, ...rest } = options;
    if (typeof config !== 'string' && set?.length)
        throw new TypeError('rrnative.train: options.set applies to a YAML config path; edit the object instead');
    const resolved = typeof config === 'string' ? (0, load_1.loadConfig)(config, set ?? []) : (0, load_1.validateConfig)(config);
    return (0, trainer_1.train)(resolved, { progress: 'none', ...rest });
}
/** Frees the models cached by score(). */
async function clearCache() {
    const models = [...modelCache.values()];
    modelCache.clear();
    for (const m of models)
        (await m.catch(() => null))?.dispose();
}
/** LibTorch version, CUDA availability and the native thread count. */
function runtimeInfo() {
    return (0, native_1.addon)().runtimeInfo();
}
