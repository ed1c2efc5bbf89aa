// `rrtrain serve`: the rerank HTTP API (guide, TEI and Cohere contracts) with dynamic batching. See src/serve/.
import type { CommandModule, Options } from 'yargs';
import { SERVE_SETTINGS, envName, flagName, resolveServeSettings, toServeOptions, type ServeSettingKey } from '../serve/config';
import { startServer } from '../serve/server';

type Args = Record<string, unknown> & { config?: string };

export const serveCommand: CommandModule<object, Args> = {
  command: 'serve',
  describe: 'serve a reranker over HTTP: POST /rerank (guide and TEI bodies), /v1/rerank and /v2/rerank (Cohere), GET /health, /info, /metrics',
  builder: (y) => {
    let parser = y.option('config', { type: 'string', describe: 'YAML file whose "serve:" section holds these settings' });
    for (const [key, [kind, text]] of Object.entries(SERVE_SETTINGS)) {
      const option: Options = {
        type: kind === 'int' ? 'number' : kind === 'bool' ? 'boolean' : 'string',
        describe: `${text} [env ${envName(key)}${key === 'port' ? ' or PORT' : key === 'host' ? ' or HOST' : ''}]`,
        default: undefined,
      };
      parser = parser.option(flagName(key), option);
    }
    return parser.epilogue('Settings come from flags, then RRNATIVE_* environment variables, then the --config file\'s serve: section.') as never;
  },
  handler: async (argv) => {
    const flags: Partial<Record<ServeSettingKey, unknown>> = {};
    for (const key of Object.keys(SERVE_SETTINGS) as ServeSettingKey[]) {
      let value = argv[flagName(key)];
      if (key === 'label' && typeof value === 'string' && /^\d+$/.test(value)) value = Number(value);
      if (typeof value === 'number' && Number.isNaN(value)) throw new Error(`--${flagName(key)}: expected a number`);
      flags[key] = value;
    }
    const settings = resolveServeSettings({ flags, env: process.env, configFile: argv.config });
    const server = await startServer(toServeOptions(settings));
    const log = server.app.log;
    console.log(`rrtrain serve: ${server.model.device} ${server.model.dtype} model ${settings.model} (max length ${server.model.maxLength}) ` +
      `listening on ${server.url}${settings.api_key ? ' (API key required)' : ''}`);
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          // A second signal: exit now, non-zero (128 + the signal's number, as a shell reports it).
          log.warn(`${signal} again: exiting now`);
          process.exit(signal === 'SIGINT' ? 130 : 143);
        }
        stopping = true;
        console.log(`rrtrain serve: ${signal}: finishing the requests in flight, then exiting`);
        server.close().then(() => resolve(), (err: Error) => {
          console.error(`rrtrain serve: shutdown failed: ${err.message}`);
          process.exit(1);
        });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    console.log('rrtrain serve: stopped');
  },
};
