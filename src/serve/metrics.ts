// Prometheus metrics of one server (its own prom-client Registry, so several servers in one process, as in the
// tests, do not collide): HTTP requests by route and status, latency, queue depth, batches, pairs and tokens.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsOptions {
  /** Also export the process metrics (CPU, memory, event loop lag) of prom-client's collectDefaultMetrics. */
  processMetrics?: boolean;
}

export class ServeMetrics {
  readonly registry = new Registry();
  readonly contentType: string;

  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly requestSeconds: Histogram<'route'>;
  readonly queueDepth: Gauge;
  readonly queueRequests: Gauge;
  readonly inflightBatches: Gauge;
  readonly batches: Counter;
  readonly multiRequestBatches: Counter;
  readonly batchPairs: Histogram;
  readonly batchRequests: Histogram;
  readonly batchTokens: Histogram;
  readonly batchRealTokens: Counter;
  readonly batchPaddedTokens: Counter;
  readonly forwardSeconds: Histogram;
  readonly pairs: Counter;
  readonly truncatedPairs: Counter;
  readonly rejected: Counter<'reason'>;
  readonly droppedPairs: Counter<'reason'>;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.contentType = this.registry.contentType;
    this.requests = new Counter({
      name: 'rrnative_http_requests_total', help: 'HTTP requests answered, by method, route and status.',
      labelNames: ['method', 'route', 'status'], registers,
    });
    this.requestSeconds = new Histogram({
      name: 'rrnative_http_request_duration_seconds', help: 'HTTP request latency, from the request to the response.',
      labelNames: ['route'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers,
    });
    this.queueDepth = new Gauge({ name: 'rrnative_queue_pairs', help: 'Pairs admitted and waiting for a forward pass (tokenizing or queued).', registers });
    this.queueRequests = new Gauge({ name: 'rrnative_queue_requests', help: 'Requests admitted and not yet answered by the batcher.', registers });
    this.inflightBatches = new Gauge({ name: 'rrnative_inflight_batches', help: 'Forward passes running.', registers });
    this.batches = new Counter({ name: 'rrnative_batches_total', help: 'Forward passes run.', registers });
    this.multiRequestBatches = new Counter({
      name: 'rrnative_batches_multi_request_total', help: 'Forward passes holding pairs from more than one request.', registers,
    });
    this.batchPairs = new Histogram({
      name: 'rrnative_batch_pairs', help: 'Pairs per forward pass.', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], registers,
    });
    this.batchRequests = new Histogram({
      name: 'rrnative_batch_requests', help: 'Distinct requests per forward pass.', buckets: [1, 2, 4, 8, 16, 32, 64], registers,
    });
    this.batchTokens = new Histogram({
      name: 'rrnative_batch_padded_tokens', help: 'Padded tokens (pairs x longest pair) per forward pass.',
      buckets: [128, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536], registers,
    });
    this.batchRealTokens = new Counter({ name: 'rrnative_tokens_total', help: 'Real (unpadded) tokens scored.', registers });
    this.batchPaddedTokens = new Counter({ name: 'rrnative_padded_tokens_total', help: 'Padded tokens run through the model.', registers });
    this.forwardSeconds = new Histogram({
      name: 'rrnative_forward_duration_seconds', help: 'Time of one forward pass.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers,
    });
    this.pairs = new Counter({ name: 'rrnative_pairs_scored_total', help: 'Pairs scored.', registers });
    this.truncatedPairs = new Counter({ name: 'rrnative_pairs_truncated_total', help: 'Pairs cut to the maximum length.', registers });
    this.rejected = new Counter({
      name: 'rrnative_rejected_requests_total', help: 'Requests the batcher turned away, by reason (queue_full, timeout, aborted, shutting_down, input_too_long).',
      labelNames: ['reason'], registers,
    });
    this.droppedPairs = new Counter({
      name: 'rrnative_dropped_pairs_total', help: 'Queued pairs dropped unscored, by reason (timeout, aborted).',
      labelNames: ['reason'], registers,
    });
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'rrnative_' });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
