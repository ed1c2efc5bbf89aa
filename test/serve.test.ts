// `rrtrain serve`: the real server on 127.0.0.1 (ephemeral port) with fetch clients for every endpoint, scores
// checked against Reranker.score, cross-request batching, 429/503/401/413/400/422, and the official Cohere SDK.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CohereClient, CohereClientV2, CohereError } from 'cohere-ai';
import { Reranker } from '../src/model';
import { loadDebdesc } from '../src/data/debdesc';
import { startServer, type RerankServer, type ServeOptions } from '../src/serve/server';
import { sigmoid } from '../src/serve/routes';
import { withServer as serveWith } from './serve-helpers';
import { waitFor as pollUntil } from './distributed-helpers';
import { bertMiniDir } from './helpers';

const TOL = 1e-5;  // float32 rounding: a pair's logit may move by an ulp with the other pairs in its batch

let model: Reranker;
let query: string;
let docs: string[];

before(async () => {
  model = await Reranker.load(bertMiniDir);
  const rows = await loadDebdesc('dev');
  query = rows[0].query;
  docs = rows.slice(1, 41).map((r) => r.document);
});

after(() => model?.dispose());

const withServer = (options: Partial<ServeOptions>, fn: (server: RerankServer, port: number) => Promise<void>) => serveWith(model, options, fn);

interface Res {
  status: number;
  headers: Headers;
  body: any;
}

async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, body: parsed };
}

async function get(base: string, path: string, headers: Record<string, string> = {}): Promise<Res> {
  const res = await fetch(base + path, { headers, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* Prometheus text */ }
  return { status: res.status, headers: res.headers, body: parsed };
}

function assertError(res: Res, status: number, type: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body).sort(), ['error', 'type'], JSON.stringify(res.body));
  assert.equal(res.body.type, type);
  assert.equal(typeof res.body.error, 'string');
  assert.ok(res.body.error.length > 0);
}

/** Expected ranking from model.score(): indices sorted by score, best first. */
function ranking(scores: number[]): number[] {
  return scores.map((s, i) => ({ s, i })).sort((a, b) => b.s - a.s || a.i - b.i).map((x) => x.i);
}

/**
 * A ranking served from a batch shared with other requests: its own scores sorted, equal ones by index; and the
 * order of model.score()'s `expected` wherever those differ by more than float rounding (TOL) — a pair's logit may
 * move by an ulp with the other pairs in its batch, so nearly tied documents may swap.
 */
function assertRanked(ranked: { index: number; score: number }[], expected: number[], what: string): void {
  for (let i = 1; i < ranked.length; i++) {
    const [a, b] = [ranked[i - 1], ranked[i]];
    assert.ok(a.score > b.score || (a.score === b.score && a.index < b.index), `${what}: positions ${i - 1}, ${i} out of order`);
  }
  for (let i = 0; i < ranked.length; i++) {
    for (let j = i + 1; j < ranked.length; j++) {
      assert.ok(expected[ranked[i].index] > expected[ranked[j].index] - TOL,
        `${what}: document ${ranked[i].index} ranked above ${ranked[j].index}, but alone they score ${expected[ranked[i].index]} < ${expected[ranked[j].index]}`);
    }
  }
}

function closeTo(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= TOL, `${what}: ${actual} vs ${expected}`);
}

/** A gate the tests hold the model behind, to make the queue form deterministically. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  let forwards = 0;
  return {
    hooks: { beforeForward: async () => { forwards++; await opened; } },
    open,
    forwards: () => forwards,
  };
}

const waitFor = (cond: () => boolean, what: string, ms = 20_000) => pollUntil(what, cond, ms);

function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('serve: endpoints', { timeout: 120_000 }, () => {
  test('POST /rerank (guide body) returns model.score() raw scores, sorted, bit-identical for one batch', async () => {
    await withServer({}, async (server) => {
      const documents = docs.slice(0, 20);
      const expected = await model.score(documents.map((d) => [query, d]));
      const res = await post(server.url!, '/rerank', { query, documents });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const ranked = res.body.ranked_documents as { document: string; score: number; index: number }[];
      assert.equal(ranked.length, 20);
      assert.deepEqual(ranked.map((r) => r.index), ranking(expected));
      for (const r of ranked) {
        assert.equal(r.score, expected[r.index], `identical score for document ${r.index}`);
        assert.equal(r.document, documents[r.index]);
      }
      assert.deepEqual(Object.keys(ranked[0]), ['document', 'score', 'index']);
      assert.equal(res.body.meta.truncation, true);
      assert.equal(res.body.meta.max_length, model.maxLength);
      const whole = await model.tokenizer.encodePairs(documents.map((d) => [query, d] as const), Number.MAX_SAFE_INTEGER, false);
      assert.equal(res.body.meta.truncated, whole.filter((e) => e.ids.length > model.maxLength).length);
      assert.equal(res.headers.get('x-rrnative-truncated'), String(res.body.meta.truncated));

      const top = await post(server.url!, '/rerank', { query, documents, top_n: 3, activation: 'sigmoid' });
      assert.equal(top.status, 200);
      const sig = await model.score(documents.map((d) => [query, d]), { activation: 'sigmoid' });
      assert.deepEqual(top.body.ranked_documents.map((r: { index: number }) => r.index), ranking(expected).slice(0, 3));
      for (const r of top.body.ranked_documents) assert.equal(r.score, sig[r.index]);
    });
  });

  test('POST /rerank with texts (TEI): sigmoid scores by default, raw_scores, return_text', async () => {
    await withServer({}, async (server) => {
      const texts = docs.slice(0, 10);
      const raw = await model.score(texts.map((d) => [query, d]));
      const res = await post(server.url!, '/rerank', { query, texts });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(Array.isArray(res.body));
      assert.deepEqual(res.body.map((r: { index: number }) => r.index), ranking(raw));
      for (const r of res.body) {
        assert.deepEqual(Object.keys(r), ['index', 'score']);
        assert.equal(r.score, sigmoid(raw[r.index]));
      }
      const rawRes = await post(server.url!, '/rerank', { query, texts, raw_scores: true, return_text: true, truncate: true });
      assert.equal(rawRes.status, 200);
      for (const r of rawRes.body) {
        assert.equal(r.score, raw[r.index]);
        assert.equal(r.text, texts[r.index]);
      }
      assertError(await post(server.url!, '/rerank', { query, texts, documents: texts }), 400, 'invalid_request');
    });
  });

  test('POST /v1/rerank and /v2/rerank (Cohere shapes) over fetch', async () => {
    await withServer({ modelName: 'bert-mini-a' }, async (server) => {
      const documents = docs.slice(0, 12);
      const raw = await model.score(documents.map((d) => [query, d]));
      const v1 = await post(server.url!, '/v1/rerank', {
        model: 'whatever', query, top_n: 5, return_documents: true,
        documents: documents.map((d, i) => (i % 2 ? d : { text: d, id: `doc-${i}` })),
      });
      assert.equal(v1.status, 200, JSON.stringify(v1.body));
      assert.match(v1.body.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(v1.body.meta.api_version, { version: '1' });
      assert.deepEqual(v1.body.meta.billed_units, { search_units: 1 });
      assert.deepEqual(v1.body.results.map((r: { index: number }) => r.index), ranking(raw).slice(0, 5));
      for (const r of v1.body.results) {
        assert.equal(r.relevance_score, sigmoid(raw[r.index]));
        assert.ok(r.relevance_score >= 0 && r.relevance_score <= 1);
        assert.equal(r.document.text, documents[r.index]);
        if (r.index % 2 === 0) assert.equal(r.document.id, `doc-${r.index}`);
      }
      const v2 = await post(server.url!, '/v2/rerank', { model: 'bert-mini-a', query, documents });
      assert.equal(v2.status, 200);
      assert.deepEqual(v2.body.meta.api_version, { version: '2' });
      assert.equal(v2.body.results.length, documents.length);
      for (const r of v2.body.results) {
        assert.deepEqual(Object.keys(r), ['index', 'relevance_score']);
        assert.equal(r.relevance_score, sigmoid(raw[r.index]));
      }
      const withDocs = await post(server.url!, '/v2/rerank', { model: 'm', query, documents, return_documents: true, top_n: 1 });
      assert.deepEqual(withDocs.body.results[0].document, { text: documents[withDocs.body.results[0].index] });
      // v2 documents are strings
      assertError(await post(server.url!, '/v2/rerank', { query, documents: [{ text: 'x' }] }), 400, 'invalid_request');
      assertError(await post(server.url!, '/v1/rerank', { query, documents: ['a'], rank_fields: ['title'] }), 400, 'invalid_request');
    });
  });

  test('GET /health, /info, /metrics', async () => {
    await withServer({ modelName: 'mini' }, async (server) => {
      const health = await get(server.url!, '/health');
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: 'ok' });
      const info = await get(server.url!, '/info');
      assert.equal(info.status, 200);
      assert.equal(info.body.model_id, 'mini');
      assert.equal(info.body.max_length, model.maxLength);
      assert.equal(info.body.dtype, 'fp32');
      assert.equal(info.body.version, '0.1.0');
      assert.equal(info.body.limits.max_documents, 1000);
      assert.equal(typeof info.body.batching.max_batch_tokens, 'number');
      await post(server.url!, '/rerank', { query, documents: docs.slice(0, 3) });
      await post(server.url!, '/rerank', { query: '', documents: [] });
      const metrics = await get(server.url!, '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
      const text = metrics.body as string;
      assert.equal(metricValue(text, 'rrnative_http_requests_total', '{method="POST",route="/rerank",status="200"}'), 1);
      assert.equal(metricValue(text, 'rrnative_http_requests_total', '{method="POST",route="/rerank",status="400"}'), 1);
      assert.equal(metricValue(text, 'rrnative_pairs_scored_total'), 3);
      assert.match(text, /rrnative_http_request_duration_seconds_bucket\{le="[^"]+",route="\/rerank"\}/);
      assert.match(text, /rrnative_queue_pairs 0/);
      assert.match(text, /rrnative_batch_pairs_count 1/);
      assert.match(text, /rrnative_batch_padded_tokens_sum \d+/);
    });
  });
});

describe('serve: dynamic batching', { timeout: 120_000 }, () => {
  test('concurrent requests share forward passes and each gets its own results, in order', async () => {
    const g = gate();
    await withServer({ hooks: g.hooks, maxBatchTokens: 16384, maxBatchPairs: 128 }, async (server) => {
      // Eight requests with different queries and document sets; the first forward is held until all are queued.
      const rows = await loadDebdesc('dev');
      const requests = Array.from({ length: 8 }, (_, r) => ({
        query: rows[100 + r].query,
        documents: rows.slice(200 + r * 7, 200 + r * 7 + 3 + r).map((x) => x.document),
      }));
      const pending = requests.map((body) => post(server.url!, '/rerank', body));
      await waitFor(() => g.forwards() === 1, 'the first forward');
      const rest = requests.slice(1).reduce((s, r) => s + r.documents.length, 0);
      await waitFor(() => server.batcher.stats().queuedTokenized === rest, 'the other requests to queue');
      g.open();
      const responses = await Promise.all(pending);
      for (let r = 0; r < requests.length; r++) {
        const { query: q, documents } = requests[r];
        const expected = await model.score(documents.map((d) => [q, d]));
        const res = responses[r];
        assert.equal(res.status, 200);
        assert.equal(res.body.ranked_documents.length, documents.length);
        assertRanked(res.body.ranked_documents, expected, `request ${r} order`);
        for (const x of res.body.ranked_documents) {
          closeTo(x.score, expected[x.index], `request ${r} document ${x.index}`);
          assert.equal(x.document, documents[x.index]);
        }
      }
      const stats = server.batcher.stats();
      assert.equal(stats.batches, 2, 'one held batch, then one batch for the seven queued requests');
      assert.equal(stats.maxRequestsInBatch, 7);
      const text = (await get(server.url!, '/metrics')).body as string;
      assert.equal(metricValue(text, 'rrnative_batches_total'), 2);
      assert.equal(metricValue(text, 'rrnative_batches_multi_request_total'), 1);
      assert.equal(metricValue(text, 'rrnative_batch_requests_sum'), 8);
    });
  });

  test('unheld concurrent load is batched across requests; scores still match', async () => {
    await withServer({}, async (server) => {
      const bodies = Array.from({ length: 24 }, (_, r) => ({ query, documents: docs.slice(r, r + 8) }));
      const responses = await Promise.all(bodies.map((b) => post(server.url!, '/rerank', b)));
      const expectedAll = await model.score(docs.slice(0, 31).map((d) => [query, d]));
      responses.forEach((res, r) => {
        assert.equal(res.status, 200);
        for (const x of res.body.ranked_documents) closeTo(x.score, expectedAll[r + x.index], `request ${r}`);
      });
      const stats = server.batcher.stats();
      assert.ok(stats.batches < 24, `${stats.batches} forward passes for 24 requests`);
      assert.ok(stats.multiRequestBatches >= 1);
    });
  });

  test('maxBatchRequests: 1 turns cross-request batching off', async () => {
    const g = gate();
    await withServer({ maxBatchRequests: 1, hooks: g.hooks }, async (server) => {
      const pending = [0, 1, 2, 3].map((r) => post(server.url!, '/rerank', { query, documents: docs.slice(r * 3, r * 3 + 3) }));
      await waitFor(() => g.forwards() === 1 && server.batcher.stats().queuedTokenized === 9, 'the queue');
      g.open();
      for (const res of await Promise.all(pending)) assert.equal(res.status, 200);
      const stats = server.batcher.stats();
      assert.equal(stats.batches, 4);
      assert.equal(stats.multiRequestBatches, 0);
    });
  });

  test('the token budget bounds each forward pass (pairs x longest)', async () => {
    await withServer({ maxBatchTokens: 512, maxBatchPairs: 64 }, async (server) => {
      const documents = docs.slice(0, 40);
      const expected = await model.score(documents.map((d) => [query, d]));
      const res = await post(server.url!, '/rerank', { query, documents });
      assert.equal(res.status, 200);
      for (const x of res.body.ranked_documents) closeTo(x.score, expected[x.index], `document ${x.index}`);
      const text = (await get(server.url!, '/metrics')).body as string;
      const buckets = [...text.matchAll(/rrnative_batch_padded_tokens_bucket\{le="(\d+)"\} (\d+)/g)];
      const le512 = Number(buckets.find((b) => b[1] === '512')![2]);
      assert.equal(le512, metricValue(text, 'rrnative_batches_total'), 'every batch within 512 padded tokens');
      assert.ok(metricValue(text, 'rrnative_batches_total') > 1);
    });
  });
});

describe('serve: overload, deadline, auth, limits, errors', { timeout: 120_000 }, () => {
  test('a full queue answers 429 with Retry-After at once', async () => {
    const g = gate();
    await withServer({ maxQueuePairs: 10, maxDocuments: 10, hooks: g.hooks }, async (server) => {
      const a = post(server.url!, '/rerank', { query, documents: docs.slice(0, 8) });
      await waitFor(() => g.forwards() === 1, 'A in flight');
      const b = post(server.url!, '/rerank', { query, documents: docs.slice(8, 16) });
      await waitFor(() => server.batcher.stats().queuedPairs === 8, 'B queued');
      const t0 = Date.now();
      const c = await post(server.url!, '/rerank', { query, documents: docs.slice(16, 24) });
      assert.ok(Date.now() - t0 < 2000, 'refused at once');
      assertError(c, 429, 'overloaded');
      assert.match(c.headers.get('retry-after') ?? '', /^\d+$/);
      assert.ok(Number(c.headers.get('retry-after')) >= 1);
      const v1 = await post(server.url!, '/v1/rerank', { query, documents: docs.slice(16, 24) });
      assertError(v1, 429, 'overloaded');
      g.open();
      assert.equal((await a).status, 200);
      assert.equal((await b).status, 200);
      const text = (await get(server.url!, '/metrics')).body as string;
      assert.equal(metricValue(text, 'rrnative_rejected_requests_total', '{reason="queue_full"}'), 2);
    });
  });

  test('a request past its deadline gets 503 and its queued pairs are dropped, not scored', async () => {
    const g = gate();
    await withServer({ timeoutMs: 300, hooks: g.hooks }, async (server) => {
      const a = post(server.url!, '/rerank', { query, documents: docs.slice(0, 5) });
      await waitFor(() => g.forwards() === 1, 'A in flight');
      const t0 = Date.now();
      const b = await post(server.url!, '/rerank', { query, documents: docs.slice(5, 12) });
      const waited = Date.now() - t0;
      assertError(b, 503, 'timeout');
      assert.ok(waited >= 250 && waited < 5000, `503 after ${waited} ms`);
      assertError(await a, 503, 'timeout');
      g.open();
      await waitFor(() => server.batcher.stats().inflight === 0, 'the held forward to end');
      const stats = server.batcher.stats();
      assert.equal(stats.pairsScored, 5, 'only the batch already running was computed');
      assert.equal(stats.droppedPairs, 7);
      assert.equal(stats.batches, 1);
      assert.equal(stats.queuedPairs, 0);
      // The server is fine afterwards.
      g.hooks.beforeForward = async () => undefined;
      const ok = await post(server.url!, '/rerank', { query, documents: docs.slice(0, 2) });
      assert.equal(ok.status, 200);
    });
  });

  test('API key: 401 without it or with a wrong one on every route but /health', async () => {
    await withServer({ apiKey: 's3cret-key' }, async (server) => {
      const body = { query, documents: docs.slice(0, 2) };
      assert.equal((await get(server.url!, '/health')).status, 200);
      const none = await post(server.url!, '/rerank', body);
      assertError(none, 401, 'unauthorized');
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      assertError(await post(server.url!, '/rerank', body, { authorization: 'Bearer wrong' }), 401, 'unauthorized');
      assertError(await post(server.url!, '/rerank', body, { authorization: 's3cret-key' }), 401, 'unauthorized');
      assertError(await post(server.url!, '/rerank', body, { authorization: 'Bearer s3cret-key-and-more' }), 401, 'unauthorized');
      assertError(await post(server.url!, '/v2/rerank', body, { authorization: 'Basic czNjcmV0LWtleQ==' }), 401, 'unauthorized');
      assertError(await get(server.url!, '/metrics'), 401, 'unauthorized');
      assertError(await get(server.url!, '/info', { authorization: 'Bearer nope' }), 401, 'unauthorized');
      assertError(await get(server.url!, '/nowhere'), 401, 'unauthorized');
      const auth = { authorization: 'Bearer s3cret-key' };
      assert.equal((await post(server.url!, '/rerank', body, auth)).status, 200);
      assert.equal((await post(server.url!, '/v1/rerank', body, { authorization: 'bearer s3cret-key' })).status, 200);
      assert.equal((await get(server.url!, '/metrics', auth)).status, 200);
      assert.equal((await get(server.url!, '/info', auth)).status, 200);
      assertError(await get(server.url!, '/nowhere', auth), 404, 'not_found');
    });
  });

  test('size limits: 413 for the body, the document count, a document\'s and the query\'s length', async () => {
    await withServer({ bodyLimit: 4096, maxDocuments: 5, maxDocumentChars: 300, maxQueryChars: 100 }, async (server) => {
      assertError(await post(server.url!, '/rerank', { query, documents: ['x'.repeat(5000)] }), 413, 'payload_too_large');
      assertError(await post(server.url!, '/rerank', { query, documents: ['a', 'b', 'c', 'd', 'e', 'f'] }), 413, 'payload_too_large');
      const long = await post(server.url!, '/v2/rerank', { query, documents: ['a', 'y'.repeat(301)] });
      assertError(long, 413, 'payload_too_large');
      assert.match(long.body.error, /documents\[1\] is 301 characters long, over the limit of 300/);
      assertError(await post(server.url!, '/rerank', { query: 'q'.repeat(101), documents: ['a'] }), 413, 'payload_too_large');
      assert.equal((await post(server.url!, '/rerank', { query, documents: ['a', 'b', 'c', 'd', 'e'] })).status, 200);
    });
  });

  test('bad bodies are 4xx with {error, type}: invalid JSON, UTF-8, types, nesting, emptiness, media type', async () => {
    await withServer({}, async (server) => {
      const u = server.url!;
      assertError(await post(u, '/rerank', '{"query": "a", "documents": ['), 400, 'invalid_json');
      assertError(await post(u, '/rerank', ''), 400, 'invalid_json');
      assertError(await post(u, '/rerank', new Uint8Array([0x7b, 0x22, 0x71, 0xff, 0xfe, 0x22, 0x7d])), 400, 'invalid_json');
      const utf8 = Buffer.concat([Buffer.from('{"query":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","documents":["a"]}')]);
      assertError(await post(u, '/rerank', new Uint8Array(utf8)), 400, 'invalid_json');
      assertError(await post(u, '/rerank', '['.repeat(5000) + ']'.repeat(5000)), 400, 'invalid_json');
      assertError(await post(u, '/rerank', '{"__proto__": {"x": 1}, "query": "a", "documents": ["b"]}'), 400, 'invalid_json');
      assertError(await post(u, '/rerank', { query: 'a', documents: 'b' }), 400, 'invalid_request');
      assertError(await post(u, '/rerank', { query: 'a', documents: [1, 2] }), 400, 'invalid_request');
      assertError(await post(u, '/rerank', { query: 'a', documents: ['b'], top_n: 0 }), 400, 'invalid_request');
      assertError(await post(u, '/rerank', { query: 'a', documents: ['b'], top_n: '2' }), 400, 'invalid_request');
      assertError(await post(u, '/rerank', { query: 'a', documents: ['b'], truncate: 'yes' }), 400, 'invalid_request');
      assertError(await post(u, '/rerank', { documents: ['b'] }), 400, 'invalid_request');
      assertError(await post(u, '/rerank', [1, 2]), 400, 'invalid_request');
      assertError(await post(u, '/rerank', 'null'), 400, 'invalid_request');
      assertError(await post(u, '/rerank', { query: '', documents: ['b'] }), 400, 'invalid_request');
      assertError(await post(u, '/rerank', { query: 'a', documents: [] }), 400, 'invalid_request');
      assertError(await post(u, '/rerank', { query: 'a', documents: ['ok', ''] }), 400, 'invalid_request');
      assertError(await post(u, '/rerank', { query: 'a' }), 400, 'invalid_request');
      assertError(await post(u, '/v1/rerank', { query: 'a', documents: [{ title: 'no text' }] }), 400, 'invalid_request');
      assertError(await post(u, '/rerank', '{"query":"a","documents":["b"]}', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
      assertError(await get(u, '/rerank'), 405, 'method_not_allowed');
      assertError(await get(u, '/no/such/route'), 404, 'not_found');
      assertError(await post(u, '/no/such/route', {}), 404, 'not_found');
    });
  });

  test('truncation: on by default and reported; off, a long pair is 422; Cohere max_tokens_per_doc', async () => {
    await withServer({}, async (server) => {
      const long = `${docs.slice(0, 8).join(' ')}`;
      const documents = [long, docs[9]];
      const res = await post(server.url!, '/rerank', { query, documents });
      assert.equal(res.status, 200);
      assert.equal(res.body.meta.truncated, 1);
      assert.equal(res.headers.get('x-rrnative-truncated'), '1');
      const expected = await model.score(documents.map((d) => [query, d]));
      for (const x of res.body.ranked_documents) assert.equal(x.score, expected[x.index]);
      const off = await post(server.url!, '/rerank', { query, documents, truncate: false });
      assertError(off, 422, 'input_too_long');
      assert.match(off.body.error, /documents\[0\] is \d+ tokens long/);
      assertError(await post(server.url!, '/rerank', { query, texts: documents, truncate: false }), 422, 'input_too_long');
      const v2 = await post(server.url!, '/v2/rerank', { model: 'm', query, documents, max_tokens_per_doc: 10 });
      assert.equal(v2.status, 200);
      assert.equal(v2.body.meta.warnings.length, 1);
      assert.match(v2.body.meta.warnings[0], /2 of 2 documents were truncated/);
      const limit = Number(v2.headers.get('x-rrnative-max-length'));
      assert.ok(limit < model.maxLength && limit > 10);
    });
  });
});

describe('serve: the official Cohere SDK', { timeout: 120_000 }, () => {
  test('CohereClient.rerank (v1) and CohereClientV2.rerank return our results', async () => {
    await withServer({ apiKey: 'cohere-test-key', modelName: 'bert-mini-a' }, async (server) => {
      const documents = docs.slice(0, 10);
      const raw = await model.score(documents.map((d) => [query, d]));
      const v1 = new CohereClient({ token: 'cohere-test-key', environment: server.url! });
      const r1 = await v1.rerank({ query, documents: documents.map((text) => ({ text })), topN: 4, returnDocuments: true });
      assert.equal(r1.results.length, 4);
      assert.deepEqual(r1.results.map((r) => r.index), ranking(raw).slice(0, 4));
      for (const r of r1.results) {
        assert.equal(r.relevanceScore, sigmoid(raw[r.index]));
        assert.equal(r.document?.text, documents[r.index]);
      }
      assert.equal(r1.meta?.apiVersion?.version, '1');
      assert.equal(r1.meta?.billedUnits?.searchUnits, 1);

      const v2 = new CohereClientV2({ token: 'cohere-test-key', environment: server.url! });
      const r2 = await v2.rerank({ model: 'bert-mini-a', query, documents, topN: 3 });
      assert.deepEqual(r2.results.map((r) => r.index), ranking(raw).slice(0, 3));
      for (const r of r2.results) assert.equal(r.relevanceScore, sigmoid(raw[r.index]));
      assert.equal(r2.meta?.apiVersion?.version, '2');

      const bad = new CohereClientV2({ token: 'wrong', environment: server.url! });
      await assert.rejects(bad.rerank({ model: 'm', query, documents }), (err: unknown) => {
        assert.ok(err instanceof CohereError);
        assert.equal(err.statusCode, 401);
        return true;
      });
    });
  });
});

describe('serve: settings', () => {
  test('flags override RRNATIVE_* / PORT / HOST, which override the config file\'s serve: section', async () => {
    const { resolveServeSettings, toServeOptions } = await import('../src/serve/config');
    const fs = await import('node:fs');
    const os = await import('node:os');
    const pathMod = await import('node:path');
    const dir = fs.mkdtempSync(pathMod.join(os.tmpdir(), 'rrnative-serve-'));
    const file = pathMod.join(dir, 'config.yaml');
    fs.writeFileSync(file, 'model: {path: ignored}\nserve:\n  model: from-file\n  port: 9000\n  host: 0.0.0.0\n  max_documents: 50\n  timeout_ms: 1000\n');
    try {
      const fromFile = resolveServeSettings({ configFile: file, env: {} });
      assert.deepEqual(fromFile, { model: 'from-file', port: 9000, host: '0.0.0.0', max_documents: 50, timeout_ms: 1000 });
      const env = { RRNATIVE_MODEL: 'from-env', PORT: '7000', RRNATIVE_API_KEY: 'k', RRNATIVE_TRUNCATE: 'false', RRNATIVE_LABEL: '0' };
      const merged = resolveServeSettings({ configFile: file, env, flags: { port: 6000, max_documents: undefined } });
      assert.equal(merged.model, 'from-env');
      assert.equal(merged.port, 6000);
      assert.equal(merged.api_key, 'k');
      assert.equal(merged.truncate, false);
      assert.equal(merged.label, 0);
      assert.equal(merged.max_documents, 50);
      assert.equal(resolveServeSettings({ env: { RRNATIVE_MODEL: 'm', RRNATIVE_PORT: '1', PORT: '2' } }).port, 1);
      const options = toServeOptions(merged);
      assert.equal(options.apiKey, 'k');
      assert.equal(options.maxDocuments, 50);
      assert.equal(options.timeoutMs, 1000);
      assert.throws(() => resolveServeSettings({ env: {} }), /model/);
      assert.throws(() => resolveServeSettings({ env: { RRNATIVE_MODEL: 'm', PORT: 'eighty' } }), /PORT=eighty: expected an integer/);
      assert.throws(() => resolveServeSettings({ flags: { model: 'm', port: 70000 } }), /port \(--port, RRNATIVE_PORT or serve\.port\)/);
      fs.writeFileSync(file, 'serve:\n  model: m\n  max_batch: 3\n');
      assert.throws(() => resolveServeSettings({ configFile: file }), /unknown setting max_batch/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
