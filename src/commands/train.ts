// `rrtrain <config.yaml>` / `rrtrain train <config>`: train a reranker from a YAML config.
import type { CommandModule } from 'yargs';
import { loadConfig } from '../config/load';
import { formatEntry } from '../train/progress';
import { train } from '../train/trainer';

interface Args {
  config: string;
  set?: string[];
  resume?: string;
}

export const trainCommand: CommandModule<object, Args> = {
  command: ['train <config>', '$0 <config>'],
  describe: 'train a reranker from a YAML config',
  builder: (y) => y
    .positional('config', { type: 'string', demandOption: true, describe: 'YAML config file' })
    .option('set', { type: 'string', array: true, describe: 'override a config key: --set training.learning_rate=1e-4' })
    .option('resume', { type: 'string', describe: 'continue from the latest checkpoint in output_dir, or from the given checkpoint folder' }) as never,
  handler: async (argv) => {
    const config = loadConfig(argv.config, argv.set ?? []);
    const resume = argv.resume === '' ? true : argv.resume;
    const result = await train(config, { resume });
    if (result.finalMetrics) console.log(formatEntry({ stage: 0, step: result.globalStep, epoch: 0, ...result.finalMetrics }));
  },
};
