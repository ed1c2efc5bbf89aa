// The shipped configs validate, and the MS MARCO one trains on samples of the official file formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config/load';
import { train } from '../src/train/trainer';
import { bertMiniDir, repoRoot, tempDir } from './helpers';

const configs = path.join(repoRoot, 'configs');

test('every config under configs/ validates', () => {
  const files = fs.readdirSync(configs).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.includes('quickstart.yaml') && files.includes('msmarco.yaml') && files.includes('debdesc.yaml'));
  for (const f of files) assert.doesNotThrow(() => loadConfig(path.join(configs, f)), f);
  const quickstart = loadConfig(path.join(configs, 'quickstart.yaml'));
  assert.equal(quickstart.loss.name, 'listwise_ce');
  assert.equal(quickstart.training.device, 'cpu');
});

test('npm run quickstart prepares the vocabulary and negatives before it trains configs/quickstart.yaml', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.quickstart, /scripts\/setup\.sh && bash scripts\/quickstart\.sh$/);
  const script = fs.readFileSync(path.join(repoRoot, 'scripts', 'quickstart.sh'), 'utf8');
  const order = ['rrtrain tokenizer', 'rrtrain mine', 'configs/quickstart.yaml', 'rrtrain eval'].map((s) => script.indexOf(s));
  assert.ok(order.every((i) => i >= 0), `quickstart.sh runs ${order}`);
  assert.deepEqual([...order].sort((a, b) => a - b), order, 'vocabulary, mining, training, evaluation, in that order');
});

test('configs/msmarco.yaml trains and evaluates on MS MARCO-format samples', async () => {
  const samples = path.join(repoRoot, 'test', 'data', 'samples', 'msmarco');
  const dir = tempDir();
  const config = loadConfig(path.join(configs, 'msmarco.yaml'), [
    `model.path=${bertMiniDir}`, 'model.max_length=64',
    `data.train.triples=${path.join(samples, 'triples.train.small.tsv')}`,
    `data.eval.top1000=${path.join(samples, 'top1000.dev.tsv')}`, `data.eval.qrels=${path.join(samples, 'qrels.dev.tsv')}`,
    `data.cache_dir=${path.join(dir, 'cache')}`, `training.output_dir=${path.join(dir, 'out')}`,
    'training.max_steps=4', 'training.per_device_train_batch_size=2', 'training.eval_steps=2', 'training.save_steps=2',
    'training.logging_steps=1', 'training.device=cpu',
  ]);
  const result = await train(config, { progress: 'none', log: () => {} });
  assert.equal(result.globalStep, 4);
  assert.ok(result.finalMetrics && Number.isFinite(result.finalMetrics['mrr@10']));
  assert.ok(fs.existsSync(path.join(dir, 'out', 'model.safetensors')));
});
