// A data-parallel job whose worker dies or hangs stops, within training.ddp_timeout, with a message that names
// the rank — never a silent hang. Loopback Gloo, a few seconds each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { addon } from '../src/native';
import { bertMiniDir, tempDir } from './helpers';
import { freePort, isAlive, startRrtrain, waitFor, writeGroups } from './distributed-helpers';

const haveGloo = addon().distributedBackends().includes('gloo');
const skip = haveGloo ? false : 'this build of rrnative has no torch.distributed (install libgloo-dev and rebuild)';
const DDP_TIMEOUT_S = 6;

// A run long enough to be interrupted: many steps, a line per step on stdout.
function longRun(dir: string): string {
  const data = writeGroups(dir, 16);
  const file = path.join(dir, 'long.yaml');
  fs.writeFileSync(file, `
model: { path: ${bertMiniDir}, max_length: 32 }
data: { train: { path: ${data} }, train_group_size: 3, cache_dir: ${path.join(dir, 'cache')} }
loss: listwise_ce
training: { output_dir: ${path.join(dir, 'out')}, max_steps: 100000, per_device_train_batch_size: 2, logging_steps: 1,
  save_strategy: 'no', device: cpu, ddp_timeout: ${DDP_TIMEOUT_S} }
`);
  return file;
}

const stepsLogged = (stdout: string) => (stdout.match(/^step \d+/gm) ?? []).length;

test('--nproc 2: SIGKILL on one worker mid-run ends the job with a message naming the rank', { skip, timeout: 60_000 }, async () => {
  const dir = tempDir('rrnative-ddp-fault-');
  const run = startRrtrain([longRun(dir), '--nproc', '2']);
  await waitFor('the launcher to name its workers', () => /rank 1: pid \d+/.test(run.output.stderr), 30_000);
  const pids = [...run.output.stderr.matchAll(/rank (\d): pid (\d+)/g)].map((m) => Number(m[2]));
  await waitFor('a few training steps', () => stepsLogged(run.output.stdout) >= 3, 30_000);

  const killedAt = Date.now();
  process.kill(pids[1], 'SIGKILL');
  const result = await run.done;
  const seconds = (Date.now() - killedAt) / 1000;
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, new RegExp(`rank 1 \\(pid ${pids[1]}\\) was killed by SIGKILL; stopping the other workers`));
  assert.match(result.stderr, /the data-parallel job failed: rank 1/);
  assert.ok(seconds < DDP_TIMEOUT_S, `the job took ${seconds} s to stop`);
  assert.ok(!isAlive(pids[0]), 'rank 0 has been stopped too');
});

test('workers started separately: when a peer dies or hangs, the survivor fails within ddp_timeout naming it', { skip, timeout: 60_000 }, async () => {
  for (const [fault, signal] of [['dies', 'SIGKILL'], ['hangs', 'SIGSTOP']] as const) {
    const dir = tempDir('rrnative-ddp-fault-');
    const file = longRun(dir);
    const port = await freePort();
    const env = (rank: number) => ({ RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), RRNATIVE_NUM_THREADS: '1' });
    const rank0 = startRrtrain([file], env(0)), rank1 = startRrtrain([file], env(1));
    try {
      await waitFor('a few training steps', () => stepsLogged(rank0.output.stdout) >= 3, 30_000);
      const at = Date.now();
      rank1.child.kill(signal);
      const result = await rank0.done;
      const seconds = (Date.now() - at) / 1000;
      assert.equal(result.code, 1, `rank 0 must fail when rank 1 ${fault}`);
      assert.match(result.stderr, /the all-reduce of the gradients failed on rank 0 of 2/);
      assert.match(result.stderr, /rank 1 stopped answering \(no heartbeat for 3 s\): died or hung/);
      // A dead peer is seen at once (its connections close); a hung one after the timeout, plus the heartbeat check.
      const limit = fault === 'dies' ? 3 + 3 : DDP_TIMEOUT_S + 3 + 3;
      assert.ok(seconds < limit, `rank 0 took ${seconds} s to fail after rank 1 ${fault}`);
      console.log(`rank 1 ${fault}: rank 0 failed after ${seconds.toFixed(1)} s`);
    } finally {
      rank1.child.kill('SIGKILL');
      rank0.child.kill('SIGKILL');
      await Promise.all([rank0.done, rank1.done]);
    }
  }
});
