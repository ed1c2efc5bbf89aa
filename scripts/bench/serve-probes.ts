// Hostile-client probes of `rrtrain serve` (the fixture model, a child process, default settings unless given):
//   1. one stalled body (headers + Content-Length: 100000, then nothing): when is it answered and closed;
//   2. N stalled connections (default 10000) held open while a normal client keeps sending small /rerank
//      requests: how many of those are answered, and their latency;
//   3. SIGTERM with stalled, slow-header and idle keep-alive connections open: time to exit, exit code.
//   4. eight concurrent maximum-size bodies (209 documents x 20,000 characters, 4.2 MB each) while a small
//      client keeps sending: the small requests' latency, the big ones' statuses and times, the server's peak RSS.
// The stalled connections are held by child processes of at most 10,000 sockets each (the open-file limit).
//
//   npx tsc -p . && node dist/scripts/bench/serve-probes.js [--stalled 20000] [--only 1,2,3,4] [--server-args "--request-timeout-ms 30000"]
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    stalled: { type: 'string', default: '20000' },
    only: { type: 'string', default: '1,2,3,4' },
    'server-args': { type: 'string', default: '' },
    hold: { type: 'string' },  // internal: a child that opens this many stalled connections to --port
    port: { type: 'string' },
  },
});
const probes = new Set(values.only!.split(',').map(Number));
const root = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const model = path.join(root, 'test', 'fixtures', 'hf', 'bert-mini-a');
const stalledBody = 'POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"query":';

async function serve() {
  const args = [cli, 'serve', '--model', model, '--port', '0', '--log-level', 'warn', ...values['server-args']!.split(' ').filter(Boolean)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = line.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
  });
  return { child, exited, url, port: Number(new URL(url).port) };
}

function open(port: number, data: string): Promise<{ socket: net.Socket; closed: Promise<{ at: number; status: number }> }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => { text += d.toString(); });
    socket.on('error', () => undefined);
    const closed = new Promise<{ at: number; status: number }>((done) => socket.on('close', () => done({ at: Date.now(), status: Number(text.split(' ')[1]) || 0 })));
    socket.once('connect', () => { socket.write(data); resolve({ socket, closed }); });
    socket.once('error', () => resolve({ socket, closed }));
  });
}

async function smallRequest(url: string): Promise<{ ok: boolean; ms: number }> {
  const started = performance.now();
  try {
    const res = await fetch(`${url}/rerank`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'cat', documents: ['a cat sat on the mat', 'stock markets fell'] }),
      signal: AbortSignal.timeout(10_000),
    });
    await res.text();
    return { ok: res.status === 200, ms: performance.now() - started };
  } catch {
    return { ok: false, ms: performance.now() - started };
  }
}

// A child process that opens `count` stalled connections, reports "held", and keeps them until killed.
async function holdStalled(port: number, count: number): Promise<void> {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i += 200) {
    const batch = await Promise.all(Array.from({ length: Math.min(200, count - i) }, () => open(port, stalledBody)));
    for (const b of batch) sockets.push(b.socket);
  }
  process.send!('held');
  setInterval(() => undefined, 1 << 30);
}

// A process's memory from /proc: VmRSS now, VmHWM its peak.
function memoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return m ? Number(m[1]) / 1024 : NaN;
}

// Words from the bundled data, so that documents tokenize like text.
function bigDocuments(count: number, chars: number): string[] {
  const words = fs.readFileSync(path.join(root, 'README.md'), 'utf8').split(/\s+/).filter((w) => /^[a-z]+$/i.test(w));
  let seed = 1;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  return Array.from({ length: count }, () => {
    let doc = '';
    while (doc.length < chars) doc += `${words[next() % words.length]} `;
    return doc.slice(0, chars);
  });
}

// A client sending small requests one after another until stopped: their latencies, and the failures.
function smallClient(url: string): { stop(): Promise<{ latencies: number[]; failed: number }> } {
  const latencies: number[] = [];
  let failed = 0;
  let stopped = false;
  const running = (async () => {
    while (!stopped) {
      const r = await smallRequest(url);
      if (r.ok) latencies.push(r.ms);
      else failed++;
    }
  })();
  return {
    async stop() {
      stopped = true;
      await running;
      return { latencies, failed };
    },
  };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function main(): Promise<void> {
  if (values.hold) return holdStalled(Number(values.port), Number(values.hold));
  const server = await serve();
  console.log(`server ${server.url}, args: ${values['server-args'] || '(defaults)'}`);

  // 1. One stalled body.
  if (probes.has(1)) {
    const t0 = Date.now();
    const one = await open(server.port, stalledBody);
    const { at, status } = await one.closed;
    console.log(`1. stalled body: answered ${status} and closed after ${((at - t0) / 1000).toFixed(1)} s`);
  }

  // 4. Eight maximum-size bodies at once while a small client keeps going.
  if (probes.has(4)) {
    const documents = bigDocuments(209, 20_000);
    const body = JSON.stringify({ query: 'how do I configure the server', documents });
    console.log(`4. body of ${documents.length} documents x 20,000 characters: ${(Buffer.byteLength(body) / 1e6).toFixed(2)} MB; server RSS before ${memoryMb(server.child.pid!, 'VmRSS').toFixed(0)} MB`);
    const client = smallClient(server.url);
    await new Promise((r) => setTimeout(r, 500));
    const started = performance.now();
    const big = await Promise.all(Array.from({ length: 8 }, async () => {
      const res = await fetch(`${server.url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      return { status: res.status, s: (performance.now() - started) / 1000 };
    }));
    const { latencies, failed } = await client.stop();
    console.log(`   big requests: ${big.map((b) => `${b.status} in ${b.s.toFixed(1)} s`).join(', ')}`);
    console.log(`   small requests meanwhile: ${latencies.length} answered, ${failed} failed; latency p50 ${pct(latencies, 0.5)?.toFixed(1)} ms, ` +
      `p99 ${pct(latencies, 0.99)?.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms; server peak RSS ${memoryMb(server.child.pid!, 'VmHWM').toFixed(0)} MB`);
  }

  // 2. Many stalled connections while a normal client keeps going.
  if (probes.has(2)) await stalledProbe(server);
  if (probes.has(3)) await shutdownProbe(server);
  else server.child.kill('SIGKILL');
}

async function stalledProbe(server: Awaited<ReturnType<typeof serve>>): Promise<void> {
  const n = Number(values.stalled);
  const client = smallClient(server.url);
  const holders = [];
  for (let left = n; left > 0; left -= 10_000) {
    const child = fork(__filename, ['--hold', String(Math.min(10_000, left)), '--port', String(server.port)], { stdio: 'inherit' });
    holders.push(child);
    await new Promise((resolve) => child.once('message', resolve));
  }
  await new Promise((r) => setTimeout(r, 3000));
  const { latencies, failed } = await client.stop();
  console.log(`2. ${n} stalled connections opened: the normal client got ${latencies.length} answers, ${failed} failures; ` +
    `latency p50 ${pct(latencies, 0.5)?.toFixed(1)} ms, p99 ${pct(latencies, 0.99)?.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
  for (const h of holders) h.kill('SIGKILL');
}

async function shutdownProbe(server: Awaited<ReturnType<typeof serve>>): Promise<void> {
  // 3. SIGTERM with a stalled body, slow headers and an idle keep-alive connection open.
  await open(server.port, stalledBody);
  await open(server.port, 'GET /health HTTP/1.1\r\nHost: x\r\n');
  await open(server.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => setTimeout(r, 200));
  const t1 = Date.now();
  server.child.kill('SIGTERM');
  const code = await server.exited;
  console.log(`3. SIGTERM with stalled, slow-header and idle connections open: exited ${code} after ${Date.now() - t1} ms`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
