// A local imitation of the Hugging Face Hub on 127.0.0.1, for tests (no network here): the routes and headers the
// real clients use (@huggingface/hub 2.17.5, Python's huggingface_hub): the revision API, the recursive tree with
// Link pagination, paths-info, resolve with Range and ETag / X-Repo-Commit / X-Linked-* headers, LFS files
// redirected to a "CDN" on another origin, and the Hub's refusals (X-Error-Code RepoNotFound, RevisionNotFound,
// EntryNotFound, GatedRepo; 401 for a bad token), and a renamed repo's old name answered with a 307 to the new one
// (the Hub's redirect for `ms_marco` → `microsoft/ms_marco`). Every request is logged, with its Authorization header.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { tempDir } from './helpers';

export interface FakeRepo {
  type: 'model' | 'dataset';
  id: string;
  /** Revision name → files; the commit sha of each is derived from the id and the name. */
  revisions: Record<string, Record<string, Buffer>>;
  /** 'private': unknown without a token that may see it; 'gated': conditions to accept. */
  access?: 'public' | 'private' | 'gated';
}

export interface LoggedRequest {
  method: string;
  url: string;
  authorization: string | null;
  range: string | null;
  host: 'hub' | 'cdn';
}

export interface FakeHub {
  url: string;
  cdnUrl: string;
  requests: LoggedRequest[];
  /** Tokens the Hub knows; `access` lists the private or gated repos a token may use. */
  tokens: Map<string, { access: Set<string> }>;
  /** The next download of this path (on the CDN or the Hub) stops after this many bytes, the connection cut. */
  cutNext: Map<string, number>;
  sha(id: string, revision: string): string;
  close(): Promise<void>;
}

/**
 * Points this process at `hub` with a fresh, empty Hugging Face cache (returned), starting from the `saved`
 * environment without a token or an offline switch, and clears the request log: each test starts clean.
 */
export function useFakeHub(hub: FakeHub, saved: NodeJS.ProcessEnv): string {
  const cache = tempDir('rrnative-hf-cache-');
  process.env = { ...saved, HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_HOME: path.join(cache, 'home') };
  for (const key of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE']) delete process.env[key];
  hub.requests.length = 0;
  return cache;
}

export function filesOf(dir: string, skip: string[] = ['fixture.json']): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const walk = (sub: string) => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else if (!skip.includes(rel)) out[rel] = fs.readFileSync(path.join(dir, rel));
    }
  };
  walk('');
  return out;
}

const isLfs = (file: string, body: Buffer) => /\.(safetensors|bin|parquet|h5|onnx|model)$/.test(file) || body.length > 10_000_000;
const gitOid = (body: Buffer) => crypto.createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex');
const sha256 = (body: Buffer) => crypto.createHash('sha256').update(body).digest('hex');

export async function startFakeHub(repos: FakeRepo[], options: {
  pageSize?: number;
  /** Old names of renamed repos: "dataset/ms_marco" → "microsoft/ms_marco". */
  renamed?: Record<string, string>;
} = {}): Promise<FakeHub> {
  const pageSize = options.pageSize ?? 4;
  const requests: LoggedRequest[] = [];
  const tokens = new Map<string, { access: Set<string> }>();
  const cutNext = new Map<string, number>();
  const sha = (id: string, revision: string) => /^[0-9a-f]{40}$/.test(revision) ? revision : crypto.createHash('sha1').update(`${id}@${revision}`).digest('hex');
  const byKey = new Map(repos.map((r) => [`${r.type}/${r.id}`, r]));
  const blobs = new Map<string, Buffer>();  // sha256 → body, for the CDN
  for (const repo of repos) for (const files of Object.values(repo.revisions)) for (const body of Object.values(files)) blobs.set(sha256(body), body);

  function revisionFiles(repo: FakeRepo, revision: string): { commit: string; files: Record<string, Buffer> } | null {
    for (const [name, files] of Object.entries(repo.revisions)) {
      if (name === revision || sha(repo.id, name) === revision) return { commit: sha(repo.id, name), files };
    }
    return null;
  }

  const send = (res: http.ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer = '') => {
    res.writeHead(status, headers);
    res.end(body);
  };
  const refuse = (res: http.ServerResponse, status: number, code: string | null, message: string) =>
    send(res, status, { 'content-type': 'application/json', ...(code ? { 'x-error-code': code } : {}), 'x-error-message': message },
      JSON.stringify({ error: message }));

  // Serves `body` (whole, or a Range) with the Hub's download headers, cutting the connection where a test asked.
  function serveBody(req: http.IncomingMessage, res: http.ServerResponse, file: string, body: Buffer, headers: Record<string, string>) {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
    const part = body.subarray(start, end + 1);
    const status = range ? 206 : 200;
    const all = { ...headers, 'accept-ranges': 'bytes', 'content-length': String(part.length),
      ...(range ? { 'content-range': `bytes ${start}-${end}/${body.length}` } : {}) };
    if (req.method === 'HEAD') return send(res, status, all);
    const cut = part.length > 1 ? cutNext.get(file) : undefined;
    if (cut !== undefined) {
      cutNext.delete(file);
      res.writeHead(status, all);
      res.write(part.subarray(0, cut), () => res.socket?.destroy());
      return;
    }
    send(res, status, all, part);
  }

  const cdn = http.createServer((req, res) => {
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '', authorization: req.headers.authorization ?? null, range: req.headers.range ?? null, host: 'cdn' });
    const [, oid, file] = /^\/lfs\/([0-9a-f]{64})\/(.*)$/.exec(req.url ?? '') ?? [];
    const body = oid ? blobs.get(oid) : undefined;
    if (!body) return send(res, 404, {}, 'no such object');
    serveBody(req, res, decodeURIComponent(file), body, { etag: `"${oid}"`, 'content-type': 'application/octet-stream' });
  });
  // Another host, as the Hub's storage is: 127.0.0.2 (loopback too), so clients see a redirect off the Hub.
  await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.2', resolve));
  const cdnUrl = `http://127.0.0.2:${(cdn.address() as AddressInfo).port}`;

  const hub = http.createServer((req, res) => {
    const authorization = req.headers.authorization ?? null;
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '', authorization, range: req.headers.range ?? null, host: 'hub' });
    const url = new URL(req.url ?? '/', 'http://hub');
    const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : null;
    if (token !== null && !tokens.has(token)) return refuse(res, 401, null, 'Invalid credentials in Authorization header');

    // Which repo, and may this caller see it?
    let m = /^\/api\/(models|datasets)\/([^/]+\/[^/]+|[^/]+)\/(revision|tree|paths-info)\/([^/?]+)(?:\/(.*))?$/.exec(url.pathname);
    const info = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)$/.exec(url.pathname);  // model_info: the main revision
    let type: string, id: string, what: string, revision: string, file = '';
    if (m) {
      [, type, id, what, revision] = m;
      type = type.slice(0, -1);
    } else if (info) {
      [type, id, what, revision] = [info[1].slice(0, -1), info[2], 'revision', 'main'];
    } else {
      m = /^\/(datasets\/)?([^/]+\/[^/]+|[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
      if (!m) return refuse(res, 404, null, 'Not Found');
      type = m[1] ? 'dataset' : 'model';
      [, , id, revision, file] = m;
      what = 'resolve';
      file = decodeURIComponent(file);
    }
    revision = decodeURIComponent(revision);
    const newName = options.renamed?.[`${type}/${id}`];
    if (newName) {
      // The same path with the new name, as the Hub answers requests for a repo by its old name.
      const prefix = url.pathname.startsWith('/api/') ? `/api/${type}s/` : type === 'dataset' ? '/datasets/' : '/';
      const location = prefix + newName + url.pathname.slice(prefix.length + id.length) + url.search;
      return send(res, 307, { location, 'content-type': 'application/json' }, JSON.stringify({ message: 'Temporary Redirect', url: location }));
    }
    const repo = byKey.get(`${type}/${id}`);
    const mayUse = repo && (repo.access ?? 'public') !== 'public' && token !== null && tokens.get(token)!.access.has(id);
    if (!repo || (repo.access === 'private' && !mayUse)) {
      return refuse(res, token ? 404 : 401, 'RepoNotFound', 'Repository not found');
    }
    if (repo.access === 'gated' && !mayUse) {
      return refuse(res, token ? 403 : 401, 'GatedRepo', `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
    }
    const found = revisionFiles(repo, revision);
    if (!found) return refuse(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    const entries = Object.entries(found.files).sort(([a], [b]) => a.localeCompare(b)).map(([p, body]) => ({
      type: 'file', path: p, oid: gitOid(isLfs(p, body) ? Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(body)}\nsize ${body.length}\n`) : body),
      size: body.length, ...(isLfs(p, body) ? { lfs: { oid: sha256(body), size: body.length, pointerSize: 134 } } : {}),
    }));

    if (what === 'revision') {
      return send(res, 200, { 'content-type': 'application/json' }, JSON.stringify({
        _id: crypto.createHash('md5').update(id).digest('hex').slice(0, 24), id, private: repo.access === 'private',
        gated: repo.access === 'gated' ? 'manual' : false, sha: found.commit, siblings: entries.map((e) => ({ rfilename: e.path })),
      }));
    }
    if (what === 'tree') {
      const dirs = [...new Set(entries.flatMap((e) => e.path.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))))]
        .map((d) => ({ type: 'directory', path: d, oid: gitOid(Buffer.from(d)), size: 0 }));
      const all = url.searchParams.get('recursive') === 'true' ? [...dirs, ...entries].sort((a, b) => a.path.localeCompare(b.path))
        : [...dirs, ...entries].filter((e) => !e.path.includes('/'));
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const page = all.slice(cursor, cursor + pageSize);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (cursor + pageSize < all.length) {
        const next = new URL(url.pathname + url.search, `http://${req.headers.host}`);
        next.searchParams.set('cursor', String(cursor + pageSize));
        headers.link = `<${next.href}>; rel="next"`;
      }
      return send(res, 200, headers, JSON.stringify(page));
    }
    if (what === 'paths-info') {
      let raw = '';
      req.on('data', (d) => { raw += d; });
      req.on('end', () => {
        const wanted = req.headers['content-type']?.includes('json') ? (JSON.parse(raw) as { paths: string[] }).paths : new URLSearchParams(raw).getAll('paths');
        send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(entries.filter((e) => wanted.includes(e.path))
          .map((e) => ({ ...e, lastCommit: { id: found.commit, title: 'commit', date: '2026-01-01T00:00:00.000Z' } }))));
      });
      return;
    }
    const body = found.files[file];
    if (!body) return refuse(res, 404, 'EntryNotFound', `${file} does not exist on "${revision}"`);
    const entry = entries.find((e) => e.path === file)!;
    const common = { 'x-repo-commit': found.commit, 'content-type': 'application/octet-stream' };
    if (entry.lfs) {
      // As the Hub: LFS files redirect to storage on another host; the size and etag come with the redirect.
      return send(res, 302, { ...common, location: `${cdnUrl}/lfs/${entry.lfs.oid}/${encodeURIComponent(file)}`,
        'x-linked-etag': `"${entry.lfs.oid}"`, 'x-linked-size': String(body.length), etag: `"${entry.oid}"` });
    }
    serveBody(req, res, file, body, { ...common, etag: `"${entry.oid}"` });
  });
  await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
  const hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
  return {
    url: hubUrl, cdnUrl, requests, tokens, cutNext, sha,
    close: async () => {
      for (const server of [hub, cdn]) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}
