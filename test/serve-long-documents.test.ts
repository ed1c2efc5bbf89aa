// The server's long documents (chunking on every route, Cohere v1's max_chunks_per_doc and v2's
// max_tokens_per_doc, TEI's truncation_direction), checked against Reranker.score with the same options; fair
// scheduling (a small request arriving behind a large one rides in the next batch); and the bounds on chunk pairs
// (413 / 429) and on request body bytes held (429).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Reranker } from '../src/model';
import { sigmoid } from '../src/serve/routes';
import { startServer, type RerankServer, type ServeOptions } from '../src/serve/server';
import { withServer as serveWith } from './serve-helpers';
import { waitFor as pollUntil } from './distributed-helpers';
import { bertMiniDir } from './helpers';

let model: Reranker;
const query = 'which package edits text files';
const long = `a music player daemon. ${'it plays music files from a playlist over the network. '.repeat(40)}a text editor too`;
const documents = ['a text editor', long, 'an image viewer', `${'filler words about nothing in particular. '.repeat(60)}a text editor`];

before(async () => { model = await Reranker.load(bertMiniDir); });
after(() => model?.dispose());

const withServer = (options: Partial<ServeOptions>, fn: (server: RerankServer, port: number) => Promise<void>) => serveWith(model, options, fn);

async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000),
  });
  return { status: res.status, headers: res.headers, body: await res.json() as any };
}

function close(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} vs ${b}`);
}

const waitFor = (cond: () => boolean, what: string, ms = 20_000) => pollUntil(what, cond, ms);

const pairs = documents.map((d) => [query, d] as const);

describe('serve: long documents', { timeout: 120_000 }, () => {
  test('/rerank long_documents chunk, and the server setting: scores as Reranker.score chunking; meta counts', async () => {
    const expected = await model.score(pairs, { longDocuments: 'chunk', maxChunks: 4, chunkOverlap: 16, aggregate: 'mean' });
    const truncated = await model.score(pairs);
    assert.ok(Math.abs(expected[1] - truncated[1]) > 1e-3, 'chunking changes the long document\'s score');
    await withServer({}, async (server) => {
      const res = await post(server.url!, '/rerank', { query, documents, long_documents: 'chunk', max_chunks: 4, chunk_overlap: 16, chunk_aggregate: 'mean' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      for (const r of res.body.ranked_documents) close(r.score, expected[r.index], `documents[${r.index}]`);
      assert.equal(res.body.meta.long_documents, 'chunk');
      assert.equal(res.body.meta.chunked, 2);
      assert.equal(res.body.meta.pairs, 2 + 4 + 4);
      assert.equal(res.headers.get('x-rrnative-chunked'), '2');
      const plain = await post(server.url!, '/rerank', { query, documents });
      for (const r of plain.body.ranked_documents) close(r.score, truncated[r.index], `truncating: documents[${r.index}]`);
      assert.equal(plain.body.meta.chunked, 0);
      assert.equal(plain.body.meta.truncated, 2);
    });
    await withServer({ longDocuments: 'chunk', maxChunks: 4, chunkOverlap: 16, chunkAggregate: 'mean' }, async (server) => {
      const res = await post(server.url!, '/rerank', { query, documents });
      for (const r of res.body.ranked_documents) close(r.score, expected[r.index], `server setting: documents[${r.index}]`);
      const info = (await (await fetch(`${server.url}/info`)).json()) as any;
      assert.deepEqual(info.long_documents, { mode: 'chunk', max_chunks: 4, chunk_overlap: 16, aggregate: 'mean' });
    });
  });

  test('Cohere v1 max_chunks_per_doc chunks (MaxP); v2 max_tokens_per_doc bounds what chunks cover; TEI truncation_direction', async () => {
    await withServer({}, async (server) => {
      const maxP = await model.score(pairs, { longDocuments: 'chunk', maxChunks: 3 });
      const v1 = await post(server.url!, '/v1/rerank', { query, documents, max_chunks_per_doc: 3 });
      assert.equal(v1.status, 200, JSON.stringify(v1.body));
      for (const r of v1.body.results) close(r.relevance_score, sigmoid(maxP[r.index]), `v1 documents[${r.index}]`);
      assert.ok(v1.body.meta.warnings.some((w: string) => /2 of 4 documents were split into chunks \(8 scored in all\), each scored by its best chunk/.test(w)), JSON.stringify(v1.body.meta));

      // v2: max_tokens_per_doc of the document read; chunking, that many tokens are covered by the windows.
      const window = model.maxLength - 3 - (await model.tokenizer.encodeDocuments(query, [], { maxLength: model.maxLength })).queryTokens;
      const covered = await model.tokenizer.encodeDocuments(query, documents, { maxLength: model.maxLength, longDocuments: 'chunk', maxDocumentTokens: window + 10 });
      assert.equal(covered.pairs.filter((_, k) => covered.owners[k] === 1).length, 2, 'window + 10 tokens: two chunks');
      await withServer({ longDocuments: 'chunk' }, async (chunking) => {
        const v2 = await post(chunking.url!, '/v2/rerank', { query, documents, max_tokens_per_doc: window + 10 });
        assert.equal(v2.status, 200, JSON.stringify(v2.body));
        assert.equal(v2.headers.get('x-rrnative-chunked'), '2');
      });
      const v2 = await post(server.url!, '/v2/rerank', { query, documents, max_tokens_per_doc: 8 });
      assert.equal(v2.headers.get('x-rrnative-chunked'), '0');
      assert.equal(Number(v2.headers.get('x-rrnative-max-length')) < model.maxLength, true, 'truncating: the pair limit drops to the query + 8');

      const left = await model.score(pairs, { truncationDirection: 'left' });
      for (const direction of ['left', 'Left']) {
        const tei = await post(server.url!, '/rerank', { query, texts: documents, raw_scores: true, truncation_direction: direction });
        assert.equal(tei.status, 200, JSON.stringify(tei.body));
        for (const r of tei.body) close(r.score, left[r.index], `TEI ${direction} texts[${r.index}]`);
      }
      const bad = await post(server.url!, '/rerank', { query, texts: documents, truncation_direction: 'up' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error, /truncation_direction/);
      const badChunks = await post(server.url!, '/v1/rerank', { query, documents, max_chunks_per_doc: 0 });
      assert.equal(badChunks.status, 400);
      assert.match(badChunks.body.error, /max_chunks_per_doc/);
    });
  });

  test('chunk pairs count against the queue: past it for one request 413, past it with others waiting 429', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    await withServer({ maxQueuePairs: 8, maxDocuments: 4, hooks: { beforeForward: () => held } }, async (server) => {
      const chunks = (await model.tokenizer.encodeDocuments(query, [long], { maxLength: model.maxLength, longDocuments: 'chunk' })).pairs.length;
      assert.ok(chunks >= 4 && chunks <= 7, `${chunks} chunks`);
      const tooMany = await post(server.url!, '/rerank', { query, documents: [long, long, long, long], long_documents: 'chunk' });
      assert.equal(tooMany.status, 413, JSON.stringify(tooMany.body));
      assert.match(tooMany.body.error, new RegExp(`4 documents make ${4 * chunks} pairs when chunked, over the queue's bound of 8 \\(max_queue_pairs\\)`));
      const holding = post(server.url!, '/rerank', { query, documents: ['a text editor'] });
      await waitFor(() => server.batcher.stats().inflight === 1, 'a request in the model');
      const queued = post(server.url!, '/rerank', { query, documents: [long], long_documents: 'chunk' });
      await waitFor(() => server.batcher.stats().queuedTokenized === chunks, 'the chunks queued');
      const refused = await post(server.url!, '/rerank', { query, documents: [long], long_documents: 'chunk' });
      assert.equal(refused.status, 429, JSON.stringify(refused.body));
      assert.match(refused.body.error, new RegExp(`this request's chunks are ${chunks} pairs`));
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      release();
      assert.equal((await holding).status, 200);
      assert.equal((await queued).status, 200);
    });
  });
});

describe('serve: fair scheduling and memory bounds', { timeout: 120_000 }, () => {
  test('a small request arriving behind a large one rides in the next batch, not after the large one', async () => {
    let release!: () => void;
    let held: Promise<void> | null = new Promise<void>((resolve) => { release = resolve; });
    const batches: number[] = [];
    const big = Array.from({ length: 200 }, (_, i) => `${documents[i % 4].slice(0, 300)} ${i}`);
    await withServer({ maxBatchPairs: 16, hooks: { beforeForward: (info) => { batches.push(info.requests); return held ?? undefined; } } }, async (server) => {
      const order: string[] = [];
      const large = post(server.url!, '/rerank', { query, documents: big }).then((r) => { order.push('large'); return r; });
      await waitFor(() => batches.length === 1, 'the large request\'s first batch');
      const small = post(server.url!, '/rerank', { query, documents: ['a text editor', 'an image viewer'] }).then((r) => { order.push('small'); return r; });
      await waitFor(() => server.batcher.stats().queuedTokenized === 200 - 16 + 2, 'the small request queued');
      held = null;
      release();
      const [l, s] = await Promise.all([large, small]);
      assert.equal(l.status, 200);
      assert.equal(s.status, 200);
      assert.deepEqual(order, ['small', 'large']);
      assert.ok(batches.length >= 200 / 16, `${batches.length} batches`);
      assert.equal(batches[1], 2, 'the second batch holds the small request beside the large one');
      assert.ok(batches.slice(2).every((r) => r === 1), 'then the large one alone');
    });
  });

  test('max_buffered_bytes: bodies past it are answered 429 before they are read; the bound frees as responses go', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const body = { query, documents: Array.from({ length: 40 }, (_, i) => `${'x'.repeat(2000)} ${i}`) };
    const size = Buffer.byteLength(JSON.stringify(body));
    await withServer({ bodyLimit: size + 100, maxBufferedBytes: size + 200, hooks: { beforeForward: () => held } }, async (server) => {
      const first = post(server.url!, '/rerank', body);
      await waitFor(() => server.batcher.stats().inflight === 1, 'the first request in the model');
      const second = await post(server.url!, '/rerank', body);
      assert.equal(second.status, 429, JSON.stringify(second.body));
      assert.match(second.body.error, /max_buffered_bytes/);
      assert.equal(second.headers.get('retry-after'), '1');
      release();
      assert.equal((await first).status, 200);
      assert.equal((await post(server.url!, '/rerank', body)).status, 200, 'freed once answered');
    });
    await assert.rejects(startServer({ model, port: 0, bodyLimit: 1000, maxBufferedBytes: 999 }), /maxBufferedBytes \(999\) must be at least bodyLimit \(1000\)/);
  });
});
