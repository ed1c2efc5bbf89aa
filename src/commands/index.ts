// `rrtrain index`: embeds a corpus with an embedding model into an index folder (vectors, ids, what they were
// made from; index-file.ts), optionally with a usearch HNSW graph for approximate search.
import type { CommandModule } from 'yargs';
import type { DeviceRequest } from '../model';
import { loadCorpus } from '../retrieve/corpus';
import { Embedder } from '../retrieve/embedder';
import { writeIndexFolder } from '../retrieve/index-file';
import { densePrompts, embedCorpus, embedderMetric } from '../retrieve/retriever';
import { ExactIndex, UsearchIndex, type VectorStorage } from '../retrieve/vector-index';
import { commandDevice, deviceOption } from './load-options';

interface Args {
  embedder: string;
  corpus: string;
  out: string;
  storage: VectorStorage;
  ann?: 'usearch';
  connectivity: number;
  'expansion-add': number;
  'expansion-search': number;
  'batch-size': number;
  'max-length'?: number;
  device: DeviceRequest;
  quiet: boolean;
}

function positive(flag: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${flag} must be a whole number >= 1, got ${v}`);
  return v;
}

export const indexCommand: CommandModule<object, Args> = {
  command: 'index',
  describe: 'embed a corpus into a vector index folder: rrtrain index --embedder E --corpus C --out DIR [--ann usearch]',
  builder: (y) => y
    .option('embedder', { type: 'string', demandOption: true, describe: 'a sentence-transformers model folder or Hub id' })
    .option('corpus', { type: 'string', demandOption: true, describe: 'debdesc[:split], a JSONL of {id?, text} / {id?, document}, or a .txt (one document a line)' })
    .option('out', { type: 'string', demandOption: true, describe: 'the index folder to write (replaced whole once the new one is complete)' })
    .option('storage', { type: 'string', choices: ['fp32', 'fp16'], default: 'fp32', describe: 'stored vectors: fp16 halves the memory and the file (scores within ~1e-3)' })
    .option('ann', { type: 'string', choices: ['usearch'], describe: 'also build usearch\'s HNSW graph, for approximate search (--index-search usearch)' })
    .option('connectivity', { type: 'number', default: 16, describe: 'usearch: links per node' })
    .option('expansion-add', { type: 'number', default: 128, describe: 'usearch: candidates kept while adding' })
    .option('expansion-search', { type: 'number', default: 256, describe: 'usearch: candidates kept while searching (HNSW ef; keep it above the k you search with)' })
    .option('batch-size', { type: 'number', default: 32, describe: 'texts per embedding forward' })
    .option('max-length', { type: 'number', describe: 'tokens per document (default the embedder\'s max_seq_length)' })
    .option('device', deviceOption)
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress on stderr' }) as never,
  handler: async (argv) => {
    const batchSize = positive('batch-size', argv['batch-size']);
    const usearchSettings = argv.ann === 'usearch'
      ? { connectivity: positive('connectivity', argv.connectivity), expansionAdd: positive('expansion-add', argv['expansion-add']), expansionSearch: positive('expansion-search', argv['expansion-search']) }
      : undefined;
    const corpus = await loadCorpus(argv.corpus);
    if (corpus.texts.length === 0) throw new Error(`--corpus ${argv.corpus}: no documents`);
    const device = commandDevice(argv.device);
    const embedder = await Embedder.load(argv.embedder, { device, maxLength: argv['max-length'] });
    const start = Date.now();
    const index = new ExactIndex({ dimension: embedder.dimension, metric: embedderMetric(embedder), storage: argv.storage, device });
    try {
      await embedCorpus(embedder, corpus, index, {
        batchSize,
        onProgress: (done, total) => {
          if (!argv.quiet) process.stderr.write(`index: embedded ${done}/${total} documents, ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
        },
      });
      const embedSeconds = (Date.now() - start) / 1000;
      let usearch: UsearchIndex | undefined;
      if (usearchSettings) {
        const graphStart = Date.now();
        usearch = new UsearchIndex({ dimension: index.dimension, metric: index.metric, storage: argv.storage, ...usearchSettings });
        const stored = await index.stored();
        // usearch takes float32 rows; fp16 storage is converted back (usearch stores them as f16 itself).
        await usearch.add(index.rowIds, stored instanceof Float32Array ? stored : await index.storedAsFloat32());
        if (!argv.quiet) process.stderr.write(`index: usearch graph over ${corpus.texts.length} vectors, ${((Date.now() - graphStart) / 1000).toFixed(1)} s\n`);
      }
      const meta = await writeIndexFolder(argv.out, { embedder, documentPrompt: densePrompts(embedder).document, corpus, index, usearch, usearchSettings });
      console.log(`index: ${argv.out}: ${meta.corpus.documents} documents of ${corpus.name}, dimension ${meta.dimension}, ${meta.metric}, ${meta.storage}` +
        `${meta.ann ? `, with a ${meta.ann} graph` : ''}; embedded in ${embedSeconds.toFixed(1)} s`);
    } finally {
      await index.close();
      embedder.dispose();
    }
  },
};
