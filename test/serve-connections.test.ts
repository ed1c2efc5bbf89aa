// The server against slow and hostile clients, over raw sockets: stalled bodies answered 408 and closed, the
// connection cap answered 503, close() not held by idle or stalled connections; and the contract's edges: null
// optional fields, Expect, a missing Host, Content-Encoding, charsets — every error in the {error, type} shape.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import { Reranker } from '../src/model';
import { startServer, type RerankServer, type ServeOptions } from '../src/serve/server';
import { withServer as serveWith } from './serve-helpers';
import { bertMiniDir } from './helpers';

let model: Reranker;
before(async () => { model = await Reranker.load(bertMiniDir); });
after(() => model?.dispose());

const withServer = (options: Partial<ServeOptions>, fn: (server: RerankServer, port: number) => Promise<void>) => serveWith(model, options, fn);

/** A raw connection: what it was sent back, and when it closed. */
function connect(port: number, data: string): Promise<{ socket: net.Socket; closed: Promise<{ text: string; at: number }> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(data);
      let text = '';
      socket.on('data', (d) => { text += d.toString(); });
      const closed = new Promise<{ text: string; at: number }>((done) => socket.on('close', () => done({ text, at: Date.now() })));
      socket.on('error', () => undefined);
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

function parseRaw(text: string): { status: number; body: any } {
  const [head, ...rest] = text.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), body: JSON.parse(rest.join('\r\n\r\n')) };
}

const stalledBody = 'POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"query":';

async function post(url: string, path: string, body: Buffer | string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: await res.json() };
}

describe('serve: connections', () => {
  test('a stalled body is answered 408 {error, type} and closed at the request deadline', { timeout: 30_000 }, async () => {
    await withServer({ requestTimeoutMs: 1500, headersTimeoutMs: 1000 }, async (_server, port) => {
      const started = Date.now();
      const { closed } = await connect(port, stalledBody);
      const { text, at } = await closed;
      const res = parseRaw(text);
      assert.equal(res.status, 408);
      assert.equal(res.body.type, 'request_timeout');
      assert.ok(at - started >= 1400 && at - started < 4000, `closed after ${at - started} ms`);
    });
  });

  test('at max_connections a new connection replaces the oldest stalled one; 503 only when all are being answered', { timeout: 30_000 }, async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    let holding = false;
    await withServer({ maxConnections: 2, hooks: { beforeForward: () => (holding ? held : undefined) } }, async (server, port) => {
      const first = await connect(port, stalledBody);
      const second = await connect(port, stalledBody);
      // Two stalled connections fill the cap: a normal client is still answered, in place of the oldest.
      const ok = await post(server.url!, '/rerank', JSON.stringify({ query: 'cat', documents: ['a cat'] }), { connection: 'close' });
      assert.equal(ok.status, 200);
      await first.closed;
      second.socket.destroy();
      await second.closed;

      // Two requests being scored (the model held busy) fill it: a new connection gets a fast 503 {error, type}.
      holding = true;
      const body = JSON.stringify({ query: 'cat', documents: ['a cat', 'a dog'] });
      const busy = [0, 1].map(() => post(server.url!, '/rerank', body, { connection: 'close' }));
      while (server.batcher.stats().activeRequests < 2) await new Promise((r) => setTimeout(r, 10));
      const refused = await connect(port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      const res = parseRaw((await refused.closed).text);
      assert.equal(res.status, 503);
      assert.equal(res.body.type, 'overloaded');
      assert.match(res.body.error, /max_connections/);
      release();
      for (const r of await Promise.all(busy)) assert.equal(r.status, 200);
    });
  });

  test('close() does not wait on idle keep-alive, slow-header or stalled-body connections', { timeout: 30_000 }, async () => {
    const server = await startServer({ model, host: '127.0.0.1', port: 0 });
    const port = Number(new URL(server.url!).port);
    const idle = await connect(port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    const slowHeaders = await connect(port, 'GET /health HTTP/1.1\r\nHost: x\r\n');
    const body = await connect(port, stalledBody);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await server.close();
    const took = Date.now() - started;
    assert.ok(took < 2000, `close() took ${took} ms`);
    await Promise.all([idle.closed, slowHeaders.closed, body.closed]);
  });

  test('close() lets a body that is still arriving finish and answers it; the stalled one beside it is closed', { timeout: 30_000 }, async () => {
    const server = await startServer({ model, host: '127.0.0.1', port: 0 });
    const port = Number(new URL(server.url!).port);
    const json = JSON.stringify({ query: 'cat', documents: ['a cat sat on the mat', 'stock markets fell'] });
    const head = `POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${json.length}\r\n\r\n`;
    const arriving = await connect(port, head + json.slice(0, 5));
    const stalled = await connect(port, stalledBody);
    await new Promise((r) => setTimeout(r, 100));
    const closing = server.close();
    // The rest comes a few bytes every 300 ms: over two seconds, never a second without a byte.
    for (let at = 5; at < json.length; at += Math.ceil(json.length / 7)) {
      await new Promise((r) => setTimeout(r, 300));
      arriving.socket.write(json.slice(at, at + Math.ceil(json.length / 7)));
    }
    const answered = await arriving.closed;
    assert.equal(parseRaw(answered.text).status, 200, answered.text);
    assert.equal(parseRaw(answered.text).body.ranked_documents.length, 2);
    const cut = await stalled.closed;
    assert.equal(cut.text, '', 'the stalled body is closed, not answered');
    await closing;
  });
});

describe('serve: the contract\'s edges', () => {
  test('optional fields sent as null are "not set" (LangChain sends max_chunks_per_doc: null)', async () => {
    await withServer({}, async (server) => {
      const documents = ['a cat sat on the mat', 'stock markets fell'];
      for (const [path, extra] of [
        ['/v1/rerank', { max_chunks_per_doc: null, top_n: null, return_documents: null, rank_fields: null, model: null }],
        ['/v2/rerank', { max_tokens_per_doc: null, top_n: null, priority: null }],
        ['/rerank', { top_n: null, truncate: null, activation: null }],
      ] as const) {
        const res = await post(server.url!, path, JSON.stringify({ query: 'cat', documents, ...extra }), {});
        assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
      }
      const missing = await post(server.url!, '/v1/rerank', JSON.stringify({ query: null, documents }), {});
      assert.equal(missing.status, 400);
      assert.match(missing.body.error, /query/);
    });
  });

  test('Expect other than 100-continue is 417, a request without Host 400, both {error, type}', async () => {
    await withServer({}, async (_server, port) => {
      const expect = await connect(port, 'GET /health HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nConnection: close\r\n\r\n');
      const e = parseRaw((await expect.closed).text);
      assert.equal(e.status, 417);
      assert.equal(e.body.type, 'expectation_failed');
      const noHost = await connect(port, 'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n');
      const h = parseRaw((await noHost.closed).text);
      assert.equal(h.status, 400);
      assert.match(h.body.error, /Host/);
    });
  });

  test('Content-Encoding gzip and deflate are decoded, a bomb is 413, other encodings and charsets 415', async () => {
    await withServer({ bodyLimit: 64 * 1024 }, async (server) => {
      const json = JSON.stringify({ query: 'cat', documents: ['a cat sat on the mat', 'stock markets fell'] });
      const plain = await post(server.url!, '/rerank', json, {});
      assert.equal(plain.status, 200);
      for (const [encoding, body] of [['gzip', zlib.gzipSync(json)], ['deflate', zlib.deflateSync(json)], ['deflate', zlib.deflateRawSync(json)]] as const) {
        const res = await post(server.url!, '/rerank', body, { 'content-encoding': encoding });
        assert.equal(res.status, 200, `${encoding}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body.ranked_documents, plain.body.ranked_documents);
      }
      const bomb = zlib.gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
      assert.ok(bomb.length < 64 * 1024);
      const big = await post(server.url!, '/rerank', bomb, { 'content-encoding': 'gzip' });
      assert.equal(big.status, 413);
      assert.equal(big.body.type, 'payload_too_large');
      const notGzip = await post(server.url!, '/rerank', json, { 'content-encoding': 'gzip' });
      assert.equal(notGzip.status, 400);
      assert.match(notGzip.body.error, /gzip/);
      const br = await post(server.url!, '/rerank', zlib.brotliCompressSync(json), { 'content-encoding': 'br' });
      assert.equal(br.status, 415);
      assert.equal(br.body.type, 'unsupported_media_type');
      for (const charset of ['utf-16', 'latin1']) {
        const res = await post(server.url!, '/rerank', json, { 'content-type': `application/json; charset=${charset}` });
        assert.equal(res.status, 415, charset);
        assert.match(res.body.error, new RegExp(charset));
      }
      const utf8 = await post(server.url!, '/rerank', json, { 'content-type': 'application/json; charset=UTF-8' });
      assert.equal(utf8.status, 200);
    });
  });
});
