// Models by their Hugging Face names: `cross-encoder/ms-marco-MiniLM-L6-v2`, `BAAI/bge-reranker-base@v1`. A path that
// exists is a local folder; otherwise a Hub id resolves to a snapshot folder of the Hugging Face cache, shared with
// Python (a model transformers downloaded is used as it is, with no request; what rrnative downloads, Python finds).
// The revision is resolved to a commit first (refs/<revision> offline; else the Hub's revision API, written back to
// refs/ as Python does), then the files a cross-encoder needs are fetched by that commit with @huggingface/hub.
import fs from 'node:fs';
import path from 'node:path';
import type { RepoCache } from './cache';
import { hubSettings, type HubSettings } from './settings';
import { HubError, downloadAll, listRepoFiles, openRepo, repoOf, type ListFileEntry } from './transfer';

export { HubError } from './transfer';

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

// What a cross-encoder folder needs: its config, tokenizer files (with a chat template: Qwen3-Reranker's prompt), sentence-transformers' small config files, and
// the safetensors weights (last, so a snapshot with weights is whole). Not pytorch_model.bin, TF, Flax, ONNX or
// OpenVINO copies of the same weights.
const CONFIG_FILES = /^(config\.json|tokenizer\.json|tokenizer_config\.json|chat_template\.jinja|special_tokens_map\.json|added_tokens\.json|vocab\.(txt|json)|merges\.txt|[^/]*\.model|modules\.json|sentence_bert_config\.json|config_sentence_transformers\.json|\d+_[A-Za-z]+\/config\.json)$/;
const WEIGHTS = 'model.safetensors';
// A sharded checkpoint (Qwen3-Reranker-4B / -8B): the index names the shards, fetched after it.
const WEIGHTS_INDEX = 'model.safetensors.index.json';
const OTHER_WEIGHTS = /^(pytorch_model.*\.bin|tf_model\.h5|flax_model\.msgpack|model\.onnx|onnx\/.*\.onnx)$/;

/**
 * The local folder for `nameOrPath`: the path itself when it exists, else the cache snapshot of that Hub model,
 * downloaded where needed. Throws HubError (one line: the id and what to do) when it cannot be had.
 */
export async function resolveModelFolder(nameOrPath: string, options: HubOptions = {}): Promise<string> {
  if (fs.existsSync(nameOrPath) || !looksLikeHubId(nameOrPath)) return nameOrPath;
  const settings = options.settings ?? hubSettings();
  const { id, revision } = parseHubId(nameOrPath, options.revision);
  const repo = repoOf('model', id, revision);
  const only = options.files ?? 'model';
  const opened = await openRepo(repo, settings, {
    localFilesOnly: options.localFilesOnly, log: options.log,
    usable: (cache, sha) => isComplete(cache, sha, only),
  });
  const { cache, sha } = opened;
  const label = repo.label;
  if (isComplete(cache, sha, only)) return cache.snapshotDir(sha);

  const files = await listRepoFiles(opened);
  // The file isComplete() looks for goes last, so a snapshot that has it is whole.
  const last = (f: ListFileEntry) => (f.path === 'tokenizer.json' ? 2 : f.path === 'vocab.txt' ? 1 : 0);
  const wanted = files.filter((f) => CONFIG_FILES.test(f.path)).sort((a, b) => last(a) - last(b));
  if (only === 'tokenizer') {
    if (!wanted.some((f) => last(f) > 0)) throw new HubError(`${label}: the repo has no tokenizer.json or vocab.txt: no tokenizer rrnative can read`);
    await downloadAll(opened, wanted);
    return cache.snapshotDir(sha);
  }
  const weights = files.find((f) => f.path === WEIGHTS);
  const index = weights ? undefined : files.find((f) => f.path === WEIGHTS_INDEX);
  if (index) {
    if (!wanted.some((f) => f.path === 'config.json')) throw new HubError(`${label}: the repo has no config.json: not a transformers model`);
    await downloadAll(opened, [...wanted, index]);
    const shards = shardsOf(cache, sha);
    const entries = shards.map((shard) => files.find((f) => f.path === shard));
    const absent = shards.filter((_, i) => !entries[i]);
    if (absent.length) throw new HubError(`${label}: ${WEIGHTS_INDEX} names shards the repo does not have: ${absent.slice(0, 3).join(', ')}`);
    await downloadAll(opened, entries as ListFileEntry[]);
    return cache.snapshotDir(sha);
  }
  if (!weights) {
    const others = files.filter((f) => OTHER_WEIGHTS.test(f.path)).map((f) => f.path);
    throw new HubError(`${label}: no weights rrnative can read: it needs ${WEIGHTS}` +
      (others.length ? `, and the repo has ${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}` : ', and the repo has no weights') +
      ' (convert with transformers\' save_pretrained(safe_serialization=True), or pick a revision that has it)');
  }
  if (!wanted.some((f) => f.path === 'config.json')) throw new HubError(`${label}: the repo has no config.json: not a transformers model`);
  await downloadAll(opened, [...wanted, weights]);
  return cache.snapshotDir(sha);
}

/** A snapshot rrnative can load: the files fetched last are there (the weights; for a tokenizer, its main file). */
function isComplete(cache: RepoCache, sha: string, only: 'model' | 'tokenizer'): boolean {
  if (only === 'tokenizer') return cache.has(sha, 'tokenizer.json') || cache.has(sha, 'vocab.txt');
  if (!cache.has(sha, 'config.json')) return false;
  if (cache.has(sha, WEIGHTS)) return true;
  if (!cache.has(sha, WEIGHTS_INDEX)) return false;
  try {
    return shardsOf(cache, sha).every((shard) => cache.has(sha, shard));
  } catch {
    return false;
  }
}

// The shard files a cached index names, in order, each once.
function shardsOf(cache: RepoCache, sha: string): string[] {
  const index = JSON.parse(fs.readFileSync(path.join(cache.snapshotDir(sha), WEIGHTS_INDEX), 'utf8')) as { weight_map?: Record<string, unknown> };
  const shards = [...new Set(Object.values(index.weight_map ?? {}))];
  if (shards.length === 0 || !shards.every((s) => typeof s === 'string' && /^[^/\\]+\.safetensors$/.test(s))) {
    throw new HubError(`${cache.snapshotDir(sha)}/${WEIGHTS_INDEX}: "weight_map" must map tensor names to .safetensors files of the repo`);
  }
  return shards as string[];
}
