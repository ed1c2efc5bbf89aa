"use strict";
// BM25 first-stage retrieval: an in-memory inverted index over typed arrays.
//
//   idf(t)      = ln(1 + (N - df + 0.5) / (df + 0.5))                      (Lucene's, always > 0)
//   score(q, d) = Σ_{t in q} idf(t) · tf·(k1 + 1) / (tf + k1·(1 - b + b·dl/avgdl))
//
// with tf the term's count in d, dl d's length in tokens and avgdl the corpus mean; a term repeated in the
// query counts once per occurrence (as in Lucene's BooleanQuery of term clauses, or rank_bm25). Defaults
// k1 = 0.9, b = 0.4 (Anserini's). Scores are computed in double precision, exactly by the formula.
//
// Tokens: the text is lowercased and split into runs of Unicode letters, digits and marks; runs of CJK
// characters (Han, Hiragana, Katakana, Hangul) become overlapping character bigrams instead, a lone CJK
// character a unigram, so Chinese or Japanese text without spaces still matches.
Object.defineProperty(exports, "__esModule", { value: true });
exports.Bm25Index = void 0;
exports.tokenize = tokenize;
exports.bm25ScoreText = bm25ScoreText;
const util_1 = require("../util");
// ---------------------------------------------------------------------------------------------------------
// Tokenizer
const SEP = 0;
const WORD = 1;
const CJK = 2;
const RE_WORD = /[\p{L}\p{N}\p{M}]/u;
const RE_CJK = /[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}]/u;
const classBmp = new Int8Array(0x10000).fill(-1);
const classAstral = new Map();
function classifySlow(cp) {
    const ch = String.fromCodePoint(cp);
    if (!RE_WORD.test(ch))
        return SEP;
    return RE_CJK.test(ch) ? CJK : WORD;
}
function charClass(cp) {
    if (cp < 0x10000) {
        let c = classBmp[cp];
        if (c < 0) {
            c = classifySlow(cp);
            classBmp[cp] = c;
        }
        return c;
    }
    let c = classAstral.get(cp);
    if (c === undefined) {
        c = classifySlow(cp);
        classAstral.set(cp, c);
    }
    return c;
}
/** The default tokenizer: lowercase; letter/digit runs; CJK runs as overlapping bigrams (lone char: unigram). */
function tokenize(text) {
    const s = text.toLowerCase();
    const out = [];
    const n = s.length;
    let i = 0;
    const cjkStarts = []; // code-unit offsets of the code points of the current CJK run
    while (i < n) {
        const cp = s.codePointAt(i); // a lone surrogate comes back as itself, one unit wide
        const w = cp > 0xffff ? 2 : 1;
        const cls = charClass(cp);
        if (cls === SEP) {
            i += w;
            continue;
        }
        const start = i;
        if (cls === WORD) {
            i += w;
            while (i < n) {
                const c2 = s.codePointAt(i);
                const w2 = c2 > 0xffff ? 2 : 1;
                if (charClass(c2) !== WORD)
                    break;
                i += w2;
            }
            out.push(s.slice(start, i));
            continue;
        }
        // CJK run
        cjkStarts.length = 0;
        cjkStarts.push(i);
        i += w;
        while (i < n) {
            const c2 = s.codePointAt(i);
            const w2 = c2 > 0xffff ? 2 : 1;
            if (charClass(c2) !== CJK)
                break;
            cjkStarts.push(i);
            i += w2;
        }
        if (cjkStarts.length === 1)
            out.push(s.slice(start, i));
        else {
            cjkStarts.push(i);
            for (let j = 0; j + 2 < cjkStarts.length; j++)
                out.push(s.slice(cjkStarts[j], cjkStarts[j + 2]));
        }
    }
    return out;
}
// ---------------------------------------------------------------------------------------------------------
// Index
/** Ensures a per-term Int32Array holds index `i`. */
function ensure(arr, i, fill = 0) {
    if (i < arr.length)
        return arr;
    const next = new Int32Array(Math.max(arr.length * 2, i + 1));
    next.set(arr);
    if (fill !== 0)
        next.fill(fill, arr.length);
    return next;
}
const MAGIC = 'BM25IDX1';
class Bm25Index {
    k1;
    b;
    numDocs;
    avgdl;
    tok;
    terms;
    vocab;
    docLen;
    /** CSR: postings of term t are [offsets[t], offsets[t+1]) in postDocs (ascending) / postTf. */
    offsets;
    postDocs;
    postTf;
    idf;
    /** k1·(1 - b + b·dl/avgdl) per document. */
    norm;
    // Scratch for search (single-threaded; reset after each query).
    acc;
    touched;
    constructor(parts, opts) {
        this.k1 = opts.k1 ?? 0.9;
        this.b = opts.b ?? 0.4;
        if (!(this.k1 >= 0) || !(this.b >= 0 && this.b <= 1))
            throw new Error(`bm25: need k1 >= 0 and 0 <= b <= 1`);
        this.tok = opts.tokenize ?? tokenize;
        this.vocab = parts.vocab;
        this.terms = new Map();
        for (let t = 0; t < parts.vocab.length; t++)
            this.terms.set(parts.vocab[t], t);
        this.docLen = parts.docLen;
        this.offsets = parts.offsets;
        this.postDocs = parts.postDocs;
        this.postTf = parts.postTf;
        const N = parts.docLen.length;
        this.numDocs = N;
        let total = 0;
        for (let d = 0; d < N; d++)
            total += parts.docLen[d];
        this.avgdl = N > 0 ? total / N : 0;
        const T = parts.vocab.length;
        this.idf = new Float64Array(T);
        for (let t = 0; t < T; t++) {
            const df = parts.offsets[t + 1] - parts.offsets[t];
            this.idf[t] = Math.log(1 + (N - df + 0.5) / (df + 0.5));
        }
        this.norm = new Float64Array(N);
        const avg = this.avgdl > 0 ? this.avgdl : 1;
        for (let d = 0; d < N; d++)
            this.norm[d] = this.k1 * (1 - this.b + (this.b * parts.docLen[d]) / avg);
        this.acc = new Float64Array(N);
        this.touched = new Int32Array(N);
    }
    /** Indexes `docs` (their positions are the hit indices). */
    static build(docs, opts = {}) {
        const tok = opts.tokenize ?? tokenize;
        const N = docs.length;
        const terms = new Map();
        const vocab = [];
        const docLen = new Int32Array(N);
        let seen = new Int32Array(1024).fill(-1); // last doc that saw term t
        let count = new Int32Array(1024); // tf of term t in the current doc
        let df = new Int32Array(1024);
        const tripTerm = new util_1.GrowableArray(Int32Array, 1 << 16);
        const tripTf = new util_1.GrowableArray(Int32Array, 1 << 16);
        const docStart = new Int32Array(N + 1);
        const uniq = [];
        for (let d = 0; d < N; d++) {
            docStart[d] = tripTerm.length;
            const tokens = tok(docs[d]);
            docLen[d] = tokens.length;
            uniq.length = 0;
            for (const token of tokens) {
                let id = terms.get(token);
                if (id === undefined) {
                    id = vocab.length;
                    terms.set(token, id);
                    vocab.push(token);
                    if (id >= seen.length) {
                        seen = ensure(seen, id, -1);
                        count = ensure(count, id);
                        df = ensure(df, id);
                    }
                }
                if (seen[id] !== d) {
                    seen[id] = d;
                    count[id] = 1;
                    uniq.push(id);
                }
                else
                    count[id]++;
            }
            for (const id of uniq) {
                tripTerm.push(id);
                tripTf.push(count[id]);
                df[id]++;
            }
        }
        docStart[N] = tripTerm.length;
        const T = vocab.length;
        const P = tripTerm.length;
        const offsets = new Int32Array(T + 1);
        for (let t = 0; t < T; t++)
            offsets[t + 1] = offsets[t] + df[t];
        const cursor = offsets.slice(0, T);
        const postDocs = new Int32Array(P);
        const postTf = new Int32Array(P);
        const tt = tripTerm.data;
        const tf = tripTf.data;
        for (let d = 0; d < N; d++) {
            for (let j = docStart[d]; j < docStart[d + 1]; j++) {
                const pos = cursor[tt[j]]++;
                postDocs[pos] = d;
                postTf[pos] = tf[j];
            }
        }
        return new Bm25Index({ vocab, docLen, offsets, postDocs, postTf }, opts);
    }
    /** Number of distinct terms. */
    get vocabularySize() {
        return this.vocab.length;
    }
    /** Document frequency of a (tokenized) term; 0 when unknown. */
    docFreq(term) {
        const t = this.terms.get(term);
        return t === undefined ? 0 : this.offsets[t + 1] - this.offsets[t];
    }
    /** Length in tokens of document `index`. */
    docLength(index) {
        return this.docLen[index];
    }
    /** Query terms known to the index, with how often each occurs in the query. */
    queryTerms(query) {
        const q = new Map();
        for (const token of this.tok(query)) {
            const t = this.terms.get(token);
            if (t !== undefined)
                q.set(t, (q.get(t) ?? 0) + 1);
        }
        return q;
    }
    /** The `k` best documents for `query`, best first; equal scores by ascending index. Only matching documents. */
    search(query, k) {
        k = Math.floor(k);
        if (!(k > 0))
            return [];
        const acc = this.acc;
        const touched = this.touched;
        const { offsets, postDocs, postTf, norm, idf } = this;
        const k1p1 = this.k1 + 1;
        let nTouched = 0;
        for (const [t, qtf] of this.queryTerms(query)) {
            const w = idf[t] * qtf * k1p1;
            for (let p = offsets[t], end = offsets[t + 1]; p < end; p++) {
                const d = postDocs[p];
                const f = postTf[p];
                if (acc[d] === 0)
                    touched[nTouched++] = d;
                acc[d] += (w * f) / (f + norm[d]);
            }
        }
        const hits = topK(acc, touched, nTouched, Math.min(k, nTouched));
        for (let i = 0; i < nTouched; i++)
            acc[touched[i]] = 0;
        return hits;
    }
    /** The BM25 score of one document for `query` (0 when no query term occurs in it). */
    scoreDocument(query, index) {
        if (!(index >= 0 && index < this.numDocs))
            throw new RangeError(`bm25: no document ${index}`);
        let score = 0;
        for (const [t, qtf] of this.queryTerms(query)) {
            const f = this.tfOf(t, index);
            if (f > 0)
                score += (this.idf[t] * qtf * (this.k1 + 1) * f) / (f + this.norm[index]);
        }
        return score;
    }
    tfOf(t, doc) {
        let lo = this.offsets[t];
        let hi = this.offsets[t + 1] - 1;
        const docs = this.postDocs;
        while (lo <= hi) {
            const mid = (lo + hi) >>> 1;
            const v = docs[mid];
            if (v === doc)
                return this.postTf[mid];
            if (v < doc)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
        return 0;
    }
    /** The index as bytes (vocabulary, document lengths, postings); k1/b/tokenizer are given again on load. */
    serialize() {
        const header = Buffer.from(JSON.stringify({ numDocs: this.numDocs, numTerms: this.vocab.length, numPostings: this.postDocs.length, vocab: this.vocab }), 'utf8');
        const pad = (8 - ((MAGIC.length + 4 + header.length) % 8)) % 8;
        const arrays = [this.docLen, this.offsets, this.postDocs, this.postTf];
        const size = MAGIC.length + 4 + header.length + pad + arrays.reduce((s, a) => s + a.byteLength, 0);
        const buf = Buffer.alloc(size);
        let o = buf.write(MAGIC, 0, 'latin1');
        buf.writeUInt32LE(header.length, o);
        o += 4;
        header.copy(buf, o);
        o += header.length + pad;
        for (const a of arrays) {
            Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(buf, o);
            o += a.byteLength;
        }
        return buf;
    }
    /** Reads bytes from `serialize`. Pass the tokenizer used at build time, if it was not the default. */
    static deserialize(buf, opts = {}) {
        if (buf.toString('latin1', 0, MAGIC.length) !== MAGIC)
            throw new Error('bm25: not a serialized index');
        let o = MAGIC.length;
        const hlen = buf.readUInt32LE(o);
        o += 4;
        const header = JSON.parse(buf.toString('utf8', o, o + hlen));
        o += hlen;
        o += (8 - (o % 8)) % 8;
        const take = (n) => {
            const a = new Int32Array(n);
            Buffer.from(a.buffer).set(buf.subarray(o, o + n * 4));
            o += n * 4;
            return a;
        };
        const docLen = take(header.numDocs);
        const offsets = take(header.numTerms + 1);
        const postDocs = take(header.numPostings);
        const postTf = take(header.numPostings);
        if (o !== buf.length)
            throw new Error('bm25: serialized index has the wrong size');
        return new Bm25Index({ vocab: header.vocab, docLen, offsets, postDocs, postTf }, opts);
    }
}
exports.Bm25Index = Bm25Index;
/** True when (sa, ia) ranks below (sb, ib): lower score, or equal score and higher index. */
function worse(sa, ia, sb, ib) {
    return sa < sb || (sa === sb && ia > ib);
}
/** The k best of the touched documents by acc, best first (ties: ascending index), via a bounded min-heap. */
function topK(acc, touched, n, k) {
    if (k <= 0)
        return [];
    const hs = new Float64Array(k);
    const hi = new Int32Array(k);
    let size = 0;
    const swap = (a, b) => {
        const ts = hs[a];
        const ti = hi[a];
        hs[a] = hs[b];
        hi[a] = hi[b];
        hs[b] = ts;
        hi[b] = ti;
    };
    const siftDown = (i) => {
        for (;;) {
            const l = 2 * i + 1;
            if (l >= size)
                return;
            const r = l + 1;
            let m = l;
            if (r < size && worse(hs[r], hi[r], hs[l], hi[l]))
                m = r;
            if (!worse(hs[m], hi[m], hs[i], hi[i]))
                return;
            swap(i, m);
            i = m;
        }
    };
    for (let j = 0; j < n; j++) {
        const d = touched[j];
        const s = acc[d];
        if (size < k) {
            let i = size++;
            hs[i] = s;
            hi[i] = d;
            while (i > 0) {
                const p = (i - 1) >> 1;
                if (!worse(hs[i], hi[i], hs[p], hi[p]))
                    break;
                swap(i, p);
                i = p;
            }
        }
        else if (worse(hs[0], hi[0], s, d)) {
            hs[0] = s;
            hi[0] = d;
            siftDown(0);
        }
    }
    const out = [];
    for (let i = 0; i < size; i++)
        out.push({ index: hi[i], score: hs[i] });
    out.sort((a, b) => (b.score !== a.score ? b.score - a.score : a.index - b.index));
    return out;
}
/**
 * The BM25 score `index` would give a document with this text (which need not be in the index), from the
 * index's statistics: terms unknown to the index contribute nothing, as in search. Default tokenizer only.
 */
function bm25ScoreText(index, query, text) {
    const tf = new Map();
    const tokens = tokenize(text);
    for (const t of tokens)
        tf.set(t, (tf.get(t) ?? 0) + 1);
    const qtf = new Map();
    for (const t of tokenize(query))
        if (index.docFreq(t) > 0)
            qtf.set(t, (qtf.get(t) ?? 0) + 1);
    const avg = index.avgdl > 0 ? index.avgdl : 1;
    const norm = index.k1 * (1 - index.b + (index.b * tokens.length) / avg);
    const N = index.numDocs;
    let score = 0;
    for (const [t, q] of qtf) {
        const f = tf.get(t) ?? 0;
        if (f === 0)
            continue;
        const df = index.docFreq(t);
        const idf = Math.log(1 + (N - df + 0.5) / (df + 0.5));
        score += (idf * q * (index.k1 + 1) * f) / (f + norm);
    }
    return score;
}
