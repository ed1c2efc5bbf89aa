// Fuzzing the real server: a few thousand malformed or hostile requests (seeded, so a failure replays) over fetch
// and raw sockets (invalid UTF-8, broken HTTP framing). No 5xx, no crash, every error in the {error, type} shape,
// and the server still scores correctly afterwards.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Rng } from '../src/data/rng';
import { Reranker } from '../src/model';
import { startServer, type RerankServer } from '../src/serve/server';
import { bertMiniDir } from './helpers';

const SEED = Number(process.env.SERVE_FUZZ_SEED ?? 20240611);
const FETCH_CASES = Number(process.env.SERVE_FUZZ_CASES ?? 3000);
const RAW_CASES = Number(process.env.SERVE_FUZZ_RAW_CASES ?? 400);
const API_KEY = 'fuzz-key';

let model: Reranker;
let server: RerankServer;
let keyed: RerankServer;

before(async () => {
  model = await Reranker.load(bertMiniDir);
  const limits = { bodyLimit: 64 * 1024, maxDocuments: 16, maxDocumentChars: 4000, maxQueryChars: 1000, timeoutMs: 20_000 };
  server = await startServer({ model, host: '127.0.0.1', port: 0, ...limits });
  keyed = await startServer({ model, host: '127.0.0.1', port: 0, apiKey: API_KEY, ...limits });
});

after(async () => {
  await server?.close();
  await keyed?.close();
  model?.dispose();
});

const WORDS = ['file', 'manager', 'editor', 'library', 'python', 'daemon', 'GTK', 'é', '日本語', '🙂', 'Ω', '\u0000', '\t', ' ', '"', '\\', '\u2028'];
const KEYS = ['query', 'documents', 'texts', 'top_n', 'truncate', 'raw_scores', 'return_text', 'return_documents', 'model',
  'max_tokens_per_doc', 'rank_fields', 'activation', 'truncation_direction', 'priority', 'max_chunks_per_doc', '__proto__',
  'constructor', 'prototype', 'text', ''];
const ROUTES = ['/rerank', '/v1/rerank', '/v2/rerank'];

class Gen {
  constructor(readonly rng: Rng) {}
  int(n: number): number { return this.rng.int(n); }
  chance(p: number): boolean { return this.rng.next() < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }

  text(max = 12): string {
    const n = this.int(max) + 1;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = this.rng.next();
      if (r < 0.7) parts.push(this.pick(WORDS));
      else if (r < 0.85) parts.push(String.fromCharCode(this.int(0x10000)));   // any BMP unit, lone surrogates too
      else parts.push(String.fromCodePoint(this.int(0x10ffff)));
    }
    return parts.join(this.chance(0.8) ? ' ' : '');
  }

  scalar(): unknown {
    return this.pick<() => unknown>([
      () => null, () => true, () => false, () => 0, () => -1, () => 1.5, () => 1e308, () => -0, () => 2 ** 53 + 1,
      () => this.int(100), () => '', () => this.text(), () => '9', () => 'sigmoid', () => [], () => ({}),
    ])();
  }

  value(depth = 0): unknown {
    if (depth > 3 || this.chance(0.5)) return this.scalar();
    if (this.chance(0.5)) return Array.from({ length: this.int(5) }, () => this.value(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = this.int(5); i > 0; i--) o[this.chance(0.7) ? this.pick(KEYS) : this.text(2)] = this.value(depth + 1);
    return o;
  }

  validBody(route: string): Record<string, unknown> {
    const documents = Array.from({ length: this.int(4) + 1 }, () => this.text(8));
    if (route === '/rerank' && this.chance(0.4)) return { query: this.text(4), texts: documents, raw_scores: this.chance(0.5), return_text: this.chance(0.5) };
    const body: Record<string, unknown> = { query: this.text(4), documents };
    if (route !== '/rerank') body.model = 'm';
    if (this.chance(0.3)) body.top_n = this.int(6) + 1;
    if (route === '/v1/rerank' && this.chance(0.3)) body.documents = documents.map((text) => ({ text, id: this.text(1) }));
    return body;
  }

  mutate(body: Record<string, unknown>): unknown {
    for (let n = this.int(3) + 1; n > 0; n--) {
      const k = this.pick(KEYS);
      switch (this.int(6)) {
        case 0: delete body[k === '' ? 'query' : k]; break;
        case 1: body[k] = this.value(); break;
        case 2: body[k] = this.scalar(); break;
        case 3: if (Array.isArray(body.documents)) (body.documents as unknown[])[this.int(5)] = this.value(); break;
        case 4: body.query = this.chance(0.5) ? '' : this.value(); break;
        default: body.documents = this.chance(0.5) ? [] : this.value();
      }
    }
    return this.chance(0.05) ? [body] : body;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  /** Invalid UTF-8 sequences: lone continuation, overlong, surrogate halves, truncated multibyte, 0xFF. */
  badUtf8(): Buffer {
    return Buffer.from(this.pick([[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xff], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc3, 0x28]]));
  }
}

interface Case {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  server: RerankServer;
}

function makeCase(g: Gen): Case {
  const route = g.pick(ROUTES);
  const json = { 'content-type': 'application/json' };
  const srv = g.chance(0.1) ? keyed : server;
  const auth: Record<string, string> = srv === keyed
    ? (g.chance(0.5) ? { authorization: `Bearer ${API_KEY}` } : g.chance(0.5) ? { authorization: g.pick(['Bearer', 'Bearer ', `bearer ${API_KEY}x`, 'Basic x', g.text(3).replace(/[^\x20-\x7e]/g, 'x')]) } : {})
    : {};
  const kind = g.rng.next();
  const c = (body: string | Buffer, headers: Record<string, string> = json, method = 'POST', path = route): Case =>
    ({ method, path, headers: { ...headers, ...auth }, body, server: srv });
  if (kind < 0.35) return c(JSON.stringify(g.mutate(g.validBody(route))));
  if (kind < 0.45) return c(JSON.stringify(g.validBody(route)));
  if (kind < 0.6) return c(JSON.stringify(g.value()));
  if (kind < 0.68) {
    // Valid JSON text with invalid UTF-8 bytes spliced in somewhere.
    const text = Buffer.from(JSON.stringify(g.validBody(route)));
    const at = g.int(text.length);
    return c(Buffer.concat([text.subarray(0, at), g.badUtf8(), text.subarray(at)]));
  }
  if (kind < 0.74) {
    const text = JSON.stringify(g.validBody(route));
    return c(g.chance(0.5) ? text.slice(0, g.int(text.length)) : g.bytes(g.int(300)));
  }
  if (kind < 0.77) {
    const depth = g.pick([20, 33, 100, 5000, 60_000]);
    const open = g.chance(0.5) ? '[' : '{"a":';
    return c(open.repeat(depth) + (open === '[' ? ']' : '}').repeat(g.chance(0.5) ? depth : 0));
  }
  if (kind < 0.8) {
    const n = g.pick([4001, 20_000, 70_000]);
    const big = g.chance(0.5) ? { query: 'q', documents: ['x'.repeat(n)] } : { query: 'q'.repeat(n), documents: ['d'] };
    return c(JSON.stringify(big));
  }
  if (kind < 0.85) {
    const ct = g.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16',
      'application/jsonx', 'application/JSON', '*/*', 'application/json;;', '']);
    return c(JSON.stringify(g.validBody(route)), ct ? { 'content-type': ct } : {});
  }
  if (kind < 0.95) {
    const method = g.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'POST']);
    const path = g.pick(['/', '/health', '/info', '/metrics', '/rerank', '/v1/rerank', '/v3/rerank', '/%zz', '/rerank%00', '/..%2f..%2fetc/passwd',
      '/rerank?x=%ff', '//rerank', '/rerank/', '/health?', `/${encodeURIComponent(g.text(3).replace(/[\ud800-\udfff]/g, 'x'))}`, `/${'a'.repeat(3000)}`]);
    const body = method === 'GET' || method === 'HEAD' ? undefined : JSON.stringify(g.value());
    return { method, path, headers: { ...(body ? json : {}), ...auth }, body, server: srv };
  }
  return c(JSON.stringify(g.validBody(route)), { ...json, 'content-encoding': 'gzip', 'x-junk': g.text(4).replace(/[^\x20-\x7e]/g, '?') });
}

function checkResponse(status: number, contentType: string, text: string, method: string, where: string): void {
  assert.ok(status < 500, `${where}: ${status} ${text.slice(0, 300)}`);
  if (method === 'HEAD') return;
  if (status >= 400) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      assert.fail(`${where}: ${status} with a non-JSON body ${text.slice(0, 200)}`);
    }
    assert.deepEqual(Object.keys(body as object).sort(), ['error', 'type'], `${where}: ${text.slice(0, 200)}`);
  } else if (/json/.test(contentType)) {
    JSON.parse(text);
  }
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

/** Writes raw bytes, reads what comes back until the server closes or a short idle time passes. */
function rawExchange(port: number, chunks: Buffer[], endAfter: boolean): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let idle: NodeJS.Timeout;
    const finish = () => {
      clearTimeout(idle);
      socket.destroy();
      resolve(Buffer.concat(got).toString('latin1'));
    };
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(finish, 1500);
    };
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c);
      if (endAfter) socket.end();
      arm();
    });
    socket.on('data', (d) => { got.push(d); arm(); });
    socket.on('error', () => undefined);
    socket.on('close', finish);
  });
}

function rawCases(g: Gen): { name: string; chunks: Buffer[]; end: boolean }[] {
  const b = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
  const body = JSON.stringify({ query: 'file manager', documents: ['a file manager'] });
  const request = (extra = '', payload = body) =>
    `POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n${extra}\r\n${payload}`;
  const fixed: { name: string; chunks: Buffer[]; end: boolean }[] = [
    { name: 'garbage request line', chunks: [b('GARBAGE\r\n\r\n')], end: false },
    { name: 'HTTP/2 preface', chunks: [b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')], end: false },
    { name: 'bad version', chunks: [b('GET /health HTTP/9.9\r\nHost: x\r\n\r\n')], end: false },
    { name: 'LF only', chunks: [b('GET /health HTTP/1.1\nHost: x\n\n')], end: false },
    { name: 'header without colon', chunks: [b('GET /health HTTP/1.1\r\nHost x\r\n\r\n')], end: false },
    { name: 'NUL in header', chunks: [b('GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n')], end: false },
    { name: 'invalid UTF-8 in URL', chunks: [Buffer.concat([b('GET /re'), Buffer.from([0xc3, 0x28, 0xff]), b('rank HTTP/1.1\r\nHost: x\r\n\r\n')])], end: false },
    { name: 'invalid UTF-8 in header value', chunks: [Buffer.concat([b('GET /health HTTP/1.1\r\nHost: x\r\nX-A: '), Buffer.from([0xed, 0xa0, 0x80, 0xff]), b('\r\n\r\n')])], end: false },
    { name: 'invalid UTF-8 in Authorization', chunks: [Buffer.concat([b('GET /info HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer '), Buffer.from([0xc0, 0xaf]), b('\r\n\r\n')])], end: false },
    { name: 'invalid UTF-8 body, valid framing', chunks: [b(request('', '{"query":"\xff\xfe","documents":["a"]}'))], end: false },
    { name: 'Content-Length not a number', chunks: [b('POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}')], end: false },
    { name: 'two Content-Lengths', chunks: [b('POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\n{}')], end: false },
    { name: 'CL and TE', chunks: [b('POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')], end: false },
    { name: 'bad chunk size', chunks: [b('POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n')], end: false },
    { name: 'huge chunk size', chunks: [b('POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n{}\r\n')], end: false },
    { name: 'chunked, valid', chunks: [b(`POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`)], end: false },
    { name: 'chunked over the body limit', chunks: [b('POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'), ...Array.from({ length: 20 }, () => b(`1000\r\n${'['.repeat(4096)}\r\n`)), b('0\r\n\r\n')], end: false },
    { name: 'TE gzip', chunks: [b('POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}')], end: false },
    { name: 'body shorter than Content-Length, then FIN', chunks: [b('POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query"')], end: true },
    { name: 'Content-Length over the limit', chunks: [b('POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{')], end: true },
    { name: 'headers cut, then FIN', chunks: [b('POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Ty')], end: true },
    { name: 'header overflow', chunks: [b(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)], end: false },
    { name: 'many headers', chunks: [b(`GET /health HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-${i}: y\r\n`).join('')}\r\n`)], end: false },
    { name: 'long URL', chunks: [b(`GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)], end: false },
    { name: 'pipelined', chunks: [b(request() + request() + 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')], end: false },
    { name: 'pipelined, second broken', chunks: [b(request() + 'BROKEN\r\n\r\n')], end: false },
    { name: 'CONNECT', chunks: [b('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n')], end: false },
    { name: 'TRACE', chunks: [b('TRACE /rerank HTTP/1.1\r\nHost: x\r\n\r\n')], end: false },
    { name: 'absolute-form URL', chunks: [b('GET http://evil/health HTTP/1.1\r\nHost: x\r\n\r\n')], end: false },
    { name: 'HTTP/1.0 no Host', chunks: [b('GET /info HTTP/1.0\r\n\r\n')], end: false },
    { name: 'Expect: 100-continue', chunks: [b(request('Expect: 100-continue\r\n'))], end: false },
    { name: 'upgrade websocket', chunks: [b('GET /rerank HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')], end: false },
  ];
  const valid = b(request());
  const random: { name: string; chunks: Buffer[]; end: boolean }[] = [];
  for (let i = fixed.length; i < RAW_CASES; i++) {
    const copy = Buffer.from(valid);
    const kind = g.int(4);
    if (kind === 0) {
      for (let k = g.int(6) + 1; k > 0; k--) copy[g.int(copy.length)] = g.int(256);    // flip bytes anywhere
      random.push({ name: `byte flips #${i}`, chunks: [copy], end: g.chance(0.3) });
    } else if (kind === 1) {
      random.push({ name: `cut at random #${i}`, chunks: [copy.subarray(0, g.int(copy.length))], end: true });
    } else if (kind === 2) {
      random.push({ name: `random bytes #${i}`, chunks: [g.bytes(g.int(400) + 1)], end: g.chance(0.5) });
    } else {
      const split = g.int(copy.length);   // the same request in two writes, with garbage between sometimes
      random.push({ name: `split #${i}`, chunks: [copy.subarray(0, split), ...(g.chance(0.3) ? [g.badUtf8()] : []), copy.subarray(split)], end: false });
    }
  }
  return [...fixed, ...random];
}

test('fuzz: thousands of malformed or hostile requests; no 5xx, no crash; correct answers afterwards', { timeout: 180_000 }, async () => {
  const g = new Gen(new Rng(SEED));
  const started = Date.now();
  const statuses = new Map<number, number>();
  const cases = Array.from({ length: FETCH_CASES }, () => makeCase(g));
  let clientRefused = 0;
  await pool(cases, 16, async (c, i) => {
    const where = `case ${i} (seed ${SEED}): ${c.method} ${c.path.slice(0, 80)}`;
    let res: Response;
    try {
      res = await fetch(c.server.url! + c.path, {
        method: c.method, headers: c.headers, body: c.body as never, signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      // fetch itself refuses some inputs (e.g. header values it considers invalid), or the server reset an oversized upload.
      const code = String((err as { cause?: { code?: string } }).cause?.code ?? '');
      assert.ok(!/Timeout|Abort/.test(String((err as Error).name)), `${where}: timed out`);
      assert.ok(/ECONNRESET|EPIPE|UND_ERR|ERR_INVALID|^$/.test(code), `${where}: ${(err as Error).message} ${code}`);
      clientRefused++;
      return;
    }
    const text = await res.text();
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    checkResponse(res.status, res.headers.get('content-type') ?? '', text, c.method, where);
  });
  const fetchSeconds = (Date.now() - started) / 1000;

  const raw = rawCases(g);
  const rawStatuses = new Map<string, number>();
  await pool(raw, 8, async (c) => {
    const port = Number(new URL(server.url!).port);
    const out = await rawExchange(port, c.chunks, c.end);
    for (const m of out.matchAll(/HTTP\/1\.[01] (\d{3})/g)) {
      rawStatuses.set(m[1], (rawStatuses.get(m[1]) ?? 0) + 1);
      assert.ok(Number(m[1]) < 500, `raw case "${c.name}": ${out.slice(0, 300)}`);
    }
    const bodyStart = out.indexOf('\r\n\r\n');
    if (/^HTTP\/1\.[01] 4\d\d/.test(out) && bodyStart > 0 && !out.startsWith('HTTP/1.1 100')) {
      assert.match(out.slice(bodyStart + 4), /^\{"error":".*","type":"[a-z_]+"\}/s, `raw case "${c.name}": ${out.slice(0, 300)}`);
    }
  });
  // Named cases that must be answered (not just dropped), with the status the HTTP spec asks for.
  const port = Number(new URL(server.url!).port);
  const overflow = await rawExchange(port, [Buffer.from(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)], false);
  assert.match(overflow, /^HTTP\/1\.1 431 /);
  assert.match(overflow, /"type":"header_too_large"/);
  const garbage = await rawExchange(port, [Buffer.from('GARBAGE\r\n\r\n')], false);
  assert.match(garbage, /^HTTP\/1\.1 400 .*"type":"bad_request"/s);
  const badJson = Buffer.concat([Buffer.from('{"query":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","documents":["ab"]}')]);
  const utf8Body = await rawExchange(port, [
    Buffer.from(`POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${badJson.length}\r\n\r\n`),
    badJson,
  ], false);
  assert.match(utf8Body, /^HTTP\/1\.1 400 .*"type":"invalid_json"/s);

  const totalSeconds = (Date.now() - started) / 1000;
  console.log(`fuzz: ${FETCH_CASES} fetch cases in ${fetchSeconds.toFixed(1)} s (${clientRefused} refused by the client), ` +
    `${raw.length} raw cases; total ${totalSeconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}, ` +
    `raw ${JSON.stringify(Object.fromEntries([...rawStatuses].sort()))}`);
  assert.ok((statuses.get(200) ?? 0) > FETCH_CASES / 20, 'a fair share of the cases reached the model');

  // Still alive and correct.
  for (const srv of [server, keyed]) {
    const documents = ['a two-pane file manager', 'a text editor for programmers', 'an image viewer'];
    const expected = await model.score(documents.map((d) => ['file manager', d]));
    const res = await fetch(`${srv.url}/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ query: 'file manager', documents }),
    });
    assert.equal(res.status, 200);
    const body = await res.json() as { ranked_documents: { index: number; score: number }[] };
    for (const d of body.ranked_documents) assert.ok(Math.abs(d.score - expected[d.index]) < 1e-5);
    assert.equal((await fetch(`${srv.url}/health`)).status, 200);
    const metrics = await (await fetch(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
    assert.doesNotMatch(metrics, /rrnative_http_requests_total\{[^}]*status="5\d\d"\}/);
    const stats = srv.batcher.stats();
    assert.equal(stats.queuedPairs, 0);
    assert.equal(stats.activeRequests, 0);
    // Admitted requests end scored, or refused for a reason that is the client's: it went away (a raw case that
    // half-closed its socket) or asked for truncation off with a long pair. Never the deadline, never the model.
    const rejected = (reason: string) => Number(metrics.match(new RegExp(`rrnative_rejected_requests_total\\{reason="${reason}"\\} (\\d+)`))?.[1] ?? 0);
    assert.equal(rejected('timeout'), 0);
    assert.equal(stats.requestsFailed, rejected('aborted') + rejected('input_too_long'), metrics);
  }
});
