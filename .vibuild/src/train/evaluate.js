"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.loadEvalSet = loadEvalSet;
exports.evaluate = evaluate;
exports.evalPairs = evalPairs;
exports.metricsFromScores = metricsFromScores;
// Evaluation of a reranker on a labelled set: per-query ranking metrics and, for binary labels,
// classification metrics (threshold 0 on the logit, i.e. 0.5 after a sigmoid).
const formats_1 = require("../data/formats");
const records_1 = require("../data/records");
const metrics_1 = require("../eval/metrics");
async function loadEvalSet(source, onBadRecord) {
    const queries = [];
    for await (const q of (0, formats_1.readEvalQueries)(source, { onBadRecord }, (0, records_1.newBadRecordReport)())) {
        if (q.documents.length === 0)
            continue;
        queries.push(q);
        if (source.max_records !== undefined && queries.length >= source.max_records)
            break;
    }
    if (queries.length === 0)
        throw new Error(`${(0, formats_1.describeDataSource)(source)}: no evaluation queries`);
    return queries;
}
/** Scores every (query, document) pair and computes the metrics. `long`: how long documents are scored. */
async function evaluate(model, queries, batchSize, long = {}) {
    return metricsFromScores(queries, await model.score(evalPairs(queries), { batchSize, ...long }));
}
/** Every (query, document) pair of the set, query by query: the order metricsFromScores expects the scores in. */
function evalPairs(queries) {
    return queries.flatMap((q) => q.documents.map((d) => [q.query, d]));
}
/** The metrics from one score per pair of evalPairs(queries). */
function metricsFromScores(queries, scores) {
    let offset = 0;
    const ranked = queries.map((q) => {
        const s = scores.slice(offset, offset + q.documents.length);
        offset += q.documents.length;
        return { scores: s, relevance: q.relevance };
    });
    const metrics = { ...(0, metrics_1.rankingMetrics)(ranked, { ks: [10, 100] }) };
    const labels = queries.flatMap((q) => q.relevance);
    if (labels.every((l) => l === 0 || l === 1)) {
        const c = (0, metrics_1.classificationMetrics)(scores, labels, { threshold: 0 });
        Object.assign(metrics, { accuracy: c.accuracy, f1: c.f1, precision: c.precision, recall: c.recall, pr_auc: c.pr_auc });
    }
    return metrics;
}
