// Models by their Hugging Face names: `cross-encoder/ms-marco-MiniLM-L6-v2`, `BAAI/bge-reranker-base@v1`. A path that
// exists is a local folder; otherwise a Hub id resolves to a snapshot folder of the Hugging Face cache, shared with
// Python (a model transformers downloaded is used as it is, with no request; what rrnative downloads, Python finds).
// The revision is resolved to a commit first (refs/<revision> offline; else the Hub's revision API, written back to
// refs/ as Python does), then the files a cross-encoder needs are fetched by that commit with @huggingface/hub.
import fs from 'node:fs';
import path from 'node:path';
import { downloadFile, listFiles, type ListFileEntry } from '@huggingface/hub';
import { COMMIT, RepoCache } from './cache';
import { hubFetch, type HubFetch } from './fetch';
import { DownloadProgress } from './progress';
import { hubSettings, type HubSettings } from './settings';

export interface HubOptions {
  /** A branch, tag or commit (default: the id's @revision, else "main"). */
  revision?: string;
  /** Use the cache only, as HF_HUB_OFFLINE=1 does for every call. */
  localFilesOnly?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Settings other than the environment's (tests). */
  settings?: HubSettings;
  /** 'model' (default): config, tokenizer and weights; 'tokenizer': the tokenizer and config files only (rr.create). */
  files?: 'model' | 'tokenizer';
}

/** One line, naming the model and what to do. */
export class HubError extends Error {
  override name = 'HubError';
}

const ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?(@[\w.\-/]+)?$/;

/** Whether `name` can be a Hub id (org/name, a legacy single name, optional @revision) rather than a path. */
export function looksLikeHubId(name: string): boolean {
  return ID.test(name) && !name.startsWith('.') && !name.includes('..') && !name.includes('--');
}

/** `org/name@revision` → its parts (the revision from the id wins over none, and must agree with `revision`). */
export function parseHubId(name: string, revision?: string): { id: string; revision: string } {
  const at = name.indexOf('@');
  const id = at < 0 ? name : name.slice(0, at);
  const fromId = at < 0 ? undefined : name.slice(at + 1);
  if (fromId !== undefined && revision !== undefined && fromId !== revision) {
    throw new HubError(`${name}: the id names revision "${fromId}" and the revision option "${revision}": give one`);
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
export async function resolveModelFolder(nameOrPath: string, options: HubOptions = {}): Promise<string> {
  if (fs.existsSync(nameOrPath) || !looksLikeHubId(nameOrPath)) return nameOrPath;
  const settings = options.settings ?? hubSettings();
  const { id, revision } = parseHubId(nameOrPath, options.revision);
  const cache = new RepoCache(settings.cacheDir, 'model', id);
  const offline = settings.offline || options.localFilesOnly === true;
  const log = options.log ?? ((line: string) => { process.stderr.write(`${line}\n`); });
  const label = revision === 'main' ? id : `${id}@${revision}`;

  const only = options.files ?? 'model';
  const cachedSha = COMMIT.test(revision) ? revision : cache.readRef(revision);
  const cached = cachedSha && isComplete(cache, cachedSha, only) ? cache.snapshotDir(cachedSha) : null;
  if (offline) {
    if (cached) return cached;
    const why = settings.offline ? 'HF_HUB_OFFLINE is set' : 'localFilesOnly is set';
    throw new HubError(`${label}: no local folder of that name, not in the Hugging Face cache (${cache.folder}), and ${why}: run once with the network, ` +
      `or copy the model there (Python's huggingface_hub uses the same folder)`);
  }

  const fetchHub = hubFetch(settings.endpoint, settings.token);
  let sha: string;
  try {
    sha = await resolveRevision(id, revision, label, settings, fetchHub);
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    if (cached) {
      log(`${label}: ${settings.endpoint} cannot be reached (${err.message}); using the cached snapshot ${path.basename(cached)}`);
      return cached;
    }
    throw new HubError(`${label}: no local folder of that name; cannot reach ${settings.endpoint} (${err.message}) and the model is not in the cache ` +
      `(${cache.folder}): check the network or HF_ENDPOINT; once the files are cached, HF_HUB_OFFLINE=1 skips the network`);
  }
  if (sha !== revision) cache.writeRef(revision, sha);
  if (isComplete(cache, sha, only)) return cache.snapshotDir(sha);

  const files = await listRepoFiles(id, sha, settings, fetchHub, label);
  // The file isComplete() looks for goes last, so a snapshot that has it is whole.
  const last = (f: ListFileEntry) => (f.path === 'tokenizer.json' ? 2 : f.path === 'vocab.txt' ? 1 : 0);
  const wanted = files.filter((f) => CONFIG_FILES.test(f.path)).sort((a, b) => last(a) - last(b));
  if (only === 'tokenizer') {
    if (!wanted.some((f) => last(f) > 0)) throw new HubError(`${label}: the repo has no tokenizer.json or vocab.txt: no tokenizer rrnative can read`);
    await downloadAll(cache, id, sha, wanted, settings, fetchHub, label, log);
    return cache.snapshotDir(sha);
  }
  const weights = files.find((f) => f.path === WEIGHTS);
  if (!weights) {
    const others = files.filter((f) => OTHER_WEIGHTS.test(f.path)).map((f) => f.path);
    throw new HubError(`${label}: no weights rrnative can read: it needs ${WEIGHTS}` +
      (others.length ? `, and the repo has ${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}` : ', and the repo has no weights') +
      ' (convert with transformers\' save_pretrained(safe_serialization=True), or pick a revision that has it)');
  }
  if (!wanted.some((f) => f.path === 'config.json')) throw new HubError(`${label}: the repo has no config.json: not a transformers model`);
  await downloadAll(cache, id, sha, [...wanted, weights], settings, fetchHub, label, log);
  return cache.snapshotDir(sha);
}

async function downloadAll(cache: RepoCache, id: string, sha: string, files: ListFileEntry[], settings: HubSettings, fetchHub: HubFetch,
  label: string, log: (line: string) => void): Promise<void> {
  const progress = new DownloadProgress(label, log);
  try {
    for (const file of files) await downloadToCache(cache, id, sha, file, settings, fetchHub, progress, label);
  } finally {
    progress.finish(cache.folder);
  }
}

/** A snapshot rrnative can load: the files fetched last are there (the weights; for a tokenizer, its main file). */
function isComplete(cache: RepoCache, sha: string, only: 'model' | 'tokenizer'): boolean {
  if (only === 'tokenizer') return cache.has(sha, 'tokenizer.json') || cache.has(sha, 'vocab.txt');
  return cache.has(sha, 'config.json') && cache.has(sha, WEIGHTS);
}

class NetworkError extends Error {}

async function request(fetchHub: HubFetch, url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetchHub(url, init);
  } catch (err) {
    throw new NetworkError(describeCause(err));
  }
}

// The Hub's answer to a refused request, as one line (X-Error-Code: RepoNotFound, RevisionNotFound, GatedRepo, …).
async function refusal(response: Response, label: string, revision: string, settings: HubSettings): Promise<HubError> {
  const code = response.headers.get('x-error-code') ?? '';
  const message = response.headers.get('x-error-message') ?? '';
  await response.body?.cancel();
  const page = `${settings.endpoint}/${label.split('@')[0]}`;
  if (code === 'GatedRepo') {
    return new HubError(settings.token
      ? `${label}: a gated model, and the token has no access to it: accept its conditions at ${page} with the token's account`
      : `${label}: a gated model: accept its conditions at ${page}, then set HF_TOKEN to a token of that account`);
  }
  if (code === 'RevisionNotFound') return new HubError(`${label}: no revision "${revision}" (a branch, tag or commit of the repo)`);
  if (response.status === 401 && settings.token && code !== 'RepoNotFound') {
    return new HubError(`${label}: the Hub refused the token (HF_TOKEN, or the token file)${message ? `: ${message}` : ''}: check it, or unset it for public models`);
  }
  if (code === 'RepoNotFound' || response.status === 404 || response.status === 401) {
    return new HubError(`${label}: no local folder of that name, and no such model on ${settings.endpoint}` +
      (settings.token ? ' (or this token cannot see it)' : ' (or it is private: set HF_TOKEN)'));
  }
  return new HubError(`${label}: the Hub answered ${response.status}${message ? ` (${message})` : ''} at ${response.url}`);
}

async function resolveRevision(id: string, revision: string, label: string, settings: HubSettings, fetchHub: HubFetch): Promise<string> {
  const response = await request(fetchHub, `${settings.endpoint}/api/models/${id}/revision/${encodeURIComponent(revision)}`, { headers: { accept: 'application/json' } });
  if (!response.ok) throw await refusal(response, label, revision, settings);
  const info = await response.json() as { sha?: unknown };
  if (typeof info.sha !== 'string' || !COMMIT.test(info.sha)) throw new HubError(`${label}: the Hub's revision answer has no commit sha`);
  return info.sha;
}

async function listRepoFiles(id: string, sha: string, settings: HubSettings, fetchHub: HubFetch, label: string): Promise<ListFileEntry[]> {
  const files: ListFileEntry[] = [];
  try {
    for await (const entry of listFiles({ repo: { type: 'model', name: id }, revision: sha, recursive: true, hubUrl: settings.endpoint, fetch: fetchHub })) {
      if (entry.type === 'file') files.push(entry);
    }
  } catch (err) {
    throw new HubError(`${label}: listing the repo's files failed: ${(err as Error).message}`);
  }
  return files;
}

async function downloadToCache(cache: RepoCache, id: string, sha: string, file: ListFileEntry, settings: HubSettings, fetchHub: HubFetch,
  progress: DownloadProgress, label: string): Promise<void> {
  if (cache.has(sha, file.path)) return;
  const etag = file.lfs?.oid ?? file.oid;
  if (!etag) throw new HubError(`${label}: the Hub gave no id (oid) for ${file.path}`);
  const blob = cache.blobPath(etag);
  if (!fs.existsSync(blob)) {
    fs.mkdirSync(path.dirname(blob), { recursive: true });
    const incomplete = `${blob}.incomplete`;
    const have = fs.existsSync(incomplete) ? fs.statSync(incomplete).size : 0;
    try {
      const remote = await downloadFile({ repo: { type: 'model', name: id }, path: file.path, revision: sha, hubUrl: settings.endpoint, fetch: fetchHub, xet: false });
      if (!remote) throw new HubError(`${label}: ${file.path} is listed but cannot be downloaded (EntryNotFound)`);
      // A download cut short resumes where it stopped (Python's .incomplete, the same way).
      const start = have > 0 && have < remote.size ? have : 0;
      await progress.write(file.path, remote.size, start, (start > 0 ? remote.slice(start) : remote).stream(), incomplete);
      const size = fs.statSync(incomplete).size;
      if (size !== remote.size) throw new HubError(`${label}: ${file.path} came ${size} of ${remote.size} bytes: run again to resume`);
    } catch (err) {
      if (err instanceof HubError) throw err;
      throw new HubError(`${label}: downloading ${file.path} failed (${describeCause(err)}): run again to resume`);
    }
    fs.renameSync(incomplete, blob);
  }
  cache.link(sha, file.path, etag);
}

// fetch's errors say only "fetch failed": the reason (ECONNREFUSED, …) is in their cause.
function describeCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}
