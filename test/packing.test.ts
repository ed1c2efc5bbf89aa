// Packed tokens (native/layers/packing.h): on the CPU, BERT-family layers skip the padding of a batch, and inference
// runs attention on the packed tokens too (native/kernels/packed_attention.h). The logits and the training step must
// stay transformers' (padding never changes a real token's output), and the packed paths must really run:
// runtimeInfo().packedForwards and packedAttentionCalls count them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as rr from '../src/index';
import { Reranker } from '../src/model';
import { Rng } from '../src/data/rng';
import { addon } from '../src/native';
import { bertMiniDir, column, fixturesDir, loadFixture, maxAbsDiff } from './helpers';

const fixture = loadFixture(bertMiniDir);
const packedForwards = () => addon().runtimeInfo().packedForwards;
const packedAttentionCalls = () => addon().runtimeInfo().packedAttentionCalls;

/** The rows padded on the right with `extra` more pad columns. */
function padMore(rows: number[][], extra: number, pad: number): number[][] {
  return rows.map((r) => [...r, ...new Array<number>(extra).fill(pad)]);
}

test('BERT: a batch padded far past its longest pair scores as transformers did, on packed tokens', async () => {
  const model = await rr.load(bertMiniDir, { maxLength: fixture.max_length, device: 'cpu' });
  try {
    const e = fixture.eval.encoded;
    const extra = 40;
    const before = packedForwards(), attentionBefore = packedAttentionCalls();
    const logits = await model.scoreTokens({
      inputIds: padMore(e.input_ids, extra, model.tokenizer.padTokenId),
      attentionMask: padMore(e.attention_mask, extra, 0),
      tokenTypeIds: padMore(e.token_type_ids, extra, 0),
    });
    assert.ok(packedForwards() > before, 'the forward did not run packed');
    assert.ok(packedAttentionCalls() > attentionBefore, 'attention did not run on the packed tokens');
    const diff = maxAbsDiff(column(logits), column(fixture.eval.logits));
    assert.ok(diff < 1e-5, `packed logits differ from transformers by ${diff}`);
  } finally {
    model.dispose();
  }
});

for (const dir of ['xlmr-pub', 'electra-pub']) {
  test(`${dir}: the fixture batch (about 40% padding, head dim 12) runs packed and matches transformers within 1e-5`, async () => {
    const f = loadFixture<{ eval: { encoded: { input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] }; logits: number[][] } }>(path.join(fixturesDir, dir));
    const model = await rr.load(path.join(fixturesDir, dir), { device: 'cpu' });
    try {
      const before = packedForwards(), attentionBefore = packedAttentionCalls();
      const logits = await model.scoreTokens({ inputIds: f.eval.encoded.input_ids, attentionMask: f.eval.encoded.attention_mask,
        ...(f.eval.encoded.token_type_ids ? { tokenTypeIds: f.eval.encoded.token_type_ids } : {}) });
      assert.ok(packedForwards() > before, 'the forward did not run packed');
      assert.ok(packedAttentionCalls() > attentionBefore, 'attention did not run on the packed tokens');
      const diff = maxAbsDiff(column(logits), column(f.eval.logits));
      assert.ok(diff < 1e-5, `max |diff| ${diff}`);
    } finally {
      model.dispose();
    }
  });
}

test('BERT training step on packed tokens: transformers\' loss and gradient norm with 40 extra pad columns', async () => {
  const trace = fixture.train.bce;
  const first = trace.batches[0];
  const model = await Reranker.load(bertMiniDir, { maxLength: fixture.max_length, device: 'cpu',
    configOverrides: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 } });
  try {
    const extra = 40;
    const ids = padMore(first.encoded.input_ids, extra, model.tokenizer.padTokenId);
    const tokens = {
      inputIds: Int32Array.from(ids.flat()), attentionMask: Int32Array.from(padMore(first.encoded.attention_mask, extra, 0).flat()),
      tokenTypeIds: Int32Array.from(padMore(first.encoded.token_type_ids, extra, 0).flat()), batch: ids.length, length: ids[0].length,
    };
    const labels = Float32Array.from(first.pairs.map((p) => p[2]));
    const before = packedForwards();
    // One forward of the whole batch (no length slices), so it is the packed path that must match.
    const loss = await model.native.trainStep(tokens, { kind: 'bce', groupSize: 1, labels, teacherScores: null, scale: 1, bf16: false, lengthSlices: 1 });
    assert.ok(packedForwards() > before, 'the training forward did not run packed');
    const o = trace.optimizer;
    const gradNorm = await model.native.optimizerStep({ lr: 0, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weight_decay, maxGradNorm: trace.max_grad_norm });
    const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
    assert.ok(relErr(loss, trace.steps[0].loss) < 1e-5, `loss ${loss} vs ${trace.steps[0].loss}`);
    assert.ok(relErr(gradNorm, trace.steps[0].grad_norm) < 1e-4, `grad norm ${gradNorm} vs ${trace.steps[0].grad_norm}`);
  } finally {
    model.dispose();
  }
});

test('a batch without padding runs on packed tokens too, attention included, in training and inference', async () => {
  const model = await Reranker.load(bertMiniDir, { maxLength: fixture.max_length, device: 'cpu' });
  try {
    const pair = fixture.eval.encoded;
    const n = pair.attention_mask[0].reduce((a, b) => a + b, 0);
    const tokens = {
      inputIds: Int32Array.from(pair.input_ids[0].slice(0, n)), attentionMask: Int32Array.from(pair.attention_mask[0].slice(0, n)),
      tokenTypeIds: Int32Array.from(pair.token_type_ids[0].slice(0, n)), batch: 1, length: n,
    };
    const layers = model.config.native.numHiddenLayers;
    let before = packedForwards(), attentionBefore = packedAttentionCalls();
    await model.native.trainStep(tokens, { kind: 'bce', groupSize: 1, labels: Float32Array.of(1), teacherScores: null, scale: 1, bf16: false, lengthSlices: 1 });
    assert.equal(packedForwards(), before + 1, 'the training forward did not run packed');
    assert.equal(packedAttentionCalls(), attentionBefore + layers);
    before = packedForwards();
    attentionBefore = packedAttentionCalls();
    const [score] = await model.score([fixture.eval.pairs[0]]);  // one pair: no padding
    assert.ok(Number.isFinite(score));
    assert.equal(packedForwards(), before + 1);
    assert.equal(packedAttentionCalls(), attentionBefore + layers);
  } finally {
    model.dispose();
  }
});

/** softmax(q k^T / sqrt(d)) v per row and head in float64: the reference for the packed attention kernel. */
function referenceAttention(qkv: Float32Array, rowLengths: number[], heads: number): Float64Array {
  const tokens = rowLengths.reduce((a, b) => a + b, 0);
  const hidden = qkv.length / tokens / 3, d = hidden / heads;
  const out = new Float64Array(tokens * hidden);
  let start = 0;
  for (const length of rowLengths) {
    for (let h = 0; h < heads; h++) {
      const at = (token: number, part: number, t: number) => qkv[(start + token) * 3 * hidden + part * hidden + h * d + t];
      for (let i = 0; i < length; i++) {
        const scores = new Float64Array(length);
        for (let j = 0; j < length; j++) {
          let dot = 0;
          for (let t = 0; t < d; t++) dot += at(i, 0, t) * at(j, 1, t);
          scores[j] = dot / Math.sqrt(d);
        }
        const max = Math.max(...scores);
        let sum = 0;
        for (let j = 0; j < length; j++) sum += (scores[j] = Math.exp(scores[j] - max));
        for (let t = 0; t < d; t++) {
          let acc = 0;
          for (let j = 0; j < length; j++) acc += scores[j] * at(j, 2, t);
          out[(start + i) * hidden + h * d + t] = acc / sum;
        }
      }
    }
    start += length;
  }
  return out;
}

// Head dims on both of the kernel's paths (whole 16-wide blocks, and a last block of 8 after padding the head dim
// to a multiple of 8), rows shorter than, equal to and longer than its 4-row and 16-key blocks.
const kernelCases: { heads: number; headDim: number; rowLengths: number[]; spread: number }[] = [
  { heads: 2, headDim: 8, rowLengths: [1, 2, 3, 4, 5], spread: 1 },
  { heads: 3, headDim: 12, rowLengths: [17, 16, 15], spread: 1 },
  { heads: 4, headDim: 16, rowLengths: [9, 33], spread: 1 },
  { heads: 2, headDim: 24, rowLengths: [33, 1, 64], spread: 1 },
  { heads: 1, headDim: 40, rowLengths: [100], spread: 1 },
  { heads: 2, headDim: 64, rowLengths: [300, 7], spread: 1 },
  { heads: 2, headDim: 32, rowLengths: [50, 21], spread: 12 },  // scores in the hundreds: near one-hot rows
];
for (const c of kernelCases) {
  test(`packed attention kernel: head dim ${c.headDim}, rows of ${c.rowLengths.join(', ')} tokens${c.spread > 1 ? ', large scores' : ''}: float64 reference`, async () => {
    const rng = new Rng(c.headDim * 1000 + c.rowLengths[0]);
    const tokens = c.rowLengths.reduce((a, b) => a + b, 0);
    const qkv = Float32Array.from({ length: tokens * 3 * c.heads * c.headDim }, () => (rng.next() * 2 - 1) * c.spread);
    const { out: got } = await addon().packedAttention({ qkv, rowLengths: c.rowLengths, heads: c.heads });
    const want = referenceAttention(qkv, c.rowLengths, c.heads);
    assert.equal(got.length, want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]) / c.spread));
    // float32 rounding gives ~1e-7 here (a floor/truncation slip in the exp's range reduction: ~5e-6); scores in the
    // hundreds carry absolute rounding errors of ~1e-5 into the exponent.
    const tolerance = c.spread > 1 ? 1e-5 * c.spread : 1e-6;
    assert.ok(worst < tolerance, `max error ${worst} (tolerance ${tolerance})`);
  });
}

/**
 * The training kernel's forward and backward in float64: dropout factors m (1 / (1 - p) or 0) on the
 * probabilities P, D = P * m, out = D V; given dO: dV = D^T dO, dP = (dO V^T) * m, dS = P * (dP - rowsum(dP * P)),
 * dQ = dS K / sqrt(d), dK = dS^T Q / sqrt(d). `factors` covers every probability, in (row, head, query, key) order.
 */
function referenceTraining(qkv: Float32Array, gradOut: Float32Array, rowLengths: number[], heads: number, factors: Float32Array,
  allowed: (i: number, j: number) => boolean = () => true): { out: Float64Array; gradQkv: Float64Array } {
  const tokens = rowLengths.reduce((a, b) => a + b, 0);
  const hidden = qkv.length / tokens / 3, d = hidden / heads, scale = 1 / Math.sqrt(d);
  const out = new Float64Array(tokens * hidden), gradQkv = new Float64Array(qkv.length);
  let start = 0, offset = 0;
  for (const L of rowLengths) {
    for (let h = 0; h < heads; h++, offset += L * L) {
      const x = (token: number, part: number, t: number) => qkv[(start + token) * 3 * hidden + part * hidden + h * d + t];
      const g = (token: number, t: number) => gradOut[(start + token) * hidden + h * d + t];
      const P: number[][] = [], D: number[][] = [];
      for (let i = 0; i < L; i++) {
        const s = Array.from({ length: L }, (_, j) => { let dot = 0; for (let t = 0; t < d; t++) dot += x(i, 0, t) * x(j, 1, t); return allowed(i, j) ? dot * scale : -Infinity; });
        const max = Math.max(...s);
        const e = s.map((v) => Math.exp(v - max)), sum = e.reduce((a, b) => a + b, 0);
        P.push(e.map((v) => v / sum));
        D.push(P[i].map((p, j) => p * factors[offset + i * L + j]));
        for (let t = 0; t < d; t++) { let acc = 0; for (let j = 0; j < L; j++) acc += D[i][j] * x(j, 2, t); out[(start + i) * hidden + h * d + t] = acc; }
      }
      for (let i = 0; i < L; i++) {
        const dP = Array.from({ length: L }, (_, j) => { let dot = 0; for (let t = 0; t < d; t++) dot += g(i, t) * x(j, 2, t); return dot * factors[offset + i * L + j]; });
        const c = dP.reduce((acc, v, j) => acc + v * P[i][j], 0);
        const dS = dP.map((v, j) => P[i][j] * (v - c));
        for (let j = 0; j < L; j++) {
          for (let t = 0; t < d; t++) {
            gradQkv[(start + i) * 3 * hidden + h * d + t] += dS[j] * x(j, 1, t) * scale;
            gradQkv[(start + j) * 3 * hidden + hidden + h * d + t] += dS[j] * x(i, 0, t) * scale;
            gradQkv[(start + j) * 3 * hidden + 2 * hidden + h * d + t] += D[i][j] * g(i, t);
          }
        }
      }
    }
    start += L;
  }
  return { out, gradQkv };
}

const trainingCases: { heads: number; headDim: number; rowLengths: number[]; dropout: number }[] = [
  { heads: 2, headDim: 8, rowLengths: [1, 2, 5], dropout: 0 },
  { heads: 3, headDim: 12, rowLengths: [17, 6], dropout: 0 },
  { heads: 2, headDim: 32, rowLengths: [40, 9], dropout: 0 },
  { heads: 2, headDim: 24, rowLengths: [21, 3, 30], dropout: 0.3 },
  { heads: 1, headDim: 64, rowLengths: [70], dropout: 0.1 },
];
for (const c of trainingCases) {
  test(`packed attention training kernel: head dim ${c.headDim}, rows of ${c.rowLengths.join(', ')} tokens, dropout ${c.dropout}: output and gradients as a float64 reference`, async () => {
    const rng = new Rng(c.headDim * 7 + c.rowLengths.length);
    const tokens = c.rowLengths.reduce((a, b) => a + b, 0), hidden = c.heads * c.headDim;
    const qkv = Float32Array.from({ length: tokens * 3 * hidden }, () => rng.next() * 2 - 1);
    const gradOut = Float32Array.from({ length: tokens * hidden }, () => rng.next() * 2 - 1);
    const seed = 4242;
    const probCount = c.heads * c.rowLengths.reduce((a, L) => a + L * L, 0);
    const factors = c.dropout > 0 ? (await addon().dropoutMask({ count: probCount, p: c.dropout, seed })).forward : new Float32Array(probCount).fill(1);
    const got = await addon().packedAttention({ qkv, rowLengths: c.rowLengths, heads: c.heads, gradOut, dropout: c.dropout, seed });
    const want = referenceTraining(qkv, gradOut, c.rowLengths, c.heads, factors);
    assert.ok(got.gradQkv, 'no gradient returned');
    const worst = (a: Float32Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]) / Math.max(1, Math.abs(b[i]))), 0);
    assert.ok(worst(got.out, want.out) < 1e-6, `output: max error ${worst(got.out, want.out)}`);
    assert.ok(worst(got.gradQkv, want.gradQkv) < 1e-5, `gradient: max error ${worst(got.gradQkv, want.gradQkv)}`);
    if (c.dropout > 0) {  // the dropout really dropped: some probabilities are zeroed
      assert.ok(factors.some((f) => f === 0) && factors.some((f) => f > 1));
    }
  });
}

/**
 * Attention with a key mask and grouped K/V heads in float64: qkv rows [Q (heads x d) | K (kvHeads x d) | V (kvHeads x
 * d)], query head h reading K/V head floor(h / (heads / kvHeads)), query i seeing keys j with allowed(i, j).
 */
function referenceMaskedAttention(qkv: Float32Array, rowLengths: number[], heads: number, kvHeads: number, d: number,
  allowed: (i: number, j: number) => boolean): Float64Array {
  const tokens = rowLengths.reduce((a, b) => a + b, 0), stride = (heads + 2 * kvHeads) * d, group = heads / kvHeads;
  const out = new Float64Array(tokens * heads * d);
  let start = 0;
  for (const L of rowLengths) {
    for (let h = 0; h < heads; h++) {
      const kv = Math.floor(h / group);
      const q = (i: number, t: number) => qkv[(start + i) * stride + h * d + t];
      const k = (j: number, t: number) => qkv[(start + j) * stride + heads * d + kv * d + t];
      const v = (j: number, t: number) => qkv[(start + j) * stride + (heads + kvHeads) * d + kv * d + t];
      for (let i = 0; i < L; i++) {
        const s = Array.from({ length: L }, (_, j) => { let dot = 0; for (let t = 0; t < d; t++) dot += q(i, t) * k(j, t); return allowed(i, j) ? dot / Math.sqrt(d) : -Infinity; });
        const max = Math.max(...s), e = s.map((x) => Math.exp(x - max)), sum = e.reduce((a, b) => a + b, 0);
        for (let t = 0; t < d; t++) { let acc = 0; for (let j = 0; j < L; j++) acc += e[j] * v(j, t); out[(start + i) * heads * d + h * d + t] = acc / sum; }
      }
    }
    start += L;
  }
  return out;
}

// ModernBERT's sliding window (local layers), Qwen's causal mask with shared K/V heads, and both, on rows shorter
// and longer than the window and than the kernel's 4-row and 16-key blocks.
const maskedCases: { heads: number; kvHeads: number; headDim: number; rowLengths: number[]; window: number; causal: boolean }[] = [
  { heads: 4, kvHeads: 4, headDim: 12, rowLengths: [44, 31, 9, 3, 1], window: 8, causal: false },
  { heads: 2, kvHeads: 2, headDim: 16, rowLengths: [100, 17], window: 0, causal: false },
  { heads: 3, kvHeads: 3, headDim: 64, rowLengths: [70, 130], window: 33, causal: false },
  { heads: 6, kvHeads: 2, headDim: 8, rowLengths: [20, 14, 7, 3, 2, 1], window: -1, causal: true },
  { heads: 16, kvHeads: 8, headDim: 128, rowLengths: [37, 5], window: -1, causal: true },
  { heads: 5, kvHeads: 1, headDim: 8, rowLengths: [66], window: -1, causal: true },
  { heads: 4, kvHeads: 2, headDim: 12, rowLengths: [40, 6], window: 5, causal: true },
];
for (const c of maskedCases) {
  test(`packed attention kernel: ${c.heads} heads on ${c.kvHeads} K/V heads, head dim ${c.headDim}, window ${c.window}, causal ${c.causal}, rows of ${c.rowLengths.join(', ')}: float64 reference`, async () => {
    const rng = new Rng(c.headDim * 31 + c.rowLengths[0] + c.kvHeads);
    const tokens = c.rowLengths.reduce((a, b) => a + b, 0);
    const qkv = Float32Array.from({ length: tokens * (c.heads + 2 * c.kvHeads) * c.headDim }, () => rng.next() * 2 - 1);
    const allowed = (i: number, j: number) => (c.window < 0 || Math.abs(i - j) <= c.window) && (!c.causal || j <= i);
    const { out: got } = await addon().packedAttention({ qkv, rowLengths: c.rowLengths, heads: c.heads, kvHeads: c.kvHeads, window: c.window, causal: c.causal });
    const want = referenceMaskedAttention(qkv, c.rowLengths, c.heads, c.kvHeads, c.headDim, allowed);
    assert.equal(got.length, want.length);
    const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]) / Math.max(1, Math.abs(want[i]))), 0);
    assert.ok(worst < 1e-6, `max error ${worst}`);
    if (c.kvHeads === c.heads) {  // the training kernel: the same output, and gradients through the mask
      const gradOut = Float32Array.from({ length: tokens * c.heads * c.headDim }, () => rng.next() * 2 - 1);
      const probCount = c.heads * c.rowLengths.reduce((a, L) => a + L * L, 0);
      const trained = await addon().packedAttention({ qkv, rowLengths: c.rowLengths, heads: c.heads, window: c.window, causal: c.causal, gradOut });
      const reference = referenceTraining(qkv, gradOut, c.rowLengths, c.heads, new Float32Array(probCount).fill(1), allowed);
      const error = (a: Float32Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]) / Math.max(1, Math.abs(b[i]))), 0);
      assert.ok(error(trained.out, reference.out) < 1e-6, `training output: max error ${error(trained.out, reference.out)}`);
      assert.ok(error(trained.gradQkv!, reference.gradQkv) < 1e-5, `gradient: max error ${error(trained.gradQkv!, reference.gradQkv)}`);
    }
  });
}

test('packed attention kernel: bad arguments are named, not a crash', async () => {
  const qkv = new Float32Array(2 * 3 * 8);
  assert.throws(() => addon().packedAttention({ qkv, rowLengths: [2], heads: 0 }), /heads must be a whole number/);
  assert.throws(() => addon().packedAttention({ qkv, rowLengths: [0, 2], heads: 2 }), /rowLengths\[0\] must be/);
  assert.throws(() => addon().packedAttention({ qkv, rowLengths: [3], heads: 2 }), /qkv must hold sum\(rowLengths\) rows/);
  assert.throws(() => addon().packedAttention({ qkv, rowLengths: [2], heads: 3, kvHeads: 2 }), /heads must be a multiple of kvHeads/);
  assert.throws(() => addon().packedAttention({ qkv, rowLengths: [2], heads: 2, window: 1.5 }), /window must be a whole number/);
  assert.throws(() => addon().packedAttention({ qkv: new Float32Array(2 * 16), rowLengths: [2], heads: 2, kvHeads: 1, gradOut: new Float32Array(2 * 8) }),
    /the training kernel \(gradOut\) needs kvHeads = heads/);
  assert.throws(() => addon().packedAttention({ qkv: new Float64Array(48) as unknown as Float32Array, rowLengths: [2], heads: 2 }), /qkv must be a Float32Array/);
  assert.throws(() => addon().packedAttention({ qkv, rowLengths: [2], heads: 2, gradOut: new Float32Array(3) }), /gradOut must be a Float32Array/);
  assert.throws(() => addon().packedAttention({ qkv, rowLengths: [2], heads: 2, gradOut: new Float32Array(16), dropout: 1 }), /dropout must be in \[0, 1\)/);
});
