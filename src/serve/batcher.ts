// Dynamic batching across concurrent requests.
//
// A request is admitted (or refused at once with 429 when the queue is full), tokenized, and its pairs join one
// queue shared by all requests. While a forward pass runs (at most `maxInflight`, 1 by default), the queue fills;
// when the model is free and the current plan is spent, the batcher takes a window from the head of the queue
// (oldest first, about WINDOW_BUDGETS batches' worth, from however many requests), sorts it by length, and cuts it
// into batches that fit the padded-token budget (pairs x longest <= maxBatchTokens) and the pair cap; those run
// one after another. Sorting across requests is what cuts the padding; the FIFO window keeps it fair. Rows come
// back to their requests by index, so each request gets its own scores in its own order, whichever batches its
// pairs rode in. A request past its deadline (or whose client went away) fails with 503 at once and its pairs
// that are still queued or planned are dropped, never scored.
import type { NativeTokenBatch } from '../native';
import type { Reranker } from '../model';
import { padBatch, type EncodedPair } from '../tokenize';
import { HttpError } from './errors';
import type { ServeMetrics } from './metrics';

/** What the batcher needs from a model: a tokenizer and a forward pass. */
export interface ScoringBackend {
  readonly maxLength: number;
  readonly numLabels: number;
  readonly padTokenId: number;
  encodePairs(pairs: ReadonlyArray<readonly [string, string]>, maxLength: number, truncate: boolean): Promise<EncodedPair[]>;
  forward(batch: NativeTokenBatch): Promise<Float32Array>;
}

export function rerankerBackend(model: Reranker): ScoringBackend {
  const tokenizer = model.tokenizer;
  const native = model.native;
  return {
    maxLength: model.maxLength,
    numLabels: model.numLabels,
    padTokenId: tokenizer.padTokenId,
    encodePairs: (pairs, maxLength, truncate) => tokenizer.encodePairs(pairs, maxLength, truncate),
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
  /** Cohere's max_tokens_per_doc: the pair limit becomes min(max length, query pair overhead + this). */
  maxTokensPerDoc?: number;
  /** Aborts the request (the client went away): its queued pairs are dropped. */
  signal?: AbortSignal;
  /** The documents' field name in error messages (default "documents"). */
  field?: string;
}

export interface ScoreResult {
  /** One logits row per document, in request order. */
  rows: number[][];
  /** Pairs cut to the limit. */
  truncated: number;
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
  index: number;
  enc: EncodedPair;
}

// How much of the queue's head is sorted by length and cut into batches at once, in padded-token budgets.
const WINDOW_BUDGETS = 8;

class Job {
  done = false;
  /** Pairs counted against the queue bound: admitted, not yet taken into a forward pass. */
  reserved: number;
  remaining: number;
  rows: number[][];
  truncated = 0;
  tokens = 0;
  limit = 0;
  timer: NodeJS.Timeout | undefined;
  readonly promise: Promise<ScoreResult>;
  private resolveFn!: (r: ScoreResult) => void;
  private rejectFn!: (e: Error) => void;

  constructor(readonly size: number) {
    this.reserved = size;
    this.remaining = size;
    this.rows = new Array(size);
    this.promise = new Promise<ScoreResult>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
  }

  settle(error: Error | null): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    if (error) this.rejectFn(error);
    else this.resolveFn({ rows: this.rows, truncated: this.truncated, tokens: this.tokens, limit: this.limit });
    return true;
  }
}

export class Batcher {
  readonly options: BatcherOptions;
  private queue: Item[] = [];
  /** Batches cut from the last window, run before the next window is taken. */
  private planned: Item[][] = [];
  private deadItems = 0;
  private queuedPairs = 0;
  private activeJobs = 0;
  private inflight = 0;
  private closing = false;
  private idleWaiters: (() => void)[] = [];
  private tokenizerChain: Promise<unknown> = Promise.resolve();
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
    if (n === 0) return Promise.resolve({ rows: [], truncated: 0, tokens: 0, limit: this.backend.maxLength });
    if (this.queuedPairs + n > this.options.maxQueuePairs) {
      const retryAfter = this.retryAfterSeconds(n);
      return this.refuse('queue_full', new HttpError(429, 'overloaded',
        `the queue is full (${this.queuedPairs} pairs waiting, at most ${this.options.maxQueuePairs}): retry after ${retryAfter} s`,
        { 'Retry-After': String(retryAfter) }));
    }
    const job = new Job(n);
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
      for (let i = 0; i < encoded.length; i++) this.queue.push({ job, index: i, enc: encoded[i] });
      this.pump();
    }, (err: Error) => {
      if (err instanceof HttpError && err.type === 'input_too_long') this.metrics?.rejected.inc({ reason: 'input_too_long' });
      this.fail(job, null, err);
    });
    return job.promise;
  }

  stats(): BatcherStats {
    let live = 0;
    for (const it of this.queue) if (!it.job.done) live++;
    for (const batch of this.planned) for (const it of batch) if (!it.job.done) live++;
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

  // Tokenizes one request at a time, so each request's passes (cut, then re-count the pairs at the limit)
  // run back to back and the queue admits requests in arrival order.
  private tokenize(job: Job, request: ScoreRequest): Promise<EncodedPair[]> {
    const run = this.tokenizerChain.then(async () => {
      if (job.done) return [];
      const { query, documents } = request;
      const max = this.backend.maxLength;
      let limit = max;
      if (request.maxTokensPerDoc !== undefined) {
        // [CLS] query [SEP] [SEP]: the pair's length with an empty document.
        const [overhead] = await this.backend.encodePairs([[query, '']], Number.MAX_SAFE_INTEGER, false);
        limit = Math.min(max, overhead.ids.length + request.maxTokensPerDoc);
      }
      job.limit = limit;
      const pairs = documents.map((d) => [query, d] as const);
      let encoded: EncodedPair[];
      if (request.truncate) {
        encoded = await this.backend.encodePairs(pairs, limit, true);
        // A pair exactly at the limit may have been cut: encode those again, whole, to count them.
        const atLimit = encoded.flatMap((e, i) => (e.ids.length >= limit ? [i] : []));
        if (atLimit.length && !job.done) {
          const whole = await this.backend.encodePairs(atLimit.map((i) => pairs[i]), Number.MAX_SAFE_INTEGER, false);
          job.truncated = whole.filter((e) => e.ids.length > limit).length;
          if (job.truncated) this.metrics?.truncatedPairs.inc(job.truncated);
        }
      } else {
        encoded = await this.backend.encodePairs(pairs, Number.MAX_SAFE_INTEGER, false);
        const over = encoded.findIndex((e) => e.ids.length > limit);
        if (over >= 0) {
          throw new HttpError(422, 'input_too_long',
            `${request.field ?? 'documents'}[${over}] is ${encoded[over].ids.length} tokens long with the query, over the limit of ${limit} ` +
            `(max_length ${max}${limit < max ? ', max_tokens_per_doc' : ''}), and truncation is off: shorten it or allow truncation`);
        }
      }
      job.tokens = encoded.reduce((s, e) => s + e.ids.length, 0);
      return encoded;
    });
    this.tokenizerChain = run.catch(() => undefined);
    return run;
  }

  private fail(job: Job, reason: 'timeout' | 'aborted' | null, error: Error): void {
    if (job.done) return;
    // Drop whatever of the job is still queued: it will not be scored.
    const dropped = job.reserved;
    this.release(job);
    this.deadItems += dropped;
    job.settle(error);
    if (reason) {
      this.metrics?.rejected.inc({ reason });
      if (dropped) this.metrics?.droppedPairs.inc({ reason }, dropped);
    }
    this.counters.droppedPairs += dropped;
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

  // The next batch: from the current plan, else from a new plan over a window at the head of the queue (see the
  // file comment); null when nothing is queued. Pairs of requests that failed meanwhile are dropped here.
  private takeBatch(): Item[] | null {
    for (;;) {
      while (this.planned.length) {
        const batch = this.planned.shift()!.filter((it) => !it.job.done);
        if (batch.length === 0) continue;
        for (const it of batch) {
          it.job.reserved--;
          this.queuedPairs--;
        }
        return batch;
      }
      if (!this.plan()) return null;
    }
  }

  // Moves a window from the head of the queue into the plan: sorted by length, longest first, and cut into
  // batches within the padded-token budget and the pair cap. The window holds whole requests' worth of pairs
  // up to WINDOW_BUDGETS budgets, and pairs of at most maxBatchRequests requests when that is set.
  private plan(): boolean {
    if (this.deadItems) {
      this.queue = this.queue.filter((it) => !it.job.done);
      this.deadItems = 0;
    }
    if (this.queue.length === 0) return false;
    const { maxBatchTokens, maxBatchPairs, maxBatchRequests } = this.options;
    const windowTokens = maxBatchTokens * WINDOW_BUDGETS;
    const jobs = new Set<Job>();
    let end = 0;
    let tokens = 0;
    for (; end < this.queue.length; end++) {
      const it = this.queue[end];
      if (!jobs.has(it.job)) {
        if (maxBatchRequests > 0 && jobs.size >= maxBatchRequests) break;
        jobs.add(it.job);
      }
      if (end > 0 && tokens + it.enc.ids.length > windowTokens && maxBatchRequests === 0) break;
      tokens += it.enc.ids.length;
    }
    const window = this.queue.slice(0, end);
    this.queue = this.queue.slice(end);
    // Stable: equal lengths keep queue order (so one request alone is batched exactly as Reranker.score does).
    window.sort((a, b) => b.enc.ids.length - a.enc.ids.length);
    let batch: Item[] = [];
    for (const it of window) {
      if (batch.length && (batch.length >= maxBatchPairs || (batch.length + 1) * batch[0].enc.ids.length > maxBatchTokens)) {
        this.planned.push(batch);
        batch = [];
      }
      batch.push(it);
    }
    this.planned.push(batch);
    return true;
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
