// A sentence-transformers model folder, read as sentence-transformers reads it: modules.json (the Transformer
// at the root, then Pooling, then an optional Normalize), sentence_bert_config.json (max_seq_length,
// do_lower_case), the Pooling module's config.json (its modes, which may be combined: the outputs are
// concatenated in sentence-transformers' order), and config_sentence_transformers.json (prompts,
// default_prompt_name, similarity_fn_name). A folder without modules.json is a plain encoder: mean pooling, no
// normalization, as sentence-transformers falls back to. Every mistake names the file and the key.
import fs from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../util';

/** Pooling modes in the order sentence-transformers concatenates them (models/Pooling.py). */
export const POOLING_MODES = ['cls', 'max', 'mean', 'mean_sqrt_len', 'weightedmean', 'lasttoken'] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

const POOLING_KEYS: Record<PoolingMode, string> = {
  cls: 'pooling_mode_cls_token',
  max: 'pooling_mode_max_tokens',
  mean: 'pooling_mode_mean_tokens',
  mean_sqrt_len: 'pooling_mode_mean_sqrt_len_tokens',
  weightedmean: 'pooling_mode_weightedmean_tokens',
  lasttoken: 'pooling_mode_lasttoken',
};

export type Similarity = 'cosine' | 'dot' | 'euclidean' | 'manhattan';

export interface SentenceTransformerFolder {
  /** The folder that was read (modules.json's folder, or the plain encoder's). */
  rootDir: string;
  /** The encoder's folder (config.json, weights, tokenizer): the Transformer module's path. */
  encoderDir: string;
  /** Pooling modes, in concatenation order (one for nearly every model). */
  pooling: PoolingMode[];
  /** Whether prompt tokens take part in pooling (Pooling's include_prompt, default true). */
  includePrompt: boolean;
  /** The hidden size pooling expects (word_embedding_dimension), when the config says. */
  embeddingDimension: number | undefined;
  /** A Normalize module follows pooling: embeddings have unit L2 norm. */
  normalize: boolean;
  /** sentence_bert_config.json's max_seq_length (tokens per text), when set. */
  maxSeqLength: number | undefined;
  /** Lower-case texts before tokenizing (sentence_bert_config.json's do_lower_case). */
  doLowerCase: boolean;
  /** Named prompts prepended to texts, e.g. { query: 'query: ' }. */
  prompts: Record<string, string>;
  defaultPromptName: string | undefined;
  similarity: Similarity;
  /** False for a plain encoder folder read with the fallback (mean pooling). */
  fromModulesJson: boolean;
}

// The module classes under the names sentence-transformers writes in modules.json: 2.x–5.x and 6.x.
const MODULE_TYPES = {
  transformer: ['sentence_transformers.models.Transformer', 'sentence_transformers.base.modules.transformer.Transformer'],
  pooling: ['sentence_transformers.models.Pooling', 'sentence_transformers.sentence_transformer.modules.pooling.Pooling'],
  normalize: ['sentence_transformers.models.Normalize', 'sentence_transformers.base.modules.normalize.Normalize'],
};

/** Reads `dir` as sentence-transformers would; throws an Error naming the file and key on anything it cannot run. */
export function readSentenceTransformerFolder(dir: string): SentenceTransformerFolder {
  if (!fs.existsSync(path.join(dir, 'config.json')) && !fs.existsSync(path.join(dir, 'modules.json'))) {
    throw new Error(`${dir}: not a model folder (no modules.json or config.json)`);
  }
  const settings = readSentenceBertConfig(dir);
  const st = readStConfig(dir);
  const modulesFile = path.join(dir, 'modules.json');
  if (!fs.existsSync(modulesFile)) {
    return { rootDir: dir, encoderDir: dir, pooling: ['mean'], includePrompt: true, embeddingDimension: undefined, normalize: false, ...settings, ...st, fromModulesJson: false };
  }
  const modules = readJsonFile(modulesFile);
  if (!Array.isArray(modules) || modules.length === 0) throw new Error(`${modulesFile}: expected a non-empty array of modules`);
  const entries = modules.map((m, i) => {
    if (!m || typeof m !== 'object' || typeof (m as { type?: unknown }).type !== 'string' || typeof (m as { path?: unknown }).path !== 'string') {
      throw new Error(`${modulesFile}: [${i}] must be an object with string "type" and "path"`);
    }
    return m as { type: string; path: string };
  });
  const [first, ...rest] = entries;
  if (!MODULE_TYPES.transformer.includes(first.type)) {
    throw new Error(`${modulesFile}: [0].type is ${first.type}; the first module must be a Transformer (${MODULE_TYPES.transformer.join(' or ')})`);
  }
  const encoderDir = path.join(dir, first.path);
  // A Transformer module may keep its own sentence_bert_config.json in its folder.
  const encoderSettings = first.path ? { ...settings, ...readSentenceBertConfig(encoderDir) } : settings;
  let pooling: Pick<SentenceTransformerFolder, 'pooling' | 'includePrompt' | 'embeddingDimension'> | undefined;
  let normalize = false;
  rest.forEach((m, k) => {
    const i = k + 1;
    if (MODULE_TYPES.pooling.includes(m.type) && !pooling && !normalize) pooling = readPoolingConfig(path.join(dir, m.path, 'config.json'));
    else if (MODULE_TYPES.normalize.includes(m.type) && pooling && !normalize) normalize = true;
    else {
      throw new Error(`${modulesFile}: [${i}].type ${m.type} is not supported here: rrnative runs Transformer, then Pooling, then an optional Normalize`);
    }
  });
  if (!pooling) throw new Error(`${modulesFile}: no Pooling module (${MODULE_TYPES.pooling.join(' or ')}) after the Transformer`);
  return { rootDir: dir, encoderDir, ...pooling, normalize, ...encoderSettings, ...st, fromModulesJson: true };
}

function readSentenceBertConfig(dir: string): Pick<SentenceTransformerFolder, 'maxSeqLength' | 'doLowerCase'> {
  const file = path.join(dir, 'sentence_bert_config.json');
  if (!fs.existsSync(file)) return { maxSeqLength: undefined, doLowerCase: false };
  const config = readJsonFile(file) as Record<string, unknown>;
  const max = config.max_seq_length;
  if (max !== undefined && max !== null && !(Number.isInteger(max) && (max as number) > 0)) {
    throw new Error(`${file}: max_seq_length must be a positive integer, got ${JSON.stringify(max)}`);
  }
  const lower = config.do_lower_case ?? false;
  if (typeof lower !== 'boolean') throw new Error(`${file}: do_lower_case must be true or false, got ${JSON.stringify(lower)}`);
  return { maxSeqLength: (max as number | null | undefined) ?? undefined, doLowerCase: lower };
}

function readPoolingConfig(file: string): Pick<SentenceTransformerFolder, 'pooling' | 'includePrompt' | 'embeddingDimension'> {
  if (!fs.existsSync(file)) throw new Error(`${file}: missing (the Pooling module's config)`);
  const config = readJsonFile(file) as Record<string, unknown>;
  // sentence-transformers 6 writes "pooling_mode": one name or a list, concatenated in the list's order; older
  // versions one boolean per mode, concatenated in POOLING_MODES' order.
  const named = config.pooling_mode;
  let pooling: PoolingMode[];
  if (named !== undefined && named !== null) {
    const names = Array.isArray(named) ? named : [named];
    if (names.length === 0) throw new Error(`${file}: pooling_mode is an empty list`);
    pooling = names.map((name) => {
      const mode = String(name).replace(/_tokens$/, '') as PoolingMode;  // mean_sqrt_len_tokens -> mean_sqrt_len
      if (typeof name !== 'string' || !POOLING_MODES.includes(mode)) {
        throw new Error(`${file}: pooling_mode ${JSON.stringify(name)} is not one of cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken`);
      }
      return mode;
    });
    if (new Set(pooling).size !== pooling.length) throw new Error(`${file}: pooling_mode ${JSON.stringify(named)} names a mode twice`);
  } else {
    pooling = POOLING_MODES.filter((mode) => {
      const v = config[POOLING_KEYS[mode]] ?? false;
      if (typeof v !== 'boolean') throw new Error(`${file}: ${POOLING_KEYS[mode]} must be true or false, got ${JSON.stringify(v)}`);
      return v;
    });
  }
  if (pooling.length === 0) throw new Error(`${file}: no pooling mode is on (set one of ${Object.values(POOLING_KEYS).join(', ')})`);
  const includePrompt = config.include_prompt ?? true;
  if (typeof includePrompt !== 'boolean') throw new Error(`${file}: include_prompt must be true or false, got ${JSON.stringify(includePrompt)}`);
  const dimKey = config.embedding_dimension !== undefined ? 'embedding_dimension' : 'word_embedding_dimension';  // 6.x, older
  const dim = config[dimKey];
  if (dim !== undefined && !(Number.isInteger(dim) && (dim as number) > 0)) {
    throw new Error(`${file}: ${dimKey} must be a positive integer, got ${JSON.stringify(dim)}`);
  }
  return { pooling, includePrompt, embeddingDimension: dim as number | undefined };
}

// sentence-transformers 6 gives every model the prompts "query" and "document" (empty unless the folder sets
// them), so encode(prompt_name='query') works on any model and encode_document() picks "document" first.
const DEFAULT_PROMPTS = { query: '', document: '' };

function readStConfig(dir: string): Pick<SentenceTransformerFolder, 'prompts' | 'defaultPromptName' | 'similarity'> {
  const file = path.join(dir, 'config_sentence_transformers.json');
  if (!fs.existsSync(file)) return { prompts: { ...DEFAULT_PROMPTS }, defaultPromptName: undefined, similarity: 'cosine' };
  const config = readJsonFile(file) as Record<string, unknown>;
  const given = config.prompts ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given) || Object.values(given).some((p) => typeof p !== 'string' && p !== null)) {
    throw new Error(`${file}: prompts must map names to strings, got ${JSON.stringify(given)}`);
  }
  const prompts: Record<string, string> = { ...DEFAULT_PROMPTS };
  for (const [name, prompt] of Object.entries(given as Record<string, string | null>)) prompts[name] = prompt ?? '';
  const defaultPromptName = config.default_prompt_name ?? undefined;
  if (defaultPromptName !== undefined && (typeof defaultPromptName !== 'string' || !(defaultPromptName in prompts))) {
    throw new Error(`${file}: default_prompt_name ${JSON.stringify(defaultPromptName)} is not one of the prompts (${Object.keys(prompts).join(', ') || 'none'})`);
  }
  const similarity = config.similarity_fn_name ?? 'cosine';
  const allowed: Similarity[] = ['cosine', 'dot', 'euclidean', 'manhattan'];
  const name = similarity === 'dot_product' ? 'dot' : similarity;
  if (!allowed.includes(name as Similarity)) throw new Error(`${file}: similarity_fn_name ${JSON.stringify(similarity)} is not one of cosine, dot, euclidean, manhattan`);
  return { prompts: prompts as Record<string, string>, defaultPromptName: defaultPromptName as string | undefined, similarity: name as Similarity };
}
