"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.NetworkError = exports.HubError = void 0;
exports.repoOf = repoOf;
exports.openRepo = openRepo;
exports.listRepoFiles = listRepoFiles;
exports.downloadAll = downloadAll;
// What models.ts and datasets.ts share: a repository's revision resolved to a commit (refs/<revision> offline; else
// the Hub's revision API, written back to refs/ as Python does), its file listing, downloads by that commit into the
// cache (resumed from an .incomplete blob), and the Hub's refusals as one line naming the repo and what to do.
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const hub_1 = require("@huggingface/hub");
const cache_1 = require("./cache");
const fetch_1 = require("./fetch");
const progress_1 = require("./progress");
/** One line, naming the model or dataset and what to do. */
class HubError extends Error {
    name = 'HubError';
}
exports.HubError = HubError;
function repoOf(type, id, revision) {
    return { type, id, revision, label: revision === 'main' ? id : `${id}@${revision}` };
}
/**
 * The commit to read `repo` at. Offline (HF_HUB_OFFLINE, or `localFilesOnly`) it comes from refs/ alone, and `usable`
 * says whether the cached snapshot of it will do; online the Hub is asked, and a cached snapshot that is `usable`
 * serves when the Hub cannot be reached. Progress goes to `log` (default: stderr).
 */
async function openRepo(repo, settings, options) {
    const offline = settings.offline || options.localFilesOnly === true;
    const why = settings.offline ? 'HF_HUB_OFFLINE is set' : 'localFilesOnly is set';
    const log = options.log ?? ((line) => { process.stderr.write(`${line}\n`); });
    const cache = new cache_1.RepoCache(settings.cacheDir, repo.type, repo.id);
    const fetchHub = (0, fetch_1.hubFetch)(settings.endpoint, settings.token);
    const cachedSha = cache_1.COMMIT.test(repo.revision) ? repo.revision : cache.readRef(repo.revision);
    const cached = cachedSha && options.usable(cache, cachedSha) ? cachedSha : null;
    const opened = (sha, online) => ({ repo, cache, sha, online, settings, fetchHub, log });
    if (offline) {
        if (cached)
            return opened(cached, false);
        throw new HubError(`${repo.label}: no local ${repo.type === 'model' ? 'folder' : 'file'} of that name, not in the Hugging Face cache (${cache.folder}), ` +
            `and ${why}: run once with the network, or copy the ${repo.type} there (Python's huggingface_hub uses the same folder)`);
    }
    let sha;
    try {
        sha = await resolveRevision(repo, settings, fetchHub);
    }
    catch (err) {
        if (!(err instanceof NetworkError))
            throw err;
        if (cached) {
            log(`${repo.label}: ${settings.endpoint} cannot be reached (${err.message}); using the cached snapshot ${cached}`);
            return opened(cached, false);
        }
        throw new HubError(`${repo.label}: no local ${repo.type === 'model' ? 'folder' : 'file'} of that name; cannot reach ${settings.endpoint} (${err.message}) ` +
            `and the ${repo.type} is not in the cache (${cache.folder}): check the network or HF_ENDPOINT; once the files are cached, HF_HUB_OFFLINE=1 skips the network`);
    }
    if (sha !== repo.revision)
        cache.writeRef(repo.revision, sha);
    return opened(sha, true);
}
class NetworkError extends Error {
}
exports.NetworkError = NetworkError;
async function request(fetchHub, url, init) {
    try {
        return await fetchHub(url, init);
    }
    catch (err) {
        throw new NetworkError(describeCause(err));
    }
}
// The Hub's answer to a refused request, as one line (X-Error-Code: RepoNotFound, RevisionNotFound, GatedRepo, …).
async function refusal(response, repo, settings) {
    const code = response.headers.get('x-error-code') ?? '';
    const message = response.headers.get('x-error-message') ?? '';
    await response.body?.cancel();
    const page = `${settings.endpoint}/${repo.type === 'dataset' ? 'datasets/' : ''}${repo.id}`;
    const kind = repo.type;
    if (code === 'GatedRepo') {
        return new HubError(settings.token
            ? `${repo.label}: a gated ${kind}, and the token has no access to it: accept its conditions at ${page} with the token's account`
            : `${repo.label}: a gated ${kind}: accept its conditions at ${page}, then set HF_TOKEN to a token of that account`);
    }
    if (code === 'RevisionNotFound')
        return new HubError(`${repo.label}: no revision "${repo.revision}" (a branch, tag or commit of the repo)`);
    if (response.status === 401 && settings.token && code !== 'RepoNotFound') {
        return new HubError(`${repo.label}: the Hub refused the token (HF_TOKEN, or the token file)${message ? `: ${message}` : ''}: check it, or unset it for public ${kind}s`);
    }
    if (code === 'RepoNotFound' || response.status === 404 || response.status === 401) {
        return new HubError(`${repo.label}: no local ${kind === 'model' ? 'folder' : 'file'} of that name, and no such ${kind} on ${settings.endpoint}` +
            (settings.token ? ' (or this token cannot see it)' : ' (or it is private: set HF_TOKEN)'));
    }
    return new HubError(`${repo.label}: the Hub answered ${response.status}${message ? ` (${message})` : ''} at ${response.url}`);
}
async function resolveRevision(repo, settings, fetchHub) {
    const url = `${settings.endpoint}/api/${repo.type}s/${repo.id}/revision/${encodeURIComponent(repo.revision)}`;
    const response = await request(fetchHub, url, { headers: { accept: 'application/json' } });
    if (!response.ok)
        throw await refusal(response, repo, settings);
    const info = await response.json();
    if (typeof info.sha !== 'string' || !cache_1.COMMIT.test(info.sha))
        throw new HubError(`${repo.label}: the Hub's revision answer has no commit sha`);
    return info.sha;
}
/** Every file of the repo at the opened commit (the recursive tree, all pages). */
async function listRepoFiles(opened) {
    const { repo, sha, settings, fetchHub } = opened;
    const files = [];
    try {
        for await (const entry of (0, hub_1.listFiles)({ repo: { type: repo.type, name: repo.id }, revision: sha, recursive: true, hubUrl: settings.endpoint, fetch: fetchHub })) {
            if (entry.type === 'file')
                files.push(entry);
        }
    }
    catch (err) {
        throw new HubError(`${repo.label}: listing the repo's files failed: ${err.message}`);
    }
    return files;
}
/** Downloads `files` (those not in the snapshot yet) in order, with one progress display and a summary line. */
async function downloadAll(opened, files) {
    const progress = new progress_1.DownloadProgress(opened.repo.label, opened.log);
    try {
        for (const file of files)
            await downloadToCache(opened, file, progress);
    }
    finally {
        progress.finish(opened.cache.folder);
    }
}
async function downloadToCache(opened, file, progress) {
    const { repo, cache, sha, settings, fetchHub } = opened;
    if (cache.has(sha, file.path))
        return;
    const etag = file.lfs?.oid ?? file.oid;
    if (!etag)
        throw new HubError(`${repo.label}: the Hub gave no id (oid) for ${file.path}`);
    const blob = cache.blobPath(etag);
    if (!node_fs_1.default.existsSync(blob)) {
        node_fs_1.default.mkdirSync(node_path_1.default.dirname(blob), { recursive: true });
        const incomplete = `${blob}.incomplete`;
        const have = node_fs_1.default.existsSync(incomplete) ? node_fs_1.default.statSync(incomplete).size : 0;
        try {
            const remote = await (0, hub_1.downloadFile)({ repo: { type: repo.type, name: repo.id }, path: file.path, revision: sha, hubUrl: settings.endpoint, fetch: fetchHub, xet: false });
            if (!remote)
                throw new HubError(`${repo.label}: ${file.path} is listed but cannot be downloaded (EntryNotFound)`);
            // A download cut short resumes where it stopped (Python's .incomplete, the same way).
            const start = have > 0 && have < remote.size ? have : 0;
            await progress.write(file.path, remote.size, start, (start > 0 ? remote.slice(start) : remote).stream(), incomplete);
            const size = node_fs_1.default.statSync(incomplete).size;
            if (size !== remote.size)
                throw new HubError(`${repo.label}: ${file.path} came ${size} of ${remote.size} bytes: run again to resume`);
        }
        catch (err) {
            if (err instanceof HubError)
                throw err;
            throw new HubError(`${repo.label}: downloading ${file.path} failed (${describeCause(err)}): run again to resume`);
        }
        node_fs_1.default.renameSync(incomplete, blob);
    }
    cache.link(sha, file.path, etag);
}
// fetch's errors say only "fetch failed": the reason (ECONNREFUSED, …) is in their cause.
function describeCause(err) {
    const cause = err.cause;
    return cause?.code ?? cause?.message ?? err.message ?? String(err);
}
