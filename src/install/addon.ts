// Building the native addon where rrnative is installed: at `npm install rrnative` (scripts/install.js) and by
// `rrtrain setup`. LibTorch is looked for in the order CMakeLists.txt uses ($LIBTORCH, python3's torch, the
// system's libtorch-dev); a finished addon is kept in a build cache keyed by everything that goes into it, so a
// second install of the same sources against the same LibTorch copies it instead of compiling for minutes.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface LibTorch {
  /** Where it was found, in CMakeLists.txt's order. */
  source: 'LIBTORCH' | 'python3' | 'system';
  /** The CMake prefix (the folder holding share/cmake/Torch or lib/cmake/Torch). */
  prefix: string;
  /** Its TorchConfigVersion.cmake, whose text names the version (part of the build cache key). */
  versionFile: string;
}

/** The package's root: the folder with package.json, native/ and CMakeLists.txt. */
export const packageRoot = path.resolve(__dirname, '..', '..', '..');

export function addonFile(root = packageRoot): string {
  return path.join(root, 'build', 'Release', 'rrnative.node');
}

/** One paragraph: what is missing and the three ways to get a LibTorch. Printed at install; thrown by addon(). */
export function setupHelp(what = 'no LibTorch was found'): string {
  return `rrnative: the native addon is not built: ${what}. rrnative runs on LibTorch, found in this order: ` +
    '(1) LIBTORCH=/path/to/libtorch (an unpacked libtorch zip from pytorch.org); (2) the torch package of python3 ' +
    '(`pip install torch`); (3) the system\'s LibTorch (Debian/Ubuntu: `apt-get install libtorch-dev ' +
    'libopenblas0-pthread libgloo-dev cmake g++`). Then run `npx rrtrain setup`, which builds the addon (about ' +
    '4 minutes on 2 cores; it installs (3) with apt itself when it finds no LibTorch and apt-get is there).';
}

const versionFiles = (dir: string) => ['share/cmake/Torch', 'lib/cmake/Torch', 'cmake/Torch', '.']
  .map((sub) => path.join(dir, sub, 'TorchConfigVersion.cmake'));

/** The LibTorch the addon would build against, or null. A LIBTORCH naming no LibTorch is an error, not a skip. */
export function findLibTorch(env: NodeJS.ProcessEnv = process.env): LibTorch | null {
  if (env.LIBTORCH) {
    const versionFile = versionFiles(env.LIBTORCH).find((f) => fs.existsSync(f));
    if (!versionFile) throw new Error(`LIBTORCH=${env.LIBTORCH}: no LibTorch there (no share/cmake/Torch/TorchConfigVersion.cmake)`);
    return { source: 'LIBTORCH', prefix: env.LIBTORCH, versionFile };
  }
  const python = spawnSync('python3', ['-c', 'import torch; print(torch.utils.cmake_prefix_path)'], { encoding: 'utf8', env });
  if (python.status === 0 && python.stdout.trim()) {
    const prefix = python.stdout.trim();
    const versionFile = path.join(prefix, 'Torch', 'TorchConfigVersion.cmake');
    if (fs.existsSync(versionFile)) return { source: 'python3', prefix, versionFile };
  }
  const libDirs = ['/usr/local/lib', ...listDirs('/usr/lib').map((d) => path.join('/usr/lib', d))];
  for (const dir of libDirs) {
    const versionFile = path.join(dir, 'cmake', 'Torch', 'TorchConfigVersion.cmake');
    if (fs.existsSync(versionFile)) return { source: 'system', prefix: path.join(dir, 'cmake'), versionFile };
  }
  return null;
}

function listDirs(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** The build tools that are not on PATH (cmake-js needs CMake and a C++ compiler). */
export function missingTools(): string[] {
  const missing: string[] = [];
  if (spawnSync('cmake', ['--version']).status !== 0) missing.push('cmake');
  if (spawnSync('c++', ['--version']).status !== 0 && spawnSync('g++', ['--version']).status !== 0) missing.push('a C++ compiler (g++)');
  return missing;
}

/**
 * The build cache key: the addon's sources (native/, CMakeLists.txt), the node-addon-api version, the LibTorch
 * (its prefix and version file), the compiler, the platform. Node's own version is not in it: the addon uses
 * Node-API 8, whose binary interface every Node >= 20 keeps.
 */
export function buildKey(root: string, torch: LibTorch): string {
  const hash = crypto.createHash('sha256');
  const add = (label: string, value: string | Buffer) => hash.update(`${label}\0`).update(value).update('\0');
  for (const file of sourceFiles(root)) add(path.relative(root, file), fs.readFileSync(file));
  add('node-addon-api', packageVersion(root, 'node-addon-api'));
  add('torch', `${torch.prefix}\0${fs.readFileSync(torch.versionFile, 'utf8')}`);
  const compiler = spawnSync('c++', ['--version'], { encoding: 'utf8' });
  add('compiler', compiler.status === 0 ? compiler.stdout.split('\n')[0] : 'unknown');
  add('platform', `${process.platform}-${process.arch}`);
  return hash.digest('hex').slice(0, 24);
}

function sourceFiles(root: string): string[] {
  const out = [path.join(root, 'CMakeLists.txt')];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(full);
    }
  };
  walk(path.join(root, 'native'));
  return out;
}

function packageVersion(root: string, name: string): string {
  try {
    return (JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`, { paths: [root] }), 'utf8')) as { version: string }).version;
  } catch {
    return 'missing';
  }
}

/** $RRNATIVE_BUILD_CACHE, else $XDG_CACHE_HOME/rrnative/addon, else ~/.cache/rrnative/addon. */
export function buildCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RRNATIVE_BUILD_CACHE) return env.RRNATIVE_BUILD_CACHE;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'rrnative', 'addon');
}

/** Keeps a built addon in the cache under `key` (written to a temporary name, then renamed: never half a file). */
export function storeInCache(file: string, key: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = path.join(buildCacheDir(env), key);
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, 'rrnative.node');
  const temporary = `${target}.${process.pid}.tmp`;
  fs.copyFileSync(file, temporary);
  fs.renameSync(temporary, target);
  return target;
}

export type BuildOutcome =
  | { status: 'built' | 'cached'; torch: LibTorch; seconds: number; key: string }
  | { status: 'skipped'; reason: string };

export interface BuildOptions {
  log?: (line: string) => void;
  /** Use and fill the build cache (default true; RRNATIVE_BUILD_CACHE=off turns it off). */
  cache?: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * Builds build/Release/rrnative.node under `root` (or copies it from the build cache). Resolves to 'skipped', with
 * setupHelp()'s paragraph as the reason, where no LibTorch or no build tools are found; rejects when the compiler
 * fails, with the end of its output.
 */
export async function buildAddon(root = packageRoot, options: BuildOptions = {}): Promise<BuildOutcome> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  let torch: LibTorch | null;
  try {
    torch = findLibTorch(env);
  } catch (err) {
    return { status: 'skipped', reason: setupHelp((err as Error).message) };
  }
  if (!torch) return { status: 'skipped', reason: setupHelp() };
  const tools = missingTools();
  if (tools.length) return { status: 'skipped', reason: setupHelp(`${tools.join(' and ')} ${tools.length > 1 ? 'are' : 'is'} not installed`) };

  const started = Date.now();
  const useCache = (options.cache ?? true) && env.RRNATIVE_BUILD_CACHE !== 'off';
  const key = buildKey(root, torch);
  const target = addonFile(root);
  const cached = path.join(buildCacheDir(env), key, 'rrnative.node');
  if (useCache && fs.existsSync(cached)) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(cached, target);
    log(`rrnative: the native addon for LibTorch at ${torch.prefix} (${torch.source}) taken from the build cache (${cached})`);
    return { status: 'cached', torch, seconds: (Date.now() - started) / 1000, key };
  }

  log(`rrnative: building the native addon against LibTorch at ${torch.prefix} (${torch.source}); this takes minutes`);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const logFile = path.join(root, 'build', 'rrnative-build.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const code = await new Promise<number>((resolve, reject) => {
    const out = fs.openSync(logFile, 'w');
    const child = spawn(process.execPath, [cmakeJs, 'compile', '--directory', root, '--out', path.join(root, 'build'), '--config', 'Release'],
      { cwd: root, env, stdio: ['ignore', out, out] });
    child.on('error', reject);
    child.on('exit', (status, signal) => {
      fs.closeSync(out);
      resolve(status ?? (signal ? 128 : 1));
    });
  });
  if (code !== 0 || !fs.existsSync(target)) {
    const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
    throw new Error(`building the native addon failed (cmake-js exited with ${code}); the last lines of ${logFile}:\n${tail}`);
  }
  if (useCache) {
    try {
      storeInCache(target, key, env);
    } catch (err) {  // a read-only or full cache folder costs the next install a build, nothing more
      log(`rrnative: the build cache at ${buildCacheDir(env)} could not be written (${(err as Error).message}); the addon itself is built`);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  log(`rrnative: built ${target} in ${Math.round(seconds)} s`);
  return { status: 'built', torch, seconds, key };
}
