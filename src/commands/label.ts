// `rrtrain label`: add a teacher cross-encoder's scores (pos_scores, neg_scores: raw logits) to grouped JSONL.
import type { CommandModule } from 'yargs';
import { Reranker, type DeviceRequest } from '../model';
import { labelDataSource, labelGrouped } from '../retrieve/label';
import { commandDevice, deviceOption } from './load-options';

interface Args {
  teacher: string;
  input?: string;
  dataset?: string;
  config?: string;
  split?: string;
  revision?: string;
  'max-records'?: number;
  output: string;
  'batch-size': number;
  'max-length'?: number;
  label?: string;
  device: DeviceRequest;
}

export const labelCommand: CommandModule<object, Args> = {
  command: 'label',
  describe: 'add teacher scores (pos_scores, neg_scores: raw logits) to grouped JSONL for distillation; order and other keys kept',
  builder: (y) => y
    .option('teacher', { type: 'string', demandOption: true, describe: 'teacher model folder or Hub id' })
    .option('input', { type: 'string', describe: 'grouped JSONL {query, positives|pos, negatives|neg}' })
    .option('dataset', { type: 'string', describe: 'or a Hugging Face dataset (e.g. ms_marco): its groups, written as grouped JSONL' })
    .option('config', { type: 'string', describe: 'with --dataset: its config (e.g. v2.1)' })
    .option('split', { type: 'string', describe: 'with --dataset: its split (default train)' })
    .option('revision', { type: 'string', describe: 'with --dataset: a branch, tag or commit' })
    .option('max-records', { type: 'number', describe: 'with --dataset: read this many rows (as data.train.max_records)' })
    .conflicts('input', 'dataset')
    .check((a) => {
      if (!a.input && !a.dataset) throw new Error('label: give --input (grouped JSONL) or --dataset (a Hugging Face dataset)');
      for (const key of ['config', 'split', 'revision', 'max-records'] as const) {
        if (a[key] !== undefined && !a.dataset) throw new Error(`label: --${key} goes with --dataset`);
      }
      if (a['max-records'] !== undefined && !(Number.isInteger(a['max-records']) && a['max-records'] > 0)) throw new Error('label: --max-records must be a positive integer');
      return true;
    })
    .option('output', { type: 'string', demandOption: true, describe: 'where to write (atomically)' })
    .option('batch-size', { type: 'number', default: 64 })
    .option('max-length', { type: 'number' })
    .option('label', { type: 'string', describe: 'for multi-label teachers: which logit (index or name)' })
    .option('device', deviceOption) as never,
  handler: async (argv) => {
    const teacher = await Reranker.load(argv.teacher, { maxLength: argv['max-length'], device: commandDevice(argv.device) });
    try {
      const label = argv.label === undefined ? undefined : /^\d+$/.test(argv.label) ? Number(argv.label) : argv.label;
      const options = { batchSize: argv['batch-size'], label };
      const stats = argv.dataset
        ? await labelDataSource(teacher, { hub: argv.dataset, config: argv.config, split: argv.split, revision: argv.revision,
          max_records: argv['max-records'] }, argv.output, options)
        : await labelGrouped(teacher, argv.input!, argv.output, options);
      console.log(`labelled ${stats.records} records (${stats.pairs} pairs) with ${argv.teacher} into ${argv.output} in ${stats.seconds.toFixed(1)} s`);
    } finally {
      teacher.dispose();
    }
  },
};
