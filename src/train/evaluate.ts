// Evaluation of a reranker on a labelled set: per-query ranking metrics and, for binary labels,
// classification metrics (threshold 0 on the logit, i.e. 0.5 after a sigmoid).
import { describeDataSource, readEvalQueries } from '../data/formats';
import { newBadRecordReport, type DataSource, type EvalQuery } from '../data/records';
import { classificationMetrics, rankingMetrics } from '../eval/metrics';
import type { LongDocumentScoreOptions, Reranker } from '../model';

export type EvalMetrics = Record<string, number>;

export async function loadEvalSet(source: DataSource, onBadRecord: 'error' | 'skip'): Promise<EvalQuery[]> {
  const queries: EvalQuery[] = [];
  for await (const q of readEvalQueries(source, { onBadRecord }, newBadRecordReport())) {
    if (q.documents.length === 0) continue;
    queries.push(q);
    if (source.max_records !== undefined && queries.length >= source.max_records) break;
  }
  if (queries.length === 0) throw new Error(`${describeDataSource(source)}: no evaluation queries`);
  return queries;
}

/** Scores every (query, document) pair and computes the metrics. `long`: how long documents are scored. */
export async function evaluate(model: Reranker, queries: readonly EvalQuery[], batchSize: number, long: LongDocumentScoreOptions = {}): Promise<EvalMetrics> {
  return metricsFromScores(queries, await model.score(evalPairs(queries), { batchSize, ...long }));
}

/** Every (query, document) pair of the set, query by query: the order metricsFromScores expects the scores in. */
export function evalPairs(queries: readonly EvalQuery[]): (readonly [string, string])[] {
  return queries.flatMap((q) => q.documents.map((d) => [q.query, d] as const));
}

/** The metrics from one score per pair of evalPairs(queries). */
export function metricsFromScores(queries: readonly EvalQuery[], scores: readonly number[]): EvalMetrics {
  let offset = 0;
  const ranked = queries.map((q) => {
    const s = scores.slice(offset, offset + q.documents.length);
    offset += q.documents.length;
    return { scores: s, relevance: q.relevance };
  });
  const metrics: EvalMetrics = { ...rankingMetrics(ranked, { ks: [10, 100] }) };
  const labels = queries.flatMap((q) => q.relevance);
  if (labels.every((l) => l === 0 || l === 1)) {
    const c = classificationMetrics(scores, labels, { threshold: 0 });
    Object.assign(metrics, { accuracy: c.accuracy, f1: c.f1, precision: c.precision, recall: c.recall, pr_auc: c.pr_auc });
  }
  return metrics;
}
