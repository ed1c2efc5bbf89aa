"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.HubError = void 0;
exports.looksLikeHubId = looksLikeHubId;
exports.parseHubId = parseHubId;
exports.resolveModelFolder = resolveModelFolder;
// Models by their Hugging Face names: `cross-encoder/ms-marco-MiniLM-L6-v2`, `BAAI/bge-reranker-base@v1`. A path that
// exists is a local folder; otherwise a Hub id resolves to a snapshot folder of the Hugging Face cache, shared with
// Python (a model transformers downloaded is used as it is, with no request; what rrnative downloads, Python finds).
// The revision is resolved to a commit first (refs/<revision> offline; else the Hub's revision API, written back to
// refs/ as Python does), then the files a cross-encoder needs are fetched by that commit with @huggingface/hub.
const node_fs_1 = __importDefault(require("node:fs"));
const settings_1 = require("./settings");
const transfer_1 = require("./transfer");
var transfer_2 = require("./transfer");
Object.defineProperty(exports, "HubError", { enumerable: true, get: function () { return transfer_2.HubError; } });
const ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?(@[\w.\-/]+)?$/;
/** Whether `name` can be a Hub id (org/name, a legacy single name, optional @revision) rather than a path. */
function looksLikeHubId(name) {
    return ID.test(name) && !name.startsWith('.') && !name.includes('..') && !name.includes('--');
}
/** `org/name@revision` → its parts (the revision from the id wins over none, and must agree with `revision`). */
function parseHubId(name, revision) {
    const at = name.indexOf('@');
    const id = at < 0 ? name : name.slice(0, at);
    const fromId = at < 0 ? undefined : name.slice(at + 1);
    if (fromId !== undefined && revision !== undefined && fromId !== revision) {
        throw new transfer_1.HubError(`${name}: the id names revision "${fromId}" and the revision option "${revision}": give one`);
    }
    return { id, revision: fromId ?? revision ?? 'main' };
}
// What a cross-encoder folder needs: its config, tokenizer files, sentence-transformers' small config files, and
// the safetensors weights (last, so a snapshot with weights is whole). Not pytorch_model.bin, TF, Flax, ONNX or
// OpenVINO copies of the same weights.
const CONFIG_FILES = /^(config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|added_tokens\.json|vocab\.(txt|json)|merges\.txt|[^/]*\.model|modules\.json|sentence_bert_config\.json|config_sentence_transformers\.json|\d+_[A-Za-z]+\/config\.json)$/;
const WEIGHTS = 'model.safetensors';
const OTHER_WEIGHTS = /^(pytorch_model.*\.bin|tf_model\.h5|flax_model\.msgpack|model\.onnx|onnx\/.*\.onnx|model-\d+-of-\d+\.safetensors)$/;
/**
 * The local folder for `nameOrPath`: the path itself when it exists, else the cache snapshot of that Hub model,
 * downloaded where needed. Throws HubError (one line: the id and what to do) when it cannot be had.
 */
async function resolveModelFolder(nameOrPath, options = {}) {
    if (node_fs_1.default.existsSync(nameOrPath) || !looksLikeHubId(nameOrPath))
        return nameOrPath;
    const settings = options.settings ?? (0, settings_1.hubSettings)();
    const { id, revision } = parseHubId(nameOrPath, options.revision);
    const repo = (0, transfer_1.repoOf)('model', id, revision);
    const only = options.files ?? 'model';
    const opened = await (0, transfer_1.openRepo)(repo, settings, {
        localFilesOnly: options.localFilesOnly, log: options.log,
        usable: (cache, sha) => isComplete(cache, sha, only),
    });
    const { cache, sha } = opened;
    const label = repo.label;
    if (isComplete(cache, sha, only))
        return cache.snapshotDir(sha);
    const files = await (0, transfer_1.listRepoFiles)(opened);
    // The file isComplete() looks for goes last, so a snapshot that has it is whole.
    const last = (f) => (f.path === 'tokenizer.json' ? 2 : f.path === 'vocab.txt' ? 1 : 0);
    const wanted = files.filter((f) => CONFIG_FILES.test(f.path)).sort((a, b) => last(a) - last(b));
    if (only === 'tokenizer') {
        if (!wanted.some((f) => last(f) > 0))
            throw new transfer_1.HubError(`${label}: the repo has no tokenizer.json or vocab.txt: no tokenizer rrnative can read`);
        await (0, transfer_1.downloadAll)(opened, wanted);
        return cache.snapshotDir(sha);
    }
    const weights = files.find((f) => f.path === WEIGHTS);
    if (!weights) {
        const others = files.filter((f) => OTHER_WEIGHTS.test(f.path)).map((f) => f.path);
        throw new transfer_1.HubError(`${label}: no weights rrnative can read: it needs ${WEIGHTS}` +
            (others.length ? `, and the repo has ${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}` : ', and the repo has no weights') +
            ' (convert with transformers\' save_pretrained(safe_serialization=True), or pick a revision that has it)');
    }
    if (!wanted.some((f) => f.path === 'config.json'))
        throw new transfer_1.HubError(`${label}: the repo has no config.json: not a transformers model`);
    await (0, transfer_1.downloadAll)(opened, [...wanted, weights]);
    return cache.snapshotDir(sha);
}
/** A snapshot rrnative can load: the files fetched last are there (the weights; for a tokenizer, its main file). */
function isComplete(cache, sha, only) {
    if (only === 'tokenizer')
        return cache.has(sha, 'tokenizer.json') || cache.has(sha, 'vocab.txt');
    return cache.has(sha, 'config.json') && cache.has(sha, WEIGHTS);
}
