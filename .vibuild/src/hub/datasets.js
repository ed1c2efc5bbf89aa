"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.resolveDatasetSplit = resolveDatasetSplit;
// Datasets by their Hugging Face names: `{ hub: 'microsoft/ms_marco', config: 'v2.1', split: 'train' }` is the split's
// Parquet files, found as the `datasets` library finds them:
//   1. the README's YAML `configs:` (each config's `data_files`: split → path globs);
//   2. else the folder conventions `<config>/<split>-*.parquet`, `<config>/<split>/*.parquet`, `data/<split>-*.parquet`;
//   3. else the Hub's own Parquet conversion, the revision `refs/convert/parquet` (`<config>/<split>/NNNN.parquet`).
// The files are listed (not downloaded) up front and fetched into the Hugging Face cache one at a time, as reading
// reaches each, so a run that reads the first 10,000 rows downloads the first shard only. The short, legacy name
// (`ms_marco`) works as the Hub redirects it, and is cached under the name as given, as huggingface_hub does.
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const yaml_1 = __importDefault(require("yaml"));
const models_1 = require("./models");
const settings_1 = require("./settings");
const transfer_1 = require("./transfer");
const CONVERT_REVISION = 'refs/convert/parquet';
const SHARD = /^(.*)-(\d{5})-of-(\d{5})\.parquet$/;
/** The Parquet files of the source's split, sorted by path; nothing but the README is downloaded yet. */
async function resolveDatasetSplit(source, options = {}) {
    const settings = options.settings ?? (0, settings_1.hubSettings)();
    const { id, revision } = (0, models_1.parseHubId)(source.hub, source.revision);
    const open = (rev) => (0, transfer_1.openRepo)((0, transfer_1.repoOf)('dataset', id, rev), settings, {
        localFilesOnly: options.localFilesOnly, log: options.log,
        usable: (cache, sha) => node_fs_1.default.existsSync(cache.snapshotDir(sha)),
    });
    const split = source.split ?? options.defaultSplit;
    const main = await open(revision);
    const listing = await filesOf(main);
    const found = await fromReadme(main, listing, source.config, split) ?? fromConventions(listing, source.config, split);
    if (found)
        return splitOf(main, listing, found.config, found.split, found.paths);
    if (revision !== 'main') {
        throw new transfer_1.HubError(`${main.repo.label}: no Parquet files at revision "${revision}" (rrnative reads a dataset's Parquet files; ` +
            `the Hub converts datasets to Parquet under the revision ${CONVERT_REVISION})`);
    }
    // No Parquet in main: the Hub's conversion.
    let converted;
    try {
        converted = await open(CONVERT_REVISION);
    }
    catch (err) {
        if (!(err instanceof transfer_1.HubError) || !/no revision/.test(err.message))
            throw err;
        throw new transfer_1.HubError(`${main.repo.label}: no Parquet files, and no Parquet conversion (${CONVERT_REVISION}): ` +
            'rrnative reads a dataset\'s Parquet files; for JSON Lines, download them and give data.path');
    }
    const convertedListing = await filesOf(converted);
    const picked = fromConversion(converted, convertedListing, source.config, split);
    return splitOf(converted, convertedListing, picked.config, picked.split, picked.paths);
}
async function filesOf(opened) {
    if (opened.online) {
        const entries = await (0, transfer_1.listRepoFiles)(opened);
        return { paths: entries.map((e) => e.path).sort(), entries: new Map(entries.map((e) => [e.path, e])), cached: false };
    }
    return { paths: walk(opened.cache.snapshotDir(opened.sha)).sort(), entries: new Map(), cached: true };
}
function walk(dir, prefix = '') {
    const out = [];
    for (const entry of node_fs_1.default.readdirSync(dir, { withFileTypes: true })) {
        const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
        if (entry.isDirectory())
            out.push(...walk(node_path_1.default.join(dir, entry.name), rel));
        else if (node_fs_1.default.existsSync(node_path_1.default.join(dir, entry.name)))
            out.push(rel); // a link whose blob is gone does not count
    }
    return out;
}
/** datasets' glob: `*` within a folder, `**` across folders. */
function globToRegExp(glob) {
    const pattern = glob.split(/(\*\*\/?|\*|\?)/).map((part) => {
        if (part === '**/')
            return '(?:.*/)?';
        if (part === '**')
            return '.*';
        if (part === '*')
            return '[^/]*';
        if (part === '?')
            return '[^/]';
        return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }).join('');
    return new RegExp(`^${pattern.replace(/^\.\//, '')}$`);
}
// The README's `configs:` (https://huggingface.co/docs/hub/datasets-manual-configuration), when it has one.
async function fromReadme(opened, listing, config, split) {
    if (!listing.paths.includes('README.md'))
        return null;
    const entry = listing.entries.get('README.md');
    if (entry)
        await (0, transfer_1.downloadAll)(opened, [entry]);
    const text = node_fs_1.default.readFileSync(node_path_1.default.join(opened.cache.snapshotDir(opened.sha), 'README.md'), 'utf8');
    const front = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text);
    if (!front)
        return null;
    let meta;
    try {
        meta = yaml_1.default.parse(front[1]);
    }
    catch (err) {
        throw new transfer_1.HubError(`${opened.repo.label}: README.md: its YAML header cannot be read (${err.message.split('\n')[0]})`);
    }
    const configs = meta?.configs;
    if (!Array.isArray(configs) || configs.length === 0)
        return null;
    const named = configs.map((c) => ({ ...c, name: typeof c.config_name === 'string' ? c.config_name : 'default' }));
    const names = named.map((c) => c.name);
    const chosen = config !== undefined
        ? named.find((c) => c.name === config)
        : named.find((c) => c.default === true) ?? (named.length === 1 ? named[0] : named.find((c) => c.name === 'default'));
    if (!chosen) {
        throw new transfer_1.HubError(config !== undefined
            ? `${opened.repo.label}: no config "${config}" (its configs: ${names.join(', ')})`
            : `${opened.repo.label}: the dataset has several configs: set "config" to one of ${names.join(', ')}`);
    }
    const splits = dataFileGlobs(chosen.data_files, opened, chosen.name);
    const splitNames = [...splits.keys()];
    const wanted = split ?? (splitNames.length === 1 ? splitNames[0] : undefined);
    if (wanted === undefined)
        throw new transfer_1.HubError(`${opened.repo.label} (${chosen.name}): set "split" to one of ${splitNames.join(', ')}`);
    const globs = splits.get(wanted);
    if (!globs)
        throw new transfer_1.HubError(`${opened.repo.label} (${chosen.name}): no split "${wanted}" (its splits: ${splitNames.join(', ')})`);
    const patterns = globs.map(globToRegExp);
    const paths = listing.paths.filter((p) => patterns.some((r) => r.test(p)));
    if (!listing.cached && paths.length > 0 && !paths.some((p) => p.endsWith('.parquet'))) {
        return null; // JSON, CSV, …: the Hub's Parquet conversion has the same rows
    }
    const parquet = paths.filter((p) => p.endsWith('.parquet'));
    if (parquet.length === 0 && !listing.cached) {
        throw new transfer_1.HubError(`${opened.repo.label} (${chosen.name}): split "${wanted}" names ${globs.join(', ')}, and no file of the repo matches`);
    }
    return { config: chosen.name, split: wanted, paths: parquet };
}
// data_files: "glob", ["glob", …] (one split, train) or [{ split, path: "glob" | ["glob", …] }, …].
function dataFileGlobs(dataFiles, opened, config) {
    const bad = () => new transfer_1.HubError(`${opened.repo.label}: README.md: config "${config}" has data_files rrnative cannot read`);
    const globs = (value) => {
        const list = typeof value === 'string' ? [value] : value;
        if (!Array.isArray(list) || !list.every((g) => typeof g === 'string'))
            throw bad();
        return list;
    };
    if (dataFiles === undefined)
        return new Map();
    if (typeof dataFiles === 'string' || (Array.isArray(dataFiles) && dataFiles.every((d) => typeof d === 'string'))) {
        return new Map([['train', globs(dataFiles)]]);
    }
    if (!Array.isArray(dataFiles))
        throw bad();
    return new Map(dataFiles.map((d) => {
        const entry = d;
        if (typeof entry.split !== 'string')
            throw bad();
        return [entry.split, globs(entry.path)];
    }));
}
function fromConventions(listing, config, split) {
    if (split === undefined)
        return null;
    const prefixes = config !== undefined ? [`${config}/`] : ['', 'data/'];
    for (const prefix of prefixes) {
        for (const glob of [`${prefix}${split}-*.parquet`, `${prefix}${split}/*.parquet`, `${prefix}data/${split}-*.parquet`]) {
            const pattern = globToRegExp(glob);
            const paths = listing.paths.filter((p) => pattern.test(p));
            if (paths.length)
                return { config: config ?? 'default', split, paths };
        }
    }
    return null;
}
// refs/convert/parquet: <config>/<split>/NNNN.parquet, or <config>/partial-<split>/… for a dataset too big to convert whole.
function fromConversion(opened, listing, config, split) {
    const layout = new Map();
    for (const p of listing.paths) {
        const m = /^([^/]+)\/(?:partial-)?([^/]+)\/[^/]+\.parquet$/.exec(p);
        if (!m)
            continue;
        const splits = layout.get(m[1]) ?? new Map();
        layout.set(m[1], splits);
        splits.set(m[2], [...(splits.get(m[2]) ?? []), p]);
    }
    const configs = [...layout.keys()];
    if (configs.length === 0) {
        throw new transfer_1.HubError(`${opened.repo.label}: no Parquet files in ${CONVERT_REVISION}` +
            (listing.cached ? ` in the cache (${opened.cache.folder})` : ''));
    }
    const name = config ?? (layout.has('default') ? 'default' : configs.length === 1 ? configs[0] : undefined);
    if (name === undefined)
        throw new transfer_1.HubError(`${opened.repo.label}: the dataset has several configs: set "config" to one of ${configs.join(', ')}`);
    const splits = layout.get(name);
    if (!splits)
        throw new transfer_1.HubError(`${opened.repo.label}: no config "${name}" (its configs: ${configs.join(', ')})`);
    const wanted = split ?? (splits.size === 1 ? [...splits.keys()][0] : undefined);
    if (wanted === undefined)
        throw new transfer_1.HubError(`${opened.repo.label} (${name}): set "split" to one of ${[...splits.keys()].join(', ')}`);
    const paths = splits.get(wanted);
    if (!paths)
        throw new transfer_1.HubError(`${opened.repo.label} (${name}): no split "${wanted}" (its splits: ${[...splits.keys()].join(', ')})`);
    return { config: name, split: wanted, paths };
}
function splitOf(opened, listing, config, split, found) {
    const { repo, cache, sha } = opened;
    const paths = listing.cached ? withMissingShards(found) : [...found];
    if (paths.length === 0) {
        throw new transfer_1.HubError(`${repo.label} (${config}): split "${split}" is not in the cache (${cache.folder}): run once with the network`);
    }
    paths.sort();
    const files = paths.map((p) => ({
        name: `hf://datasets/${repo.label}/${p}`,
        path: p,
        local: () => localFile(opened, listing, p),
    }));
    return { label: repo.label, id: repo.id, sha, revision: repo.revision, config, split, files };
}
// Offline, the listing is what the cache holds: shards -0000K-of-0000N that are not there are still the split's.
function withMissingShards(paths) {
    const all = new Set(paths);
    for (const p of paths) {
        const m = SHARD.exec(p);
        if (!m)
            continue;
        const total = Number(m[3]);
        for (let i = 0; i < total; i++)
            all.add(`${m[1]}-${String(i).padStart(5, '0')}-of-${m[3]}.parquet`);
    }
    return [...all];
}
async function localFile(opened, listing, file) {
    const { cache } = opened;
    const local = node_path_1.default.join(cache.snapshotDir(opened.sha), file);
    if (cache.has(opened.sha, file))
        return local;
    const entry = listing.entries.get(file);
    if (!entry) {
        throw new transfer_1.HubError(`hf://datasets/${opened.repo.label}/${file}: not in the cache (${cache.folder}), and the Hub is not asked ` +
            '(offline, or unreachable): run once with the network to download it');
    }
    await (0, transfer_1.downloadAll)(opened, [entry]);
    return local;
}
