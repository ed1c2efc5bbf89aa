"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.labelGrouped = labelGrouped;
exports.labelDataSource = labelDataSource;
// Teacher labelling for distillation: adds a cross-encoder's raw logits as `pos_scores` / `neg_scores` to
// grouped JSONL ({query, positives|pos, negatives|neg, …}), or writes grouped JSONL with them from any training
// source (a Hub dataset such as ms_marco, Parquet, triplets, lists). Streamed in chunks; records keep their order,
// their other keys and their key names; scores already present are replaced. Output is written atomically.
const formats_1 = require("../data/formats");
const records_1 = require("../data/records");
const corpus_1 = require("./corpus");
const output_1 = require("./output");
/** Adds pos_scores/neg_scores from `teacher` to every record of `input`, writing `output`. */
async function labelGrouped(teacher, input, output, options = {}) {
    (0, corpus_1.checkReadable)(input, 'input');
    return labelRecords(teacher, groupedLines(input), output, options);
}
/**
 * Writes the training groups of `source` as grouped JSONL {query, pos, neg, pos_scores, neg_scores}, scored by
 * `teacher`: the input of a distillation stage (margin_mse, distill_mse) from a dataset that has no such file.
 */
async function labelDataSource(teacher, source, output, options = {}) {
    async function* groups() {
        for await (const { record, file, line } of (0, formats_1.readTrainRecords)(source, { onBadRecord: 'error' }, (0, records_1.newBadRecordReport)())) {
            if (record.kind !== 'group') {
                throw new Error(`${file}:${line}: a (query, document, label) pair: distillation scores groups of a query's positives and negatives (pairs, triplets' groups, lists, hf_msmarco)`);
            }
            yield { obj: { query: record.query, pos: record.positives, neg: record.negatives }, query: record.query, positives: record.positives, negatives: record.negatives };
        }
    }
    return labelRecords(teacher, groups(), output, options);
}
async function* groupedLines(input) {
    for await (const { text, line } of (0, records_1.readTextLines)(input)) {
        const where = `${input}:${line}`;
        const record = (0, records_1.parseJsonObjectLine)(text, where, 'a grouped record must be a JSON object {query, positives, negatives}');
        // Existing teacher scores are replaced, so they are not validated against the passages.
        const bare = { ...record };
        delete bare.pos_scores;
        delete bare.neg_scores;
        let group;
        try {
            group = (0, formats_1.parseGroup)(bare);
        }
        catch (err) {
            throw new Error(`${where}: ${err.message}`);
        }
        yield { obj: record, query: group.query, positives: group.positives, negatives: group.negatives };
    }
}
async function labelRecords(teacher, records, output, options) {
    const start = process.hrtime.bigint();
    const chunkPairs = options.chunkPairs ?? 4096;
    const scoreOptions = { batchSize: options.batchSize ?? 64 };
    if (options.label !== undefined)
        scoreOptions.label = options.label;
    const stats = { records: 0, pairs: 0, seconds: 0 };
    const writer = new output_1.AtomicLineWriter(output);
    let pending = [];
    let pendingPairs = 0;
    const flush = async () => {
        const pairs = [];
        for (const p of pending) {
            for (const d of p.positives)
                pairs.push([p.query, d]);
            for (const d of p.negatives)
                pairs.push([p.query, d]);
        }
        const scores = await teacher.score(pairs, scoreOptions);
        let o = 0;
        let text = '';
        for (const p of pending) {
            const obj = p.obj;
            obj.pos_scores = scores.slice(o, o + p.positives.length);
            o += p.positives.length;
            obj.neg_scores = scores.slice(o, o + p.negatives.length);
            o += p.negatives.length;
            text += JSON.stringify(obj) + '\n';
        }
        await writer.write(text);
        stats.records += pending.length;
        stats.pairs += pairs.length;
        pending = [];
        pendingPairs = 0;
        options.onProgress?.({ records: stats.records, pairs: stats.pairs });
    };
    try {
        for await (const record of records) {
            pending.push(record);
            pendingPairs += record.positives.length + record.negatives.length;
            if (pendingPairs >= chunkPairs)
                await flush();
        }
        if (pending.length)
            await flush();
        await writer.commit();
    }
    catch (err) {
        writer.abort();
        throw err;
    }
    stats.seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return stats;
}
