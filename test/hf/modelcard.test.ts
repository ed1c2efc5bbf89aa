// The second suite, against the real Python stack (RRNATIVE_HF_PYTHON: the venv of ../shared/peers/setup-hf-peers.sh;
// .ci/run runs this suite when that venv can be made). A model trained with rr.train is loaded, as its model card
// says, by transformers' AutoModelForSequenceClassification and sentence-transformers' CrossEncoder: the card's own
// Python blocks are run as written, and their scores match rrnative's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as rr from '../../src/index';
import { bertMiniDir, loadFixture, tempDir } from '../helpers';

const python = process.env.RRNATIVE_HF_PYTHON;
const skip = python ? false : 'RRNATIVE_HF_PYTHON is not set (bash ../shared/peers/setup-hf-peers.sh makes the venv and prints its python)';

test('the model card\'s transformers and sentence-transformers usage runs as written and scores as rrnative does', { skip }, async () => {
  const dir = tempDir('rrnative-card-');
  const fixture = loadFixture(bertMiniDir);
  fs.writeFileSync(path.join(dir, 'pairs.jsonl'), fixture.train.bce.batches.flatMap((b) => b.pairs)
    .map(([query, document, label]) => JSON.stringify({ query, document, label })).join('\n') + '\n');
  const cwd = process.cwd();
  process.chdir(dir);  // the card names the folder as the run's caller does: from the working directory
  let card: string;
  let ours: number[];
  try {
    await rr.train({
      model: { path: bertMiniDir, max_length: 48 },
      data: { train: { path: 'pairs.jsonl' }, cache_dir: 'cache' },
      training: { output_dir: 'reranker', max_steps: 3, per_device_train_batch_size: 4, save_strategy: 'no', logging_steps: 1, device: 'cpu' },
    }, { log: () => {} });
    card = fs.readFileSync(path.join(dir, 'reranker', 'README.md'), 'utf8');
    const model = await rr.load('reranker');
    try {
      ours = await model.score([['query', 'document']]);
    } finally {
      model.dispose();
    }
  } finally {
    process.chdir(cwd);
  }
  const blocks = [...card.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.equal(blocks.length, 2, 'one transformers block, one sentence-transformers block');
  assert.match(blocks[0], /AutoModelForSequenceClassification/);
  assert.match(blocks[1], /CrossEncoder/);
  const script = `import json\n${blocks[0]}\nhf = scores.tolist()\n${blocks[1]}\nprint(json.dumps({"transformers": hf, "crossencoder": [float(s) for s in scores]}))\n`;
  const run = spawnSync(python!, ['-c', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' }, timeout: 300_000 });
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { transformers: number[]; crossencoder: number[] };
  console.log(`# rrnative ${ours[0]}, transformers ${out.transformers[0]}, CrossEncoder.predict ${out.crossencoder[0]} (sigmoid)`);
  assert.ok(Math.abs(out.transformers[0] - ours[0]) < 1e-5, 'transformers\' logit');
  assert.ok(Math.abs(out.crossencoder[0] - 1 / (1 + Math.exp(-ours[0]))) < 1e-5, 'CrossEncoder.predict: the sigmoid of that logit');
});
