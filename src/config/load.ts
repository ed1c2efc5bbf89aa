// Loading a YAML training config: `--set` overrides, schema validation with errors that name the key
// path, the file and the line, and relative paths resolved against the working directory.
import fs from 'node:fs';
import path from 'node:path';
import YAML, { LineCounter, isMap, isScalar, type Document } from 'yaml';
import { looksLikeHubId } from '../hub/models';
import { configSchema, type RunConfig } from './schema';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads, overrides and validates a config file. */
export function loadConfig(file: string, overrides: readonly string[] = []): RunConfig {
  if (!fs.existsSync(file)) throw new ConfigError(`${file}: no such config file`);
  return parseConfig(fs.readFileSync(file, 'utf8'), file, overrides);
}

export function parseConfig(text: string, file: string, overrides: readonly string[] = []): RunConfig {
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const { line, col } = lineCounter.linePos(e.pos[0]);
    throw new ConfigError(`${file}:${line}:${col}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  if (!isMap(doc.contents)) throw new ConfigError(`${file}: the config must be a YAML mapping (model:, data:, training:, …)`);
  for (const override of overrides) applyOverride(doc, override, file);

  return validate(doc.toJS(), file, (keyPath) => locate(doc, keyPath, lineCounter));
}

/**
 * Validates a config given as an object (rr.train's), as a YAML file's would be: errors name `label` and the key
 * path; relative paths are taken from the working directory.
 */
export function validateConfig(value: unknown, label = 'config'): RunConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`${label}: expected an object (model, data, training, …) or the path of a YAML config`);
  }
  // The schema fills in defaults: work on a copy, so the caller's object is left as it was.
  return validate(structuredClone(value), label, () => '');
}

function validate(value: unknown, file: string, where: (keyPath: string[]) => string): RunConfig {
  const parsed = configSchema.safeParse(value);
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
function applyOverride(doc: Document, override: string, file: string): void {
  const eq = override.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set ${override}: expected key.path=value`);
  const keyPath = override.slice(0, eq).split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k));
  if (keyPath.some((k) => k === '')) throw new ConfigError(`--set ${override}: empty key in "${override.slice(0, eq)}"`);
  const value = YAML.parse(override.slice(eq + 1) || '""');
  try {
    doc.setIn(keyPath, doc.createNode(value));
  } catch (err) {
    throw new ConfigError(`--set ${override}: cannot set this key in ${file} (${(err as Error).message})`);
  }
}

// ":line" of the deepest node on the key path that exists in the YAML (overrides and defaults have none).
function locate(doc: Document, keyPath: string[], lineCounter: LineCounter): string {
  for (let n = keyPath.length; n >= 0; n--) {
    const node = doc.getIn(keyPath.slice(0, n).map((k) => (/^\d+$/.test(k) ? Number(k) : k)), true);
    const range = node && typeof node === 'object' && 'range' in node ? (node as { range?: [number, number, number] }).range : undefined;
    if (range && (isScalar(node) || n > 0)) return `:${lineCounter.linePos(range[0]).line}`;
  }
  return '';
}

const PATH_KEYS = ['path', 'collection', 'queries', 'qrels', 'triples', 'top1000'] as const;

// Relative paths are taken from the working directory, as Hugging Face's scripts do.
function resolvePaths(config: RunConfig, base: string): RunConfig {
  const abs = (p: string | undefined) => (p === undefined || path.isAbsolute(p) ? p : path.resolve(base, p));
  const sources = [config.data.train, config.data.eval, ...(config.stages ?? []).flatMap((s) => [s.data?.train, s.data?.eval])];
  for (const source of sources) {
    if (!source) continue;
    for (const key of PATH_KEYS) if (source[key] !== undefined) source[key] = abs(source[key]);
  }
  // A model or tokenizer is a local folder where one exists, else (when it can be) a Hugging Face Hub id, kept as is.
  const folderOrHubId = (p: string | undefined) => (p === undefined || fs.existsSync(path.resolve(base, p)) || !looksLikeHubId(p) ? abs(p) : p);
  config.model.path = folderOrHubId(config.model.path);
  config.model.tokenizer = folderOrHubId(config.model.tokenizer);
  if (typeof config.model.config === 'string') config.model.config = abs(config.model.config);
  config.data.cache_dir = abs(config.data.cache_dir)!;
  config.training.output_dir = abs(config.training.output_dir)!;
  return config;
}
