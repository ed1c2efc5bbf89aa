"use strict";
// Evaluation metrics for the reranker: per-query ranking metrics (MRR, NDCG, AP, recall) and
// flat binary-classification metrics (accuracy, F1, PR-AUC, ROC-AUC). Pure functions, no I/O.
//
// Conventions shared by every function here:
// - Ranking order: candidates are sorted by score descending. Equal scores are averaged: each
//   ranking metric is its expected value over every order of the tied candidates (as scikit-learn's
//   ndcg_score(ignore_ties=False) does for NDCG; McSherry & Najork, ECIR 2008, for the others). So
//   the input order never matters: eval files list positives first, and a model that gives a group
//   equal scores (a collapsed model, or bf16 logits that round to the same value) must not win
//   those ties for free.
// - Relevance is graded (0 = not relevant). MRR, AP and recall treat relevance > 0 as relevant;
//   NDCG uses the grade itself as the gain.
// - Classification labels: label > 0 is positive, anything else (0, negative) is negative.
//   A score is predicted positive when score >= threshold.
// - Where a metric is undefined for a valid input (empty input, a single class) the result is
//   NaN; bad input (mismatched lengths, non-finite numbers, bad k) throws a TypeError or
//   RangeError that names the argument.
Object.defineProperty(exports, "__esModule", { value: true });
exports.reciprocalRankAtK = reciprocalRankAtK;
exports.ndcgAtK = ndcgAtK;
exports.averagePrecision = averagePrecision;
exports.recallAtK = recallAtK;
exports.rankingMetrics = rankingMetrics;
exports.accuracyAtThreshold = accuracyAtThreshold;
exports.f1AtThreshold = f1AtThreshold;
exports.prAuc = prAuc;
exports.rocAuc = rocAuc;
exports.classificationMetrics = classificationMetrics;
const DEFAULT_KS = [10, 100];
// ---------------------------------------------------------------------------------------------
// Ranking metrics (one query)
// ---------------------------------------------------------------------------------------------
/** MRR@k for one query: 1/rank of the first relevant candidate within the top k, else 0. */
function reciprocalRankAtK(q, k) {
    const { relevance } = checkQuery(q, 'q');
    checkK(k, 'k');
    for (const g of tieGroups(q.scores, relevance)) {
        if (g.relevant === 0)
            continue;
        // The first relevant item of the first group holding any: P(it is the group's j-th) = C(n-j, r-1) / C(n, r).
        let sum = 0;
        let p = g.relevant / g.size;
        for (let j = 1; j <= g.size - g.relevant + 1 && g.before + j <= k; j++) {
            sum += p / (g.before + j);
            p *= (g.size - j - g.relevant + 1) / (g.size - j);
        }
        return sum;
    }
    return 0;
}
/**
 * NDCG@k for one query, as scikit-learn's ndcg_score computes it: linear gain (the grade itself)
 * and discount 1/log2(rank + 1). The ideal DCG comes from sorting ALL the query's labels, also cut
 * at k. A query with no relevant item gives 0 (sklearn does the same).
 */
function ndcgAtK(q, k) {
    const { relevance } = checkQuery(q, 'q');
    checkK(k, 'k');
    const ideal = Array.from(relevance).sort((a, b) => b - a);
    const idcg = dcg(ideal, k);
    if (idcg === 0)
        return 0;
    // A tie group spreads its mean gain over the positions it covers.
    let sum = 0;
    for (const g of tieGroups(q.scores, relevance)) {
        if (g.before >= k)
            break;
        let discount = 0;
        for (let rank = g.before + 1; rank <= Math.min(g.before + g.size, k); rank++)
            discount += 1 / Math.log2(rank + 1);
        sum += (g.gain / g.size) * discount;
    }
    return sum / idcg;
}
/**
 * Average precision over the full ranking with binary relevance (grade > 0): the mean of
 * precision@rank over the ranks that hold a relevant item. The denominator is the relevant count
 * in the list (not totalRelevant), so unretrieved items do not lower AP. 0 if none is relevant.
 */
function averagePrecision(q) {
    const { relevance } = checkQuery(q, 'q');
    let found = 0;
    let sum = 0;
    for (const g of tieGroups(q.scores, relevance)) {
        if (g.relevant > 0) {
            // A relevant item of the group at the group's j-th place (each place equally likely) has `found`
            // relevant items above the group and, on average, (j-1)(r-1)/(n-1) of the group's others above it.
            let precision = 0;
            for (let j = 1; j <= g.size; j++) {
                const above = g.size === 1 ? 0 : ((j - 1) * (g.relevant - 1)) / (g.size - 1);
                precision += (found + 1 + above) / (g.before + j);
            }
            sum += (g.relevant * precision) / g.size;
            found += g.relevant;
        }
    }
    return found === 0 ? 0 : sum / found;
}
/**
 * Recall@k: the fraction of relevant items (grade > 0) that appear in the top k.
 * `totalRelevant` (else `q.totalRelevant`, else the count in the list) is the denominator, so a
 * caller can count relevant items the first stage never retrieved; it must be an integer no less
 * than the relevant count in the list. A query with no relevant item gives 0, the same
 * convention as MRR, NDCG and AP, so that every query weighs equally in the means; filter such
 * queries out beforehand to exclude them instead.
 */
function recallAtK(q, k, totalRelevant) {
    const { relevance } = checkQuery(q, 'q');
    checkK(k, 'k');
    const inList = countRelevant(relevance);
    const total = totalRelevant !== undefined
        ? checkTotalRelevant(totalRelevant, inList, 'totalRelevant')
        : q.totalRelevant !== undefined
            ? checkTotalRelevant(q.totalRelevant, inList, 'q.totalRelevant')
            : inList;
    if (total === 0)
        return 0;
    let found = 0;
    for (const g of tieGroups(q.scores, relevance)) {
        if (g.before >= k)
            break;
        found += (g.relevant * (Math.min(g.before + g.size, k) - g.before)) / g.size;
    }
    return found / total;
}
/**
 * Means over queries of mrr@10, ndcg@10, map and recall@k for each k in `ks` (default [10, 100]).
 * With no queries every mean is NaN and `queries` is 0.
 */
function rankingMetrics(queries, options = {}) {
    if (!Array.isArray(queries))
        throw new TypeError(`queries must be an array, got ${describe(queries)}`);
    const ks = options.ks ?? DEFAULT_KS;
    if (!Array.isArray(ks))
        throw new TypeError(`options.ks must be an array of integers, got ${describe(ks)}`);
    ks.forEach((k, i) => checkK(k, `options.ks[${i}]`));
    // Validate every query up front so a bad one names its index, not just "q".
    queries.forEach((q, i) => checkQuery(q, `queries[${i}]`));
    const n = queries.length;
    const mean = (metric) => n === 0 ? NaN : queries.reduce((sum, q) => sum + metric(q), 0) / n;
    const result = {
        'mrr@10': mean((q) => reciprocalRankAtK(q, 10)),
        'ndcg@10': mean((q) => ndcgAtK(q, 10)),
        map: mean(averagePrecision),
        queries: n,
    };
    for (const k of ks)
        result[`recall@${k}`] = mean((q) => recallAtK(q, k));
    return result;
}
function tieGroups(scores, relevance) {
    const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
    const groups = [];
    for (let start = 0; start < order.length;) {
        let end = start;
        const g = { before: start, size: 0, relevant: 0, gain: 0 };
        while (end < order.length && scores[order[end]] === scores[order[start]]) {
            const grade = relevance[order[end++]];
            if (grade > 0)
                g.relevant++;
            g.gain += grade;
        }
        g.size = end - start;
        groups.push(g);
        start = end;
    }
    return groups;
}
/** DCG of gains already in rank order, cut at k: sum of gain / log2(rank + 1). */
function dcg(gains, k) {
    const limit = Math.min(k, gains.length);
    let sum = 0;
    for (let i = 0; i < limit; i++)
        sum += gains[i] / Math.log2(i + 2);
    return sum;
}
function countRelevant(relevance) {
    let count = 0;
    for (let i = 0; i < relevance.length; i++)
        if (relevance[i] > 0)
            count++;
    return count;
}
// ---------------------------------------------------------------------------------------------
// Classification metrics (flat score/label lists)
// ---------------------------------------------------------------------------------------------
/** Fraction of items whose prediction (score >= threshold) matches the label (> 0). NaN if empty. */
function accuracyAtThreshold(scores, labels, threshold) {
    checkPair(scores, labels);
    checkThreshold(threshold);
    if (scores.length === 0)
        return NaN;
    let correct = 0;
    for (let i = 0; i < scores.length; i++)
        if (scores[i] >= threshold === labels[i] > 0)
            correct++;
    return correct / scores.length;
}
/**
 * Precision, recall and F1 of the prediction score >= threshold.
 * precision is NaN when nothing is predicted positive, recall NaN when no label is positive, and
 * F1 = 2tp / (2tp + fp + fn) is NaN only when both hold (then there is nothing to get right or
 * wrong); otherwise a missing precision or recall makes F1 0, not NaN.
 */
function f1AtThreshold(scores, labels, threshold) {
    checkPair(scores, labels);
    checkThreshold(threshold);
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < scores.length; i++) {
        const predicted = scores[i] >= threshold;
        const positive = labels[i] > 0;
        if (predicted && positive)
            tp++;
        else if (predicted)
            fp++;
        else if (positive)
            fn++;
    }
    return {
        precision: tp + fp === 0 ? NaN : tp / (tp + fp),
        recall: tp + fn === 0 ? NaN : tp / (tp + fn),
        f1: 2 * tp + fp + fn === 0 ? NaN : (2 * tp) / (2 * tp + fp + fn),
    };
}
/**
 * Area under the precision-recall curve, equal to scikit-learn's average_precision_score:
 * sum over distinct score thresholds (high to low) of (recall_n - recall_{n-1}) * precision_n.
 * Tied scores form one threshold, so their order does not matter. NaN with no positive label
 * (recall undefined) or empty input; 1 when every label is positive.
 */
function prAuc(scores, labels) {
    checkPair(scores, labels);
    const positives = countRelevant(labels);
    if (positives === 0)
        return NaN;
    let tp = 0;
    let fp = 0;
    let prevRecall = 0;
    let ap = 0;
    forEachTieGroup(scores, labels, (groupTp, groupFp) => {
        tp += groupTp;
        fp += groupFp;
        const recall = tp / positives;
        ap += (recall - prevRecall) * (tp / (tp + fp));
        prevRecall = recall;
    });
    return ap;
}
/**
 * Area under the ROC curve, equal to scikit-learn's roc_auc_score: the probability that a random
 * positive scores above a random negative, a tie counting half. NaN unless both classes occur.
 */
function rocAuc(scores, labels) {
    checkPair(scores, labels);
    const positives = countRelevant(labels);
    const negatives = labels.length - positives;
    if (positives === 0 || negatives === 0)
        return NaN;
    // Walk thresholds high to low; each negative in a group beats nothing above it and is beaten
    // by every positive seen earlier, and ties with the group's positives at half weight.
    let tpAbove = 0;
    let wins = 0;
    forEachTieGroup(scores, labels, (groupTp, groupFp) => {
        wins += groupFp * (tpAbove + groupTp / 2);
        tpAbove += groupTp;
    });
    return wins / (positives * negatives);
}
/** Accuracy, precision, recall and F1 at `threshold` plus the threshold-free PR-AUC and ROC-AUC. */
function classificationMetrics(scores, labels, options) {
    if (typeof options !== 'object' || options === null) {
        throw new TypeError(`options must be an object with a threshold, got ${describe(options)}`);
    }
    const { precision, recall, f1 } = f1AtThreshold(scores, labels, options.threshold);
    return {
        accuracy: accuracyAtThreshold(scores, labels, options.threshold),
        f1,
        precision,
        recall,
        pr_auc: prAuc(scores, labels),
        roc_auc: rocAuc(scores, labels),
    };
}
/** Calls `visit(positives, negatives)` for each group of equal scores, highest score first. */
function forEachTieGroup(scores, labels, visit) {
    for (const g of tieGroups(scores, labels))
        visit(g.relevant, g.size - g.relevant);
}
// ---------------------------------------------------------------------------------------------
// Argument checks
// ---------------------------------------------------------------------------------------------
function checkQuery(q, name) {
    if (typeof q !== 'object' || q === null)
        throw new TypeError(`${name} must be {scores, relevance}, got ${describe(q)}`);
    const { scores, relevance } = q;
    checkNumbers(scores, `${name}.scores`);
    checkNumbers(relevance, `${name}.relevance`);
    if (scores.length !== relevance.length) {
        throw new RangeError(`${name}.scores has ${scores.length} entries but ${name}.relevance has ${relevance.length}`);
    }
    // Negative grades would make NDCG meaningless (sklearn's ndcg_score rejects them too).
    for (let i = 0; i < relevance.length; i++) {
        if (relevance[i] < 0)
            throw new RangeError(`${name}.relevance[${i}] must be >= 0, got ${relevance[i]}`);
    }
    return q;
}
function checkPair(scores, labels) {
    checkNumbers(scores, 'scores');
    checkNumbers(labels, 'labels');
    if (scores.length !== labels.length) {
        throw new RangeError(`scores has ${scores.length} entries but labels has ${labels.length}`);
    }
}
/** An array or typed array of finite numbers. */
function checkNumbers(values, name) {
    if (!Array.isArray(values) && !isTypedNumberArray(values)) {
        throw new TypeError(`${name} must be an array of numbers, got ${describe(values)}`);
    }
    const list = values;
    for (let i = 0; i < list.length; i++) {
        const v = list[i];
        if (typeof v !== 'number')
            throw new TypeError(`${name}[${i}] must be a number, got ${describe(v)}`);
        if (!Number.isFinite(v))
            throw new RangeError(`${name}[${i}] must be finite, got ${v}`);
    }
}
function isTypedNumberArray(value) {
    return ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array);
}
function checkK(k, name) {
    if (typeof k !== 'number' || !Number.isInteger(k))
        throw new TypeError(`${name} must be an integer, got ${describe(k)}`);
    if (k < 1)
        throw new RangeError(`${name} must be >= 1, got ${k}`);
}
function checkTotalRelevant(total, inList, name) {
    if (typeof total !== 'number' || !Number.isInteger(total)) {
        throw new TypeError(`${name} must be an integer, got ${describe(total)}`);
    }
    if (total < inList)
        throw new RangeError(`${name} is ${total} but the list already holds ${inList} relevant items`);
    return total;
}
/** Any number but NaN: +-Infinity are valid thresholds (predict everything / nothing positive). */
function checkThreshold(threshold) {
    if (typeof threshold !== 'number')
        throw new TypeError(`threshold must be a number, got ${describe(threshold)}`);
    if (Number.isNaN(threshold))
        throw new RangeError('threshold must not be NaN');
}
function describe(value) {
    if (value === null)
        return 'null';
    if (Array.isArray(value))
        return `an array of ${value.length}`;
    if (typeof value === 'string')
        return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
    if (typeof value === 'object')
        return `an object (${value.constructor?.name ?? 'no prototype'})`;
    return `${typeof value} ${String(value)}`;
}
