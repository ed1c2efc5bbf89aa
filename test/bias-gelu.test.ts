// The feed-forward block's bias + exact GELU as one CPU pass (native/kernels/bias_gelu.h): the kernel against a float64
// reference (forward and both gradients), and the models through it against transformers' outputs (the HF
// fixtures) with runtimeInfo().biasGeluCalls proving the kernel ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as rr from '../src/index';
import { Rng } from '../src/data/rng';
import { addon } from '../src/native';
import { bertMiniDir, column, fixturesDir, loadFixture, maxAbsDiff } from './helpers';

const biasGeluCalls = () => addon().runtimeInfo().biasGeluCalls;

/** erf in float64: its Taylor series below 3 (terms to 1e-17), else 1 - erfc by its continued fraction. */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = a, sum = a;
    for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = a;  // erfc(a) = exp(-a^2) / sqrt(pi) / (a + (1/2) / (a + 1 / (a + (3/2) / (a + ...)))), evaluated from the tail
  for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
  return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f);
}
const normalCdf = (u: number) => 0.5 * (1 + erf(u / Math.SQRT2));
const gelu = (u: number) => u * normalCdf(u);
const geluSlope = (u: number) => normalCdf(u) + (u * Math.exp(-0.5 * u * u)) / Math.sqrt(2 * Math.PI);

test('the float64 erf of this test is erf (known values)', () => {
  for (const [x, want] of [[0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3, 0.9999779095030014], [3.5, 0.9999992569016276], [-1.5, -0.9661051464753108]]) {
    assert.ok(Math.abs(erf(x) - want) < 1e-15, `erf(${x}) = ${erf(x)}, want ${want}`);
  }
});

const cases = [
  { rows: 37, width: 64, spread: 3 },
  { rows: 5, width: 1536, spread: 3 },
  { rows: 40, width: 13, spread: 3 },    // a width that is not whole vectors: the tail of each row
  { rows: 17, width: 8, spread: 12 },    // far tails: GELU saturates to u and to 0
  { rows: 1, width: 3, spread: 1 },
];

for (const c of cases) {
  test(`bias + GELU kernel: ${c.rows} rows of ${c.width}, values up to ±${c.spread}: forward and gradients as a float64 reference`, async () => {
    const rng = new Rng(c.rows * 1000 + c.width);
    const values = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
    const product = values(c.rows * c.width, c.spread), bias = values(c.width, 0.5), gradOut = values(c.rows * c.width, 1);
    if (c.width === 8) product.set([0, -0, 1e-30, -1e-30, 30, -30, 5.5, -5.5]);  // exact zeros, tiny and saturated values
    const before = biasGeluCalls();
    const inference = await addon().biasGelu({ product, bias });
    const training = await addon().biasGelu({ product, bias, gradOut });
    assert.equal(biasGeluCalls(), before + 2, 'the kernel did not run');
    let outErr = 0, gradErr = 0;
    const gradBias = new Float64Array(c.width);
    for (let i = 0; i < product.length; i++) {
      const u = product[i] + bias[i % c.width];
      // Relative to the size of u: float32 rounding of the sum already costs ~6e-8 |u|.
      outErr = Math.max(outErr, Math.abs(inference.out[i] - gelu(u)) / Math.max(1, Math.abs(u)));
      assert.equal(training.out[i], inference.out[i], 'the training forward differs from the inference one');
      const g = gradOut[i] * geluSlope(u);
      gradErr = Math.max(gradErr, Math.abs(training.gradProduct![i] - g));
      gradBias[i % c.width] += g;
    }
    assert.ok(outErr < 5e-7, `forward differs by ${outErr} (relative to max(1, |u|))`);
    assert.ok(gradErr < 5e-7, `product gradient differs by ${gradErr}`);
    const biasErr = maxAbsDiff(Array.from(training.gradBias!), Array.from(gradBias));
    assert.ok(biasErr < 1e-6 * Math.max(1, Math.sqrt(c.rows)), `bias gradient differs by ${biasErr}`);
  });
}

test('bias + GELU kernel: bad arguments are named, not a crash', async () => {
  const product = new Float32Array(12), bias = new Float32Array(4);
  assert.throws(() => addon().biasGelu({ product: new Float64Array(12) as unknown as Float32Array, bias }), /product must be a Float32Array/);
  assert.throws(() => addon().biasGelu({ product, bias: new Float32Array(0) }), /bias must be a non-empty Float32Array/);
  assert.throws(() => addon().biasGelu({ product, bias: new Float32Array(5) }), /product must hold whole rows of bias.length values/);
  assert.throws(() => addon().biasGelu({ product, bias, gradOut: new Float32Array(3) }), /gradOut must be a Float32Array as long as product/);
});

test('models with exact GELU run their feed-forward through the kernel and still score as transformers did', async () => {
  for (const dir of [bertMiniDir, path.join(fixturesDir, 'electra-pub'), path.join(fixturesDir, 'deberta-v3-pub')]) {
    const f = loadFixture<{ eval: { encoded: { input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] }; logits: number[][] } }>(dir);
    const model = await rr.load(dir, { device: 'cpu' });
    try {
      const before = biasGeluCalls();
      const logits = await model.scoreTokens({ inputIds: f.eval.encoded.input_ids, attentionMask: f.eval.encoded.attention_mask,
        ...(f.eval.encoded.token_type_ids ? { tokenTypeIds: f.eval.encoded.token_type_ids } : {}) });
      assert.equal(biasGeluCalls() - before, model.config.native.numHiddenLayers, `${dir}: one kernel call per layer`);
      const diff = maxAbsDiff(column(logits), column(f.eval.logits));
      assert.ok(diff < 1e-5, `${dir}: max |diff| ${diff}`);
    } finally {
      model.dispose();
    }
  }
});
