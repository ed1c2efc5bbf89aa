// The shipped configs validate, and the MS MARCO TSV one trains on samples of the official file formats (the guide's
// configs/msmarco.yaml, by Hub names, runs end to end against the Hub imitation in hub-datasets.test.ts).
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
  for (const name of ['quickstart.yaml', 'msmarco.yaml', 'msmarco-tsv.yaml', 'msmarco-distill.yaml', 'debdesc.yaml']) assert.ok(files.includes(name), name);
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

test('configs/msmarco.yaml names the guide\'s model and dataset on the Hub; the distillation stage starts from its output', () => {
  const guide = loadConfig(path.join(configs, 'msmarco.yaml'));
  assert.equal(guide.model.path, 'google/bert_uncased_L-4_H-512_A-8', 'kept a Hub id, not made a path');
  assert.deepEqual({ ...guide.data.train, format: undefined }, { hub: 'ms_marco', config: 'v2.1', split: 'train', max_records: 10000, format: undefined });
  assert.equal(guide.data.eval?.split, 'validation');
  assert.deepEqual([guide.training.learning_rate, guide.training.per_device_train_batch_size, guide.training.num_train_epochs], [2e-5, 16, 3]);
  const distill = loadConfig(path.join(configs, 'msmarco-distill.yaml'));
  assert.equal(distill.model.path, path.resolve(guide.training.output_dir), 'the first stage\'s folder, as a path');
  assert.equal(distill.loss.name, 'margin_mse');
});

test('configs/msmarco-tsv.yaml trains and evaluates on MS MARCO-format samples', async () => {
  const samples = path.join(repoRoot, 'test', 'data', 'samples', 'msmarco');
  const dir = tempDir();
  const config = loadConfig(path.join(configs, 'msmarco-tsv.yaml'), [
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
