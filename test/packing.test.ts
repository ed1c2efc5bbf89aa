// Packed tokens (native/packing.h): on the CPU, BERT-family layers skip the padding of a batch. The logits and
// the training step must stay transformers' (padding never changes a real token's output), and the packed path
// must really run: runtimeInfo().packedForwards counts it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as rr from '../src/index';
import { Reranker } from '../src/model';
import { addon } from '../src/native';
import { bertMiniDir, column, fixturesDir, loadFixture, maxAbsDiff } from './helpers';

const fixture = loadFixture(bertMiniDir);
const packedForwards = () => addon().runtimeInfo().packedForwards;

/** The rows padded on the right with `extra` more pad columns. */
function padMore(rows: number[][], extra: number, pad: number): number[][] {
  return rows.map((r) => [...r, ...new Array<number>(extra).fill(pad)]);
}

test('BERT: a batch padded far past its longest pair scores as transformers did, on packed tokens', async () => {
  const model = await rr.load(bertMiniDir, { maxLength: fixture.max_length, device: 'cpu' });
  try {
    const e = fixture.eval.encoded;
    const extra = 40;
    const before = packedForwards();
    const logits = await model.scoreTokens({
      inputIds: padMore(e.input_ids, extra, model.tokenizer.padTokenId),
      attentionMask: padMore(e.attention_mask, extra, 0),
      tokenTypeIds: padMore(e.token_type_ids, extra, 0),
    });
    assert.ok(packedForwards() > before, 'the forward did not run packed');
    const diff = maxAbsDiff(column(logits), column(fixture.eval.logits));
    assert.ok(diff < 1e-5, `packed logits differ from transformers by ${diff}`);
  } finally {
    model.dispose();
  }
});

for (const dir of ['xlmr-pub', 'electra-pub']) {
  test(`${dir}: the fixture batch (about 40% padding) runs packed and matches transformers within 1e-5`, async () => {
    const f = loadFixture<{ eval: { encoded: { input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] }; logits: number[][] } }>(path.join(fixturesDir, dir));
    const model = await rr.load(path.join(fixturesDir, dir), { device: 'cpu' });
    try {
      const before = packedForwards();
      const logits = await model.scoreTokens({ inputIds: f.eval.encoded.input_ids, attentionMask: f.eval.encoded.attention_mask,
        ...(f.eval.encoded.token_type_ids ? { tokenTypeIds: f.eval.encoded.token_type_ids } : {}) });
      assert.ok(packedForwards() > before, 'the forward did not run packed');
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

test('a batch without padding, or with under 2% of it, runs padded (nothing to skip)', async () => {
  const model = await rr.load(bertMiniDir, { maxLength: fixture.max_length, device: 'cpu' });
  try {
    const before = packedForwards();
    await model.score([fixture.eval.pairs[0]]);  // one pair: no padding
    assert.equal(packedForwards(), before);
  } finally {
    model.dispose();
  }
});
