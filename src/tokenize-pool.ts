// Pair tokenization spread over worker threads. The Rust tokenizer already runs each pair on libuv's thread
// pool, but every call also costs ~50 µs of JS on the calling thread (the call, its promise, the ids coming back
// as JS arrays), which caps one thread at ~20k pairs/s: on a GPU that is slower than the model (MiniLM's 16,384
// pairs scored in 0.99 s on an H200, about their tokenization time). Workers take that JS work off the main
// thread and return ids in typed arrays. Results equal PairTokenizer.encodePairs', in the same order.
import os from 'node:os';
import type { EncodedPair, PairTokenizerOptions } from './tokenize';
import { WorkerPool, type WorkerReply } from './worker-pool';

interface TokenizeReply extends WorkerReply { offsets?: Int32Array; ids?: Int32Array; typeIds?: Int32Array; range?: boolean }

/**
 * Workers worth starting for `pairs` pairs: none for small jobs or few cores (they would compete with the rest).
 * RRNATIVE_TOKENIZE_WORKERS=N sets the count for jobs of 512+ pairs (0: never).
 */
export function tokenizeWorkersFor(pairs: number): number {
  const forced = process.env.RRNATIVE_TOKENIZE_WORKERS;
  if (forced !== undefined && forced !== '') {
    const n = Number(forced);
    if (!Number.isInteger(n) || n < 0 || n > 64) throw new RangeError(`RRNATIVE_TOKENIZE_WORKERS must be a whole number from 0 to 64, got '${forced}'`);
    return pairs < 512 ? 0 : n;
  }
  const cores = os.availableParallelism();
  return pairs < 512 || cores < 8 ? 0 : Math.min(8, Math.floor(cores / 2));
}

export class TokenizePool {
  private constructor(private readonly pool: WorkerPool<TokenizeReply>) {}

  /** Starts `count` workers, each loading the tokenizer folder `dir` (PairTokenizer.load). Idle, they let the process exit. */
  static start(dir: string, count: number, options: PairTokenizerOptions = {}): TokenizePool {
    return new TokenizePool(new WorkerPool<TokenizeReply>(require.resolve('./tokenize-worker'), count, { dir, options }, {
      name: 'tokenization worker', unrefWhenIdle: true,
      errorOf: (r) => (r.range ? new RangeError(r.error) : new Error(`tokenization worker: ${r.error}`)),
    }));
  }

  /** PairTokenizer.encodePairs over the workers, one contiguous slice each. */
  encodePairs(pairs: ReadonlyArray<readonly [string, string]>, maxLength: number, truncate: boolean, indexOffset = 0, instruction?: string): Promise<EncodedPair[]> {
    return this.pool.map(pairs, (w, part, start) =>
      this.pool.request(w, { pairs: part, maxLength, truncate, indexOffset: indexOffset + start, instruction }).then(unpack));
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function unpack(reply: TokenizeReply): EncodedPair[] {
  const { offsets, ids, typeIds } = reply as Required<TokenizeReply>;
  const out: EncodedPair[] = new Array(offsets.length - 1);
  for (let i = 0; i < out.length; i++) {
    out[i] = { ids: Array.from(ids.subarray(offsets[i], offsets[i + 1])), typeIds: Array.from(typeIds.subarray(offsets[i], offsets[i + 1])) };
  }
  return out;
}
