// Training matches Hugging Face: the fixture's two traces (AdamW, linear warmup schedule, clipping, bce and
// listwise losses) replayed through a YAML config and the real trainer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../src/config/load';
import { Reranker } from '../src/model';
import { train } from '../src/train/trainer';
import { bertMiniDir, column, loadFixture, tempDir, testDevice, type TrainTrace } from './helpers';

const fixture = loadFixture(bertMiniDir);

function traceConfig(dir: string, trace: TrainTrace, data: string, loss: string, extra = ''): string {
  return `
model:
  path: ${bertMiniDir}
  max_length: ${fixture.max_length}
  config_overrides: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }
data:
  train: { path: ${data} }
  shuffle: false
  train_group_size: 4
  cache_dir: ${path.join(dir, 'cache')}
loss: ${loss}
training:
  output_dir: ${path.join(dir, 'out')}
  learning_rate: ${trace.optimizer.lr}
  adam_beta1: ${trace.optimizer.betas[0]}
  adam_beta2: ${trace.optimizer.betas[1]}
  adam_epsilon: ${trace.optimizer.eps}
  weight_decay: ${trace.optimizer.weight_decay}
  max_grad_norm: ${trace.max_grad_norm}
  lr_scheduler_type: ${trace.schedule.name}
  warmup_steps: ${trace.schedule.warmup_steps}
  max_steps: ${trace.schedule.total_steps}
  per_device_train_batch_size: ${loss === 'bce' ? 8 : 2}
  logging_steps: 1
  save_strategy: 'no'
  device: ${testDevice}
${extra}`;
}

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
}

async function runTrace(name: 'bce' | 'listwise', extra = ''): Promise<{ entries: Record<string, number>[]; after: number[]; trace: TrainTrace }> {
  const trace = fixture.train[name];
  const dir = tempDir();
  const dataFile = path.join(dir, 'train.jsonl');
  const pairs = trace.batches.flatMap((b) => b.pairs);
  if (name === 'bce') {
    fs.writeFileSync(dataFile, pairs.map(([query, document, label]) => JSON.stringify({ query, document, label })).join('\n') + '\n');
  } else {
    const groups = [];
    for (let i = 0; i < pairs.length; i += 4) {
      const g = pairs.slice(i, i + 4);
      assert.equal(g[0][2], 1, 'the fixture puts the positive first');
      groups.push({ query: g[0][0], positives: [g[0][1]], negatives: g.slice(1).map((p) => p[1]) });
    }
    fs.writeFileSync(dataFile, groups.map((g) => JSON.stringify(g)).join('\n') + '\n');
  }
  const config = parseConfig(traceConfig(dir, trace, dataFile, name === 'bce' ? 'bce' : 'listwise_ce', extra), path.join(dir, 'config.yaml'));
  const result = await train(config, { progress: 'none', log: () => {} });
  const model = await Reranker.load(result.outputDir, { maxLength: fixture.max_length, device: testDevice });
  const after = column(await model.scoreTokens({
    inputIds: fixture.eval.encoded.input_ids, attentionMask: fixture.eval.encoded.attention_mask, tokenTypeIds: fixture.eval.encoded.token_type_ids,
  }));
  model.dispose();
  return { entries: result.history.filter((e) => 'loss' in e), after, trace };
}

test('bce trace: every step\'s lr, loss and grad norm, and the logits after, match transformers', async () => {
  const { entries, after, trace } = await runTrace('bce');
  assert.equal(entries.length, trace.steps.length);
  trace.steps.forEach((ref, i) => {
    assert.equal(entries[i].step, ref.step);
    assert.ok(Math.abs(entries[i].lr - ref.lr) <= 1e-4 * Math.abs(ref.lr) + 1e-12, `step ${ref.step} lr ${entries[i].lr} vs ${ref.lr}`);
    assert.ok(relErr(entries[i].loss, ref.loss) < 1e-4, `step ${ref.step} loss ${entries[i].loss} vs ${ref.loss}`);
    assert.ok(relErr(entries[i].grad_norm, ref.grad_norm) < 1e-4, `step ${ref.step} grad_norm ${entries[i].grad_norm} vs ${ref.grad_norm}`);
  });
  const expected = column(trace.eval_logits_after);
  after.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-4, `eval logit ${i}: ${v} vs ${expected[i]}`));
});

test('listwise trace: every step\'s lr, loss and grad norm match; the logits after match up to the loss-invariant bias', async () => {
  const { entries, after, trace } = await runTrace('listwise');
  assert.equal(entries.length, trace.steps.length);
  trace.steps.forEach((ref, i) => {
    assert.ok(Math.abs(entries[i].lr - ref.lr) <= 1e-4 * Math.abs(ref.lr) + 1e-12, `step ${ref.step} lr`);
    assert.ok(relErr(entries[i].loss, ref.loss) < 1e-4, `step ${ref.step} loss ${entries[i].loss} vs ${ref.loss}`);
    assert.ok(relErr(entries[i].grad_norm, ref.grad_norm) < 1e-4, `step ${ref.step} grad_norm ${entries[i].grad_norm} vs ${ref.grad_norm}`);
  });
  // Softmax cross-entropy over a group does not change when every logit shifts by the same amount, so the
  // classifier bias has an exactly-zero gradient in exact arithmetic. In float32 it is rounding noise
  // (~1e-9), which AdamW divides by sqrt(v) + eps and turns into steps of up to ~lr/2 whose sign depends on
  // the BLAS: HF's run and ours move the bias by different amounts, shifting every logit by one constant.
  // Every other parameter must match: the logits agree within 1e-4 once that common shift is removed,
  // and the shift itself is bounded by the sum of the learning rates (3e-3).
  const expected = column(trace.eval_logits_after);
  const shift = after.reduce((s, v, i) => s + (v - expected[i]), 0) / after.length;
  assert.ok(Math.abs(shift) < trace.steps.reduce((s, st) => s + st.lr, 0), `common shift ${shift}`);
  after.forEach((v, i) => assert.ok(Math.abs(v - shift - expected[i]) < 1e-4, `eval logit ${i}: ${v - shift} vs ${expected[i]}`));
});

for (const slices of [1, 4]) {
  test(`bce trace with training.cuda_graphs, length_slices ${slices}: the replayed steps match transformers as the eager ones do`,
    { skip: testDevice !== 'cuda' && 'CUDA graphs need a GPU (RRNATIVE_TEST_DEVICE=cuda)' }, async () => {
      // Steps 1-2 run eagerly (warm-up), 3-6 are captured (lengths padded to a bucket of 32) and replayed; with 4
      // slices the 8 rows, sorted by length, go through the captured step as 4 forwards of 2 rows.
      const { entries, after, trace } = await runTrace('bce', `  cuda_graphs: true\n  length_slices: ${slices}\n`);
      assert.equal(entries.length, trace.steps.length);
      trace.steps.forEach((ref, i) => {
        assert.ok(relErr(entries[i].loss, ref.loss) < 1e-4, `step ${ref.step} loss ${entries[i].loss} vs ${ref.loss}`);
        assert.ok(relErr(entries[i].grad_norm, ref.grad_norm) < 1e-4, `step ${ref.step} grad_norm ${entries[i].grad_norm} vs ${ref.grad_norm}`);
      });
      const expected = column(trace.eval_logits_after);
      after.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-4, `eval logit ${i}: ${v} vs ${expected[i]}`));
    });
}

for (const slices of [1, 4]) {
  test(`listwise trace with training.cuda_graphs, length_slices ${slices}: the replayed steps match transformers as the eager ones do`,
    { skip: testDevice !== 'cuda' && 'CUDA graphs need a GPU (RRNATIVE_TEST_DEVICE=cuda)' }, async () => {
      const { entries, trace } = await runTrace('listwise', `  cuda_graphs: true\n  length_slices: ${slices}\n`);
      assert.equal(entries.length, trace.steps.length);
      trace.steps.forEach((ref, i) => {
        assert.ok(relErr(entries[i].loss, ref.loss) < 1e-4, `step ${ref.step} loss ${entries[i].loss} vs ${ref.loss}`);
        assert.ok(relErr(entries[i].grad_norm, ref.grad_norm) < 1e-4, `step ${ref.step} grad_norm ${entries[i].grad_norm} vs ${ref.grad_norm}`);
      });
    });
}

test('length slices: the first bce batch forwarded by length gives transformers\' loss and gradient norm', async () => {
  // Rows of 64, 64, 64, 60, 64, 45, 64 and 23 tokens: slicing off the short rows saves work, so the step runs
  // as several forwards; the loss and the gradient norm must still be those of HF's one padded batch.
  const trace = fixture.train.bce;
  const first = trace.batches[0];
  for (const lengthSlices of [1, 4]) {
    const model = await Reranker.load(bertMiniDir, { maxLength: fixture.max_length, device: testDevice,
      configOverrides: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 } });
    const rows = first.encoded.input_ids.length, length = first.encoded.input_ids[0].length;
    const tokens = {
      inputIds: Int32Array.from(first.encoded.input_ids.flat()), attentionMask: Int32Array.from(first.encoded.attention_mask.flat()),
      tokenTypeIds: Int32Array.from(first.encoded.token_type_ids.flat()), batch: rows, length,
    };
    const labels = Float32Array.from(first.pairs.map((p) => p[2]));
    await model.native.trainStep(tokens, { kind: 'bce', groupSize: 1, labels, teacherScores: null, scale: 1, bf16: false, deferLoss: true, lengthSlices });
    const o = trace.optimizer;
    await model.native.optimizerStep({ lr: 0, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weight_decay,
      maxGradNorm: trace.max_grad_norm, deferGradNorm: true });
    const stats = await model.native.takeTrainStats();
    model.dispose();
    assert.equal(stats.slicedMicroBatches, lengthSlices > 1 ? 1 : 0, `lengthSlices ${lengthSlices}: sliced micro-batches`);
    assert.ok(relErr(stats.loss!, trace.steps[0].loss) < 1e-5, `lengthSlices ${lengthSlices}: loss ${stats.loss} vs ${trace.steps[0].loss}`);
    assert.ok(relErr(stats.gradNorm!, trace.steps[0].grad_norm) < 1e-4, `lengthSlices ${lengthSlices}: grad norm ${stats.gradNorm} vs ${trace.steps[0].grad_norm}`);
  }
});

test('length slices: training.length_slices 1 (one padded forward) matches transformers too', async () => {
  const { entries, trace } = await runTrace('listwise', '  length_slices: 1\n');
  trace.steps.forEach((ref, i) => assert.ok(relErr(entries[i].loss, ref.loss) < 1e-4, `step ${ref.step} loss ${entries[i].loss} vs ${ref.loss}`));
});
