"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.Top1000Index = exports.CollectionIndex = exports.LineReader = void 0;
exports.readQueries = readQueries;
exports.readQrels = readQrels;
exports.readTriples = readTriples;
exports.readMsmarcoTrain = readMsmarcoTrain;
exports.readMsmarcoEval = readMsmarcoEval;
// MS MARCO's own TSV files: triples, queries + qrels + collection (+ top1000), and top1000 + qrels for eval.
//
// collection.tsv (~3 GB, 8.8M passages) and top1000.*.tsv (~2.5 GB for dev) are never held as strings: one
// streaming pass builds typed-array indexes of byte offsets (CollectionIndex: pid → offset of the passage;
// Top1000Index: per qid, the offsets of its lines in file order), and the text is read on demand with
// fs.readSync at those offsets. Because of that, these two files must be uncompressed. queries.tsv and
// qrels are small (≤ ~1M lines) and go into Maps; they, and triples, may be gzip-compressed.
//
// Lines come from records.ts's byte-level '\n' splitter, so bad records are reported with an exact file:line.
const node_fs_1 = __importDefault(require("node:fs"));
const records_1 = require("./records");
// ---------------------------------------------------------------------------------------------------------
// Growable typed arrays
class GrowableU32 {
    data = new Uint32Array(1024);
    length = 0;
    push(v) {
        if (this.length === this.data.length) {
            const next = new Uint32Array(this.data.length * 2);
            next.set(this.data);
            this.data = next;
        }
        this.data[this.length++] = v;
    }
    trimmed() {
        return this.data.slice(0, this.length);
    }
}
class GrowableF64 {
    data = new Float64Array(1024);
    length = 0;
    push(v) {
        if (this.length === this.data.length) {
            const next = new Float64Array(this.data.length * 2);
            next.set(this.data);
            this.data = next;
        }
        this.data[this.length++] = v;
    }
    trimmed() {
        return this.data.slice(0, this.length);
    }
}
// ---------------------------------------------------------------------------------------------------------
// Random-access line reading
/** Reads lines of a file at byte offsets (fs.readSync), reusing one buffer. */
class LineReader {
    file;
    fd;
    buf = Buffer.allocUnsafe(16 * 1024);
    constructor(file) {
        this.file = file;
        this.fd = node_fs_1.default.openSync(file, 'r');
    }
    /** The text from `offset` to the next '\n' (or the end of the file), without a trailing '\r'. */
    readLine(offset) {
        let len = 0;
        for (;;) {
            if (len === this.buf.length) {
                const bigger = Buffer.allocUnsafe(this.buf.length * 2);
                this.buf.copy(bigger, 0, 0, len);
                this.buf = bigger;
            }
            const n = node_fs_1.default.readSync(this.fd, this.buf, len, this.buf.length - len, offset + len);
            const nl = n > 0 ? this.buf.subarray(0, len + n).indexOf(0x0a, len) : -1;
            if (nl >= 0)
                return decodeLine(this.buf, nl);
            len += n;
            if (n === 0)
                return decodeLine(this.buf, len);
        }
    }
    close() {
        if (this.fd >= 0)
            node_fs_1.default.closeSync(this.fd);
        this.fd = -1;
    }
}
exports.LineReader = LineReader;
function decodeLine(buf, end) {
    if (end > 0 && buf[end - 1] === 0x0d)
        end--;
    return buf.toString('utf8', 0, end);
}
/** 1-based line numbers of the lines holding the given ascending byte offsets (one pass; rare error paths only). */
function linesAtOffsets(file, offsets) {
    const out = [];
    if (offsets.length === 0)
        return out;
    const fd = node_fs_1.default.openSync(file, 'r');
    try {
        const buf = Buffer.allocUnsafe(1 << 20);
        let line = 1;
        let pos = 0;
        let k = 0;
        while (k < offsets.length) {
            const n = node_fs_1.default.readSync(fd, buf, 0, buf.length, pos);
            for (let i = 0; i < n && k < offsets.length; i++) {
                while (k < offsets.length && offsets[k] === pos + i)
                    out[k++] = line;
                if (buf[i] === 0x0a)
                    line++;
            }
            if (n === 0)
                break;
            pos += n;
        }
        while (k < offsets.length)
            out[k++] = line;
        return out;
    }
    finally {
        node_fs_1.default.closeSync(fd);
    }
}
/** Reports duplicate pids found after sorting (each with its line). */
function reportDuplicates(dups, file, policy, report) {
    const lines = linesAtOffsets(file, dups.map((d) => d.offset));
    dups.forEach((d, i) => (0, records_1.badRecord)(policy, report, file, lines[i], `duplicate pid ${d.pid} (the first occurrence is kept)`));
}
function countTabs(bytes, from = 0) {
    let n = 0;
    let i = bytes.indexOf(0x09, from);
    while (i >= 0) {
        n++;
        i = bytes.indexOf(0x09, i + 1);
    }
    return n;
}
function isBlankBytes(bytes) {
    for (let i = 0; i < bytes.length; i++) {
        const c = bytes[i];
        if (c !== 0x20 && c !== 0x09 && c !== 0x0d)
            return false;
    }
    return true;
}
function bomLength(bytes, offset) {
    return offset === 0 && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
}
/** The canonical non-negative integer < 2^32 spelled by bytes[from, to), or -1 (so "007" is not 7). */
function parseCanonicalU32(bytes, from, to) {
    const len = to - from;
    if (len < 1 || len > 10)
        return -1;
    if (len > 1 && bytes[from] === 0x30)
        return -1;
    let v = 0;
    for (let i = from; i < to; i++) {
        const d = bytes[i] - 0x30;
        if (d < 0 || d > 9)
            return -1;
        v = v * 10 + d;
    }
    return v <= 0xffffffff ? v : -1;
}
// ---------------------------------------------------------------------------------------------------------
// collection.tsv: pid → byte offset
/**
 * pid → byte offset of the passage in collection.tsv, built in one streaming pass. Canonical integer pids
 * (MS MARCO's) are kept in typed arrays: a dense offset table when the pids are 0..n-1 in order (as in MS
 * MARCO: 8 bytes per passage), otherwise a sorted pid table searched by bisection (12 bytes per passage).
 * A collection with any other pid falls back to a Map from pid to offset (ids only; never the passages).
 * A duplicated pid is a bad record; the first occurrence is kept.
 */
class CollectionIndex {
    file;
    pids;
    offsets;
    map;
    reader;
    constructor(file, 
    /** Sorted pids; null when dense (the pid is the index into offsets). */
    pids, offsets, map) {
        this.file = file;
        this.pids = pids;
        this.offsets = offsets;
        this.map = map;
        this.reader = new LineReader(file);
    }
    /** Number of passages indexed. */
    get size() {
        return this.map ? this.map.size : this.offsets.length;
    }
    /** True when the index is numeric and dense (pid i at position i). */
    get dense() {
        return this.map === null && this.pids === null;
    }
    /** Byte offset of the passage with this pid, or -1. */
    offsetOf(pid) {
        if (this.map) {
            const o = this.map.get(pid);
            return o === undefined ? -1 : o;
        }
        const b = Buffer.from(pid, 'utf8');
        const n = parseCanonicalU32(b, 0, b.length);
        if (n < 0)
            return -1;
        if (this.pids === null)
            return n < this.offsets.length ? this.offsets[n] : -1;
        let lo = 0;
        let hi = this.pids.length - 1;
        while (lo <= hi) {
            const mid = (lo + hi) >>> 1;
            const v = this.pids[mid];
            if (v === n)
                return this.offsets[mid];
            if (v < n)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
        return -1;
    }
    has(pid) {
        return this.offsetOf(pid) >= 0;
    }
    /** The passage text, read from disk; undefined if the pid is not in the collection. */
    get(pid) {
        const offset = this.offsetOf(pid);
        return offset < 0 ? undefined : this.reader.readLine(offset);
    }
    close() {
        this.reader.close();
    }
    /** Indexes collection.tsv (pid \t passage) in one streaming pass; the file must be uncompressed. */
    static async build(file, policy, report) {
        (0, records_1.checkUncompressed)('collection', file);
        let pids = new GrowableU32();
        const offsets = new GrowableF64();
        let map = null;
        let sorted = true;
        let last = -1;
        for await (const batch of (0, records_1.readRawLineBatches)(file)) {
            for (const { bytes, line, offset } of batch) {
                if (isBlankBytes(bytes))
                    continue;
                const start = bomLength(bytes, offset);
                const tab = bytes.indexOf(0x09, start);
                if (tab < 0 || bytes.indexOf(0x09, tab + 1) >= 0) {
                    const columns = tab < 0 ? 1 : 1 + countTabs(bytes, start);
                    (0, records_1.badRecord)(policy, report, file, line, `expected 2 tab-separated columns (pid, passage), got ${columns}`);
                    continue;
                }
                if (tab === start) {
                    (0, records_1.badRecord)(policy, report, file, line, '"pid" (column 1) is empty');
                    continue;
                }
                const passageOffset = offset + tab + 1;
                if (pids) {
                    const n = parseCanonicalU32(bytes, start, tab);
                    if (n >= 0) {
                        if (sorted && n === last) {
                            (0, records_1.badRecord)(policy, report, file, line, `duplicate pid ${n} (the first occurrence is kept)`);
                            continue;
                        }
                        if (n < last)
                            sorted = false;
                        last = n;
                        pids.push(n);
                        offsets.push(passageOffset);
                        continue;
                    }
                    // A non-numeric pid: switch to a Map for the whole collection.
                    map = new Map();
                    const sortedSoFar = sortNumericIndex(pids.trimmed(), offsets.trimmed(), sorted);
                    for (let i = 0; i < sortedSoFar.pids.length; i++)
                        map.set(String(sortedSoFar.pids[i]), sortedSoFar.offsets[i]);
                    reportDuplicates(sortedSoFar.duplicates, file, policy, report);
                    pids = null;
                }
                const pid = bytes.toString('utf8', start, tab);
                if (map.has(pid)) {
                    (0, records_1.badRecord)(policy, report, file, line, `duplicate pid ${pid} (the first occurrence is kept)`);
                    continue;
                }
                map.set(pid, passageOffset);
            }
        }
        if (map)
            return new CollectionIndex(file, null, null, map);
        const result = sortNumericIndex(pids.trimmed(), offsets.trimmed(), sorted);
        reportDuplicates(result.duplicates, file, policy, report);
        const n = result.pids.length;
        const dense = n === 0 || (result.pids[0] === 0 && result.pids[n - 1] === n - 1);
        return new CollectionIndex(file, dense ? null : result.pids, result.offsets, null);
    }
}
exports.CollectionIndex = CollectionIndex;
/** Sorts (pid, offset) pairs by pid (file order among equals) and drops later duplicates. */
function sortNumericIndex(pids, offsets, alreadySorted) {
    if (alreadySorted)
        return { pids, offsets, duplicates: [] }; // duplicates were caught in the pass
    const order = new Uint32Array(pids.length);
    for (let i = 0; i < order.length; i++)
        order[i] = i;
    order.sort((a, b) => pids[a] - pids[b] || a - b);
    const outPids = new Uint32Array(pids.length);
    const outOffsets = new Float64Array(pids.length);
    const duplicates = [];
    let n = 0;
    for (let i = 0; i < order.length; i++) {
        const j = order[i];
        if (n > 0 && outPids[n - 1] === pids[j]) {
            duplicates.push({ pid: pids[j], offset: offsets[j] });
            continue;
        }
        outPids[n] = pids[j];
        outOffsets[n] = offsets[j];
        n++;
    }
    duplicates.sort((a, b) => a.offset - b.offset);
    return { pids: outPids.slice(0, n), offsets: outOffsets.slice(0, n), duplicates };
}
/**
 * The lines of top1000.*.tsv (qid \t pid \t query \t passage) grouped by qid, as byte offsets: MS MARCO's
 * top1000 files are not grouped by qid, so one streaming pass records each line's offset and qid, and a
 * stable counting sort groups them; candidates are then read on demand. Queries come in the order of
 * their first line; candidates of a query in file order.
 */
class Top1000Index {
    file;
    qids;
    groupOf;
    lineOffsets;
    starts;
    reader;
    constructor(file, 
    /** qids in order of first appearance. */
    qids, groupOf, 
    /** Line offsets grouped by qid: group g is order[starts[g] .. starts[g + 1]). */
    lineOffsets, starts) {
        this.file = file;
        this.qids = qids;
        this.groupOf = groupOf;
        this.lineOffsets = lineOffsets;
        this.starts = starts;
        this.reader = new LineReader(file);
    }
    has(qid) {
        return this.groupOf.has(qid);
    }
    /** The candidates of a qid in file order (empty if the qid is not in the file). */
    candidates(qid) {
        const g = this.groupOf.get(qid);
        if (g === undefined)
            return [];
        const out = [];
        for (let i = this.starts[g]; i < this.starts[g + 1]; i++) {
            const text = this.reader.readLine(this.lineOffsets[i]);
            const cols = text.split('\t');
            if (cols.length !== 4 || cols[0].replace(/^\uFEFF/, '') !== qid) {
                throw new Error(`${this.file}: changed while being read (the line at byte ${this.lineOffsets[i]} is not what was indexed)`);
            }
            out.push({ pid: cols[1], query: cols[2], passage: cols[3] });
        }
        return out;
    }
    close() {
        this.reader.close();
    }
    static async build(file, policy, report) {
        (0, records_1.checkUncompressed)('top1000', file);
        const groupOf = new Map();
        const qids = [];
        const lineGroup = new GrowableU32();
        const lineOffset = new GrowableF64();
        for await (const batch of (0, records_1.readRawLineBatches)(file)) {
            for (const { bytes, line, offset } of batch) {
                if (isBlankBytes(bytes))
                    continue;
                const start = bomLength(bytes, offset);
                const tabs = countTabs(bytes, start);
                if (tabs !== 3) {
                    (0, records_1.badRecord)(policy, report, file, line, `expected 4 tab-separated columns (qid, pid, query, passage), got ${tabs + 1}`);
                    continue;
                }
                const t1 = bytes.indexOf(0x09, start);
                const t2 = bytes.indexOf(0x09, t1 + 1);
                const t3 = bytes.indexOf(0x09, t2 + 1);
                if (t1 === start) {
                    (0, records_1.badRecord)(policy, report, file, line, '"qid" (column 1) is empty');
                    continue;
                }
                if (t2 === t1 + 1) {
                    (0, records_1.badRecord)(policy, report, file, line, '"pid" (column 2) is empty');
                    continue;
                }
                if (isBlankBytes(bytes.subarray(t2 + 1, t3))) {
                    (0, records_1.badRecord)(policy, report, file, line, '"query" (column 3) is empty');
                    continue;
                }
                const qid = bytes.toString('utf8', start, t1);
                let g = groupOf.get(qid);
                if (g === undefined) {
                    g = qids.length;
                    groupOf.set(qid, g);
                    qids.push(qid);
                }
                lineGroup.push(g);
                lineOffset.push(offset);
            }
        }
        // Stable counting sort of lines by group.
        const groups = qids.length;
        const starts = new Uint32Array(groups + 1);
        for (let i = 0; i < lineGroup.length; i++)
            starts[lineGroup.data[i] + 1]++;
        for (let g = 0; g < groups; g++)
            starts[g + 1] += starts[g];
        const fill = starts.slice(0, groups);
        const grouped = new Float64Array(lineGroup.length);
        for (let i = 0; i < lineGroup.length; i++)
            grouped[fill[lineGroup.data[i]]++] = lineOffset.data[i];
        return new Top1000Index(file, qids, groupOf, grouped, starts);
    }
}
exports.Top1000Index = Top1000Index;
// ---------------------------------------------------------------------------------------------------------
// queries / qrels
/** queries.*.tsv (qid \t query) → Map; a duplicated qid is a bad record (the first is kept). */
async function readQueries(file, policy, report) {
    const queries = new Map();
    for await (const { text, line } of (0, records_1.readTextLines)(file)) {
        const cols = text.split('\t');
        if (cols.length !== 2) {
            (0, records_1.badRecord)(policy, report, file, line, `expected 2 tab-separated columns (qid, query), got ${cols.length}`);
            continue;
        }
        const [qid, query] = cols;
        if (qid === '') {
            (0, records_1.badRecord)(policy, report, file, line, '"qid" (column 1) is empty');
            continue;
        }
        if (query.trim() === '') {
            (0, records_1.badRecord)(policy, report, file, line, '"query" (column 2) is empty');
            continue;
        }
        if (queries.has(qid)) {
            (0, records_1.badRecord)(policy, report, file, line, `duplicate qid ${qid} (the first occurrence is kept)`);
            continue;
        }
        queries.set(qid, query);
    }
    return queries;
}
/**
 * qrels (qid 0 pid rel; tab- or space-separated, as in MS MARCO and TREC) → qid → judgements, in order of
 * first appearance. `check`, when given, returns a reason to reject a line (unknown qid/pid).
 */
async function readQrels(file, policy, report, check) {
    const qrels = new Map();
    for await (const { text, line } of (0, records_1.readTextLines)(file)) {
        const cols = text.trim().split(/\s+/);
        if (cols.length !== 4) {
            (0, records_1.badRecord)(policy, report, file, line, `expected 4 columns (qid, iteration, pid, relevance), got ${cols.length}`);
            continue;
        }
        const [qid, , pid, rel] = cols;
        const relevance = Number(rel);
        if (!Number.isFinite(relevance)) {
            (0, records_1.badRecord)(policy, report, file, line, `"relevance" (column 4) must be a number, got ${JSON.stringify(rel)}`);
            continue;
        }
        const problem = check?.(qid, pid);
        if (problem) {
            (0, records_1.badRecord)(policy, report, file, line, problem);
            continue;
        }
        let list = qrels.get(qid);
        if (!list)
            qrels.set(qid, (list = []));
        list.push({ pid, relevance, line });
    }
    return qrels;
}
// ---------------------------------------------------------------------------------------------------------
// Training
/** triples.train.small.tsv: query \t positive \t negative → a group of 1 positive + 1 negative. */
async function* readTriples(file, policy, report) {
    for await (const { text, line } of (0, records_1.readTextLines)(file)) {
        const cols = text.split('\t');
        if (cols.length !== 3) {
            (0, records_1.badRecord)(policy, report, file, line, `expected 3 tab-separated columns (query, positive passage, negative passage), got ${cols.length}`);
            continue;
        }
        const [query, positive, negative] = cols;
        if (query.trim() === '') {
            (0, records_1.badRecord)(policy, report, file, line, '"query" (column 1) is empty');
            continue;
        }
        yield { record: { kind: 'group', query, positives: [positive], negatives: [negative] }, file, line };
    }
}
/**
 * MS MARCO training groups. With `triples`: one group per line. Otherwise queries + qrels + collection
 * (+ top1000), one group per qid of qrels (in order of first appearance; located at its first qrels line):
 * positives = qrels with relevance > 0 (text from the collection), negatives = qrels with relevance <= 0
 * (judged non-relevant), then the top1000 candidates of that qid that are not in its qrels, in file order.
 * A qid without a positive judgement yields nothing. Without top1000 most groups have no negatives
 * (sampleGroup then rejects them).
 */
async function* readMsmarcoTrain(source, policy, report) {
    if (source.triples) {
        yield* readTriples(source.triples, policy, report);
        return;
    }
    const queriesFile = source.queries;
    const collectionFile = source.collection;
    const qrelsFile = source.qrels;
    const queries = await readQueries(queriesFile, policy, report);
    const collection = await CollectionIndex.build(collectionFile, policy, report);
    let top1000 = null;
    try {
        const qrels = await readQrels(qrelsFile, policy, report, (qid, pid) => {
            if (!queries.has(qid))
                return `qid ${qid} (column 1) is not in ${queriesFile}`;
            if (!collection.has(pid))
                return `pid ${pid} (column 3) is not in ${collectionFile}`;
            return null;
        });
        if (source.top1000)
            top1000 = await Top1000Index.build(source.top1000, policy, report);
        for (const [qid, judged] of qrels) {
            const positives = [];
            const negatives = [];
            const seen = new Set();
            for (const q of judged) {
                if (seen.has(q.pid))
                    continue;
                seen.add(q.pid);
                (q.relevance > 0 ? positives : negatives).push(collection.get(q.pid));
            }
            if (positives.length === 0)
                continue;
            if (top1000) {
                for (const c of top1000.candidates(qid)) {
                    if (seen.has(c.pid))
                        continue;
                    seen.add(c.pid);
                    negatives.push(c.passage);
                }
            }
            const record = { kind: 'group', query: queries.get(qid), positives, negatives };
            yield { record, file: qrelsFile, line: judged[0].line };
        }
    }
    finally {
        collection.close();
        top1000?.close();
    }
}
// ---------------------------------------------------------------------------------------------------------
// Evaluation
/**
 * top1000 + qrels → one EvalQuery per qid of top1000 (in order of first appearance): documents = its
 * candidates in file order, relevance from qrels (0 when not judged), the query text from top1000.
 */
async function* readMsmarcoEval(source, policy, report) {
    const qrels = await readQrels(source.qrels, policy, report);
    const top1000 = await Top1000Index.build(source.top1000, policy, report);
    try {
        for (const qid of top1000.qids) {
            const judged = new Map();
            for (const q of qrels.get(qid) ?? [])
                if (!judged.has(q.pid))
                    judged.set(q.pid, q.relevance);
            const candidates = top1000.candidates(qid);
            yield {
                qid,
                query: candidates[0].query,
                documents: candidates.map((c) => c.passage),
                relevance: candidates.map((c) => judged.get(c.pid) ?? 0),
            };
        }
    }
    finally {
        top1000.close();
    }
}
