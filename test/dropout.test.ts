// CPU dropout (native/layers/dropout.h): the keep mask drawn by a counter hash instead of LibTorch's bernoulli_. Its
// statistics must be those of independent Bernoulli draws, the backward pass must recompute the forward's mask,
// and the model must draw fresh masks each step that manual_seed repeats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reranker } from '../src/model';
import { addon } from '../src/native';
import { bertMiniDir, loadFixture } from './helpers';

const count = 1 << 20;

for (const p of [0.1, 0.5]) {
  test(`dropout mask, p ${p}: values 0 or 1/(1-p), keep rate 1-p, neighbours independent, unbiased; backward = forward`, async () => {
    const { forward, backward } = await addon().dropoutMask({ count, p, seed: 12345 });
    const keepValue = Math.fround(1 / (1 - p));
    let kept = 0, bothKept = 0, sum = 0;
    for (let i = 0; i < count; i++) {
      const v = forward[i];
      assert.ok(v === 0 || v === keepValue, `element ${i} is ${v}`);
      if (v !== 0) kept++;
      if (i > 0 && v !== 0 && forward[i - 1] !== 0) bothKept++;
      sum += v;
    }
    // 5 standard deviations of a binomial count.
    const q = 1 - p;
    const within = (observed: number, n: number, prob: number) => Math.abs(observed - n * prob) < 5 * Math.sqrt(n * prob * (1 - prob));
    assert.ok(within(kept, count, q), `kept ${kept} of ${count}, expected ${count * q}`);
    assert.ok(within(bothKept, count - 1, q * q), `adjacent pairs both kept: ${bothKept}, expected ${(count - 1) * q * q}`);
    assert.ok(Math.abs(sum / count - 1) < 5 * Math.sqrt(p / q / count), `mean ${sum / count} (dropout must not change the expectation)`);
    assert.deepEqual(backward, forward, 'the backward pass recomputes the same mask');
  });
}

test('dropout mask: the same seed repeats, another seed draws independently', async () => {
  const p = 0.5;
  const a = (await addon().dropoutMask({ count, p, seed: 7 })).forward;
  const again = (await addon().dropoutMask({ count, p, seed: 7 })).forward;
  const b = (await addon().dropoutMask({ count, p, seed: 8 })).forward;
  assert.deepEqual(again, a);
  let agree = 0;
  for (let i = 0; i < count; i++) if ((a[i] === 0) === (b[i] === 0)) agree++;
  // Independent fair coins agree half the time.
  assert.ok(Math.abs(agree - count / 2) < 5 * Math.sqrt(count / 4), `masks of seeds 7 and 8 agree on ${agree} of ${count}`);
});

test('dropout mask: p outside [0, 1) or a bad count is refused with the argument named', async () => {
  await assert.rejects(async () => addon().dropoutMask({ count: 10, p: 1, seed: 0 }), /options\.p must be in \[0, 1\)/);
  await assert.rejects(async () => addon().dropoutMask({ count: 0, p: 0.1, seed: 0 }), /options\.count/);
  await assert.rejects(async () => addon().dropoutMask({ count: 10, p: 0.1, seed: -1 }), /options\.seed/);
});

test('CPU training steps: fresh dropout masks each step, repeated under manual_seed, none with dropout 0', async () => {
  const fixture = loadFixture(bertMiniDir);
  const first = fixture.train.bce.batches[0];
  const tokens = {
    inputIds: Int32Array.from(first.encoded.input_ids.flat()), attentionMask: Int32Array.from(first.encoded.attention_mask.flat()),
    tokenTypeIds: Int32Array.from(first.encoded.token_type_ids.flat()), batch: first.encoded.input_ids.length, length: first.encoded.input_ids[0].length,
  };
  const labels = Float32Array.from(first.pairs.map((p) => p[2]));
  const lossOf = async (model: Reranker) =>
    model.native.trainStep(tokens, { kind: 'bce', groupSize: 1, labels, teacherScores: null, scale: 1, bf16: false });

  const dropping = await Reranker.load(bertMiniDir, { maxLength: fixture.max_length, device: 'cpu',
    configOverrides: { hidden_dropout_prob: 0.3, attention_probs_dropout_prob: 0.3 } });
  try {
    // No optimizer step in between: the weights stay, only the masks change.
    const a = await lossOf(dropping), b = await lossOf(dropping);
    assert.notEqual(a, b, 'two steps on the same batch drew the same dropout masks');
    await addon().manualSeed(99);
    const c = await lossOf(dropping);
    await addon().manualSeed(99);
    assert.equal(await lossOf(dropping), c, 'manual_seed must repeat the masks');
  } finally {
    dropping.dispose();
  }
  const plain = await Reranker.load(bertMiniDir, { maxLength: fixture.max_length, device: 'cpu',
    configOverrides: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 } });
  try {
    assert.equal(await lossOf(plain), await lossOf(plain), 'without dropout a step is deterministic');
  } finally {
    plain.dispose();
  }
});
