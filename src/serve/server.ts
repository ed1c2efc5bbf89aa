// The rerank HTTP server: fastify over a Reranker, with the dynamic batcher, API-key auth, Prometheus metrics and
// one JSON error shape for every failure. `createServer` builds it (tests, embedding), `startServer` also listens.
import fs from 'node:fs';
import path from 'node:path';
import { isUtf8 } from 'node:buffer';
import zlib from 'node:zlib';
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { Reranker, checkLongDocumentOptions, resolveDevice, type DeviceRequest } from '../model';
import type { ChunkAggregate, LongDocuments } from '../tokenize';
import type { NativeDtype } from '../native';
import { ApiKeyCheck } from './auth';
import { Batcher, DEFAULT_BATCHER_OPTIONS, DEVICE_BATCH_DEFAULTS, rerankerBackend, type BatcherHooks, type BatcherOptions } from './batcher';
import { BodyBudget, ConnectionGuard } from './connections';
import { HttpError, rawErrorResponse, type ErrorType } from './errors';
import { ServeMetrics } from './metrics';
import { ROUTE_METHODS, registerRoutes, type RouteLimits } from './routes';
import type { TemplateName } from '../prompt';

export interface ServeOptions extends Partial<BatcherOptions>, Partial<RouteLimits> {
  /** A model folder to load, or a loaded Reranker (then the caller keeps ownership: close() does not dispose it). */
  model: string | Reranker;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** When set, every route but GET /health needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Default 'auto': CUDA when LibTorch sees a GPU, else the CPU. */
  device?: DeviceRequest;
  /** 'fp32' (default), 'bf16' weights or 'int8' products (see LoadOptions.dtype). */
  dtype?: NativeDtype;
  /** Longest pair in tokens (default: the model's). */
  maxLength?: number;
  /** Which logit is the score, for models with several labels (index or id2label name). */
  label?: number | string;
  /** The prompt template and its default instruction (LoadOptions.template / instruction), for a model folder. */
  template?: TemplateName;
  instruction?: string;
  /** The name /info and the responses report (default: the model folder's name). */
  modelName?: string;
  /** Truncate over-long pairs unless the request says `truncate: false` (default true). */
  truncate?: boolean;
  /** 'truncate' (default) or 'chunk' long documents when a request does not say (see ScoreOptions.longDocuments). */
  longDocuments?: LongDocuments;
  /** Chunking: windows per document (default 10), tokens shared by neighbours (default 32), and the aggregate (max). */
  maxChunks?: number;
  chunkOverlap?: number;
  chunkAggregate?: ChunkAggregate;
  /** Request body bytes held at once, all requests together (default 64 MiB); past it, 429. */
  maxBufferedBytes?: number;
  /** Fastify's logger level ('silent' default for createServer; the CLI uses 'info'). */
  logLevel?: string;
  /** Export process metrics (CPU, memory, event loop) on /metrics too (default false). */
  processMetrics?: boolean;
  /** Time for a request's headers to arrive, ms (default 10000; past it, 408 and closed). */
  headersTimeoutMs?: number;
  /** Time for a whole request, headers and body, to arrive, ms (default 30000; past it, 408 and closed). */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this many ms (default 5000). */
  keepAliveTimeoutMs?: number;
  /** Open connections at most; beyond it a new connection gets 503 and is closed (default 1024). */
  maxConnections?: number;
  /** On close(), requests being scored get this long to finish, ms (default 30000); then every connection is closed. */
  drainTimeoutMs?: number;
  /** Test instrumentation for the batcher. */
  hooks?: BatcherHooks;
}

export const DEFAULT_LIMITS: RouteLimits = {
  maxDocuments: 1000,
  maxDocumentChars: 20_000,
  maxQueryChars: 4_000,
  bodyLimit: 4 * 1024 * 1024,
};

export const DEFAULT_CONNECTION_LIMITS: Required<Pick<ServeOptions,
  'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections' | 'drainTimeoutMs' | 'maxBufferedBytes'>> = {
  maxBufferedBytes: 64 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1024,
  drainTimeoutMs: 30_000,
};

/** JSON bodies nested deeper than this are refused before parsing (valid bodies need 3 levels). */
export const MAX_JSON_DEPTH = 32;

export interface RerankServer {
  readonly app: FastifyInstance;
  readonly model: Reranker;
  readonly batcher: Batcher;
  readonly metrics: ServeMetrics;
  /** The base URL once listening, e.g. http://127.0.0.1:8080. */
  readonly url: string | undefined;
  listen(): Promise<string>;
  /** Graceful: stops accepting, answers what is in flight, then frees the model (when the server loaded it). */
  close(): Promise<void>;
}

export async function createServer(options: ServeOptions): Promise<RerankServer> {
  const ownsModel = typeof options.model === 'string';
  const model = typeof options.model === 'string'
    ? await Reranker.load(options.model, {
      device: resolveDevice(options.device ?? 'auto', 'device', options.dtype), dtype: options.dtype, maxLength: options.maxLength,
      template: options.template, instruction: options.instruction,
    })
    : options.model;
  try {
    return buildServer(model, ownsModel, options);
  } catch (err) {
    if (ownsModel) model.dispose();
    throw err;
  }
}

export async function startServer(options: ServeOptions): Promise<RerankServer> {
  const server = await createServer(options);
  try {
    await server.listen();
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

function buildServer(model: Reranker, ownsModel: boolean, options: ServeOptions): RerankServer {
  const limits: RouteLimits = positiveSettings(DEFAULT_LIMITS, options);
  const connectionLimits = positiveSettings(DEFAULT_CONNECTION_LIMITS, options);
  // Node checks the headers and request deadlines on an interval: check often enough that they hold to ~1 s.
  const headersTimeout = Math.min(connectionLimits.headersTimeoutMs, connectionLimits.requestTimeoutMs);
  const budget = DEVICE_BATCH_DEFAULTS[model.device];
  const batcherOptions: BatcherOptions = {
    maxBatchTokens: options.maxBatchTokens ?? Math.max(budget.maxBatchTokens, model.maxLength),
    maxBatchPairs: options.maxBatchPairs ?? budget.maxBatchPairs,
    maxBatchRequests: options.maxBatchRequests ?? DEFAULT_BATCHER_OPTIONS.maxBatchRequests,
    maxQueuePairs: options.maxQueuePairs ?? DEFAULT_BATCHER_OPTIONS.maxQueuePairs,
    maxInflight: options.maxInflight ?? DEFAULT_BATCHER_OPTIONS.maxInflight,
    timeoutMs: options.timeoutMs ?? DEFAULT_BATCHER_OPTIONS.timeoutMs,
  };
  if (connectionLimits.maxBufferedBytes < limits.bodyLimit) {
    throw new RangeError(`maxBufferedBytes (${connectionLimits.maxBufferedBytes}) must be at least bodyLimit (${limits.bodyLimit}), so that one largest body can be read`);
  }
  const longDocuments = checkLongDocumentOptions(options);
  const template = model.tokenizer.template?.name ?? null;
  if (template && longDocuments.longDocuments === 'chunk') {
    throw new RangeError(`longDocuments 'chunk' is not supported with the ${template} prompt template: its documents are truncated`);
  }
  if (limits.maxDocuments > batcherOptions.maxQueuePairs) {
    throw new RangeError(`maxDocuments (${limits.maxDocuments}) must not exceed maxQueuePairs (${batcherOptions.maxQueuePairs}): such a request could never be admitted`);
  }
  const column = labelColumn(model, options.label);
  const auth = options.apiKey !== undefined ? new ApiKeyCheck(options.apiKey) : null;
  const metrics = new ServeMetrics({ processMetrics: options.processMetrics });
  const batcher = new Batcher(rerankerBackend(model), batcherOptions, metrics, options.hooks);
  const modelId = options.modelName ?? (typeof options.model === 'string' ? path.basename(path.resolve(options.model)) : 'reranker');
  const truncate = options.truncate ?? true;
  let closing = false;

  const app = Fastify({
    logger: { level: options.logLevel ?? 'silent' },
    bodyLimit: limits.bodyLimit,
    return503OnClosing: false,          // answered below, in the stable error shape
    forceCloseConnections: 'idle',
    requestTimeout: connectionLimits.requestTimeoutMs,
    keepAliveTimeout: connectionLimits.keepAliveTimeoutMs,
    http: {
      headersTimeout,
      requestTimeout: connectionLimits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeout / 4))),
      requireHostHeader: false,         // checked in onRequest, so that the answer has the error shape
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    clientErrorHandler: clientError,
    frameworkErrors: (err, _request, reply) => {
      sendError(reply, new HttpError(400, 'bad_request', err.message));
    },
  });

  const guard = new ConnectionGuard(app.server, connectionLimits.maxConnections);
  const bodies = new BodyBudget(connectionLimits.maxBufferedBytes, limits.bodyLimit);
  // Expectations other than 100-continue: Node would answer 417 with an empty body.
  app.server.on('checkExpectation', (req, res) => {
    const body = JSON.stringify(new HttpError(417, 'expectation_failed', `Expect: ${clip(String(req.headers.expect), 100)} is not supported (only 100-continue)`).body());
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });

  // JSON bodies: UTF-8 only, gzip/deflate decoded (the body limit applies to the decoded size), strict UTF-8,
  // bounded nesting, then fastify's parser (which refuses __proto__ / constructor keys).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(String(request.headers['content-type'] ?? ''))?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      return done(new HttpError(415, 'unsupported_media_type', `charset=${clip(charset, 40)} is not supported: send the JSON body in UTF-8`), undefined);
    }
    let buf: Buffer;
    try {
      buf = decodeBody(body as Buffer, request.headers['content-encoding'], limits.bodyLimit);
    } catch (err) {
      return done(err as Error, undefined);
    }
    if (buf.length === 0) return done(new HttpError(400, 'invalid_json', 'the body is empty: send a JSON object'), undefined);
    if (!isUtf8(buf)) return done(new HttpError(400, 'invalid_json', 'the body is not valid UTF-8'), undefined);
    if (tooDeep(buf, MAX_JSON_DEPTH)) {
      return done(new HttpError(400, 'invalid_json', `the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
    }
    parseJson(request, buf.toString('utf8'), (err, value) => {
      if (err) done(new HttpError(400, 'invalid_json', `invalid JSON body: ${err.message}`), undefined);
      else done(null, value);
    });
  });

  app.addHook('onRequest', async (request, reply) => {
    if (closing) throw new HttpError(503, 'shutting_down', 'the server is shutting down');
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      throw new HttpError(400, 'bad_request', 'the request has no Host header (HTTP/1.1 requires one)');
    }
    if (auth && !(request.url === '/health' || request.url.startsWith('/health?'))) auth.check(request.headers.authorization);
    bodies.reserve(request);
    guard.received(request.raw.socket);
  });
  app.addHook('onResponse', async (request) => bodies.release(request));
  app.addHook('onRequestAbort', async (request) => bodies.release(request));

  // While stopping, connections close after their response (else a kept-alive socket would hold close() open).
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('Connection', 'close');
    return payload;
  });

  // Optional fields sent as null mean "not set" (Cohere's and TEI's clients send them so).
  app.addHook('preValidation', async (request) => {
    const body = request.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return;
    const required = new Set<string>((request.routeOptions.schema?.body as { required?: string[] } | undefined)?.required ?? []);
    for (const [key, value] of Object.entries(body)) if (value === null && !required.has(key)) delete (body as Record<string, unknown>)[key];
  });

  // From here the request's body is in: shutdown lets it finish (within the drain deadline).
  const handling = new WeakSet<object>();
  app.addHook('preHandler', async (request) => {
    handling.add(request);
    guard.started(request.raw.socket);
  });
  const handled = async (request: { raw: { socket: Socket } }) => {
    guard.finished(request.raw.socket, handling.delete(request));
  };
  app.addHook('onResponse', handled);
  app.addHook('onRequestAbort', handled);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err, request, reply) => {
    const error = toHttpError(err as FastifyError);
    if (error.statusCode >= 500 && error.type === 'internal_error') request.log.error({ err }, 'request failed');
    sendError(reply, error);
  });

  app.setNotFoundHandler((request, reply) => {
    const pathname = request.url.split('?')[0];
    const allowed = ROUTE_METHODS[pathname];
    if (allowed) {
      reply.header('Allow', allowed);
      return sendError(reply, new HttpError(405, 'method_not_allowed', `${request.method} ${pathname} is not allowed: use ${allowed}`));
    }
    sendError(reply, new HttpError(404, 'not_found', `no route for ${request.method} ${clip(pathname, 200)}`));
  });

  const info = () => ({
    model_id: modelId,
    model_type: 'reranker',
    version: packageVersion(),
    device: model.device,
    dtype: model.dtype,
    max_input_length: model.maxLength,
    max_length: model.maxLength,
    prompt_template: template,
    ...(template ? { instruction: model.tokenizer.instruction } : {}),
    num_labels: model.numLabels,
    labels: model.labels,
    score_label: model.labels[column] ?? String(column),
    truncation: truncate,
    auth: auth !== null,
    limits: {
      body_limit_bytes: limits.bodyLimit,
      max_documents: limits.maxDocuments,
      max_document_chars: limits.maxDocumentChars,
      max_query_chars: limits.maxQueryChars,
      max_json_depth: MAX_JSON_DEPTH,
      timeout_ms: batcherOptions.timeoutMs,
      max_queue_pairs: batcherOptions.maxQueuePairs,
      headers_timeout_ms: connectionLimits.headersTimeoutMs,
      request_timeout_ms: connectionLimits.requestTimeoutMs,
      keep_alive_timeout_ms: connectionLimits.keepAliveTimeoutMs,
      max_connections: connectionLimits.maxConnections,
      drain_timeout_ms: connectionLimits.drainTimeoutMs,
      max_buffered_bytes: connectionLimits.maxBufferedBytes,
    },
    long_documents: {
      mode: longDocuments.longDocuments, max_chunks: longDocuments.maxChunks, chunk_overlap: longDocuments.chunkOverlap, aggregate: longDocuments.aggregate,
    },
    batching: {
      max_batch_tokens: batcherOptions.maxBatchTokens,
      max_batch_pairs: batcherOptions.maxBatchPairs,
      max_batch_requests: batcherOptions.maxBatchRequests,
      max_inflight: batcherOptions.maxInflight,
    },
    endpoints: ['POST /rerank', 'POST /v1/rerank', 'POST /v2/rerank', 'GET /health', 'GET /info', 'GET /metrics'],
  });

  registerRoutes(app, { batcher, metrics, limits, truncate, longDocuments, column, info, template });

  let url: string | undefined;
  let closed: Promise<void> | undefined;
  return {
    app, model, batcher, metrics,
    get url() { return url; },
    async listen() {
      const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
      const addr = app.server.address();
      url = addr && typeof addr === 'object'
        ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
        : address;
      return url;
    },
    close() {
      closed ??= (async () => {
        closing = true;
        // Stops accepting; closes idle connections and stalled ones (see closeIdle); waits for the requests
        // being scored (their handlers wait on the batcher), up to the drain deadline.
        const deadline = setTimeout(() => guard.closeAll(), connectionLimits.drainTimeoutMs);
        deadline.unref();
        const stopped = app.close();
        guard.closeIdle();
        await stopped;
        await batcher.drain();
        clearTimeout(deadline);
        if (ownsModel) model.dispose();
      })();
      return closed;
    },
  };
}

// Each key of `defaults` from `options` when set there, else the default; every one a positive integer.
function positiveSettings<T extends object>(defaults: T, options: Partial<T>): T {
  const out = {} as Record<string, unknown>;
  for (const [key, fallback] of Object.entries(defaults)) {
    const value = (options as Record<string, unknown>)[key] ?? fallback;
    if (!Number.isInteger(value) || (value as number) < 1) throw new RangeError(`${key} must be a positive integer, got ${value}`);
    out[key] = value;
  }
  return out as T;
}

function sendError(reply: FastifyReply, error: HttpError): void {
  if (reply.sent) return;
  reply.code(error.statusCode).headers(error.headers).type('application/json; charset=utf-8').send(error.body());
}

// Fastify's own errors (body parser, router, validation) mapped onto the stable shape.
function toHttpError(err: FastifyError): HttpError {
  if (err instanceof HttpError) return err;
  if (err.validation) return new HttpError(400, 'invalid_request', err.message);
  const byCode: Record<string, [number, ErrorType]> = {
    FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload_too_large'],
    FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type'],
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'bad_request'],
    FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid_json'],
    FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid_json'],
  };
  const known = err.code ? byCode[err.code] : undefined;
  if (known) {
    const message = known[1] === 'unsupported_media_type'
      ? 'the body must be JSON, with Content-Type: application/json'
      : err.message;
    return new HttpError(known[0], known[1], message);
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) return new HttpError(status, 'bad_request', err.message);
  return new HttpError(500, 'internal_error', 'internal server error');
}

// Requests the HTTP parser rejected (broken framing, header overflow, timeouts): answer in the same shape.
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, type, message]: [number, string, ErrorType, string] =
    err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', 'header_too_large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'request_timeout', 'the request (headers and body) did not arrive in time: closed']
        : [400, 'Bad Request', 'bad_request', `malformed HTTP request (${err.code ?? 'parse error'})`];
  socket.end(rawErrorResponse(status, reason, type, message));
}

// The body as sent, decoded per Content-Encoding; a decoded body over the limit (a zip bomb) is a 413.
function decodeBody(raw: Buffer, encoding: string | undefined, limit: number): Buffer {
  const name = (encoding ?? 'identity').trim().toLowerCase();
  if (name === '' || name === 'identity') return raw;
  const tooLarge = () => new HttpError(413, 'payload_too_large', `the ${name}-decoded body is over the limit of ${limit} bytes (body_limit)`);
  const decode = (fn: (b: Buffer, o: zlib.ZlibOptions) => Buffer): Buffer => {
    try {
      return fn(raw, { maxOutputLength: limit });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
      throw new HttpError(400, 'invalid_json', `the body is not valid ${name} data (Content-Encoding: ${name}): ${(err as Error).message}`);
    }
  };
  if (name === 'gzip' || name === 'x-gzip') return decode(zlib.gunzipSync);
  // HTTP's deflate is zlib-wrapped; some clients send raw deflate.
  if (name === 'deflate') return raw[0] === 0x78 ? decode(zlib.inflateSync) : decode(zlib.inflateRawSync);
  throw new HttpError(415, 'unsupported_media_type', `Content-Encoding: ${clip(name, 40)} is not supported: send identity, gzip or deflate`);
}

// True when JSON text nests arrays/objects deeper than `max` (brackets inside strings do not count).
function tooDeep(buf: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c) i++;                 // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) { // [ {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

function labelColumn(model: Reranker, label: number | string | undefined): number {
  if (label === undefined) {
    if (model.numLabels !== 1) {
      throw new RangeError(`the model has ${model.numLabels} labels (${model.labels.join(', ')}): choose the score's with --label`);
    }
    return 0;
  }
  const index = typeof label === 'string' ? model.labels.indexOf(label) : label;
  if (!Number.isInteger(index) || index < 0 || index >= model.numLabels) {
    throw new RangeError(`label ${JSON.stringify(label)} is not one of the model's labels (${model.labels.join(', ')})`);
  }
  return index;
}

let version: string | undefined;
function packageVersion(): string {
  if (version === undefined) {
    try {
      // dist/src/serve/server.js or src/serve/server.ts: the package root is three or two folders up.
      const candidates = [path.resolve(__dirname, '..', '..', '..', 'package.json'), path.resolve(__dirname, '..', '..', 'package.json')];
      const file = candidates.find((f) => fs.existsSync(f));
      version = file ? String((JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown }).version ?? 'unknown') : 'unknown';
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
