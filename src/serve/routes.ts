// The routes: the guide's and TEI's POST /rerank, Cohere's POST /v1/rerank and /v2/rerank, GET /health, /info
// and /metrics. Every rerank route checks its body (schema + limits), hands the pairs to the batcher, and shapes
// the scores into its own contract.
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LongDocumentOptions } from '../model';
import type { Batcher, ScoreRequest, ScoreResult } from './batcher';
import { HttpError, badRequest } from './errors';
import type { ServeMetrics } from './metrics';
import {
  cohereV1BodySchema, cohereV2BodySchema, rerankBodySchema, type CohereBody, type CohereDocument, type LongDocumentFields,
  type RerankBody,
} from './schemas';

export interface RouteLimits {
  maxDocuments: number;
  maxDocumentChars: number;
  maxQueryChars: number;
  bodyLimit: number;
}

export interface RouteContext {
  batcher: Batcher;
  metrics: ServeMetrics;
  limits: RouteLimits;
  /** Truncation when the body does not say (default true). */
  truncate: boolean;
  /** Long documents when the body does not say. */
  longDocuments: LongDocumentOptions;
  /** The logits column that is the score. */
  column: number;
  /** Static facts for GET /info. */
  info: () => Record<string, unknown>;
  /** The model's prompt template, or null: such a model's documents are truncated, never chunked. */
  template: string | null;
}

interface Scored {
  index: number;
  /** The score returned to the client (after its activation). */
  score: number;
}

/** The routes with a body, and their methods: for 405 answers. */
export const ROUTE_METHODS: Record<string, string> = {
  '/rerank': 'POST',
  '/v1/rerank': 'POST',
  '/v2/rerank': 'POST',
  '/health': 'GET, HEAD',
  '/info': 'GET, HEAD',
  '/metrics': 'GET, HEAD',
};

export function registerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/info', async () => ({ ...ctx.info(), stats: ctx.batcher.stats() }));

  app.get('/metrics', async (_request, reply) => {
    const text = await ctx.metrics.text();
    return reply.type(ctx.metrics.contentType).send(text);
  });

  app.post<{ Body: RerankBody }>('/rerank', { schema: { body: rerankBodySchema } }, async (request, reply) => {
    const body = request.body;
    if (body.documents !== undefined && body.texts !== undefined) throw badRequest('give either documents (rerank) or texts (TEI), not both');
    const instruction = checkInstruction(ctx, body.instruction);
    if (body.texts !== undefined) {
      // Text Embeddings Inference's contract.
      const texts = body.texts;
      checkInput(ctx.limits, body.query, texts, 'texts');
      const activation = body.raw_scores === true ? 'none' : 'sigmoid';
      const direction = body.truncation_direction?.toLowerCase() as 'left' | 'right' | undefined;
      const { scored } = await score(ctx, reply, body.query, texts, activation, {
        truncate: body.truncate, direction, ...longDocuments(ctx, body), field: 'texts', instruction,
      });
      return topN(scored, body.top_n).map(({ index, score }) => (body.return_text ? { index, score, text: texts[index] } : { index, score }));
    }
    if (body.documents === undefined) throw badRequest('body must have documents (an array of strings), or texts for the TEI contract');
    const documents = body.documents;
    checkInput(ctx.limits, body.query, documents, 'documents');
    const activation = body.activation ?? 'none';
    const long = longDocuments(ctx, body);
    const { scored, result } = await score(ctx, reply, body.query, documents, activation, { truncate: body.truncate, ...long, instruction });
    return {
      ranked_documents: topN(scored, body.top_n).map(({ index, score }) => ({ document: documents[index], score, index })),
      meta: {
        model: ctx.info().model_id,
        activation,
        truncation: body.truncate ?? ctx.truncate,
        max_length: result.limit,
        truncated: result.truncated,
        long_documents: long.longDocuments,
        chunked: result.chunked,
        pairs: result.pairs,
        tokens: result.tokens,
      },
    };
  });

  const cohere = (version: 1 | 2) => async (request: FastifyRequest<{ Body: CohereBody }>, reply: FastifyReply) => {
    const body = request.body;
    if (body.rank_fields !== undefined && !(body.rank_fields.length === 1 && body.rank_fields[0] === 'text')) {
      throw badRequest('rank_fields other than ["text"] is not supported: put the text to rank in each document\'s "text"');
    }
    const texts = body.documents.map((d) => (typeof d === 'string' ? d : d.text));
    checkInput(ctx.limits, body.query, texts, 'documents');
    // v1's max_chunks_per_doc asks for chunking, as Cohere's v1 API does: each document scored by its best chunk.
    const long = longDocuments(ctx, body);
    const warnings: string[] = [];
    if (version === 1 && body.max_chunks_per_doc !== undefined) {
      // A prompt-template model's documents are truncated: Cohere's chunking cannot be expressed there.
      if (ctx.template) warnings.push(`max_chunks_per_doc is ignored: this model's ${ctx.template} prompt truncates documents instead of chunking them`);
      else Object.assign(long, { longDocuments: 'chunk', maxChunks: body.max_chunks_per_doc });
    }
    const { scored, result } = await score(ctx, reply, body.query, texts, 'sigmoid', {
      truncate: body.truncate, maxTokensPerDoc: body.max_tokens_per_doc, ...long,
    });
    if (result.chunked) warnings.push(`${result.chunked} of ${texts.length} documents were split into chunks (${result.pairs} scored in all), each scored by its ${long.aggregate === 'max' ? 'best chunk' : `chunks' ${long.aggregate}`}`);
    if (result.truncated) {
      warnings.push(long.longDocuments === 'chunk'
        ? `${result.truncated} of ${texts.length} documents were longer than their chunks cover: the rest was not read`
        : `${result.truncated} of ${texts.length} documents were truncated to ${result.limit} tokens (query and document together)`);
    }
    return {
      id: crypto.randomUUID(),
      results: topN(scored, body.top_n).map(({ index, score }) => ({
        index,
        relevance_score: score,
        ...(body.return_documents ? { document: cohereDocument(body.documents[index]) } : {}),
      })),
      meta: {
        api_version: { version: String(version) },
        billed_units: { search_units: Math.ceil(texts.length / 100) },
        tokens: { input_tokens: result.tokens },
        ...(warnings.length ? { warnings } : {}),
      },
    };
  };
  app.post<{ Body: CohereBody }>('/v1/rerank', { schema: { body: cohereV1BodySchema } }, cohere(1));
  app.post<{ Body: CohereBody }>('/v2/rerank', { schema: { body: cohereV2BodySchema } }, cohere(2));
}

function cohereDocument(doc: CohereDocument): Record<string, string> {
  return typeof doc === 'string' ? { text: doc } : doc;
}

// Emptiness and size limits, with messages that name the field and the limit.
function checkInput(limits: RouteLimits, query: string, documents: readonly string[], field: string): void {
  if (query.trim().length === 0) throw badRequest('query must be a non-empty string');
  if (documents.length === 0) throw badRequest(`${field} must be a non-empty array of strings`);
  if (query.length > limits.maxQueryChars) {
    throw new HttpError(413, 'payload_too_large', `query is ${query.length} characters long, over the limit of ${limits.maxQueryChars} (max_query_chars)`);
  }
  if (documents.length > limits.maxDocuments) {
    throw new HttpError(413, 'payload_too_large', `${documents.length} ${field} in one request, over the limit of ${limits.maxDocuments} (max_documents)`);
  }
  for (let i = 0; i < documents.length; i++) {
    if (documents[i].length === 0) throw badRequest(`${field}[${i}] is an empty string`);
    if (documents[i].length > limits.maxDocumentChars) {
      throw new HttpError(413, 'payload_too_large',
        `${field}[${i}] is ${documents[i].length} characters long, over the limit of ${limits.maxDocumentChars} (max_document_chars)`);
    }
  }
}

// A request's instruction: only a prompt-template model (Qwen3-Reranker) takes one.
function checkInstruction(ctx: RouteContext, instruction: string | undefined): string | undefined {
  if (instruction === undefined) return undefined;
  if (!ctx.template) throw badRequest('instruction needs a prompt-template model (a Qwen3-Reranker); this one encodes plain pairs');
  if (instruction.trim().length === 0) throw badRequest('instruction must be a non-empty string');
  return instruction;
}

// The request's long-document fields over the server's settings.
function longDocuments(ctx: RouteContext, body: LongDocumentFields): Pick<ScoreRequest, 'longDocuments' | 'maxChunks' | 'chunkOverlap' | 'aggregate'> {
  const d = ctx.longDocuments;
  if (ctx.template && body.long_documents === 'chunk') {
    throw badRequest(`long_documents "chunk" is not supported with this model's ${ctx.template} prompt template: its documents are truncated`);
  }
  return {
    longDocuments: body.long_documents ?? d.longDocuments,
    maxChunks: body.max_chunks ?? d.maxChunks,
    chunkOverlap: body.chunk_overlap ?? d.chunkOverlap,
    aggregate: body.chunk_aggregate ?? d.aggregate,
  };
}

type ScoreFields = Omit<ScoreRequest, 'query' | 'documents' | 'signal' | 'truncate' | 'scoreColumn'> & { truncate: boolean | undefined };

async function score(
  ctx: RouteContext, reply: FastifyReply, query: string, documents: readonly string[], activation: 'none' | 'sigmoid', fields: ScoreFields,
): Promise<{ scored: Scored[]; result: ScoreResult }> {
  // The client going away drops the request's queued pairs.
  const abort = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) abort.abort();
  };
  reply.raw.once('close', onClose);
  try {
    const result = await ctx.batcher.submit({
      ...fields, query, documents, truncate: fields.truncate ?? ctx.truncate, signal: abort.signal, scoreColumn: ctx.column,
    });
    reply.header('x-rrnative-truncated', String(result.truncated));
    reply.header('x-rrnative-chunked', String(result.chunked));
    reply.header('x-rrnative-max-length', String(result.limit));
    // Sorted by the score the client sees (sigmoid can make distinct logits equal), equal scores by input index.
    const scored = result.rows.map((row, index) => ({ index, score: activation === 'sigmoid' ? sigmoid(row[ctx.column]) : row[ctx.column] }));
    scored.sort((a, b) => b.score - a.score || a.index - b.index);
    return { scored, result };
  } finally {
    reply.raw.off('close', onClose);
  }
}

function topN<T>(items: T[], n: number | undefined): T[] {
  return n === undefined ? items : items.slice(0, n);
}

/** The same formula as Reranker.score's activation: 'sigmoid', so scores are bit-identical. */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
