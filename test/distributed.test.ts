// Data-parallel training on torch.distributed (Gloo on loopback): 2 ranks equal 1 process with the same global
// batch; the torchrun-style path (workers started separately) equals --nproc; a rendezvous that cannot form
// fails naming its address; a checkpoint resumes only with its world size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { addon } from '../src/native';
import { DataParallel, readTorchrunEnv } from '../src/train/distributed';
import { bertMiniDir, tempDir } from './helpers';
import { freePort, readTensors, rrtrain, writeGroups } from './distributed-helpers';

const haveGloo = addon().distributedBackends().includes('gloo');
const skip = haveGloo ? false : 'this build of rrnative has no torch.distributed (install libgloo-dev and rebuild)';

// Grouped data (17 groups): with 2 ranks × 2 records the global batch is 4, and each epoch ends with a batch of
// 1 group, alone in its optimizer step, of which rank 1 has no share. Listwise loss, shuffled, groups resampled
// each epoch: both runs must plan the very same global batches.
//
// adam_epsilon 1e-5: a few parameters have a gradient that is mathematically zero (the classifier bias under
// a softmax over each group, the attention key biases), so what they get is float32 rounding noise (~1e-8 to
// 1e-7), which differs between any two summation orders — one process vs two, as with PyTorch DDP. Adam's
// normalisation turns that noise into steps of about the learning rate at eps 1e-8 (measured: 7e-4 apart
// after 4 steps at lr 1e-3); at 1e-5 it stays small, and every weight can be held to 1e-5.
function config(dir: string, data: string, out: string, perDeviceBatch: number): string {
  const file = path.join(dir, `${path.basename(out)}.yaml`);
  fs.writeFileSync(file, `
model:
  path: ${bertMiniDir}
  max_length: 48
  config_overrides: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }
data:
  train: { path: ${data} }
  eval: { path: ${data} }
  train_group_size: 3
  shuffle: true
  cache_dir: ${path.join(dir, 'cache')}
loss: listwise_ce
training:
  output_dir: ${out}
  max_steps: 4
  learning_rate: 1.0e-3
  warmup_steps: 1
  weight_decay: 0.01
  adam_epsilon: 1.0e-5
  max_grad_norm: 1.0
  per_device_train_batch_size: ${perDeviceBatch}
  gradient_accumulation_steps: 2
  eval_strategy: steps
  eval_steps: 2
  save_steps: 2
  logging_steps: 1
  seed: 7
  device: cpu
  ddp_timeout: 20
`);
  return file;
}

function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>, sameNames = true): { max: number; where: string } {
  if (sameNames) assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let max = 0, where = '';
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y) continue;
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i] - y[i]);
      if (d > max) { max = d; where = name; }
    }
  }
  return { max, where };
}

function metrics(out: string): Record<string, number>[] {
  return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('readTorchrunEnv: the torchrun variables, clear errors when one is missing', () => {
  assert.equal(readTorchrunEnv({}), null);
  assert.deepEqual(readTorchrunEnv({ RANK: '1', WORLD_SIZE: '2', LOCAL_RANK: '0', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500' }),
    { rank: 1, worldSize: 2, localRank: 0, masterAddr: '10.0.0.1', masterPort: 29500 });
  assert.throws(() => readTorchrunEnv({ WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }), /RANK is not/);
  assert.throws(() => readTorchrunEnv({ WORLD_SIZE: '2', RANK: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }), /RANK=2: expected an integer in 0…1/);
  assert.throws(() => readTorchrunEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '1' }), /MASTER_ADDR is not/);
});

test('a single process has nothing to share: its shard is the whole batch', async () => {
  const single = await DataParallel.start(null, { ddp_timeout: 1 }, 'cpu');
  const batch = { pairs: [1, 2, 3], labels: Float32Array.of(1, 0, 0), teacherScores: null, groupSize: 3 };
  assert.deepEqual(single.shard(batch), { shard: batch, share: 1, gradientWeight: 1 });
  assert.equal(single.isMain, true);
});

test('2 ranks (--nproc 2, Gloo) end with the same weights and metrics as 1 process with the same global batch', { skip, timeout: 120_000 }, async () => {
  const dir = tempDir('rrnative-ddp-');
  const data = writeGroups(dir, 17);
  const oneOut = path.join(dir, 'one'), twoOut = path.join(dir, 'two');
  const one = await rrtrain([config(dir, data, oneOut, 4)]);
  assert.equal(one.code, 0, one.stderr);
  const two = await rrtrain([config(dir, data, twoOut, 2), '--nproc', '2']);
  assert.equal(two.code, 0, two.stderr);
  assert.match(two.stderr, /rrtrain: 2 workers, rendezvous at 127\.0\.0\.1:\d+ \(rank 0: pid \d+, rank 1: pid \d+\)/);
  assert.match(two.stdout, /2 ranks \(gloo\) × 2 = batch 4/);
  assert.doesNotMatch(two.stdout + two.stderr, /\[rank 1\]/, 'rank 1 runs quiet');

  const initial = readTensors(path.join(bertMiniDir, 'model.safetensors'));
  const a = readTensors(path.join(oneOut, 'model.safetensors')), b = readTensors(path.join(twoOut, 'model.safetensors'));
  const moved = maxDiff(initial, a, false);
  assert.ok(moved.max > 1e-3, `training must move the weights (max change ${moved.max})`);
  const diff = maxDiff(a, b);
  console.log(`max |w(1 process) - w(2 ranks)| = ${diff.max.toExponential(2)} (${diff.where}); max change from init ${moved.max.toExponential(2)}`);
  assert.ok(diff.max <= 1e-5, `weights differ by ${diff.max} at ${diff.where}`);

  // The same losses, learning rates, gradient norms and (sharded) eval metrics, written once, by rank 0.
  const ma = metrics(oneOut), mb = metrics(twoOut);
  assert.equal(ma.length, mb.length);
  ma.forEach((e, i) => {
    for (const [k, v] of Object.entries(e)) {
      if (k === 'pairs_per_s') continue;
      assert.ok(Math.abs(v - mb[i][k]) <= 1e-5 * Math.max(1, Math.abs(v)), `step ${e.step} ${k}: ${v} vs ${mb[i][k]}`);
    }
  });
  assert.ok(mb.some((e) => 'eval_mrr@10' in e), 'evaluation ran (sharded over the ranks)');
  const state = JSON.parse(fs.readFileSync(path.join(twoOut, 'checkpoint-4', 'trainer_state.json'), 'utf8'));
  assert.equal(state.worldSize, 2);
  assert.deepEqual(fs.readdirSync(twoOut).filter((n) => n.startsWith('.')), [], 'no half-written checkpoints');

  // A checkpoint resumes only with its world size; with it, the run ends as the uninterrupted one did.
  const refused = await rrtrain([config(dir, data, twoOut, 2), '--resume', path.join(twoOut, 'checkpoint-2')]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /checkpoint-2 was written by a job of 2 ranks, and this job has 1: resume it with the same number \(--nproc 2/);
  const resumedOut = path.join(dir, 'resumed');
  fs.cpSync(path.join(twoOut, 'checkpoint-2'), path.join(resumedOut, 'checkpoint-2'), { recursive: true });
  const resumed = await rrtrain([config(dir, data, resumedOut, 2), '--nproc', '2', '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /resumed from .*checkpoint-2 \(step 2/);
  const afterResume = maxDiff(b, readTensors(path.join(resumedOut, 'model.safetensors')));
  assert.ok(afterResume.max <= 1e-6, `resumed weights differ by ${afterResume.max} at ${afterResume.where}`);
});

test('workers started separately with torchrun variables (the multi-machine path) train together, as --nproc does', { skip, timeout: 120_000 }, async () => {
  const dir = tempDir('rrnative-ddp-');
  const data = writeGroups(dir, 17);
  const launchedOut = path.join(dir, 'launched'), separateOut = path.join(dir, 'separate');
  const launched = await rrtrain([config(dir, data, launchedOut, 2), '--nproc', '2']);
  assert.equal(launched.code, 0, launched.stderr);

  const port = await freePort();
  const file = config(dir, data, separateOut, 2);
  const env = (rank: number) => ({ RANK: String(rank), WORLD_SIZE: '2', LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port), RRNATIVE_NUM_THREADS: '1' });
  const [rank0, rank1] = await Promise.all([rrtrain([file], env(0)), rrtrain([file], env(1))]);
  assert.equal(rank0.code, 0, rank0.stderr);
  assert.equal(rank1.code, 0, rank1.stderr);
  assert.match(rank0.stdout, /saved the trained model/);
  assert.equal(rank1.stdout.trim(), '', 'rank 1 runs quiet');

  const diff = maxDiff(readTensors(path.join(launchedOut, 'model.safetensors')), readTensors(path.join(separateOut, 'model.safetensors')));
  assert.ok(diff.max <= 1e-6, `weights differ by ${diff.max} at ${diff.where}`);
});

test('a rendezvous that cannot form fails within ddp_timeout, naming the address it tried', { skip, timeout: 60_000 }, async () => {
  const dir = tempDir('rrnative-ddp-');
  const data = writeGroups(dir, 8);
  const file = config(dir, data, path.join(dir, 'out'), 2);
  const port = await freePort();
  const env = (rank: number) => ({ RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) });

  // Rank 0 alone: it serves the rendezvous, but rank 1 never comes.
  const alone0 = await rrtrain([file, '--set', 'training.ddp_timeout=3'], env(0));
  assert.equal(alone0.code, 1);
  assert.match(alone0.stderr, new RegExp(`rank 0 of 2: the rendezvous at 127\\.0\\.0\\.1:${port} did not complete within 3 s: 1 of 2 ranks joined`));
  assert.ok(alone0.ms < 20_000, `took ${alone0.ms} ms`);

  // Rank 1 alone: nobody serves the rendezvous.
  const alone1 = await rrtrain([file, '--set', 'training.ddp_timeout=3'], env(1));
  assert.equal(alone1.code, 1);
  assert.match(alone1.stderr, new RegExp(`rank 1 of 2: could not reach the rendezvous at 127\\.0\\.0\\.1:${port} \\(served by rank 0\\) within 3 s`));
  assert.ok(alone1.ms < 20_000, `took ${alone1.ms} ms`);
});
