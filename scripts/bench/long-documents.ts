// What chunking changes on the bundled data: the quickstart's dev candidates (300 queries x 30 documents, mined
// by `npm run quickstart`) scored by its model (max_length 96) with long documents truncated, then chunked
// (MaxP, and the other aggregates). Counts the documents whose pair with the query is over the limit and reports
// MRR@10 on all queries and on those whose positive is such a long document.
//
//   npm run quickstart && npx tsc -p . && node dist/scripts/bench/long-documents.js [--model runs/quickstart/model] [--data runs/quickstart/dev-candidates.jsonl]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { Reranker, type LongDocumentScoreOptions } from '../../src/model';
import { evalPairs, loadEvalSet, metricsFromScores } from '../../src/train/evaluate';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'runs/quickstart/model' },
    data: { type: 'string', default: 'runs/quickstart/dev-candidates.jsonl' },
    'max-chunks': { type: 'string', default: '10' },
    'chunk-overlap': { type: 'string', default: '32' },
    'max-length': { type: 'string' },  // default: the max_length the model was trained with (its rrtrain_config.yaml)
  },
});

function trainedMaxLength(dir: string): number | undefined {
  const file = path.join(dir, 'rrtrain_config.yaml');
  if (!fs.existsSync(file)) return undefined;
  const config = YAML.parse(fs.readFileSync(file, 'utf8')) as { model?: { max_length?: number } };
  return config.model?.max_length;
}

async function main(): Promise<void> {
  const maxLength = values['max-length'] ? Number(values['max-length']) : trainedMaxLength(values.model!);
  const model = await Reranker.load(values.model!, { maxLength });
  const queries = await loadEvalSet({ path: values.data!, format: 'auto' }, 'error');
  const pairs = evalPairs(queries);
  // Which pairs are over the limit: their whole length, tokenized without truncation.
  const lengths: number[] = [];
  for (const q of queries) {
    const e = await model.tokenizer.encodeDocuments(q.query, q.documents, { maxLength: 1_000_000 });
    for (const p of e.pairs) lengths.push(p.ids.length);
  }
  const isLong = lengths.map((n) => n > model.maxLength);
  let offset = 0;
  const longPositive: boolean[] = queries.map((q) => {
    const hit = q.documents.some((_, i) => q.relevance[i] > 0 && isLong[offset + i]);
    offset += q.documents.length;
    return hit;
  });
  const longDocs = isLong.filter(Boolean).length;
  const subset = queries.filter((_, i) => longPositive[i]);
  console.log(`${values.model} (max_length ${model.maxLength}) on ${values.data}: ${queries.length} queries, ${pairs.length} documents; ` +
    `${longDocs} documents (${((100 * longDocs) / pairs.length).toFixed(1)}%) are over the limit with their query ` +
    `(median ${median(lengths.filter((n) => n > model.maxLength))} tokens); ${subset.length} queries have such a positive`);
  const settings: [string, LongDocumentScoreOptions][] = [
    ['truncate', {}],
    ['chunk, max (MaxP)', { longDocuments: 'chunk', aggregate: 'max' }],
    ['chunk, first', { longDocuments: 'chunk', aggregate: 'first' }],
    ['chunk, mean', { longDocuments: 'chunk', aggregate: 'mean' }],
  ];
  const chunkOptions = { maxChunks: Number(values['max-chunks']), chunkOverlap: Number(values['chunk-overlap']) };
  console.log('| long documents | MRR@10, all queries | MRR@10, queries with a long positive | pairs scored | seconds |');
  console.log('|---|---|---|---|---|');
  for (const [name, options] of settings) {
    const started = performance.now();
    const scores = await model.score(pairs, { batchSize: 64, ...chunkOptions, ...options });
    const seconds = (performance.now() - started) / 1000;
    const all = metricsFromScores(queries, scores);
    let o = 0;
    const subsetScores: number[] = [];
    queries.forEach((q, i) => {
      if (longPositive[i]) subsetScores.push(...scores.slice(o, o + q.documents.length));
      o += q.documents.length;
    });
    const part = subset.length ? metricsFromScores(subset, subsetScores) : undefined;
    let scored = pairs.length;
    if (options.longDocuments === 'chunk') {
      scored = 0;
      for (const q of queries) {
        scored += (await model.tokenizer.encodeDocuments(q.query, q.documents, { maxLength: model.maxLength, longDocuments: 'chunk', ...chunkOptions })).pairs.length;
      }
    }
    console.log(`| ${name} | ${all['mrr@10'].toFixed(4)} | ${part ? part['mrr@10'].toFixed(4) : '-'} | ${scored} | ${seconds.toFixed(1)} |`);
  }
  model.dispose();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
