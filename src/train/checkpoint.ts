// Checkpoints: a Hugging Face model folder plus optimizer state (moments, step, torch RNG) and trainer state
// (schedule step, epoch, data position, data RNG, best metric), written atomically and rotated.
import fs from 'node:fs';
import path from 'node:path';
import type { Reranker } from '../model';
import type { RngState } from '../data/rng';
import { fsyncPath, writeFileAtomic } from '../util';

export interface TrainerState {
  stage: number;
  globalStep: number;
  epoch: number;
  /** Batches of the current epoch already trained on. */
  batchInEpoch: number;
  /** The data RNG at the start of the current epoch: replaying it rebuilds the epoch's batches. */
  epochRngState: RngState;
  bestMetric: number | null;
  bestCheckpoint: string | null;
  evalsWithoutImprovement: number;
  /** Ranks of the data-parallel job that wrote it (absent: 1); a resume must use as many. */
  worldSize?: number;
}

const PREFIX = 'checkpoint-';

export function checkpointDir(outputDir: string, step: number): string {
  return path.join(outputDir, `${PREFIX}${step}`);
}

export async function writeCheckpoint(outputDir: string, model: Reranker, state: TrainerState): Promise<string> {
  const final = checkpointDir(outputDir, state.globalStep);
  const tmp = path.join(outputDir, `.${PREFIX}${state.globalStep}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  await model.save(tmp);
  const optimizerFile = path.join(tmp, 'optimizer.safetensors');
  await model.native.saveOptimizer(optimizerFile);
  fsyncPath(optimizerFile);
  writeFileAtomic(path.join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 2));
  fsyncPath(tmp);
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  fsyncPath(outputDir);
  return final;
}

/** Finished checkpoints in a folder, oldest first. */
export function listCheckpoints(outputDir: string): { step: number; dir: string }[] {
  if (!fs.existsSync(outputDir)) return [];
  return fs.readdirSync(outputDir)
    .filter((name) => name.startsWith(PREFIX) && /^\d+$/.test(name.slice(PREFIX.length)))
    .map((name) => ({ step: Number(name.slice(PREFIX.length)), dir: path.join(outputDir, name) }))
    .filter((c) => fs.existsSync(path.join(c.dir, 'trainer_state.json')))
    .sort((a, b) => a.step - b.step);
}

/** Deletes the oldest checkpoints beyond `limit`, never the best one. */
export function rotateCheckpoints(outputDir: string, limit: number | undefined, best: string | null): void {
  if (limit === undefined) return;
  const all = listCheckpoints(outputDir);
  let excess = all.length - limit;
  for (const c of all) {
    if (excess <= 0) break;
    if (best && path.resolve(c.dir) === path.resolve(best)) continue;
    fs.rmSync(c.dir, { recursive: true, force: true });
    excess--;
  }
}

export function readTrainerState(dir: string): TrainerState {
  const file = path.join(dir, 'trainer_state.json');
  if (!fs.existsSync(file)) throw new Error(`${dir}: not a checkpoint (no trainer_state.json)`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as TrainerState;
}

/** Removes half-written checkpoints a killed run left behind. */
export function removeStaleTemporaries(outputDir: string): void {
  if (!fs.existsSync(outputDir)) return;
  for (const name of fs.readdirSync(outputDir)) {
    if (name.startsWith(`.${PREFIX}`) && name.includes('.tmp-')) fs.rmSync(path.join(outputDir, name), { recursive: true, force: true });
  }
}
