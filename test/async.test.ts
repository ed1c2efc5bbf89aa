// Scoring runs off the JS thread: the event loop stays responsive, and concurrent calls are all answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import * as rr from '../src/index';
import { bertMiniDir, loadFixture, repoRoot } from './helpers';

const fixture = loadFixture(bertMiniDir);

test('timers keep firing while a long score() runs', async () => {
  // A wider model than the fixture, so one call takes a while.
  const config = { ...JSON.parse(fs.readFileSync(path.join(bertMiniDir, 'config.json'), 'utf8')),
    hidden_size: 256, num_attention_heads: 4, intermediate_size: 1024, num_hidden_layers: 4 };
  const model = await rr.create({ config, tokenizer: bertMiniDir, maxLength: 128, seed: 1 });
  const pairs = Array.from({ length: 384 }, (_, i) => fixture.eval.pairs[i % fixture.eval.pairs.length]);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const started = Date.now();
  const scores = await model.score(pairs, { batchSize: 64 });
  const elapsed = Date.now() - started;
  clearInterval(timer);
  model.dispose();
  assert.equal(scores.length, pairs.length);
  assert.ok(elapsed > 100, `the workload should take a while (took ${elapsed} ms)`);
  // A blocked loop would tick at most once or twice; a free one about elapsed/5 times.
  assert.ok(ticks >= elapsed / 5 / 4, `only ${ticks} timer ticks in ${elapsed} ms`);
});

test('many concurrent score() calls all resolve with the right scores', async () => {
  const model = await rr.load(bertMiniDir, { maxLength: 64 });
  const pairs = fixture.eval.pairs;
  const expected = await model.score(pairs);
  const requests = Array.from({ length: 40 }, (_, i) => {
    const subset = pairs.slice(i % 7, (i % 7) + 1 + (i % 11));
    return { subset, offset: i % 7, promise: model.score(subset, { batchSize: 1 + (i % 4) }) };
  });
  const results = await Promise.all(requests.map((r) => r.promise));
  results.forEach((scores, i) => {
    const { subset, offset } = requests[i];
    assert.equal(scores.length, subset.length);
    scores.forEach((s, j) => assert.ok(Math.abs(s - expected[offset + j]) < 1e-5, `request ${i} pair ${j}`));
  });
  model.dispose();
});

test('the package loads through require() and ESM import', () => {
  const script = `import('rrnative').then(async (m) => {
    const model = await m.load(${JSON.stringify(bertMiniDir)});
    const [s] = await model.score([['q', 'd']]);
    model.dispose();
    console.log(typeof m.score, typeof m.default.load, Number.isFinite(s));
  })`;
  // Resolve 'rrnative' as a user would: through a node_modules link to this package.
  const scratch = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'rrnative-esm-'));
  fs.mkdirSync(path.join(scratch, 'node_modules'));
  fs.symlinkSync(repoRoot, path.join(scratch, 'node_modules', 'rrnative'));
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: scratch, encoding: 'utf8' });
  assert.equal(out.trim(), 'function function true');
  const cjs = execFileSync(process.execPath, ['-e', `const rr = require('rrnative'); console.log(typeof rr.load, typeof rr.score, typeof rr.Reranker)`], { cwd: scratch, encoding: 'utf8' });
  assert.equal(cjs.trim(), 'function function function');
});

test('a native call refused before it was queued does not keep the process alive', () => {
  // Each native call holds the event loop open until its job reports back; a call whose arguments fail the
  // addon's own checks is never queued and must let go at once (it used to hang the process at exit).
  const script = `
    const { Reranker } = require(${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'model.js'))});
    (async () => {
      const model = await Reranker.load(${JSON.stringify(bertMiniDir)});
      const batch = { inputIds: Int32Array.from([2, 5, 3]), attentionMask: Int32Array.from([1, 1, 1]), tokenTypeIds: null, batch: 1, length: 3 };
      try { model.native.trainStep(batch, { kind: 'bce', groupSize: 1, labels: [1], teacherScores: null, scale: 1, bf16: false }); }
      catch (e) { console.log(e.message); }
      model.dispose();
    })();`;
  const out = execFileSync(process.execPath, ['-e', script], { timeout: 60_000, encoding: 'utf8' });
  assert.match(out, /loss\.labels must be a Float32Array/);
});

test('process.exit() while a score is running exits with its code, not a crash in LibTorch\'s static destructors', () => {
  // Before the torch thread was stopped on 'exit', 2 in 12 such exits segfaulted inside a running forward.
  const script = `
    const rr = require(${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'index.js'))});
    rr.load(${JSON.stringify(bertMiniDir)}).then((m) => {
      const pairs = Array.from({ length: 4000 }, (_, i) => ['query ' + i, 'a document text that is long enough '.repeat(5)]);
      m.score(pairs, { batchSize: 16 }).catch(() => {});
      setTimeout(() => process.exit(3), 300);
    });`;
  for (let run = 0; run < 6; run++) {
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `run ${run}: killed by ${r.signal}\n${r.stderr}`);
    assert.equal(r.status, 3, `run ${run}: ${r.stderr}`);
  }
});
