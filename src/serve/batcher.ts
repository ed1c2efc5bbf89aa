// Dynamic batching across concurrent requests, scheduled fairly by tokens.
//
// A request is admitted (or refused at once with 429 when the queue is full), tokenized (its documents cut to
// what a pair can use, or split into chunks), and its pairs wait in its own queue, longest first. Each time the
// model is free (at most `maxInflight` forward passes, 1 by default), one batch is formed: requests are taken in
// order of the tokens scored for them so far, fewest first (least attained service), each giving pairs until the
// padded-token budget (pairs x longest <= maxBatchTokens) or the pair cap is reached. So a request that has just
// arrived rides in the next batch whatever is queued before it, large requests alternate batch by batch, and a
// request's pairs sorted by length keep padding low. Rows come back to their requests by index (a chunked
// document's rows are aggregated into one), so each request gets its own scores in its own order. A request past
// its deadline (or whose client went away) fails with 503 at once and its queued pairs are dropped, never scored.
import type { NativeTokenBatch } from '../native';
import { aggregateRows, type Reranker } from '../model';
import {
  padBatch, type ChunkAggregate, type DocumentEncodeOptions, type EncodedDocuments, type EncodedPair, type LongDocuments,
  type TruncationDirection,
} from '../tokenize';
import { HttpError } from './errors';
import type { ServeMetrics } from './metrics';

/** What the batcher needs from a model: a tokenizer and a forward pass. */
export interface ScoringBackend {
  readonly maxLength: number;
  readonly numLabels: number;
  readonly padTokenId: number;
  encodeDocuments(query: string, documents: readonly string[], options: DocumentEncodeOptions, indexes?: readonly number[]): Promise<EncodedDocuments>;
  forward(batch: NativeTokenBatch): Promise<Float32Array>;
}

export function rerankerBackend(model: Reranker): ScoringBackend {
  const tokenizer = model.tokenizer;
  const native = model.native;
  return {
    maxLength: model.maxLength,
    numLabels: model.numLabels,
    padTokenId: tokenizer.padTokenId,
    encodeDocuments: (query, documents, options, indexes) => tokenizer.encodeDocuments(query, documents, options, indexes),
    forward: (batch) => native.forward(batch),
  };
}

export interface BatcherOptions {
  /**
   * Padded tokens per forward pass: pairs x longest pair (default 4096 on CPU, 16384 on CUDA; see
   * DEVICE_BATCH_DEFAULTS). Must be >= the model's max length.
   */
  maxBatchTokens: number;
  /** Pairs per forward pass (default 64 on CPU, 256 on CUDA). */
  maxBatchPairs: number;
  /** Distinct requests per forward pass; 0 = no limit (default). 1 turns cross-request batching off. */
  maxBatchRequests: number;
  /** Pairs admitted and not yet in a forward pass; past it, requests get 429 (default 8192). */
  maxQueuePairs: number;
  /** Forward passes running at once (default 1, so that the queue forms batches while the model is busy). */
  maxInflight: number;
  /** Per-request deadline in ms, from admission to scores (default 30000). */
  timeoutMs: number;
}

/**
 * Batch budgets by device. On CPU, compute grows with padded tokens whatever the batch, and big batches fall out
 * of cache (a 128 x 128-token batch's attention scores alone are 33 MB): modest batches sorted by length win. A
 * GPU wants big batches to fill it.
 */
export const DEVICE_BATCH_DEFAULTS = {
  cpu: { maxBatchTokens: 4096, maxBatchPairs: 64 },
  cuda: { maxBatchTokens: 16384, maxBatchPairs: 256 },
} as const;

export const DEFAULT_BATCHER_OPTIONS: BatcherOptions = {
  ...DEVICE_BATCH_DEFAULTS.cpu,
  maxBatchRequests: 0,
  maxQueuePairs: 8192,
  maxInflight: 1,
  timeoutMs: 30_000,
};

export interface BatcherHooks {
  /** Runs before each forward pass (tests use it to hold the model busy). */
  beforeForward?(info: { pairs: number; requests: number }): Promise<void> | void;
}

export interface ScoreRequest {
  query: string;
  documents: readonly string[];
  /** Cut pairs to the limit (default true); off, a longer pair is a 422. */
  truncate: boolean;
  /** 'truncate' (default) or 'chunk': a document over the window is scored by its chunks' aggregate. */
  longDocuments?: LongDocuments;
  /** truncate: the end cut (TEI's truncation_direction; default right). */
  direction?: TruncationDirection;
  /** chunk: windows per document at most, the tokens they share, and how their scores make the document's. */
  maxChunks?: number;
  chunkOverlap?: number;
  aggregate?: ChunkAggregate;
  /**
   * Cohere's max_tokens_per_doc, the document's tokens looked at: truncating, the pair limit becomes
   * min(max length, query pair overhead + this); chunking, the chunks cover at most this many.
   */
  maxTokensPerDoc?: number;
  /** The logits column whose value picks a chunked document's best chunk (aggregate 'max'). */
  scoreColumn?: number;
  /** A prompt-template model's instruction for this request (default: the model's). */
  instruction?: string;
  /** Aborts the request (the client went away): its queued pairs are dropped. */
  signal?: AbortSignal;
  /** The documents' field name in error messages (default "documents"). */
  field?: string;
}

export interface ScoreResult {
  /** One logits row per document, in request order. */
  rows: number[][];
  /** Documents with tokens no pair held (cut to the limit, or past the last chunk). */
  truncated: number;
  /** Documents split into two or more chunks, and the pairs scored in all. */
  chunked: number;
  pairs: number;
  /** Real tokens of the request's pairs (after truncation). */
  tokens: number;
  /** The pair limit applied. */
  limit: number;
}

export interface BatcherStats {
  batches: number;
  multiRequestBatches: number;
  maxRequestsInBatch: number;
  maxPairsInBatch: number;
  pairsScored: number;
  requestsCompleted: number;
  requestsFailed: number;
  droppedPairs: number;
  /** Pairs admitted and not yet in a forward pass (tokenizing or queued). */
  queuedPairs: number;
  /** Of those, the pairs tokenized and waiting in the queue. */
  queuedTokenized: number;
  activeRequests: number;
  inflight: number;
}

interface Item {
  job: Job;
  /** The pair's index in its request (a chunk's, when documents were chunked). */
  index: number;
  enc: EncodedPair;
}

class Job {
  done = false;
  /** Pairs counted against the queue bound: admitted, not yet taken into a forward pass. */
  reserved: number;
  /** Pairs not yet scored. */
  remaining: number;
  /** One logits row per pair. */
  rows: number[][] = [];
  /** For each pair, its document; set when documents were chunked. */
  owners: number[] | null = null;
  /** This request's pairs waiting for a batch, longest first, and the next one to go. */
  items: Item[] = [];
  next = 0;
  /** Real tokens scored for this request so far: the scheduler's priority, fewest first. */
  served = 0;
  truncated = 0;
  chunked = 0;
  tokens = 0;
  limit = 0;
  aggregate: ChunkAggregate = 'max';
  scoreColumn = 0;
  timer: NodeJS.Timeout | undefined;
  readonly promise: Promise<ScoreResult>;
  private resolveFn!: (r: ScoreResult) => void;
  private rejectFn!: (e: Error) => void;

  constructor(readonly size: number, readonly arrival: number) {
    this.reserved = size;
    this.remaining = size;
    this.promise = new Promise<ScoreResult>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
  }

  settle(error: Error | null): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.items = [];
    this.next = 0;
    if (error) this.rejectFn(error);
    else {
      const rows = this.owners ? aggregateRows(this.rows, this.owners, this.size, this.aggregate, this.scoreColumn) : this.rows;
      this.resolveFn({ rows, truncated: this.truncated, chunked: this.chunked, pairs: this.rows.length, tokens: this.tokens, limit: this.limit });
    }
    return true;
  }
}

// Documents tokenized per turn on the tokenizer (16 of 20,000 characters: about 10 ms at max_length 128).
const TOKENIZE_SLICE = 16;

/** Runs one task at a time: of those waiting, the one with the lowest priority value, then the oldest. */
class TurnTaker {
  private busy = false;
  private seq = 0;
  private readonly waiting: { priority: number; seq: number; start: () => void }[] = [];

  async turn<T>(priority: number, task: () => Promise<T>): Promise<T> {
    await new Promise<void>((start) => {
      this.waiting.push({ priority, seq: this.seq++, start });
      this.dispatch();
    });
    try {
      return await task();
    } finally {
      this.busy = false;
      this.dispatch();
    }
  }

  private dispatch(): void {
    if (this.busy || this.waiting.length === 0) return;
    let best = 0;
    for (let i = 1; i < this.waiting.length; i++) {
      const w = this.waiting[i];
      const b = this.waiting[best];
      if (w.priority < b.priority || (w.priority === b.priority && w.seq < b.seq)) best = i;
    }
    const [next] = this.waiting.splice(best, 1);
    this.busy = true;
    next.start();
  }
}

export class Batcher {
  readonly options: BatcherOptions;
  /** Requests with tokenized pairs waiting, in arrival order. */
  private waiting: Job[] = [];
  private arrivals = 0;
  private queuedPairs = 0;
  private activeJobs = 0;
  private inflight = 0;
  private closing = false;
  private idleWaiters: (() => void)[] = [];
  private readonly tokenizeTurns = new TurnTaker();
  /** Pairs per second of forward time, smoothed: for Retry-After. */
  private pairsPerSecond = 0;
  private readonly counters = {
    batches: 0, multiRequestBatches: 0, maxRequestsInBatch: 0, maxPairsInBatch: 0,
    pairsScored: 0, requestsCompleted: 0, requestsFailed: 0, droppedPairs: 0,
  };

  constructor(
    private readonly backend: ScoringBackend,
    options: Partial<BatcherOptions> = {},
    private readonly metrics?: ServeMetrics,
    private readonly hooks: BatcherHooks = {},
  ) {
    this.options = { ...DEFAULT_BATCHER_OPTIONS, ...stripUndefined(options) };
    checkBatcherOptions(this.options, backend.maxLength);
  }

  /** Scores one request's pairs; rejects with an HttpError (429, 503, 422) or the model's error. */
  submit(request: ScoreRequest): Promise<ScoreResult> {
    const n = request.documents.length;
    if (this.closing) return this.refuse('shutting_down', new HttpError(503, 'shutting_down', 'the server is shutting down'));
    if (request.signal?.aborted) return this.refuse('aborted', new HttpError(503, 'timeout', 'the client went away'));
    if (n === 0) return Promise.resolve({ rows: [], truncated: 0, chunked: 0, pairs: 0, tokens: 0, limit: this.backend.maxLength });
    if (this.queuedPairs + n > this.options.maxQueuePairs) {
      const retryAfter = this.retryAfterSeconds(n);
      return this.refuse('queue_full', new HttpError(429, 'overloaded',
        `the queue is full (${this.queuedPairs} pairs waiting, at most ${this.options.maxQueuePairs}): retry after ${retryAfter} s`,
        { 'Retry-After': String(retryAfter) }));
    }
    const job = new Job(n, this.arrivals++);
    job.aggregate = request.aggregate ?? 'max';
    job.scoreColumn = request.scoreColumn ?? 0;
    this.queuedPairs += n;
    this.activeJobs++;
    this.gauges();
    job.promise.then(() => this.finished(job, true), () => this.finished(job, false));
    job.timer = setTimeout(() => this.fail(job, 'timeout',
      new HttpError(503, 'timeout', `the request was not scored within its deadline of ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
    job.timer.unref?.();
    const onAbort = () => this.fail(job, 'aborted', new HttpError(503, 'timeout', 'the client went away'));
    request.signal?.addEventListener('abort', onAbort, { once: true });
    job.promise.catch(() => undefined).finally(() => request.signal?.removeEventListener('abort', onAbort));

    this.tokenize(job, request).then((encoded) => {
      if (job.done) return;
      const error = this.reserveChunks(job, encoded.pairs.length);
      if (error) return this.fail(job, 'queue_full', error);
      job.rows = new Array(encoded.pairs.length);
      if (encoded.chunked) job.owners = encoded.owners;
      const items = encoded.pairs.map((enc, index) => ({ job, index, enc }));
      // Stable: equal lengths keep input order (one request alone is batched as Reranker.score sorts it).
      items.sort((a, b) => b.enc.ids.length - a.enc.ids.length);
      job.items = items;
      this.waiting.push(job);
      this.pump();
    }, (err: Error) => {
      if (err instanceof HttpError && err.type === 'input_too_long') this.metrics?.rejected.inc({ reason: 'input_too_long' });
      this.fail(job, null, err);
    });
    return job.promise;
  }

  stats(): BatcherStats {
    let live = 0;
    for (const job of this.waiting) if (!job.done) live += job.items.length - job.next;
    return {
      ...this.counters, queuedPairs: this.queuedPairs, queuedTokenized: live, activeRequests: this.activeJobs, inflight: this.inflight,
    };
  }

  /** Refuses new requests and resolves once every admitted request is answered. */
  async drain(): Promise<void> {
    this.closing = true;
    if (this.activeJobs === 0 && this.inflight === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private refuse(reason: string, error: HttpError): Promise<never> {
    this.metrics?.rejected.inc({ reason });
    return Promise.reject(error);
  }

  // Tokenizes a request in slices of TOKENIZE_SLICE documents. Slices of different requests take turns on the
  // tokenizer, the request with the fewest documents done first: a small request arriving behind large ones is
  // tokenized next, not after them.
  private async tokenize(job: Job, request: ScoreRequest): Promise<EncodedDocuments> {
    const { query, documents } = request;
    const max = this.backend.maxLength;
    const chunk = request.longDocuments === 'chunk';
    const options: DocumentEncodeOptions = {
      maxLength: max, longDocuments: request.longDocuments, truncate: request.truncate, direction: request.direction,
      maxChunks: request.maxChunks, chunkOverlap: request.chunkOverlap, maxDocumentTokens: chunk ? request.maxTokensPerDoc : undefined,
      instruction: request.instruction,
    };
    const out: EncodedDocuments = { pairs: [], owners: [], truncated: 0, chunked: 0, queryTokens: 0, specialTokens: 0 };
    job.limit = max;
    try {
      // Truncating, Cohere's max_tokens_per_doc lowers the pair limit to the query's pair plus that many tokens.
      if (!chunk && request.maxTokensPerDoc !== undefined) {
        const overhead = await this.tokenizeTurns.turn(0, () => this.backend.encodeDocuments(query, [], options));
        job.limit = Math.min(max, overhead.queryTokens + overhead.specialTokens + request.maxTokensPerDoc);
        options.maxLength = job.limit;
      }
      for (let start = 0; start < documents.length && !job.done; start += TOKENIZE_SLICE) {
        const indexes = Array.from({ length: Math.min(TOKENIZE_SLICE, documents.length - start) }, (_, k) => start + k);
        const part = await this.tokenizeTurns.turn(start, () =>
          (job.done ? Promise.resolve(out) : this.backend.encodeDocuments(query, indexes.map((i) => documents[i]), options, indexes)));
        if (part === out) break;
        for (let p = 0; p < part.pairs.length; p++) {
          out.pairs.push(part.pairs[p]);
          out.owners.push(start + part.owners[p]);
        }
        out.truncated += part.truncated;
        out.chunked += part.chunked;
      }
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      const m = err.message.match(/^pairs\[(\d+)\] is (\d+) tokens long/);
      if (!m) throw new HttpError(422, 'input_too_long', err.message);
      const limit = job.limit;
      throw new HttpError(422, 'input_too_long',
        `${request.field ?? 'documents'}[${m[1]}] is ${m[2]} tokens long with the query, over the limit of ${limit} ` +
        `(max_length ${max}${limit < max ? ', max_tokens_per_doc' : ''}), and truncation is off: shorten it, allow truncation or chunk long documents`);
    }
    job.truncated = out.truncated;
    job.chunked = out.chunked;
    if (job.truncated) this.metrics?.truncatedPairs.inc(job.truncated);
    job.tokens = out.pairs.reduce((s, e) => s + e.ids.length, 0);
    return out;
  }

  // Chunks add pairs past the documents admitted: they count against the queue bound too. A request whose chunks
  // alone exceed it can never be scored (413); one that would overfill the queue now gets a 429.
  private reserveChunks(job: Job, pairs: number): HttpError | null {
    const extra = pairs - job.size;
    if (extra <= 0) return null;
    const max = this.options.maxQueuePairs;
    if (pairs > max) {
      return new HttpError(413, 'payload_too_large',
        `the ${job.size} documents make ${pairs} pairs when chunked, over the queue's bound of ${max} (max_queue_pairs): send fewer documents or lower max_chunks`);
    }
    if (this.queuedPairs + extra > max) {
      const retryAfter = this.retryAfterSeconds(extra);
      return new HttpError(429, 'overloaded',
        `the queue is full (${this.queuedPairs} pairs waiting, at most ${max}; this request's chunks are ${pairs} pairs): retry after ${retryAfter} s`,
        { 'Retry-After': String(retryAfter) });
    }
    this.queuedPairs += extra;
    job.reserved += extra;
    job.remaining += extra;
    this.gauges();
    return null;
  }

  private fail(job: Job, reason: 'timeout' | 'aborted' | 'queue_full' | null, error: Error): void {
    if (job.done) return;
    // Drop whatever of the job is still queued: it will not be scored.
    const dropped = job.reserved;
    this.release(job);
    job.settle(error);
    if (reason) {
      this.metrics?.rejected.inc({ reason });
      if (dropped && reason !== 'queue_full') this.metrics?.droppedPairs.inc({ reason }, dropped);
    }
    if (reason !== 'queue_full') this.counters.droppedPairs += dropped;
  }

  private release(job: Job): void {
    this.queuedPairs -= job.reserved;
    job.reserved = 0;
    this.gauges();
  }

  private finished(job: Job, ok: boolean): void {
    this.activeJobs--;
    if (ok) this.counters.requestsCompleted++;
    else this.counters.requestsFailed++;
    this.gauges();
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.activeJobs === 0 && this.inflight === 0 && this.idleWaiters.length) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private gauges(): void {
    this.metrics?.queueDepth.set(this.queuedPairs);
    this.metrics?.queueRequests.set(this.activeJobs);
    this.metrics?.inflightBatches.set(this.inflight);
  }

  private pump(): void {
    while (this.inflight < this.options.maxInflight) {
      const items = this.takeBatch();
      if (!items) return;
      this.run(items);
    }
  }

  // The next batch (see the file comment), or null when nothing waits. Requests that failed meanwhile leave here.
  private takeBatch(): Item[] | null {
    this.waiting = this.waiting.filter((job) => !job.done && job.next < job.items.length);
    if (this.waiting.length === 0) return null;
    const { maxBatchTokens, maxBatchPairs, maxBatchRequests } = this.options;
    const byService = [...this.waiting].sort((a, b) => a.served - b.served || a.arrival - b.arrival);
    const batch: Item[] = [];
    let width = 0;
    let requests = 0;
    for (const job of byService) {
      if (batch.length >= maxBatchPairs || (maxBatchRequests > 0 && requests >= maxBatchRequests)) break;
      let took = 0;
      while (job.next < job.items.length && batch.length < maxBatchPairs) {
        const it = job.items[job.next];
        const w = Math.max(width, it.enc.ids.length);
        if (batch.length && (batch.length + 1) * w > maxBatchTokens) break;
        batch.push(it);
        width = w;
        job.next++;
        job.served += it.enc.ids.length;
        job.reserved--;
        this.queuedPairs--;
        took++;
      }
      if (took) requests++;
    }
    for (const job of byService) {
      if (job.next >= job.items.length) {
        job.items = [];
        job.next = 0;
      }
    }
    return batch;
  }

  private run(items: Item[]): void {
    this.inflight++;
    this.gauges();
    const requests = new Set(items.map((it) => it.job)).size;
    const batch = padBatch(items.map((it) => it.enc), this.backend.padTokenId);
    const width = this.backend.numLabels;
    const started = process.hrtime.bigint();
    Promise.resolve()
      .then(() => this.hooks.beforeForward?.({ pairs: items.length, requests }))
      .then(() => this.backend.forward(batch))
      .then((flat) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        this.account(items.length, requests, batch, seconds);
        for (let j = 0; j < items.length; j++) {
          const { job, index } = items[j];
          if (job.done) continue;
          job.rows[index] = Array.from(flat.subarray(j * width, (j + 1) * width));
          if (--job.remaining === 0) job.settle(null);
        }
      }, (err: Error) => {
        const error = new HttpError(500, 'internal_error', `the model failed: ${err.message}`);
        for (const { job } of items) this.fail(job, null, error);
      })
      .finally(() => {
        this.inflight--;
        this.gauges();
        this.pump();
        this.checkIdle();
      });
  }

  private account(pairs: number, requests: number, batch: NativeTokenBatch, seconds: number): void {
    const c = this.counters;
    c.batches++;
    if (requests > 1) c.multiRequestBatches++;
    c.maxRequestsInBatch = Math.max(c.maxRequestsInBatch, requests);
    c.maxPairsInBatch = Math.max(c.maxPairsInBatch, pairs);
    c.pairsScored += pairs;
    const rate = pairs / Math.max(seconds, 1e-6);
    this.pairsPerSecond = this.pairsPerSecond ? 0.8 * this.pairsPerSecond + 0.2 * rate : rate;
    const m = this.metrics;
    if (!m) return;
    let real = 0;
    for (let i = 0; i < batch.attentionMask.length; i++) real += batch.attentionMask[i];
    m.batches.inc();
    if (requests > 1) m.multiRequestBatches.inc();
    m.batchPairs.observe(pairs);
    m.batchRequests.observe(requests);
    m.batchTokens.observe(batch.batch * batch.length);
    m.batchPaddedTokens.inc(batch.batch * batch.length);
    m.batchRealTokens.inc(real);
    m.forwardSeconds.observe(seconds);
    m.pairs.inc(pairs);
  }

  private retryAfterSeconds(extra: number): number {
    const rate = this.pairsPerSecond || 100;
    return Math.min(60, Math.max(1, Math.ceil((this.queuedPairs + extra) / rate)));
  }
}

export function checkBatcherOptions(o: BatcherOptions, maxLength: number): void {
  const int = (name: keyof BatcherOptions, min: number) => {
    const v = o[name];
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  };
  int('maxBatchTokens', 1);
  int('maxBatchPairs', 1);
  int('maxBatchRequests', 0);
  int('maxQueuePairs', 1);
  int('maxInflight', 1);
  int('timeoutMs', 1);
  if (o.maxBatchTokens < maxLength) {
    throw new RangeError(`maxBatchTokens (${o.maxBatchTokens}) must be at least the model's max length (${maxLength}), so that any pair fits a batch`);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

