// The model card (README.md) written next to a trained model: base model, data, loss, hyperparameters, metrics.
import path from 'node:path';
import type { DataConfig, LossName, RunConfig, TrainingArgs } from '../config/schema';
import { writeFileAtomic } from '../util';
import type { EvalMetrics } from './evaluate';

export interface StageSummary {
  name: string;
  loss: LossName;
  args: TrainingArgs;
  data: DataConfig;
}

const HYPERPARAMETERS: (keyof TrainingArgs)[] = [
  'learning_rate', 'lr_scheduler_type', 'warmup_steps', 'warmup_ratio', 'num_train_epochs', 'max_steps',
  'per_device_train_batch_size', 'gradient_accumulation_steps', 'weight_decay', 'max_grad_norm', 'seed', 'bf16',
];

export function writeModelCard(dir: string, config: RunConfig, stages: StageSummary[], metrics: EvalMetrics | null): void {
  const base = config.model.path ? path.basename(config.model.path) : 'a new model (random initialisation)';
  const lines = [
    '---',
    'library_name: rrnative',
    'pipeline_tag: text-ranking',
    'tags: [cross-encoder, reranker, rrnative]',
    ...(config.model.path ? [`base_model: ${path.basename(config.model.path)}`] : []),
    '---',
    '',
    '# Cross-encoder reranker',
    '',
    `Trained with [rrnative](https://www.npmjs.com/package/rrnative) from ${base}. It scores a (query, document) pair; higher is more relevant.`,
    'The folder is a Hugging Face model folder: `AutoModelForSequenceClassification` and sentence-transformers\' `CrossEncoder` load it as it is.',
    '',
    '## Training',
    '',
    `- max_length: ${config.model.max_length}`,
  ];
  for (const s of stages) {
    lines.push('', `### Stage ${s.name}`, '', `- data: ${s.data.train?.path ?? s.data.train?.triples ?? '(msmarco files)'} (format ${s.data.train?.format ?? 'auto'})`,
      `- loss: ${s.loss}${s.data.train_group_size > 1 ? ` (train_group_size ${s.data.train_group_size})` : ''}`, '', '| hyperparameter | value |', '| --- | --- |');
    for (const key of HYPERPARAMETERS) lines.push(`| ${key} | ${String(s.args[key])} |`);
  }
  if (metrics) {
    lines.push('', '## Evaluation', '', `On ${stages.at(-1)?.data.eval?.path ?? 'the eval set'}:`, '', '| metric | value |', '| --- | --- |');
    for (const [k, v] of Object.entries(metrics)) lines.push(`| ${k} | ${Number.isInteger(v) ? v : v.toFixed(4)} |`);
  }
  lines.push('', '## Usage', '', '```js', "const rr = require('rrnative');", `const model = await rr.load('${path.basename(dir)}');`,
    "const scores = await model.score([['query', 'document']]);", '```', '');
  writeFileAtomic(path.join(dir, 'README.md'), lines.join('\n'));
}
