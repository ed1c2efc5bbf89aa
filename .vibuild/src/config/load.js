"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.ConfigError = void 0;
exports.loadConfig = loadConfig;
exports.parseConfig = parseConfig;
exports.validateConfig = validateConfig;
// Loading a YAML training config: `--set` overrides, schema validation with errors that name the key
// path, the file and the line, and relative paths resolved against the working directory.
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const yaml_1 = __importStar(require("yaml"));
const models_1 = require("../hub/models");
const schema_1 = require("./schema");
class ConfigError extends Error {
    name = 'ConfigError';
}
exports.ConfigError = ConfigError;
/** Reads, overrides and validates a config file. */
function loadConfig(file, overrides = []) {
    if (!node_fs_1.default.existsSync(file))
        throw new ConfigError(`${file}: no such config file`);
    return parseConfig(node_fs_1.default.readFileSync(file, 'utf8'), file, overrides);
}
function parseConfig(text, file, overrides = []) {
    const lineCounter = new yaml_1.LineCounter();
    const doc = yaml_1.default.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length) {
        const e = doc.errors[0];
        const { line, col } = lineCounter.linePos(e.pos[0]);
        throw new ConfigError(`${file}:${line}:${col}: invalid YAML: ${e.message.split('\n')[0]}`);
    }
    if (!(0, yaml_1.isMap)(doc.contents))
        throw new ConfigError(`${file}: the config must be a YAML mapping (model:, data:, training:, …)`);
    for (const override of overrides)
        applyOverride(doc, override, file);
    return validate(doc.toJS(), file, (keyPath) => locate(doc, keyPath, lineCounter));
}
/**
 * Validates a config given as an object (rr.train's), as a YAML file's would be: errors name `label` and the key
 * path; relative paths are taken from the working directory.
 */
function validateConfig(value, label = 'config') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ConfigError(`${label}: expected an object (model, data, training, …) or the path of a YAML config`);
    }
    // The schema fills in defaults: work on a copy, so the caller's object is left as it was.
    return validate(structuredClone(value), label, () => '');
}
function validate(value, file, where) {
    const parsed = schema_1.configSchema.safeParse(value);
    if (!parsed.success) {
        const lines = parsed.error.issues.map((issue) => {
            const keyPath = issue.path.map(String);
            // An unknown key is reported at its own line.
            const at = where(issue.code === 'unrecognized_keys' ? [...keyPath, issue.keys[0]] : keyPath);
            const key = keyPath.join('.') || '(root)';
            const message = issue.code === 'unrecognized_keys'
                ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
                : issue.message;
            return `${file}${at}: ${key}: ${message}`;
        });
        throw new ConfigError(lines.join('\n'));
    }
    return resolvePaths(parsed.data, process.cwd());
}
// `--set training.learning_rate=1e-4`: the value is read as YAML, so numbers and booleans keep their types.
function applyOverride(doc, override, file) {
    const eq = override.indexOf('=');
    if (eq <= 0)
        throw new ConfigError(`--set ${override}: expected key.path=value`);
    const keyPath = override.slice(0, eq).split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    if (keyPath.some((k) => k === ''))
        throw new ConfigError(`--set ${override}: empty key in "${override.slice(0, eq)}"`);
    const value = yaml_1.default.parse(override.slice(eq + 1) || '""');
    try {
        doc.setIn(keyPath, doc.createNode(value));
    }
    catch (err) {
        throw new ConfigError(`--set ${override}: cannot set this key in ${file} (${err.message})`);
    }
}
// ":line" of the deepest node on the key path that exists in the YAML (overrides and defaults have none).
function locate(doc, keyPath, lineCounter) {
    for (let n = keyPath.length; n >= 0; n--) {
        const node = doc.getIn(keyPath.slice(0, n).map((k) => (/^\d+$/.test(k) ? Number(k) : k)), true);
        const range = node && typeof node === 'object' && 'range' in node ? node.range : undefined;
        if (range && ((0, yaml_1.isScalar)(node) || n > 0))
            return `:${lineCounter.linePos(range[0]).line}`;
    }
    return '';
}
const PATH_KEYS = ['path', 'collection', 'queries', 'qrels', 'triples', 'top1000'];
// Relative paths are taken from the working directory, as Hugging Face's scripts do.
function resolvePaths(config, base) {
    const abs = (p) => (p === undefined || node_path_1.default.isAbsolute(p) ? p : node_path_1.default.resolve(base, p));
    const sources = [config.data.train, config.data.eval, ...(config.stages ?? []).flatMap((s) => [s.data?.train, s.data?.eval])];
    for (const source of sources) {
        if (!source)
            continue;
        for (const key of PATH_KEYS)
            if (source[key] !== undefined)
                source[key] = abs(source[key]);
    }
    // A model or tokenizer is a local folder where one exists, else (when it can be) a Hugging Face Hub id, kept as is.
    const folderOrHubId = (p) => (p === undefined || node_fs_1.default.existsSync(node_path_1.default.resolve(base, p)) || !(0, models_1.looksLikeHubId)(p) ? abs(p) : p);
    config.model.path = folderOrHubId(config.model.path);
    config.model.tokenizer = folderOrHubId(config.model.tokenizer);
    if (typeof config.model.config === 'string')
        config.model.config = abs(config.model.config);
    config.data.cache_dir = abs(config.data.cache_dir);
    config.training.output_dir = abs(config.training.output_dir);
    return config;
}
