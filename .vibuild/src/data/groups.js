"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.sampleGroup = sampleGroup;
exports.sampleIndices = sampleIndices;
/**
 * Samples a group: one positive chosen uniformly among the record's positives, then groupSize - 1 negatives
 * drawn without replacement. When the record has fewer negatives than that, it does what FlagEmbedding does
 * (`random.sample(negs * ceil(k / len(negs)), k)`): the list is repeated ceil(k / n) times and k are drawn
 * without replacement from the repeated list, i.e. with replacement, no negative more than ceil(k / n) times.
 * Every draw comes from `rng`, so the same seed (or restored state) gives the same groups.
 */
function sampleGroup(record, groupSize, rng) {
    if (!Number.isInteger(groupSize) || groupSize < 2) {
        throw new RangeError(`sampleGroup: groupSize must be an integer >= 2 (1 positive + negatives), got ${groupSize}`);
    }
    if (record.positives.length === 0) {
        throw new Error(`sampleGroup: the query ${JSON.stringify(truncate(record.query))} has no positive passage`);
    }
    if (record.negatives.length === 0) {
        throw new Error(`sampleGroup: the query ${JSON.stringify(truncate(record.query))} has no negative passage (a group of ${groupSize} needs ${groupSize - 1})`);
    }
    const k = groupSize - 1;
    const p = rng.int(record.positives.length);
    const negIndices = sampleIndices(record.negatives.length, k, rng);
    const documents = [record.positives[p], ...negIndices.map((i) => record.negatives[i])];
    const labels = documents.map((_, i) => (i === 0 ? 1 : 0));
    const group = { query: record.query, documents, labels };
    if (record.posScores && record.negScores) {
        const pos = record.posScores;
        const neg = record.negScores;
        group.teacherScores = [pos[p], ...negIndices.map((i) => neg[i])];
    }
    return group;
}
/**
 * k indices into a list of n: without replacement (a partial Fisher–Yates) when k <= n, otherwise from the
 * list repeated ceil(k / n) times (FlagEmbedding's with-replacement behaviour).
 */
function sampleIndices(n, k, rng) {
    if (!Number.isInteger(k) || k < 0)
        throw new RangeError(`sampleIndices: k must be a non-negative integer, got ${k}`);
    if (k === 0)
        return [];
    if (!Number.isInteger(n) || n < 1)
        throw new RangeError(`sampleIndices: cannot draw ${k} from a list of ${n}`);
    const copies = k <= n ? 1 : Math.ceil(k / n);
    const pool = new Array(n * copies);
    for (let i = 0; i < pool.length; i++)
        pool[i] = i % n;
    for (let i = 0; i < k; i++) {
        const j = i + rng.int(pool.length - i);
        const tmp = pool[i];
        pool[i] = pool[j];
        pool[j] = tmp;
    }
    return pool.slice(0, k);
}
function truncate(s, max = 100) {
    return s.length > max ? `${s.slice(0, max)}…` : s;
}
