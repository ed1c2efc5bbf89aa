// rr.train(): the trainer the CLI runs, called from a Node program: a config object or a YAML path, onLog,
// and an AbortSignal that stops at a step boundary with a checkpoint the run resumes from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as rr from '../src/index';
import { bertMiniDir, loadFixture, repoRoot, tempDir } from './helpers';

const fixture = loadFixture(bertMiniDir);

function writePairs(dir: string): string {
  const file = path.join(dir, 'pairs.jsonl');
  const pairs = fixture.train.bce.batches.flatMap((b) => b.pairs);
  fs.writeFileSync(file, pairs.map(([query, document, label]) => JSON.stringify({ query, document, label })).join('\n') + '\n');
  return file;
}

function config(dir: string, data: string, out: string): rr.TrainConfig {
  return {
    model: { path: bertMiniDir, max_length: 48 },
    data: { train: { path: data }, cache_dir: path.join(dir, 'cache') },
    loss: { name: 'bce' },
    training: { output_dir: out, max_steps: 6, learning_rate: 1e-3, per_device_train_batch_size: 4, save_strategy: 'no',
      logging_steps: 1, seed: 5, device: 'cpu' },
  };
}

const weights = (d: string) => fs.readFileSync(path.join(d, 'model.safetensors'));

test('rr.train: a config object, every log entry through onLog, the saved folder; the caller\'s object untouched', async () => {
  const dir = tempDir();
  const cfg = config(dir, writePairs(dir), path.join(dir, 'out'));
  const before = JSON.stringify(cfg);
  const entries: rr.LogEntry[] = [];
  const messages: string[] = [];
  const result = await rr.train(cfg, { onLog: (e) => entries.push(e), log: (line) => messages.push(line) });
  assert.equal(JSON.stringify(cfg), before, 'defaults are filled in on a copy');
  assert.equal(result.outputDir, path.join(dir, 'out'));
  assert.equal(result.globalStep, 6);
  assert.deepEqual(entries.map((e) => e.step), [1, 2, 3, 4, 5, 6]);
  assert.ok(entries.every((e) => Number.isFinite(e.loss) && e.lr >= 0));
  assert.deepEqual(entries, result.history);
  assert.ok(messages.some((m) => m.startsWith('saved the trained model to')), messages.join('\n'));
  const model = await rr.load(result.outputDir);
  try {
    assert.equal((await model.score([['q', 'd']])).length, 1);
  } finally {
    model.dispose();
  }
});

test('rr.train: an AbortSignal stops at the next step with a checkpoint; resume: true ends as an uninterrupted run does', async () => {
  const dir = tempDir();
  const data = writePairs(dir);
  const whole = await rr.train(config(dir, data, path.join(dir, 'whole')), { log: () => {} });

  const out = path.join(dir, 'stopped');
  const controller = new AbortController();
  const stopped = rr.train(config(dir, data, out), {
    log: () => {}, signal: controller.signal, onLog: (e) => { if (e.step === 2) controller.abort('enough'); },
  });
  await assert.rejects(stopped, (err: unknown) => {
    assert.ok(err instanceof rr.TrainingAborted);
    assert.equal(err.name, 'AbortError');
    assert.equal(err.step, 2, 'the step that was running when the signal fired is finished, no more');
    assert.equal(err.checkpoint, path.join(out, 'checkpoint-2'));
    assert.equal(err.cause, 'enough');
    return true;
  });
  assert.ok(fs.existsSync(path.join(out, 'checkpoint-2', 'optimizer.safetensors')));
  assert.ok(!fs.existsSync(path.join(out, 'model.safetensors')), 'an aborted run saves no final model');

  const resumed = await rr.train(config(dir, data, out), { log: () => {}, resume: true });
  assert.equal(resumed.globalStep, 6);
  assert.ok(weights(resumed.outputDir).equals(weights(whole.outputDir)), 'abort + resume gives the uninterrupted run\'s weights, bit for bit');

  const early = new AbortController();
  early.abort();
  await assert.rejects(rr.train(config(dir, data, path.join(dir, 'never')), { signal: early.signal }),
    (err: unknown) => err instanceof rr.TrainingAborted && err.checkpoint === null);
});

test('rr.train: a YAML path with set overrides; bad configs are named, key and file', async () => {
  const dir = tempDir();
  const data = writePairs(dir);
  const file = path.join(dir, 'run.yaml');
  fs.writeFileSync(file, `model: { path: ${bertMiniDir}, max_length: 48 }
data: { train: { path: ${data} }, cache_dir: ${path.join(dir, 'cache')} }
training: { output_dir: ${path.join(dir, 'yaml-out')}, max_steps: 50, save_strategy: 'no', logging_steps: 1, device: cpu }
`);
  const result = await rr.train(file, { set: ['training.max_steps=2'], log: () => {} });
  assert.equal(result.globalStep, 2);

  await assert.rejects(rr.train({ ...config(dir, data, path.join(dir, 'x')), training: { output_dir: 'x', learning_rate: -1 } } as rr.TrainConfig),
    /^ConfigError: config: training\.learning_rate: /m);
  await assert.rejects(rr.train({ model: { path: bertMiniDir }, data: {}, training: { output_dir: 'x' }, typo: 1 } as unknown as rr.TrainConfig),
    /config: \(root\): unknown key "typo"/);
  await assert.rejects(rr.train(path.join(dir, 'missing.yaml')), /missing\.yaml: no such config file/);
  await assert.rejects(rr.train(config(dir, data, 'x'), { set: ['a=1'] }), /options\.set applies to a YAML config path/);
  await assert.rejects(rr.train(42 as unknown as string), /config: expected an object/);
});

test('rrtrain (the CLI, a thin caller): SIGINT stops after the running step with a checkpoint, exit 130; --resume finishes', async () => {
  const dir = tempDir();
  const data = writePairs(dir);
  const file = path.join(dir, 'long.yaml');
  const out = path.join(dir, 'cli-out');
  fs.writeFileSync(file, `model: { path: ${bertMiniDir}, max_length: 48 }
data: { train: { path: ${data} }, cache_dir: ${path.join(dir, 'cache')} }
training: { output_dir: ${out}, max_steps: 100000, save_strategy: 'no', logging_steps: 1, per_device_train_batch_size: 4, device: cpu }
`);
  const cli = path.join(repoRoot, 'dist', 'src', 'cli.js');
  const child = spawn(process.execPath, [cli, file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!/^step 3 /m.test(stdout)) {
    assert.ok(Date.now() < deadline, `no training steps logged:\n${stdout}\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGINT');
  assert.equal(await exited, 130, stderr);
  const step = Number(/stopped at step (\d+), checkpoint (\S+); continue with: rrtrain \S+ --resume/.exec(stderr)?.[1]);
  assert.ok(step >= 3, stderr);
  assert.ok(fs.existsSync(path.join(out, `checkpoint-${step}`, 'trainer_state.json')), 'the checkpoint of the step it stopped at');
  const resumed = await rr.train(file, { resume: true, set: [`training.max_steps=${step + 2}`], log: () => {} });
  assert.equal(resumed.globalStep, step + 2);
});
