// What the CPU benchmarks (cpu.ts, families.ts) share for their child processes: running one with a deadline,
// killing those still running when the benchmark ends, and the environment a Python peer gets.
import { spawn, type ChildProcess } from 'node:child_process';

// Measurement processes still running; ended with this one (Ctrl-C, kill, or an error) so none is left behind.
const running = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const child of running) child.kill('SIGKILL');
    process.exit(130);
  });
}
process.on('exit', () => { for (const child of running) child.kill('SIGKILL'); });

export function runProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.on('exit', () => running.delete(child));
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); stderr += `\n(killed after ${timeoutMs / 1000} s)`; }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** A failed process's last lines, for an error message. */
export const tail = (s: string, chars = 400) => s.trim().split('\n').slice(-3).join(' | ').slice(-chars);

// The OpenMP settings the benchmark was started with, read when this module loads: before the addon, which sets
// rrnative's default (PASSIVE) when it first loads.
export const startOmpWaitPolicy = process.env.OMP_WAIT_POLICY;

/** The environment for a peer's process: the caller's and `extra`, with OpenMP's wait policy as the benchmark found it. */
export function peerEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (startOmpWaitPolicy === undefined) delete env.OMP_WAIT_POLICY;
  else env.OMP_WAIT_POLICY = startOmpWaitPolicy;
  return env;
}
