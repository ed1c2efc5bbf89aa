// Request bodies of the rerank API, as JSON Schemas (validated by fastify's ajv, without type coercion) and the
// TypeScript types they guarantee. Emptiness and size limits are checked in the handlers, for clearer messages.

const str = { type: 'string' } as const;
const bool = { type: 'boolean' } as const;
const positiveInt = { type: 'integer', minimum: 1 } as const;

/** rrnative's long-document fields (the server's settings when absent). */
const longDocumentFields = {
  long_documents: { type: 'string', enum: ['truncate', 'chunk'] },
  max_chunks: positiveInt,
  chunk_overlap: { type: 'integer', minimum: 0 },
  chunk_aggregate: { type: 'string', enum: ['max', 'first', 'mean'] },
} as const;

export interface LongDocumentFields {
  long_documents?: 'truncate' | 'chunk';
  max_chunks?: number;
  chunk_overlap?: number;
  chunk_aggregate?: 'max' | 'first' | 'mean';
}

/**
 * `POST /rerank`: the guide's body `{query, documents, top_n?}`, or TEI's `{query, texts, truncate?, raw_scores?,
 * return_text?}` when `texts` is given instead of `documents`.
 */
export const rerankBodySchema = {
  type: 'object',
  required: ['query'],
  properties: {
    query: str,
    documents: { type: 'array', items: str },
    texts: { type: 'array', items: str },
    top_n: positiveInt,
    truncate: bool,
    activation: { type: 'string', enum: ['none', 'sigmoid'] },
    raw_scores: bool,
    return_text: bool,
    truncation_direction: { type: 'string', enum: ['right', 'Right', 'left', 'Left'] },
    instruction: str,
    ...longDocumentFields,
  },
} as const;

export interface RerankBody extends LongDocumentFields {
  query: string;
  documents?: string[];
  texts?: string[];
  top_n?: number;
  truncate?: boolean;
  activation?: 'none' | 'sigmoid';
  raw_scores?: boolean;
  return_text?: boolean;
  truncation_direction?: string;
  /** A prompt-template model's instruction (Qwen3-Reranker's <Instruct>); rrnative's field, not TEI's. */
  instruction?: string;
}

/** A Cohere v1 document: a string, or an object whose `text` is ranked and whose other string fields come back. */
export type CohereDocument = string | ({ text: string } & Record<string, string>);

const cohereCommon = {
  model: str,
  query: str,
  top_n: positiveInt,
  return_documents: bool,
  max_tokens_per_doc: positiveInt,
  truncate: bool,
  ...longDocumentFields,
} as const;

/** `POST /v1/rerank` (Cohere's v1 contract). */
export const cohereV1BodySchema = {
  type: 'object',
  required: ['query', 'documents'],
  properties: {
    ...cohereCommon,
    documents: {
      type: 'array',
      items: {
        anyOf: [
          str,
          { type: 'object', required: ['text'], properties: { text: str }, additionalProperties: str },
        ],
      },
    },
    rank_fields: { type: 'array', items: str },
    max_chunks_per_doc: positiveInt,
  },
} as const;

/** `POST /v2/rerank` (Cohere's v2 contract: documents are strings). */
export const cohereV2BodySchema = {
  type: 'object',
  required: ['query', 'documents'],
  properties: {
    ...cohereCommon,
    documents: { type: 'array', items: str },
    priority: { type: 'integer', minimum: 0 },
  },
} as const;

export interface CohereBody extends LongDocumentFields {
  model?: string;
  query: string;
  documents: CohereDocument[];
  top_n?: number;
  return_documents?: boolean;
  max_tokens_per_doc?: number;
  truncate?: boolean;
  rank_fields?: string[];
  max_chunks_per_doc?: number;
  priority?: number;
}
