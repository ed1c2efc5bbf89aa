// `rrtrain serve` as a child process: SIGTERM while a request is in flight stops accepting, finishes the request,
// and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
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

// A child `rrtrain serve` and its listening URL.
async function spawnServe(): Promise<{ child: ReturnType<typeof spawn>; url: string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; stderr: () => string }> {
  const child = spawn(process.execPath, [cli, 'serve', '--model', bertMiniDir, '--port', '0', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RRNATIVE_API_KEY: '' },
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line; stderr:\n${stderr}`)), 30_000);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = line.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  return { child, url, exited, stderr: () => stderr };
}

function rawConnect(url: string, data: string): Promise<net.Socket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => { socket.write(data); resolve(socket); });
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

test('SIGTERM with an idle keep-alive and a stalled-body connection open exits 0 at once', { timeout: 60_000 }, async () => {
  const { child, url, exited, stderr } = await spawnServe();
  try {
    await rawConnect(url, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await rawConnect(url, 'POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"q');
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    const took = Date.now() - started;
    assert.equal(signal, null, stderr());
    assert.equal(code, 0, stderr());
    assert.ok(took < 5_000, `exited ${took} ms after SIGTERM`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

test('a second SIGTERM while draining exits at once with 143', { timeout: 60_000 }, async () => {
  const rows = await loadDebdesc('dev');
  const documents = rows.slice(0, 1000).map((r) => r.document);
  const { child, url, exited, stderr } = await spawnServe();
  try {
    // Four requests of 1000 pairs: seconds of work in flight when the signals come.
    const inflight = Promise.all([0, 1, 2, 3].map((i) => fetch(`${url}/rerank`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: rows[i].query, documents }),
    }).catch((err: Error) => err)));
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    assert.equal(signal, null, stderr());
    assert.equal(code, 143, stderr());
    await inflight;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
