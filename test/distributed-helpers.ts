// Helpers of the data-parallel tests: running the CLI as child processes, small grouped data, free ports,
// and reading a safetensors file's tensors.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
export { freePort } from '../src/train/distributed';
import { readSafetensorsHeader, repoRoot } from './helpers';

const cli = path.join(repoRoot, 'dist', 'src', 'cli.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunningCli {
  child: ChildProcess;
  /** The output so far. */
  output: { stdout: string; stderr: string };
  done: Promise<CliResult>;
}

/** Starts `node dist/src/cli.js …args` with extra environment variables (the torchrun ones are cleared first). */
export function startRrtrain(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const base = { ...process.env };
  for (const k of ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT']) delete base[k];
  const started = Date.now();
  const child = spawn(process.execPath, [cli, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d) => { output.stdout += d; });
  child.stderr!.on('data', (d) => { output.stderr += d; });
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) =>
    resolve({ code, signal, stdout: output.stdout, stderr: output.stderr, ms: Date.now() - started })));
  return { child, output, done };
}

export function rrtrain(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startRrtrain(args, env).done;
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}


/** `count` grouped records (1 positive, 3 negatives), deterministic, in a JSONL file. */
export function writeGroups(dir: string, count: number): string {
  const words = ['cat', 'dog', 'tree', 'river', 'stone', 'cloud', 'train', 'apple', 'music', 'light', 'paper', 'green'];
  const pick = (i: number, n: number) => Array.from({ length: n }, (_, k) => words[(i * 7 + k * 5 + k * k) % words.length]).join(' ');
  const lines = Array.from({ length: count }, (_, i) => JSON.stringify({
    query: `where is the ${words[i % words.length]} ${i}`,
    positives: [`the ${words[i % words.length]} ${i} is ${pick(i, 4)}`],
    negatives: [1, 2, 3].map((j) => `${pick(i + j, 3 + j)} ${words[(i + j) % words.length]}`),
  }));
  const file = path.join(dir, 'groups.jsonl');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Every F32 tensor of a safetensors file. */
export function readTensors(file: string): Map<string, Float32Array> {
  const { header, dataStart } = readSafetensorsHeader(file);
  const buf = fs.readFileSync(file);
  const out = new Map<string, Float32Array>();
  for (const [name, t] of Object.entries(header)) {
    if (t.dtype !== 'F32') continue;
    const [a, b] = t.data_offsets;
    const bytes = buf.subarray(dataStart + a, dataStart + b);
    out.set(name, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  }
  return out;
}
