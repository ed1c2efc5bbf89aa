// One tokenization worker of TokenizePool (tokenize-pool.ts): loads the tokenizer folder it is given, then
// answers {id, pairs, maxLength, truncate, indexOffset} with PairTokenizer.encodePairs' ids and type ids packed
// into typed arrays (one transfer instead of one JS array per pair).
import { parentPort, workerData } from 'node:worker_threads';
import { PairTokenizer, type PairTokenizerOptions } from './tokenize';

interface Request { id: number; pairs: [string, string][]; maxLength: number; truncate: boolean; indexOffset: number; instruction?: string }

const { dir, options } = workerData as { dir: string; options?: PairTokenizerOptions };
const loaded = PairTokenizer.load(dir, options);

parentPort!.on('message', ({ id, pairs, maxLength, truncate, indexOffset, instruction }: Request) => {
  loaded
    .then((tokenizer) => tokenizer.encodePairs(pairs, maxLength, truncate, indexOffset, instruction))
    .then((encoded) => {
      const offsets = new Int32Array(encoded.length + 1);
      encoded.forEach((e, i) => { offsets[i + 1] = offsets[i] + e.ids.length; });
      const ids = new Int32Array(offsets[encoded.length]);
      const typeIds = new Int32Array(offsets[encoded.length]);
      encoded.forEach((e, i) => { ids.set(e.ids, offsets[i]); typeIds.set(e.typeIds, offsets[i]); });
      parentPort!.postMessage({ id, offsets, ids, typeIds }, [offsets.buffer, ids.buffer, typeIds.buffer]);
    })
    .catch((err: unknown) => {
      parentPort!.postMessage({ id, error: err instanceof Error ? err.message : String(err), range: err instanceof RangeError });
    });
});
