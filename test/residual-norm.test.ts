// Bias + residual + LayerNorm as one CPU pass (native/kernels/residual_norm.h), float32 inference: the kernel against a
// float64 reference (rows not a whole number of vectors, with and without bias, large offsets), and the models
// through it against transformers' outputs (the HF fixtures) with runtimeInfo().residualLayerNormCalls proving it ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as rr from '../src/index';
import { Rng } from '../src/data/rng';
import { addon } from '../src/native';
import { bertMiniDir, column, fixturesDir, loadFixture, maxAbsDiff } from './helpers';

const calls = () => addon().runtimeInfo().residualLayerNormCalls;

/** A seeded uniform draw in [-scale, scale) plus offset. */
function values(count: number, seed: number, scale = 1, offset = 0): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: count }, () => offset + scale * (2 * rng.next() - 1));
}

function reference(product: Float32Array, residual: Float32Array, bias: Float32Array | undefined, weight: Float32Array,
  normBias: Float32Array, eps: number): Float64Array {
  const width = weight.length, out = new Float64Array(product.length);
  for (let r = 0; r < product.length / width; r++) {
    const v = Array.from({ length: width }, (_, j) => product[r * width + j] + residual[r * width + j] + (bias ? bias[j] : 0));
    const mean = v.reduce((a, b) => a + b, 0) / width;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / width;
    for (let j = 0; j < width; j++) out[r * width + j] = ((v[j] - mean) / Math.sqrt(variance + eps)) * weight[j] + normBias[j];
  }
  return out;
}

for (const c of [
  { width: 36, rows: 5, bias: true, offset: 0 },
  { width: 8, rows: 3, bias: false, offset: 0 },
  { width: 1, rows: 4, bias: true, offset: 0 },
  { width: 13, rows: 17, bias: true, offset: 0 },
  { width: 384, rows: 33, bias: true, offset: 50 },
]) {
  test(`residual + LayerNorm kernel: width ${c.width}, ${c.rows} rows${c.bias ? ', with bias' : ''}${c.offset ? `, values around ${c.offset}` : ''}: float64 reference`, async () => {
    const n = c.width * c.rows;
    const product = values(n, 1, 2, c.offset), residual = values(n, 2), bias = c.bias ? values(c.width, 3, 0.5) : undefined;
    const weight = values(c.width, 4, 0.5, 1), normBias = values(c.width, 5, 0.1);
    const eps = 1e-12;
    const before = calls();
    const { out } = await addon().residualLayerNorm({ product, residual, bias, weight, normBias, eps });
    assert.equal(calls(), before + 1, 'the kernel did not run');
    const expected = reference(product, residual, bias, weight, normBias, eps);
    // width 1: every value is its row's mean, so the output is the norm's bias exactly (as torch gives).
    const diff = maxAbsDiff(Array.from(out), Array.from(expected));
    assert.ok(diff < (c.offset ? 1e-4 : 2e-6), `max |diff| ${diff}`);
  });
}

test('residual + LayerNorm kernel: bad arguments are named, not a crash', () => {
  const v = new Float32Array(8), w = new Float32Array(4);
  assert.throws(() => addon().residualLayerNorm({ product: v, residual: v, weight: w, normBias: w, eps: 0 }), /eps must be a positive number/);
  assert.throws(() => addon().residualLayerNorm({ product: v, residual: new Float32Array(4), weight: w, normBias: w, eps: 1e-5 }),
    /product and residual must hold the same whole rows/);
  assert.throws(() => addon().residualLayerNorm({ product: v, residual: v, weight: w, normBias: new Float32Array(3), eps: 1e-5 }),
    /weight, normBias and bias must be non-empty and equally long/);
  assert.throws(() => addon().residualLayerNorm({ product: [1] as unknown as Float32Array, residual: v, weight: w, normBias: w, eps: 1e-5 }),
    /product must be a Float32Array/);
});

test('BERT, XLM-R, ELECTRA and DeBERTa score through the kernel (two calls per layer) as transformers did, fp32 and int8', async () => {
  for (const dir of [bertMiniDir, ...['xlmr-pub', 'electra-pub', 'deberta-v3-pub'].map((n) => path.join(fixturesDir, n))]) {
    const f = loadFixture<{ eval: { encoded: { input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] }; logits: number[][] } }>(dir);
    const input = { inputIds: f.eval.encoded.input_ids, attentionMask: f.eval.encoded.attention_mask,
      ...(f.eval.encoded.token_type_ids ? { tokenTypeIds: f.eval.encoded.token_type_ids } : {}) };
    for (const dtype of ['fp32', 'int8'] as const) {
      const model = await rr.load(dir, { device: 'cpu', dtype });
      try {
        const before = calls();
        const logits = await model.scoreTokens(input);
        assert.equal(calls() - before, 2 * model.config.native.numHiddenLayers, `${dir} ${dtype}: two kernel calls per layer`);
        const diff = maxAbsDiff(column(logits), column(f.eval.logits));
        assert.ok(diff < (dtype === 'fp32' ? 1e-5 : 1e-2), `${dir} ${dtype}: max |diff| ${diff}`);
      } finally {
        model.dispose();
      }
    }
  }
});
