"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.hubSettings = hubSettings;
// The Hugging Face Hub settings, read from the environment as Python's huggingface_hub reads them (constants.py):
// the endpoint, the token, the offline switch and the cache folder, so both find the same files.
const node_fs_1 = __importDefault(require("node:fs"));
const node_os_1 = __importDefault(require("node:os"));
const node_path_1 = __importDefault(require("node:path"));
const TRUE_VALUES = new Set(['1', 'ON', 'YES', 'TRUE']);
const expandHome = (p) => (p === '~' || p.startsWith('~/') ? node_path_1.default.join(node_os_1.default.homedir(), p.slice(1)) : p);
function hubSettings(env = process.env) {
    const home = expandHome(env.HF_HOME || node_path_1.default.join(env.XDG_CACHE_HOME || node_path_1.default.join(node_os_1.default.homedir(), '.cache'), 'huggingface'));
    const cacheDir = expandHome(env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || node_path_1.default.join(home, 'hub'));
    const offline = [env.HF_HUB_OFFLINE, env.TRANSFORMERS_OFFLINE].some((v) => v !== undefined && TRUE_VALUES.has(v.trim().toUpperCase()));
    let token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || null;
    if (!token) {
        const file = expandHome(env.HF_TOKEN_PATH || node_path_1.default.join(home, 'token'));
        try {
            token = node_fs_1.default.readFileSync(file, 'utf8').trim() || null;
        }
        catch {
            token = null;
        }
    }
    return { endpoint: (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, ''), token, offline, cacheDir };
}
