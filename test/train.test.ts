// The trainer end to end: determinism, kill -9 and resume, bad records, config errors, stages, best
// checkpoints, and the score command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { parseConfig } from '../src/config/load';
import { Reranker } from '../src/model';
import { train } from '../src/train/trainer';
import { groupByLength, LENGTH_GROUP_BATCHES } from '../src/train/plan';
import { addon } from '../src/native';
import { PairTokenizer } from '../src/tokenize';
import { TokenCache } from '../src/train/cache';
import { bertMiniDir, escapeRegExp, loadFixture, repoRoot, tempDir } from './helpers';

const fixture = loadFixture(bertMiniDir);
const cli = path.join(repoRoot, 'dist', 'src', 'cli.js');
const quiet = { progress: 'none' as const, log: () => {} };

/** Grouped training data from the fixture's listwise batches (4 groups), and pairs from its bce batches. */
function writeData(dir: string): { grouped: string; pairs: string } {
  const grouped = path.join(dir, 'grouped.jsonl');
  const lw = fixture.train.listwise.batches.flatMap((b) => b.pairs);
  const groups = [];
  for (let i = 0; i < lw.length; i += 4) groups.push({ query: lw[i][0], positives: [lw[i][1]], negatives: lw.slice(i + 1, i + 4).map((p) => p[1]) });
  fs.writeFileSync(grouped, groups.map((g) => JSON.stringify(g)).join('\n') + '\n');
  const pairs = path.join(dir, 'pairs.jsonl');
  const bce = fixture.train.bce.batches.flatMap((b) => b.pairs);
  fs.writeFileSync(pairs, bce.map(([query, document, label]) => JSON.stringify({ query, document, label })).join('\n') + '\n');
  return { grouped, pairs };
}

function yamlConfig(dir: string, data: string, body: string): string {
  return `
model:
  path: ${bertMiniDir}
  max_length: 48
data:
  train: { path: ${data} }
  eval: { path: ${data} }
  train_group_size: 3
  cache_dir: ${path.join(dir, 'cache')}
${body}`;
}

function writeConfig(dir: string, text: string): string {
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, text);
  return file;
}

test('a seeded CPU run is deterministic, bit for bit', async () => {
  const dir = tempDir();
  const { grouped } = writeData(dir);
  const body = (out: string) => `loss: listwise_ce
training: { output_dir: ${out}, max_steps: 8, learning_rate: 1e-3, per_device_train_batch_size: 2, save_strategy: 'no', logging_steps: 2, seed: 3, device: cpu }`;
  const a = await train(parseConfig(yamlConfig(dir, grouped, body(path.join(dir, 'a'))), 'a.yaml'), quiet);
  const b = await train(parseConfig(yamlConfig(dir, grouped, body(path.join(dir, 'b'))), 'b.yaml'), quiet);
  const weights = (d: string) => fs.readFileSync(path.join(d, 'model.safetensors'));
  assert.ok(weights(a.outputDir).equals(weights(b.outputDir)), 'same config and seed must give identical weights');
  assert.deepEqual(a.history.map((e) => e.loss), b.history.map((e) => e.loss));
  const c = await train(parseConfig(yamlConfig(dir, grouped, body(path.join(dir, 'c')).replace('seed: 3', 'seed: 4')), 'c.yaml'), quiet);
  assert.ok(!weights(a.outputDir).equals(weights(c.outputDir)), 'another seed gives other weights');
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'rrtrain_config.yaml', 'metrics.jsonl', 'README.md', 'report.svg']) {
    assert.ok(fs.existsSync(path.join(a.outputDir, f)), `output_dir has ${f}`);
  }
  const card = fs.readFileSync(path.join(a.outputDir, 'README.md'), 'utf8');
  assert.match(card, /loss: listwise_ce/);
  // Paths relative to the model folder, never this machine's; usage from the three libraries that load it.
  assert.ok(!new RegExp(`(^|[^.])${escapeRegExp(dir)}`, 'm').test(card), `no absolute path in the model card:\n${card}`);
  assert.match(card, /- data: \.\.\/grouped\.jsonl/);
  assert.match(card, /\) from `\.\.\/[^`]*bert-mini-a`/);
  assert.match(card, /AutoModelForSequenceClassification\.from_pretrained\("a"\)/);
  assert.match(card, /CrossEncoder\("a", max_length=48\)/);
  assert.match(card, /rr\.load\('a'\)/);
});

test('kill -9 mid-run, then --resume, ends with the same weights as an uninterrupted run', async () => {
  const dir = tempDir();
  const { grouped } = writeData(dir);
  // A wider model than the fixture so the run lasts a few seconds; dropout on, shuffled data, resampled groups.
  const config = { ...JSON.parse(fs.readFileSync(path.join(bertMiniDir, 'config.json'), 'utf8')),
    hidden_size: 192, num_attention_heads: 4, intermediate_size: 768, num_hidden_layers: 4 };
  fs.writeFileSync(path.join(dir, 'model-config.json'), JSON.stringify(config));
  const text = (out: string) => `
model: { config: ${path.join(dir, 'model-config.json')}, tokenizer: ${bertMiniDir}, max_length: 64 }
data: { train: { path: ${grouped} }, train_group_size: 4, cache_dir: ${path.join(dir, 'cache')} }
loss: listwise_ce
training: { output_dir: ${out}, max_steps: 60, learning_rate: 5e-4, warmup_steps: 5, per_device_train_batch_size: 3,
  gradient_accumulation_steps: 2, save_steps: 5, save_total_limit: 2, logging_steps: 1, seed: 11, device: cpu }`;

  const reference = await train(parseConfig(text(path.join(dir, 'reference')), 'ref.yaml'), quiet);

  const killedOut = path.join(dir, 'killed');
  const configFile = writeConfig(dir, text(killedOut));
  const child = spawn(process.execPath, [cli, configFile], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const deadline = Date.now() + 60_000;
  while (!fs.existsSync(path.join(killedOut, 'checkpoint-10')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.ok(!fs.existsSync(path.join(killedOut, 'model.safetensors')), 'the run must have been killed before it finished');

  const resumed = spawnSync(process.execPath, [cli, configFile, '--resume'], { encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /resumed from .*checkpoint-\d+/);
  assert.ok(fs.readFileSync(path.join(killedOut, 'model.safetensors')).equals(fs.readFileSync(path.join(reference.outputDir, 'model.safetensors'))),
    'resumed weights must equal the uninterrupted run\'s');
  const steps = fs.readFileSync(path.join(killedOut, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, Array.from({ length: 60 }, (_, i) => i + 1), 'metrics.jsonl has each step once');
  const left = fs.readdirSync(killedOut).filter((n) => n.startsWith('checkpoint-'));
  assert.equal(left.length, 2, `save_total_limit keeps 2 checkpoints, found ${left}`);
});

test('a bad record is an error with file:line, or skipped and reported with on_bad_record: skip', async () => {
  const dir = tempDir();
  const { pairs } = writeData(dir);
  const lines = fs.readFileSync(pairs, 'utf8').trim().split('\n');
  lines.splice(3, 0, '{"query": "q", "document": "d", "label": "yes"}');
  lines.splice(6, 0, '{not json');
  fs.writeFileSync(pairs, lines.join('\n') + '\n');
  const body = `loss: bce\ntraining: { output_dir: ${path.join(dir, 'out')}, max_steps: 2, save_strategy: 'no', device: cpu }`;
  await assert.rejects(train(parseConfig(yamlConfig(dir, pairs, body).replace(/\n {2}eval: .*\n/, '\n'), 'c.yaml'), quiet),
    new RegExp(`${escapeRegExp(pairs)}:4: "label" must be a number, got string`));
  const logs: string[] = [];
  const skipping = yamlConfig(dir, pairs, body).replace(/\n {2}eval: .*\n/, '\n').replace('train_group_size: 3', 'train_group_size: 3\n  on_bad_record: skip');
  await train(parseConfig(skipping, 'c.yaml'), { progress: 'none', log: (l) => logs.push(l) });
  const report = logs.find((l) => l.startsWith('skipped'));
  assert.ok(report, logs.join('\n'));
  assert.match(report!, /skipped 2 bad records/);
  assert.match(report!, /pairs\.jsonl:4: "label" must be a number/);
  assert.match(report!, /pairs\.jsonl:7: invalid JSON/);
});

test('config errors name the key path, the file and the line', () => {
  const base = 'model:\n  path: /m\ndata:\n  train: { path: /d }\ntraining:\n  output_dir: /o\n';
  assert.throws(() => parseConfig(base + '  learning_rat: 0.1\n', 'cfg.yaml'), /cfg\.yaml:7: training: unknown key "learning_rat"/);
  assert.throws(() => parseConfig(base + '  learning_rate: fast\n', 'cfg.yaml'), /cfg\.yaml:7: training\.learning_rate: .*number/);
  assert.throws(() => parseConfig(base + '  adam_beta1: 1.5\n', 'cfg.yaml'), /cfg\.yaml:7: training\.adam_beta1: /);
  assert.throws(() => parseConfig(base + '  per_device_train_batch_size: 0\n', 'cfg.yaml'), /training\.per_device_train_batch_size: /);
  assert.throws(() => parseConfig(base + 'loss: hinge\n', 'cfg.yaml'), /cfg\.yaml:7: loss: /);
  assert.throws(() => parseConfig(base + '  seed: [1\n', 'cfg.yaml'), /cfg\.yaml:\d+:\d+: invalid YAML/);
  assert.throws(() => parseConfig('model:\n  max_length: 64\n' + base.slice(base.indexOf('data')), 'cfg.yaml'), /model: give either model\.path/);
  assert.throws(() => parseConfig(base, 'cfg.yaml', ['training.learning_rate=-1']), /training\.learning_rate: .*>0|training\.learning_rate: Too small/);
  const overridden = parseConfig(base, 'cfg.yaml', ['training.learning_rate=1e-4', 'training.bf16=true', 'data.shuffle=false']);
  assert.equal(overridden.training.learning_rate, 1e-4);
  assert.equal(overridden.training.bf16, true);
  assert.equal(overridden.data.shuffle, false);
  assert.equal(overridden.training.lr_scheduler_type, 'linear', 'HF defaults fill the rest');
  assert.equal(overridden.training.warmup_steps, 0);
  assert.throws(() => parseConfig(base, 'cfg.yaml', ['nonsense']), /--set nonsense: expected key\.path=value/);
});

test('bf16 on CPU, a loss that does not fit the data, and an occupied output_dir are refused clearly', async () => {
  const dir = tempDir();
  const { pairs, grouped } = writeData(dir);
  const out = path.join(dir, 'out');
  const body = (loss: string, extra = '') => `loss: ${loss}\ntraining: { output_dir: ${out}, max_steps: 2, save_steps: 1, device: cpu${extra} }`;
  await assert.rejects(train(parseConfig(yamlConfig(dir, pairs, body('bce', ', bf16: true')), 'c.yaml'), quiet), /training\.bf16: bf16 autocast needs a CUDA device/);
  await assert.rejects(train(parseConfig(yamlConfig(dir, pairs, body('listwise_ce')), 'c.yaml'), quiet), /loss listwise_ce needs grouped data/);
  await assert.rejects(train(parseConfig(yamlConfig(dir, grouped, body('margin_mse')), 'c.yaml'), quiet), /loss margin_mse needs teacher scores/);
  await train(parseConfig(yamlConfig(dir, pairs, body('bce')), 'c.yaml'), quiet);
  await assert.rejects(train(parseConfig(yamlConfig(dir, pairs, body('bce')), 'c.yaml'), quiet), /already holds checkpoints .*--resume/);
});

test('every loss trains; stages run in sequence; the best checkpoint is kept and loaded at the end', async () => {
  const dir = tempDir();
  const { grouped, pairs } = writeData(dir);
  // Teacher scores for distillation: a made-up teacher that prefers the positive.
  const withTeacher = path.join(dir, 'teacher.jsonl');
  fs.writeFileSync(withTeacher, fs.readFileSync(grouped, 'utf8').trim().split('\n').map((l) => {
    const g = JSON.parse(l);
    return JSON.stringify({ ...g, pos_scores: [3], neg_scores: g.negatives.map((_: string, i: number) => -1 - i) });
  }).join('\n') + '\n');
  const out = path.join(dir, 'staged');
  const text = `
model: { path: ${bertMiniDir}, max_length: 48 }
data: { train: { path: ${pairs} }, eval: { path: ${grouped} }, train_group_size: 4, cache_dir: ${path.join(dir, 'cache')} }
loss: bce
training: { output_dir: ${out}, max_steps: 4, learning_rate: 2e-3, per_device_train_batch_size: 4, eval_strategy: steps, eval_steps: 2,
  save_steps: 2, save_total_limit: 1, load_best_model_at_end: true, metric_for_best_model: ndcg@10, logging_steps: 1, device: cpu }
stages:
  - { name: pointwise }
  - { name: mse, loss: mse }
  - { name: listwise, data: { train: { path: ${grouped} } }, loss: listwise_ce, training: { learning_rate: 1e-3 } }
  - { name: lambda, data: { train: { path: ${grouped} } }, loss: lambda_loss }
  - { name: margin, data: { train: { path: ${withTeacher} } }, loss: margin_mse }
  - { name: distill, data: { train: { path: ${withTeacher} } }, loss: distill_mse, training: { max_steps: 3 } }
`;
  const result = await train(parseConfig(text, 'staged.yaml'), quiet);
  const losses = new Map<number, number[]>();
  for (const e of result.history) if ('loss' in e) losses.set(e.stage, [...(losses.get(e.stage) ?? []), e.loss]);
  assert.equal(losses.size, 6);
  for (const [stage, values] of losses) assert.ok(values.every(Number.isFinite), `stage ${stage} losses ${values}`);
  assert.equal(losses.get(5)!.length, 3, 'a stage can override max_steps');
  const lrs = result.history.filter((e) => e.stage === 2 && 'lr' in e).map((e) => e.lr);
  assert.ok(Math.max(...lrs) <= 1e-3 + 1e-12, 'stage 3 runs at its own learning rate');
  for (const [i, name] of ['pointwise', 'mse', 'listwise', 'lambda', 'margin', 'distill'].entries()) {
    const stageDir = path.join(out, `stage-${i + 1}-${name}`);
    assert.ok(fs.existsSync(path.join(stageDir, 'model.safetensors')), `${stageDir} holds the stage's model`);
    const checkpoints = fs.readdirSync(stageDir).filter((n) => n.startsWith('checkpoint-'));
    assert.ok(checkpoints.length >= 1 && checkpoints.length <= 2, `rotation keeps the best (+1 newest): ${checkpoints}`);
  }
  assert.ok(result.finalMetrics && 'ndcg@10' in result.finalMetrics && 'mrr@10' in result.finalMetrics);
  const model = await Reranker.load(out);
  model.dispose();
});

test('rrtrain score writes one score per input pair, in input order', async () => {
  const dir = tempDir();
  const input = path.join(dir, 'pairs.jsonl');
  const pairs = fixture.eval.pairs.slice(0, 10);
  fs.writeFileSync(input, pairs.map(([query, document], i) => JSON.stringify(i % 2 ? [query, document] : { query, document })).join('\n') + '\n');
  const output = path.join(dir, 'scores.jsonl');
  const run = spawnSync(process.execPath, [cli, 'score', '--model', bertMiniDir, '--input', input, '--output', output, '--max-length', '64', '--batch-size', '3'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const scores = fs.readFileSync(output, 'utf8').trim().split('\n').map((l) => JSON.parse(l).score);
  const model = await Reranker.load(bertMiniDir, { maxLength: 64 });
  const expected = await model.score(pairs);
  model.dispose();
  scores.forEach((s: number, i: number) => assert.ok(Math.abs(s - expected[i]) < 1e-6));

  fs.appendFileSync(input, '{"query": "q"}\n');
  const bad = spawnSync(process.execPath, [cli, 'score', '--model', bertMiniDir, '--input', input], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /pairs\.jsonl:11: "document" must be a non-empty string/);
  assert.doesNotMatch(bad.stderr, /at .*\.js:\d+/, 'no stack trace');
  const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  assert.match(help.stdout, /rrtrain eval/);
});

test('early stopping ends the run when the eval metric stops improving', async () => {
  const dir = tempDir();
  const { grouped } = writeData(dir);
  // A learning rate too small to move the metric: it never improves after the first evaluation.
  const text = yamlConfig(dir, grouped, `loss: listwise_ce
training: { output_dir: ${path.join(dir, 'out')}, max_steps: 50, learning_rate: 1e-12, lr_scheduler_type: constant, per_device_train_batch_size: 2,
  eval_strategy: steps, eval_steps: 1, early_stopping_patience: 2, save_strategy: 'no', logging_steps: 1, device: cpu }`);
  const logs: string[] = [];
  const result = await train(parseConfig(text, 'c.yaml'), { progress: 'none', log: (l) => logs.push(l) });
  assert.equal(result.globalStep, 3, 'one evaluation sets the best, two without improvement stop the run');
  assert.ok(logs.some((l) => /early stopping: mrr@10 has not improved for 2 evaluations/.test(l)), logs.join('\n'));
});

test('a diverging run stops with the steps named, before any checkpoint holds its weights', async () => {
  const dir = tempDir();
  const { pairs } = writeData(dir);
  const out = path.join(dir, 'out');
  // lr 1e30 sends the weights to inf in the first step, so the second step's loss is NaN. The loss is read
  // every logging_steps (100 here), but also before each checkpoint (save_steps 2).
  const config = parseConfig(yamlConfig(dir, pairs, `loss: bce
training: { output_dir: ${out}, max_steps: 6, learning_rate: 1e30, max_grad_norm: 0, per_device_train_batch_size: 4, save_steps: 2, logging_steps: 100, device: cpu }`), 'nan.yaml');
  await assert.rejects(train(config, quiet), /steps 1-2: the loss is NaN; lower training\.learning_rate/);
  assert.deepEqual(fs.existsSync(out) ? fs.readdirSync(out).filter((f) => f.startsWith('checkpoint-')) : [], []);
});

test('training.cuda_graphs is refused clearly where it cannot run, and the native call checks its pairing', async () => {
  const dir = tempDir();
  const { pairs } = writeData(dir);
  const config = parseConfig(yamlConfig(dir, pairs, `loss: bce
training: { output_dir: ${path.join(dir, 'out')}, max_steps: 2, cuda_graphs: true, device: cpu }`), 'graphs.yaml');
  await assert.rejects(train(config, quiet), /training\.cuda_graphs needs device cuda \(this run uses cpu\); set cuda_graphs: false/);
  const model = await Reranker.load(bertMiniDir);
  const batch = { inputIds: Int32Array.from([2, 5, 3]), attentionMask: Int32Array.from([1, 1, 1]), tokenTypeIds: null, batch: 1, length: 3 };
  const loss = { kind: 'bce' as const, groupSize: 1, labels: Float32Array.from([1]), teacherScores: null, scale: 1, bf16: false };
  assert.throws(() => model.native.trainStep(batch, { ...loss, cudaGraphs: true }), /cudaGraphs needs loss\.deferLoss/);
  assert.throws(() => model.native.trainStep(batch, { ...loss, lengthSlices: 0 }), /loss\.lengthSlices must be a whole number from 1 to 64/);
  assert.throws(() => parseConfig(yamlConfig(dir, pairs, `loss: bce
training: { output_dir: ${path.join(dir, 'out')}, length_slices: 0 }`), 'slices.yaml'), /training\.length_slices/);
  if (!addon().runtimeInfo().cudaGraphs) {
    await assert.rejects(model.native.trainStep(batch, { ...loss, deferLoss: true, cudaGraphs: true }), /CUDA graphs need rrnative built against a CUDA LibTorch/);
  }
  model.dispose();
});

test('group_by_length sorts each run of 50 batches by length, longest first, and keeps the runs in order', async () => {
  const batch = 2, run = batch * LENGTH_GROUP_BATCHES;
  const items = Array.from({ length: run + 5 }, (_, i) => i);
  const length = (i: number) => (i * 37) % 11;  // lengths with ties
  const out = groupByLength(items, length, batch);
  assert.deepEqual([...out].sort((a, b) => a - b), items, 'a permutation of the input');
  const first = out.slice(0, run), second = out.slice(run);
  assert.deepEqual(new Set(first), new Set(items.slice(0, run)), 'the first run keeps its own items');
  for (const part of [first, second]) {
    for (let i = 1; i < part.length; i++) {
      const [a, b] = [part[i - 1], part[i]];
      assert.ok(length(a) > length(b) || (length(a) === length(b) && a < b), `${a} before ${b}`);
    }
  }
  // And a run with it trains (grouped data: records sorted by their candidates' mean length).
  const dir = tempDir();
  const { grouped } = writeData(dir);
  const result = await train(parseConfig(yamlConfig(dir, grouped, `loss: listwise_ce
training: { output_dir: ${path.join(dir, 'out')}, max_steps: 4, per_device_train_batch_size: 2, group_by_length: true, save_strategy: 'no', logging_steps: 2, device: cpu }`), 'gbl.yaml'), quiet);
  assert.equal(result.history.filter((e) => 'loss' in e).length, 2);
});

test('the token cache built on tokenization worker threads is byte-identical to one built on the main thread; abandoned builds are cleaned', async () => {
  const dir = tempDir();
  const { grouped } = writeData(dir);
  const tokenizer = await PairTokenizer.load(bertMiniDir);
  const build = async (workers: string): Promise<string> => {
    const before = process.env.RRNATIVE_TOKENIZE_WORKERS;
    process.env.RRNATIVE_TOKENIZE_WORKERS = workers;  // 0: the main thread; 2: two workers (this machine may have few cores)
    try {
      const cache = await TokenCache.open({ path: grouped }, tokenizer, fixture.max_length, path.join(dir, `cache-${workers}`), 'error', () => {});
      cache.close();
      return cache.dir;
    } finally {
      if (before === undefined) delete process.env.RRNATIVE_TOKENIZE_WORKERS;
      else process.env.RRNATIVE_TOKENIZE_WORKERS = before;
    }
  };
  const onMain = await build('0');
  const onWorkers = await build('2');
  for (const file of ['tokens.i32', 'index.bin']) {
    assert.ok(fs.readFileSync(path.join(onWorkers, file)).equals(fs.readFileSync(path.join(onMain, file))), `${file} differs`);
  }
  assert.ok(fs.statSync(path.join(onMain, 'tokens.i32')).size > 0);

  // A build killed midway leaves its temporary folder (named by a pid that no longer runs): the next build of
  // that cache removes it.
  const again = path.join(dir, 'cache-again');
  const abandoned = path.join(again, `${path.basename(onMain)}.tmp-2147483646`);
  fs.mkdirSync(abandoned, { recursive: true });
  fs.writeFileSync(path.join(abandoned, 'tokens.i32'), 'partial');
  (await TokenCache.open({ path: grouped }, tokenizer, fixture.max_length, again, 'error', () => {})).close();
  assert.ok(!fs.existsSync(abandoned), 'the abandoned temporary folder is removed');
});
