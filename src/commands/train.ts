// `rrtrain <config.yaml>` / `rrtrain train <config>`: train a reranker from a YAML config.
// With --nproc N: a data-parallel job of N worker processes on this machine (this process launches and
// supervises them). A process started with torchrun's variables (RANK, WORLD_SIZE, …) joins that job instead.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { CommandModule } from 'yargs';
import { loadConfig } from '../config/load';
import { freePort } from '../train/distributed';
import { formatEntry } from '../train/progress';
import { train, TrainingAborted } from '../train/trainer';

interface Args {
  config: string;
  set?: string[];
  resume?: string;
  nproc?: number;
}

export const trainCommand: CommandModule<object, Args> = {
  command: ['train <config>', '$0 <config>'],
  describe: 'train a reranker from a YAML config',
  builder: (y) => y
    .positional('config', { type: 'string', demandOption: true, describe: 'YAML config file' })
    .option('set', { type: 'string', array: true, describe: 'override a config key: --set training.learning_rate=1e-4' })
    .option('resume', { type: 'string', describe: 'continue from the latest checkpoint in output_dir, or from the given checkpoint folder' })
    .option('nproc', { type: 'number', describe: 'data-parallel training on N worker processes on this machine (one per GPU with device cuda)' }) as never,
  handler: async (argv) => {
    const config = loadConfig(argv.config, argv.set ?? []);  // fails here, once, on a bad config
    if (argv.nproc !== undefined) {
      if (!Number.isInteger(argv.nproc) || argv.nproc < 1) throw new Error(`--nproc: expected a positive integer, got ${argv.nproc}`);
      if (process.env.WORLD_SIZE !== undefined) {
        throw new Error('--nproc starts its own workers; a process with WORLD_SIZE set joins a torchrun-style job instead: use one or the other');
      }
      if (argv.nproc > 1) {
        process.exitCode = await launchWorkers(argv.nproc, workerArgs(argv));
        return;
      }
    }
    if (process.env.RRNATIVE_LAUNCHER_PID && process.channel) stopWithLauncher();
    const resume = argv.resume === '' ? true : argv.resume;
    // One process: Ctrl-C or SIGTERM stops at the next step with a checkpoint (a second one exits at once). The
    // workers of a data-parallel job are stopped by their launcher instead.
    const stopping = process.env.WORLD_SIZE === undefined ? stopOnSignal() : null;
    try {
      const result = await train(config, { resume, signal: stopping?.signal });
      if (result.finalMetrics && (process.env.RANK ?? '0') === '0') {
        console.log(formatEntry({ stage: 0, step: result.globalStep, epoch: 0, ...result.finalMetrics }));
      }
    } catch (err) {
      if (!(err instanceof TrainingAborted)) throw err;
      console.error(err.checkpoint ? `rrtrain: stopped at step ${err.step}, checkpoint ${err.checkpoint}; continue with: rrtrain ${argv.config} --resume`
        : 'rrtrain: stopped before the first step');
      process.exitCode = 128 + (os.constants.signals[stopping?.signal.reason as NodeJS.Signals] ?? 2);
    } finally {
      stopping?.dispose();
    }
  },
};

function stopOnSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(128 + (os.constants.signals[signal] ?? 2));
    console.error(`rrtrain: ${signal}: stopping after this step, with a checkpoint (${signal} again: stop now)`);
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { signal: controller.signal, dispose: () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); } };
}

// The workers' command line: this one without --nproc (add any new train option here too).
function workerArgs(argv: Args): string[] {
  const args = ['train', argv.config];
  for (const s of argv.set ?? []) args.push('--set', s);
  if (argv.resume !== undefined) args.push('--resume', argv.resume);
  return args;
}

// A worker whose launcher is gone (killed with SIGKILL, say) must not train on alone.
function stopWithLauncher(): void {
  process.on('disconnect', () => {
    console.error('rrtrain: the launcher has gone; stopping this worker');
    process.exit(1);
  });
  process.channel!.unref();  // the channel alone must not keep the worker alive
}


/**
 * Starts `nproc` workers (ranks 0 … nproc-1, rendezvous on 127.0.0.1) and supervises them. Rank 0's output
 * passes through; the others' lines get a "[rank N]" prefix. When a worker fails (non-zero exit, or killed),
 * the others are stopped and the job fails with a message naming the rank; Ctrl-C or SIGTERM stops them all.
 * Resolves to the exit code.
 */
async function launchWorkers(nproc: number, args: string[]): Promise<number> {
  const port = await freePort();
  const cli = path.resolve(__dirname, '..', 'cli.js');
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const workers: ChildProcess[] = [];
  for (let rank = 0; rank < nproc; rank++) {
    const env: NodeJS.ProcessEnv = {
      ...process.env, RANK: String(rank), WORLD_SIZE: String(nproc), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(nproc),
      MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), RRNATIVE_LAUNCHER_PID: String(process.pid),
      // The workers share the cores (as torchrun's OMP_NUM_THREADS): oversubscribed BLAS threads spin against each other.
      RRNATIVE_NUM_THREADS: process.env.RRNATIVE_NUM_THREADS ?? String(Math.max(1, Math.floor(cores / nproc))),
    };
    const child = spawn(process.execPath, [cli, ...args], {
      env, stdio: rank === 0 ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    if (rank > 0) {
      for (const [stream, out] of [[child.stdout!, process.stdout], [child.stderr!, process.stderr]] as const) {
        readline.createInterface({ input: stream }).on('line', (line) => out.write(`[rank ${rank}] ${line}\n`));
      }
    }
    workers.push(child);
  }
  console.error(`rrtrain: ${nproc} workers, rendezvous at 127.0.0.1:${port} (` +
    workers.map((w, rank) => `rank ${rank}: pid ${w.pid}`).join(', ') + ')');
  return supervise(workers);
}

function supervise(workers: ChildProcess[]): Promise<number> {
  return new Promise((resolve) => {
    let running = workers.length;
    let failure: string | null = null;  // the first worker to fail: the one that took the job down
    let interrupted: NodeJS.Signals | null = null;

    const stopOthers = () => {
      for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGTERM');
      // A worker stuck inside a collective may not get to its SIGTERM handler: make sure.
      setTimeout(() => {
        for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
      }, 5000).unref();
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (interrupted) return;
      interrupted = signal;
      console.error(`rrtrain: ${signal}: stopping the workers`);
      stopOthers();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    workers.forEach((worker, rank) => worker.on('exit', (code, signal) => {
      running -= 1;
      if ((code !== 0 || signal) && !failure && !interrupted) {
        failure = `rank ${rank} (pid ${worker.pid}) ` + (signal ? `was killed by ${signal}` : `exited with code ${code}`);
        console.error(`rrtrain: ${failure}; stopping the other workers`);
        stopOthers();
      }
      if (running > 0) return;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (interrupted) {
        resolve(128 + (os.constants.signals[interrupted] ?? 1));
      } else if (failure) {
        console.error(`rrtrain: the data-parallel job failed: ${failure}`);
        resolve(1);
      } else {
        resolve(0);
      }
    }));
  });
}
