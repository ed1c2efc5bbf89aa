// The client table: the rerank clients people use, as published on npm (pinned devDependencies), against the
// server: LangChain's CohereRerank (@langchain/cohere, with the cohere-ai client it ships), LlamaIndex's
// CohereRerank (@llamaindex/cohere) and the Vercel AI SDK's rerank() with @ai-sdk/cohere. (cohere-ai v1 and v2
// themselves: test/serve.test.ts.) Each must return our ranking and scores.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { CohereRerank as LangChainCohereRerank } from '@langchain/cohere';
import { Document } from '@langchain/core/documents';
import { CohereRerank as LlamaIndexCohereRerank } from '@llamaindex/cohere';
import { TextNode } from '@llamaindex/core/schema';
import { rerank } from 'ai';
import { createCohere } from '@ai-sdk/cohere';
import { Reranker } from '../src/model';
import { sigmoid } from '../src/serve/routes';
import { startServer, type RerankServer } from '../src/serve/server';
import { bertMiniDir } from './helpers';

const query = 'which package edits text files';
const documents = ['a text editor for the terminal', 'a music player daemon', 'an image viewer', 'a C compiler', 'a two-pane file manager'];
let model: Reranker;
let server: RerankServer;
let expected: { index: number; score: number }[];

before(async () => {
  model = await Reranker.load(bertMiniDir);
  server = await startServer({ model, host: '127.0.0.1', port: 0, apiKey: 'client-test-key', modelName: 'bert-mini-a' });
  const raw = await model.score(documents.map((d) => [query, d] as const));
  expected = raw.map((s, index) => ({ index, score: sigmoid(s) })).sort((a, b) => b.score - a.score || a.index - b.index);
});

after(async () => {
  await server?.close();
  model?.dispose();
});

function assertTop(got: { index: number; score: number }[], n: number, client: string): void {
  assert.deepEqual(got.map((g) => g.index), expected.slice(0, n).map((e) => e.index), `${client}: order`);
  for (const g of got) assert.ok(Math.abs(g.score - expected.find((e) => e.index === g.index)!.score) < 1e-6, `${client}: score of ${g.index}`);
}

describe('serve: the published rerank clients', { timeout: 120_000 }, () => {
  test('LangChain: CohereRerank.compressDocuments and rerank, with the cohere-ai client it ships (sends max_chunks_per_doc: null)', async () => {
    // The cohere-ai that @langchain/cohere depends on (its own copy), pointed at the server.
    const langchainRequire = createRequire(require.resolve('@langchain/cohere'));
    const { CohereClient } = langchainRequire('cohere-ai') as typeof import('cohere-ai');
    const client = new CohereClient({ token: 'client-test-key', environment: server.url! });
    const reranker = new LangChainCohereRerank({ client: client as never, model: 'bert-mini-a', topN: 3 });
    const docs = documents.map((pageContent, id) => new Document({ pageContent, metadata: { id } }));
    const compressed = await reranker.compressDocuments(docs, query);
    assertTop(compressed.map((d) => ({ index: d.metadata.id as number, score: d.metadata.relevanceScore as number })), 3, 'compressDocuments');
    const ranked = await reranker.rerank(documents, query, { topN: 5 });
    assertTop(ranked.map((r) => ({ index: r.index, score: r.relevanceScore })), 5, 'rerank');
  });

  test('LlamaIndex: CohereRerank.postprocessNodes with baseUrl', async () => {
    const reranker = new LlamaIndexCohereRerank({ apiKey: 'client-test-key', baseUrl: server.url!, model: 'bert-mini-a', topN: 2 });
    const nodes = documents.map((text, id) => ({ node: new TextNode({ text, id_: String(id) }), score: 0 }));
    const out = await reranker.postprocessNodes(nodes, query);
    assertTop(out.map((n) => ({ index: Number(n.node.id_), score: n.score! })), 2, 'postprocessNodes');
  });

  test('Vercel AI SDK: rerank() with @ai-sdk/cohere (baseURL …/v2)', async () => {
    const cohere = createCohere({ apiKey: 'client-test-key', baseURL: `${server.url}/v2` });
    const result = await rerank({ model: cohere.reranking('bert-mini-a'), query, documents, topN: 4 });
    assertTop(result.ranking.map((r) => ({ index: r.originalIndex, score: r.score })), 4, 'rerank()');
    assert.deepEqual(result.rerankedDocuments, expected.slice(0, 4).map((e) => documents[e.index]));
  });

  test('a wrong key reaches each client as an error, not as results', async () => {
    const cohere = createCohere({ apiKey: 'wrong', baseURL: `${server.url}/v2` });
    await assert.rejects(rerank({ model: cohere.reranking('bert-mini-a'), query, documents, maxRetries: 0 }), /invalid or missing API key|Unauthorized|401/i);
    const llama = new LlamaIndexCohereRerank({ apiKey: 'wrong', baseUrl: server.url!, model: 'bert-mini-a' });
    await assert.rejects(llama.postprocessNodes([{ node: new TextNode({ text: 'a' }), score: 0 }], query), /401|unauthorized|API key/i);
  });
});
