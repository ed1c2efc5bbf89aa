// The Hugging Face Hub settings, read from the environment as Python's huggingface_hub reads them (constants.py):
// the endpoint, the token, the offline switch and the cache folder, so both find the same files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface HubSettings {
  /** HF_ENDPOINT, default https://huggingface.co (no trailing slash). */
  endpoint: string;
  /** HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), else the file HF_TOKEN_PATH / $HF_HOME/token; null: none. */
  token: string | null;
  /** HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is 1, ON, YES or TRUE: no request at all, the cache only. */
  offline: boolean;
  /** HF_HUB_CACHE (or HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub; HF_HOME defaults to $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface. */
  cacheDir: string;
}

const TRUE_VALUES = new Set(['1', 'ON', 'YES', 'TRUE']);

const expandHome = (p: string) => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p);

export function hubSettings(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const home = expandHome(env.HF_HOME || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'huggingface'));
  const cacheDir = expandHome(env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || path.join(home, 'hub'));
  const offline = [env.HF_HUB_OFFLINE, env.TRANSFORMERS_OFFLINE].some((v) => v !== undefined && TRUE_VALUES.has(v.trim().toUpperCase()));
  let token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || null;
  if (!token) {
    const file = expandHome(env.HF_TOKEN_PATH || path.join(home, 'token'));
    try {
      token = fs.readFileSync(file, 'utf8').trim() || null;
    } catch {
      token = null;
    }
  }
  return { endpoint: (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, ''), token, offline, cacheDir };
}
