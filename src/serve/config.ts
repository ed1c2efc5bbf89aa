// Settings of `rrtrain serve`, from (highest first) command-line flags, environment variables, the `serve:`
// section of a YAML config file (--config), and defaults. Keys are snake_case in YAML, --kebab-case as flags,
// RRNATIVE_UPPER_CASE in the environment (plus the conventional PORT and HOST).
import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import type { ServeOptions } from './server';

type Kind = 'string' | 'int' | 'bool' | 'label';

/** Every setting: its kind and what it does (the CLI's --help and the README are built from this). */
export const SERVE_SETTINGS = {
  model: ['string', 'model folder (Hugging Face layout: config.json, model.safetensors, tokenizer files)'],
  host: ['string', 'address to listen on (default 127.0.0.1)'],
  port: ['int', 'port to listen on (default 8080; 0 picks a free one)'],
  api_key: ['string', 'require "Authorization: Bearer <key>" on every route but /health (prefer the environment variable)'],
  device: ['string', 'auto (default: cuda when LibTorch sees a GPU, else cpu), cpu or cuda'],
  dtype: ['string', 'fp32 (default); bf16 weights: half the memory, scores within ~1e-2 of fp32 (meant for cuda); int8: int8 products on the cpu (faster, scores within ~1e-2 of fp32)'],
  max_length: ['int', 'longest pair in tokens (default: the model\'s)'],
  label: ['label', 'for models with several labels: which logit is the score (index or name)'],
  template: ['string', 'the prompt pairs are put in: qwen3-reranker (default for Qwen3ForCausalLM rerankers) or none'],
  instruction: ['string', 'a prompt-template model\'s default instruction (Qwen3-Reranker\'s <Instruct>; a /rerank request\'s instruction wins)'],
  model_name: ['string', 'model name reported by /info and the responses (default: the folder\'s name)'],
  truncate: ['bool', 'truncate over-long pairs unless a request says truncate:false (default true)'],
  long_documents: ['string', 'truncate (default) or chunk: a document longer than the window after the query is scored by its chunks (a request\'s long_documents or max_chunks_per_doc wins)'],
  max_chunks: ['int', 'chunking: windows per document at most (default 10)'],
  chunk_overlap: ['int', 'chunking: tokens a window shares with the one before (default 32; at most half a window)'],
  chunk_aggregate: ['string', 'chunking: a document\'s score from its chunks\': max (default, MaxP), first or mean'],
  body_limit: ['int', 'largest request body in bytes (default 4194304)'],
  max_documents: ['int', 'documents per request (default 1000)'],
  max_document_chars: ['int', 'characters per document (default 20000)'],
  max_query_chars: ['int', 'characters per query (default 4000)'],
  max_batch_tokens: ['int', 'padded tokens (pairs x longest) per forward pass (default 4096 on cpu, 16384 on cuda)'],
  max_batch_pairs: ['int', 'pairs per forward pass (default 64 on cpu, 256 on cuda)'],
  max_batch_requests: ['int', 'requests per forward pass; 0 = no limit (default), 1 = no cross-request batching'],
  max_queue_pairs: ['int', 'pairs waiting before requests get 429 (default 8192; chunks count)'],
  max_buffered_bytes: ['int', 'request body bytes held at once, all requests together; past it, 429 (default 67108864)'],
  max_inflight: ['int', 'forward passes at once (default 1)'],
  timeout_ms: ['int', 'per-request deadline in ms; past it, 503 and the work is dropped (default 30000)'],
  headers_timeout_ms: ['int', 'time for a request\'s headers to arrive, ms; past it 408 and the connection is closed (default 10000)'],
  request_timeout_ms: ['int', 'time for a whole request (headers and body) to arrive, ms; past it 408 and closed (default 30000)'],
  keep_alive_timeout_ms: ['int', 'an idle keep-alive connection is closed after this many ms (default 5000)'],
  max_connections: ['int', 'open connections at most; beyond it a new connection gets 503 and is closed (default 1024)'],
  drain_timeout_ms: ['int', 'on SIGTERM/SIGINT, requests being scored get this long to finish, ms (default 30000)'],
  log_level: ['string', 'fatal, error, warn, info (default), debug, trace or silent'],
} as const satisfies Record<string, readonly [Kind, string]>;

export type ServeSettingKey = keyof typeof SERVE_SETTINGS;

export const envName = (key: string): string => `RRNATIVE_${key.toUpperCase()}`;
export const flagName = (key: string): string => key.replace(/_/g, '-');

const positive = z.number().int().min(1);
const settingsSchema = z.strictObject({
  model: z.string({ error: 'give a model folder' }).min(1, 'give a model folder'),
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65535).optional(),
  api_key: z.string().min(1).optional(),
  device: z.enum(['auto', 'cpu', 'cuda']).optional(),
  dtype: z.enum(['fp32', 'bf16', 'int8']).optional(),
  max_length: positive.optional(),
  label: z.union([z.string().min(1), z.number().int().min(0)]).optional(),
  template: z.enum(['qwen3-reranker', 'none']).optional(),
  instruction: z.string().min(1).optional(),
  model_name: z.string().min(1).optional(),
  truncate: z.boolean().optional(),
  long_documents: z.enum(['truncate', 'chunk']).optional(),
  max_chunks: positive.optional(),
  chunk_overlap: z.number().int().min(0).optional(),
  chunk_aggregate: z.enum(['max', 'first', 'mean']).optional(),
  body_limit: positive.optional(),
  max_documents: positive.optional(),
  max_document_chars: positive.optional(),
  max_query_chars: positive.optional(),
  max_batch_tokens: positive.optional(),
  max_batch_pairs: positive.optional(),
  max_batch_requests: z.number().int().min(0).optional(),
  max_queue_pairs: positive.optional(),
  max_buffered_bytes: positive.optional(),
  max_inflight: positive.optional(),
  timeout_ms: positive.optional(),
  headers_timeout_ms: positive.optional(),
  request_timeout_ms: positive.optional(),
  keep_alive_timeout_ms: positive.optional(),
  max_connections: positive.optional(),
  drain_timeout_ms: positive.optional(),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
});

export type ServeSettings = z.infer<typeof settingsSchema>;

export class ServeConfigError extends Error {
  override name = 'ServeConfigError';
}

export interface SettingSources {
  /** Values from flags (undefined when a flag was not given), keyed by setting name. */
  flags?: Partial<Record<ServeSettingKey, unknown>>;
  env?: NodeJS.ProcessEnv;
  /** A YAML file whose `serve:` section holds settings. */
  configFile?: string;
}

/** Merges flags > environment > config file, and validates. Relative paths are taken from the working directory. */
export function resolveServeSettings(sources: SettingSources): ServeSettings {
  const fromFile = sources.configFile ? readConfigSection(sources.configFile) : {};
  const fromEnv = readEnv(sources.env ?? {});
  const merged: Record<string, unknown> = { ...fromFile, ...fromEnv };
  for (const [key, value] of Object.entries(sources.flags ?? {})) if (value !== undefined) merged[key] = value;
  const parsed = settingsSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const where = key in SERVE_SETTINGS ? ` (--${flagName(key)}, ${envName(key)} or serve.${key})` : '';
      const message = issue.code === 'unrecognized_keys' ? `unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : issue.message;
      return `${key || 'serve'}${where}: ${message}`;
    });
    throw new ServeConfigError(lines.join('\n'));
  }
  return parsed.data;
}

export function toServeOptions(s: ServeSettings): ServeOptions {
  return {
    model: s.model,
    host: s.host,
    port: s.port,
    apiKey: s.api_key,
    device: s.device,
    dtype: s.dtype,
    maxLength: s.max_length,
    label: s.label,
    template: s.template,
    instruction: s.instruction,
    modelName: s.model_name,
    truncate: s.truncate,
    longDocuments: s.long_documents,
    maxChunks: s.max_chunks,
    chunkOverlap: s.chunk_overlap,
    chunkAggregate: s.chunk_aggregate,
    bodyLimit: s.body_limit,
    maxDocuments: s.max_documents,
    maxDocumentChars: s.max_document_chars,
    maxQueryChars: s.max_query_chars,
    maxBatchTokens: s.max_batch_tokens,
    maxBatchPairs: s.max_batch_pairs,
    maxBatchRequests: s.max_batch_requests,
    maxQueuePairs: s.max_queue_pairs,
    maxBufferedBytes: s.max_buffered_bytes,
    maxInflight: s.max_inflight,
    timeoutMs: s.timeout_ms,
    headersTimeoutMs: s.headers_timeout_ms,
    requestTimeoutMs: s.request_timeout_ms,
    keepAliveTimeoutMs: s.keep_alive_timeout_ms,
    maxConnections: s.max_connections,
    drainTimeoutMs: s.drain_timeout_ms,
    logLevel: s.log_level ?? 'info',
  };
}

function readConfigSection(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) throw new ServeConfigError(`${file}: no such config file`);
  let doc: unknown;
  try {
    doc = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ServeConfigError(`${file}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const section = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).serve : undefined;
  if (section === undefined) throw new ServeConfigError(`${file}: no "serve:" section`);
  if (!section || typeof section !== 'object' || Array.isArray(section)) throw new ServeConfigError(`${file}: "serve:" must be a mapping`);
  return section as Record<string, unknown>;
}

function readEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fallback: Partial<Record<ServeSettingKey, string>> = { port: 'PORT', host: 'HOST' };
  for (const [key, [kind]] of Object.entries(SERVE_SETTINGS) as [ServeSettingKey, readonly [Kind, string]][]) {
    const name = envName(key);
    let raw = env[name];
    let from = name;
    if ((raw === undefined || raw === '') && fallback[key]) {
      from = fallback[key]!;
      raw = env[from];
    }
    if (raw === undefined || raw === '') continue;
    out[key] = parseEnvValue(raw, kind, from);
  }
  return out;
}

function parseEnvValue(raw: string, kind: Kind, name: string): unknown {
  switch (kind) {
    case 'int': {
      if (!/^\s*-?\d+\s*$/.test(raw)) throw new ServeConfigError(`${name}=${raw}: expected an integer`);
      return Number(raw);
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new ServeConfigError(`${name}=${raw}: expected true or false`);
    }
    case 'label':
      return /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    default:
      return raw;
  }
}
