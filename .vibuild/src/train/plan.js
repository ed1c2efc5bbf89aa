"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.LENGTH_GROUP_BATCHES = void 0;
exports.checkDataFitsLoss = checkDataFitsLoss;
exports.groupByLength = groupByLength;
exports.planEpoch = planEpoch;
const groups_1 = require("../data/groups");
const GROUPED_LOSSES = ['listwise_ce', 'margin_mse', 'lambda_loss'];
const TEACHER_LOSSES = ['margin_mse', 'distill_mse'];
/** Checks once, before training, that the data fits the loss; the message says what the loss needs. */
function checkDataFitsLoss(cache, loss, groupSize) {
    const grouped = cache.meta.groups > 0;
    if (grouped && cache.meta.groups !== cache.meta.records) {
        throw new Error(`${cache.meta.sources[0]}: mixes pair and grouped records; use one layout per data file`);
    }
    if (GROUPED_LOSSES.includes(loss) && !grouped) {
        throw new Error(`loss ${loss} needs grouped data ({query, positives, negatives}); ${cache.meta.sources[0]} has pairs`);
    }
    if (GROUPED_LOSSES.includes(loss) && groupSize < 2) {
        throw new Error(`loss ${loss} needs data.train_group_size >= 2 (1 positive + negatives), got ${groupSize}`);
    }
    if (TEACHER_LOSSES.includes(loss) && grouped && cache.meta.withTeacher !== cache.meta.groups) {
        throw new Error(`loss ${loss} needs teacher scores (pos_scores / neg_scores) on every record of ${cache.meta.sources[0]}; ` +
            `${cache.meta.groups - cache.meta.withTeacher} records have none (add them with \`rrtrain label --teacher DIR\`)`);
    }
    if (TEACHER_LOSSES.includes(loss) && !grouped) {
        throw new Error(`loss ${loss} needs teacher scores, which come with grouped data (pos_scores / neg_scores)`);
    }
}
/** Records per run that group_by_length sorts by length (HF's LengthGroupedSampler: 50 batches). */
exports.LENGTH_GROUP_BATCHES = 50;
/**
 * Sorts each run of `batchSize * LENGTH_GROUP_BATCHES` consecutive items by length, longest first (stable), so
 * a batch pads to little more than its own pairs while the runs keep the shuffled order.
 */
function groupByLength(order, lengthOf, batchSize) {
    const run = batchSize * exports.LENGTH_GROUP_BATCHES;
    const out = [];
    for (let start = 0; start < order.length; start += run) {
        const chunk = order.slice(start, start + run).map((item, i) => ({ item, i, length: lengthOf(item) }));
        chunk.sort((a, b) => b.length - a.length || a.i - b.i);
        for (const c of chunk)
            out.push(c.item);
    }
    return out;
}
function planEpoch(cache, rng, options) {
    let order = Array.from({ length: cache.recordCount }, (_, i) => i);
    if (options.shuffle)
        rng.shuffle(order);
    if (options.groupByLength)
        order = groupByLength(order, (r) => cache.recordTokens(r), options.batchSize);
    const grouped = cache.meta.groups > 0;
    const groupSize = grouped ? options.groupSize : 1;
    const batches = [];
    for (let start = 0; start < order.length; start += options.batchSize) {
        const records = order.slice(start, start + options.batchSize);
        const pairs = [];
        for (const r of records) {
            const first = cache.recordFirstPair[r];
            if (!grouped) {
                pairs.push(first);
                continue;
            }
            const positives = cache.recordPositives[r], negatives = cache.recordNegatives[r];
            if (positives === 0 || negatives === 0) {
                throw new Error(`${cache.meta.sources[0]}: record ${r + 1} has ${positives} positives and ${negatives} negatives; a group needs both`);
            }
            pairs.push(first + rng.int(positives));
            for (const n of (0, groups_1.sampleIndices)(negatives, groupSize - 1, rng))
                pairs.push(first + positives + n);
        }
        const labels = Float32Array.from(pairs, (p, i) => (grouped ? (i % groupSize === 0 ? 1 : 0) : cache.pairLabel[p]));
        const teacherScores = options.withTeacher ? Float32Array.from(pairs, (p) => cache.pairTeacher[p]) : null;
        batches.push({ pairs, labels, teacherScores, groupSize });
    }
    return batches;
}
