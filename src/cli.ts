#!/usr/bin/env node
// rrtrain: train, evaluate and use cross-encoder rerankers from the command line.
// Each command lives in src/commands/; this file only registers them.
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { evalCommand } from './commands/eval';
import { indexCommand } from './commands/index';
import { labelCommand } from './commands/label';
import { mineCommand } from './commands/mine';
import { rerankEvalCommand } from './commands/rerank-eval';
import { scoreCommand } from './commands/score';
import { serveCommand } from './commands/serve';
import { setupCommand } from './commands/setup';
import { searchCommand } from './commands/search';
import { tokenizerCommand } from './commands/tokenizer';
import { trainCommand } from './commands/train';

const COMMANDS: CommandModule<object, never>[] = [
  trainCommand as never,
  evalCommand as never,
  scoreCommand as never,
  serveCommand as never,
  mineCommand as never,
  labelCommand as never,
  searchCommand as never,
  indexCommand as never,
  rerankEvalCommand as never,
  tokenizerCommand as never,
  setupCommand as never,
];

export async function main(args: string[]): Promise<void> {
  let parser = yargs(args)
    .scriptName('rrtrain')
    .usage('$0 <config.yaml> [--set key=value …] [--resume [dir]]\n\nTrain, evaluate and use cross-encoder rerankers.');
  for (const command of COMMANDS) parser = parser.command(command);
  await parser
    .demandCommand(1, 'give a config file or a command (see --help)')
    .strict()
    .help()
    .fail((message, error, y) => {
      if (error) throw error;
      console.error(`${message}\n\n${y.help()}`);
      process.exit(2);
    })
    .parseAsync();
}

if (require.main === module) {
  main(hideBin(process.argv)).catch((err: Error) => {
    console.error(`rrtrain: ${err.message}`);
    process.exit(1);
  });
}
