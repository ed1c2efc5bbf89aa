"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.MIN_DOCUMENT_LENGTH = exports.DEBDESC_SPLITS = void 0;
exports.parseDeb822 = parseDeb822;
exports.parseDescription = parseDescription;
exports.codePointLength = codePointLength;
exports.sourceName = sourceName;
exports.parseTranslation = parseTranslation;
exports.parsePackages = parsePackages;
exports.buildRows = buildRows;
exports.splitOfSource = splitOfSource;
exports.splitRows = splitRows;
exports.toJsonl = toJsonl;
exports.relevantIds = relevantIds;
exports.relevantIndices = relevantIndices;
exports.debdescDir = debdescDir;
exports.readJsonlGz = readJsonlGz;
exports.loadDebdesc = loadDebdesc;
// The bundled "debdesc" retrieval data set: Debian bookworm main package descriptions.
//
// Each row is one binary package: `query` is its one-line synopsis, `document` its long description. The
// builder (scripts/build-debdesc.ts) uses the pure functions here to parse apt's Translation-en and
// Packages lists, join them, split rows by source package and serialize them; `loadDebdesc` streams the
// committed data/debdesc/<split>.jsonl.gz files back, and `relevantIds` says which documents answer a query.
const node_crypto_1 = __importDefault(require("node:crypto"));
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const node_readline_1 = __importDefault(require("node:readline"));
const node_zlib_1 = __importDefault(require("node:zlib"));
exports.DEBDESC_SPLITS = ['train', 'dev', 'test'];
/** Rows whose document is shorter than this many characters (code points) are dropped. */
exports.MIN_DOCUMENT_LENGTH = 40;
/**
 * Parses deb822 text (apt's Packages, Sources, Translation-* lists) into stanzas. Stanzas are separated by
 * blank lines; a line starting with a space or tab continues the previous field (kept verbatim, leading
 * whitespace included). Lines starting with '#' are comments. `wanted`, when given, limits the fields kept.
 */
function* parseDeb822(text, wanted) {
    let stanza = new Map();
    let current = null; // the field that continuation lines extend, if kept
    let start = 0;
    const n = text.length;
    while (start < n) {
        let end = text.indexOf('\n', start);
        if (end < 0)
            end = n;
        let line = text.slice(start, end);
        start = end + 1;
        if (line.endsWith('\r'))
            line = line.slice(0, -1);
        if (line.trim() === '') {
            if (stanza.size > 0)
                yield stanza;
            stanza = new Map();
            current = null;
            continue;
        }
        const c = line.charCodeAt(0);
        if (c === 0x20 || c === 0x09) {
            if (current !== null)
                stanza.set(current, `${stanza.get(current)}\n${line}`);
            continue;
        }
        if (c === 0x23)
            continue; // '#'
        const colon = line.indexOf(':');
        if (colon <= 0)
            throw new Error(`deb822: malformed line ${JSON.stringify(line.slice(0, 80))}`);
        const name = line.slice(0, colon);
        if (wanted && !wanted.has(name)) {
            current = null;
            continue;
        }
        stanza.set(name, line.slice(colon + 1).trim());
        current = name;
    }
    if (stanza.size > 0)
        yield stanza;
}
/**
 * Splits a Description field value (first line = synopsis, continuation lines each starting with one space,
 * " ." = paragraph break) into synopsis and long description. Each line is trimmed, so verbatim lines
 * (two leading spaces) join their paragraph like any other; empty paragraphs vanish.
 */
function parseDescription(value) {
    const lines = value.split('\n');
    const synopsis = lines[0].trim();
    const paragraphs = [];
    let para = [];
    const flush = () => {
        if (para.length > 0)
            paragraphs.push(para.join(' '));
        para = [];
    };
    for (let i = 1; i < lines.length; i++) {
        const line = lines[i].trim();
        if (line === '.')
            flush();
        else if (line !== '')
            para.push(line);
    }
    flush();
    return { synopsis, long: paragraphs.join('\n') };
}
/** Number of Unicode code points (what "characters" means for the minimum document length). */
function codePointLength(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
            const d = s.charCodeAt(i + 1);
            if (d >= 0xdc00 && d <= 0xdfff)
                i++;
        }
        n++;
    }
    return n;
}
/** "name (version)" → "name"; "name" → "name". */
function sourceName(field) {
    const s = field.trim();
    const paren = s.indexOf('(');
    return (paren >= 0 ? s.slice(0, paren) : s).trim();
}
/** Parses a Translation-<lang> list (stanzas of Package, Description-md5, Description-<lang>). */
function parseTranslation(text, lang = 'en') {
    const descField = `Description-${lang}`;
    const wanted = new Set(['Package', 'Description-md5', descField]);
    const out = [];
    for (const st of parseDeb822(text, wanted)) {
        const pkg = st.get('Package');
        const desc = st.get(descField);
        if (!pkg || desc === undefined)
            continue;
        const { synopsis, long } = parseDescription(desc);
        out.push({ pkg, md5: st.get('Description-md5') || null, synopsis, long });
    }
    return out;
}
/** Parses a Packages list, keeping only what the join needs: Package, Source (name only), Description-md5. */
function parsePackages(text) {
    const wanted = new Set(['Package', 'Source', 'Description-md5']);
    const out = [];
    for (const st of parseDeb822(text, wanted)) {
        const pkg = st.get('Package');
        if (!pkg)
            continue;
        const src = st.get('Source');
        out.push({ pkg, source: src ? sourceName(src) || pkg : pkg, md5: st.get('Description-md5') || null });
    }
    return out;
}
/**
 * Joins Translation-en to Packages: one row per package name in Translation-en. When a name has several
 * Translation entries, the one whose Description-md5 a Packages entry of that name carries wins, else the
 * first in file order; the source comes from that Packages entry (or the first of that name), or is the
 * package itself when Packages lacks the name. Rows with a document under the minimum length are dropped.
 * Returned sorted by id (code-unit order).
 */
function buildRows(translations, packages, opts = {}) {
    const minLen = opts.minDocumentLength ?? exports.MIN_DOCUMENT_LENGTH;
    const pkgsByName = new Map();
    for (const p of packages) {
        const list = pkgsByName.get(p.pkg);
        if (list)
            list.push(p);
        else
            pkgsByName.set(p.pkg, [p]);
    }
    const transByName = new Map();
    for (const t of translations) {
        const list = transByName.get(t.pkg);
        if (list)
            list.push(t);
        else
            transByName.set(t.pkg, [t]);
    }
    const stats = { translated: transByName.size, inPackages: 0, md5Matched: 0, dropped: 0 };
    const rows = [];
    for (const [name, entries] of transByName) {
        const pkgs = pkgsByName.get(name);
        let chosen = entries[0];
        let source = name;
        if (pkgs) {
            stats.inPackages++;
            source = pkgs[0].source;
            let matched = false;
            for (const p of pkgs) {
                if (p.md5 === null)
                    continue;
                const t = entries.find((e) => e.md5 === p.md5);
                if (t) {
                    chosen = t;
                    source = p.source;
                    matched = true;
                    break;
                }
            }
            if (matched)
                stats.md5Matched++;
        }
        if (codePointLength(chosen.long) < minLen) {
            stats.dropped++;
            continue;
        }
        rows.push({ id: name, source, query: chosen.synopsis, document: chosen.long });
    }
    rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { rows, stats };
}
// ---------------------------------------------------------------------------------------------------------
// Splits and serialization
/** SHA-1 of the source name (UTF-8) as a big integer, mod 100: < 5 test, < 10 dev, else train. */
function splitOfSource(source) {
    const hex = node_crypto_1.default.createHash('sha1').update(source, 'utf8').digest('hex');
    const bucket = Number(BigInt(`0x${hex}`) % 100n);
    return bucket < 5 ? 'test' : bucket < 10 ? 'dev' : 'train';
}
/** Partitions rows by `splitOfSource(row.source)`, keeping their order. */
function splitRows(rows) {
    const out = { train: [], dev: [], test: [] };
    const memo = new Map();
    for (const r of rows) {
        let s = memo.get(r.source);
        if (s === undefined) {
            s = splitOfSource(r.source);
            memo.set(r.source, s);
        }
        out[s].push(r);
    }
    return out;
}
/** One JSON object per line, keys in the order id, source, query, document; '\n' after every line. */
function toJsonl(rows) {
    let out = '';
    for (const r of rows) {
        out += JSON.stringify({ id: r.id, source: r.source, query: r.query, document: r.document });
        out += '\n';
    }
    return out;
}
// ---------------------------------------------------------------------------------------------------------
// Relevance
/**
 * For each query row, the ids of its relevant documents among `corpus` (default: the queries themselves):
 * its own package's id plus every corpus row whose document text is identical to its own. Ids are sorted.
 */
function relevantIds(queries, corpus = queries) {
    const byText = new Map();
    for (const r of corpus) {
        const list = byText.get(r.document);
        if (list)
            list.push(r.id);
        else
            byText.set(r.document, [r.id]);
    }
    const out = new Map();
    for (const q of queries) {
        const ids = new Set(byText.get(q.document) ?? []);
        ids.add(q.id);
        out.set(q.id, [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return out;
}
/**
 * The same rule by position: for each query, the indices in `corpus` of its relevant documents (the corpus
 * row with the query's id, if present, and every row with an identical document), ascending.
 */
function relevantIndices(queries, corpus) {
    const byText = new Map();
    const byId = new Map();
    corpus.forEach((r, i) => {
        byId.set(r.id, i);
        const list = byText.get(r.document);
        if (list)
            list.push(i);
        else
            byText.set(r.document, [i]);
    });
    return queries.map((q) => {
        const set = new Set(byText.get(q.document) ?? []);
        const own = byId.get(q.id);
        if (own !== undefined)
            set.add(own);
        return [...set].sort((a, b) => a - b);
    });
}
// ---------------------------------------------------------------------------------------------------------
// Loading the committed files
/** data/debdesc of this package: found by walking up from this module to the folder holding package.json. */
function debdescDir() {
    let dir = __dirname;
    for (;;) {
        const candidate = node_path_1.default.join(dir, 'data', 'debdesc');
        if (node_fs_1.default.existsSync(node_path_1.default.join(dir, 'package.json')) && node_fs_1.default.existsSync(candidate))
            return candidate;
        const up = node_path_1.default.dirname(dir);
        if (up === dir)
            break;
        dir = up;
    }
    throw new Error(`debdesc: no data/debdesc folder above ${__dirname}`);
}
/** Streams one gzipped JSONL file of rows. */
async function readJsonlGz(file) {
    const rows = [];
    const input = node_fs_1.default.createReadStream(file).pipe(node_zlib_1.default.createGunzip());
    const rl = node_readline_1.default.createInterface({ input, crlfDelay: Infinity });
    let lineNo = 0;
    for await (const line of rl) {
        lineNo++;
        if (line === '')
            continue;
        let obj;
        try {
            obj = JSON.parse(line);
        }
        catch (err) {
            throw new Error(`${file}:${lineNo}: invalid JSON (${err.message})`);
        }
        const r = obj;
        if (typeof r.id !== 'string' ||
            typeof r.source !== 'string' ||
            typeof r.query !== 'string' ||
            typeof r.document !== 'string') {
            throw new Error(`${file}:${lineNo}: a row needs string id, source, query and document`);
        }
        rows.push({ id: r.id, source: r.source, query: r.query, document: r.document });
    }
    return rows;
}
/**
 * Loads a split of the bundled data set (data/debdesc/<split>.jsonl.gz), or all three merged and sorted
 * by id ('all': the full corpus). `dir` overrides where the files are.
 */
async function loadDebdesc(split, opts = {}) {
    const dir = opts.dir ?? debdescDir();
    if (split !== 'all') {
        if (!exports.DEBDESC_SPLITS.includes(split))
            throw new Error(`debdesc: unknown split ${JSON.stringify(split)}`);
        return readJsonlGz(node_path_1.default.join(dir, `${split}.jsonl.gz`));
    }
    const parts = await Promise.all(exports.DEBDESC_SPLITS.map((s) => readJsonlGz(node_path_1.default.join(dir, `${s}.jsonl.gz`))));
    const all = parts.flat();
    all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return all;
}
