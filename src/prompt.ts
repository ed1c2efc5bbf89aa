// Prompt templates of the LLM rerankers: Qwen3-Reranker's (its model card's recipe), rendered through the model's own
// chat template where the folder has one. A pair becomes prefix + body + suffix, where only the body (instruction,
// query, document) is tokenized against the length limit, so truncation cuts the document and never the suffix the
// model answers after.
import fs from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { readJsonFile } from './util';

export type TemplateName = 'qwen3-reranker' | 'none';

export interface PromptTemplate {
  name: TemplateName;
  /** Text before the body: the system turn and the user turn's opening (special tokens spelled out). */
  prefix: string;
  /** Text after the body: the user turn's end and the assistant's opening (the empty think block). */
  suffix: string;
  defaultInstruction: string;
  /** The body of one pair. */
  body(instruction: string, query: string, document: string): string;
}

/** Qwen3-Reranker's system turn and default instruction (Qwen/Qwen3-Reranker-0.6B's model card). */
export const QWEN3_RERANKER_SYSTEM = 'Judge whether the Document meets the requirements based on the Query and the Instruct provided. Note that the answer can only be "yes" or "no".';
export const QWEN3_RERANKER_INSTRUCTION = 'Given a web search query, retrieve relevant passages that answer the query';
// The recipe's own strings, used where a folder has no chat template.
const QWEN3_RERANKER_PREFIX = `<|im_start|>system\n${QWEN3_RERANKER_SYSTEM}<|im_end|>\n<|im_start|>user\n`;
const QWEN3_RERANKER_SUFFIX = '<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n';
const BODY_MARK = '\u0000rrnative-body\u0000';

/** The chat template of a tokenizer folder: chat_template.jinja (transformers 5), else tokenizer_config.json's. */
export function readChatTemplate(dir: string): string | undefined {
  const file = path.join(dir, 'chat_template.jinja');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
  const configFile = path.join(dir, 'tokenizer_config.json');
  if (!fs.existsSync(configFile)) return undefined;
  const template = (readJsonFile(configFile) as Record<string, unknown>).chat_template;
  if (typeof template === 'string') return template;
  // A list of named templates: the default one.
  if (Array.isArray(template)) {
    const named = template.find((t) => t && typeof t === 'object' && (t as { name?: unknown }).name === 'default') as { template?: unknown } | undefined;
    if (typeof named?.template === 'string') return named.template;
  }
  return undefined;
}

/**
 * Qwen3-Reranker's prompt for the model in `dir`: its chat template rendered with the recipe's system turn, the
 * body as the user turn, the generation prompt and thinking off (which gives the recipe's empty think block). The
 * recipe's literal strings where the folder has no chat template. `hasToken` checks the turn markers are single
 * tokens of the tokenizer, so that a folder of another family is named rather than scored wrongly.
 */
export function qwen3RerankerTemplate(dir: string, hasToken: (token: string) => boolean): PromptTemplate {
  const chatTemplate = readChatTemplate(dir);
  let prefix = QWEN3_RERANKER_PREFIX, suffix = QWEN3_RERANKER_SUFFIX;
  if (chatTemplate !== undefined) {
    let rendered: string;
    try {
      rendered = new Template(chatTemplate).render({
        messages: [{ role: 'system', content: QWEN3_RERANKER_SYSTEM }, { role: 'user', content: BODY_MARK }],
        add_generation_prompt: true, enable_thinking: false,
      });
    } catch (err) {
      throw new Error(`${dir}: the chat template does not render (${(err as Error).message})`);
    }
    const at = rendered.indexOf(BODY_MARK);
    if (at < 0) throw new Error(`${dir}: the chat template drops the user turn, so it cannot hold Qwen3-Reranker's prompt`);
    prefix = rendered.slice(0, at);
    suffix = rendered.slice(at + BODY_MARK.length);
  }
  for (const token of ['<|im_start|>', '<|im_end|>']) {
    if (!hasToken(token)) throw new Error(`${dir}: the tokenizer has no ${token} token, which Qwen3-Reranker's prompt needs (template 'qwen3-reranker')`);
  }
  return {
    name: 'qwen3-reranker', prefix, suffix, defaultInstruction: QWEN3_RERANKER_INSTRUCTION,
    body: (instruction, query, document) => `<Instruct>: ${instruction}\n<Query>: ${query}\n<Document>: ${document}`,
  };
}
