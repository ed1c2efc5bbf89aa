// `rrtrain serve` as a child process: SIGTERM while a request is in flight stops accepting, finishes the request,
// and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { loadDebdesc } from '../src/data/debdesc';
import { bertMiniDir, repoRoot } from './helpers';

const cli = path.join(repoRoot, 'dist', 'src', 'cli.js');

test('SIGTERM: the request in flight completes, new connections are refused, the process exits 0', { timeout: 90_000 }, async () => {
  const rows = await loadDebdesc('dev');
  const documents = rows.slice(0, 1000).map((r) => r.document);
  const child = spawn(process.execPath, [cli, 'serve', '--model', bertMiniDir, '--port', '0', '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RRNATIVE_API_KEY: '' },
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.splice(0)) {
      const m = line.match(w.re);
      if (m) w.resolve(m);
      else waiters.push(w);
    }
  });
  const waitLine = (re: RegExp, what: string) => new Promise<RegExpMatchArray>((resolve, reject) => {
    for (const line of lines) {
      const m = line.match(re);
      if (m) return resolve(m);
    }
    const timer = setTimeout(() => reject(new Error(`no "${what}" line; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`)), 30_000);
    waiters.push({ re, resolve: (m) => { clearTimeout(timer); resolve(m); } });
  });

  try {
    const [, url] = await waitLine(/listening on (http:\/\/\S+)/, 'listening');
    const inflight = fetch(`${url}/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: rows[0].query, documents }),
    });
    // The server has the request (fastify logs it on arrival): now ask it to stop.
    await waitLine(/^(?=.*"incoming request")(?=.*"url":"\/rerank")/, 'incoming request');
    child.kill('SIGTERM');
    await waitLine(/SIGTERM: finishing the requests in flight/, 'SIGTERM');

    // No new work is taken: a new connection is refused (or answered 503 shutting_down in the instant before).
    const late = await fetch(`${url}/health`).then(async (res) => ({ status: res.status, body: await res.json() as { type: string } }), (err: Error) => err);
    if (late instanceof Error) {
      assert.match(String((late.cause as { code?: string } | undefined)?.code ?? late.message), /ECONNREFUSED|ECONNRESET|fetch failed|other side closed/);
    } else {
      assert.equal(late.status, 503);
      assert.equal(late.body.type, 'shutting_down');
    }

    const res = await inflight;
    assert.equal(res.status, 200);
    const body = await res.json() as { ranked_documents: { index: number }[] };
    assert.equal(body.ranked_documents.length, documents.length);
    assert.deepEqual(body.ranked_documents.map((d) => d.index).sort((a, b) => a - b), documents.map((_, i) => i));

    const answered = Date.now();
    const { code, signal } = await exited;
    assert.ok(Date.now() - answered < 10_000, `exited ${Date.now() - answered} ms after the last response`);
    assert.equal(signal, null, stderr);
    assert.equal(code, 0, stderr);
    await waitLine(/rrtrain serve: stopped/, 'stopped');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
