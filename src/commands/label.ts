// `rrtrain label`: add a teacher cross-encoder's scores (pos_scores, neg_scores: raw logits) to grouped JSONL.
import type { CommandModule } from 'yargs';
import { Reranker, type DeviceRequest } from '../model';
import { labelGrouped } from '../retrieve/label';
import { commandDevice, deviceOption } from './load-options';

interface Args {
  teacher: string;
  input: string;
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
    .option('teacher', { type: 'string', demandOption: true, describe: 'teacher model folder' })
    .option('input', { type: 'string', demandOption: true, describe: 'grouped JSONL {query, positives|pos, negatives|neg}' })
    .option('output', { type: 'string', demandOption: true, describe: 'where to write (atomically)' })
    .option('batch-size', { type: 'number', default: 64 })
    .option('max-length', { type: 'number' })
    .option('label', { type: 'string', describe: 'for multi-label teachers: which logit (index or name)' })
    .option('device', deviceOption) as never,
  handler: async (argv) => {
    const teacher = await Reranker.load(argv.teacher, { maxLength: argv['max-length'], device: commandDevice(argv.device) });
    try {
      const label = argv.label === undefined ? undefined : /^\d+$/.test(argv.label) ? Number(argv.label) : argv.label;
      const stats = await labelGrouped(teacher, argv.input, argv.output, { batchSize: argv['batch-size'], label });
      console.log(`labelled ${stats.records} records (${stats.pairs} pairs) with ${argv.teacher} into ${argv.output} in ${stats.seconds.toFixed(1)} s`);
    } finally {
      teacher.dispose();
    }
  },
};
