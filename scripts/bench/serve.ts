// Load benchmark of `rrtrain serve`: autocannon on loopback against the real CLI server (a child process), one
// query x 100 documents of the debdesc dev split per request (64 different such bodies, in turn), at 1, 16 and 64 concurrent connections; dynamic
// (cross-request) batching against the same server with batching across requests off (--max-batch-requests 1).
//
//   npx tsc -p . && node dist/scripts/bench/serve.js [--models fixture,small] [--connections 1,16,64]
//       [--docs 100] [--rounds 3] [--min-requests 30] [--max-seconds 300] [--repeats 1]
//       [--modes dynamic,per-request] [--server-args "--max-batch-tokens 4096"] [--out results.json]
//
// Models: "fixture" is the tiny test model (bert-mini-a); "small" is a realistic small BERT (hidden 256, 4 layers,
// 4 heads, intermediate 1024, max length 256) created from the fixture's config and tokenizer, saved to a temp
// folder. A run sends max(rounds x connections, min-requests) requests, stopped early at --max-seconds
// (then only the completed ones count). Prints a Markdown table.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadDebdesc } from '../../src/data/debdesc';
import { Reranker } from '../../src/model';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(repoRoot, 'dist', 'src', 'cli.js');
const fixturesDir = process.env.RRNATIVE_FIXTURES ?? path.join(repoRoot, 'test', 'fixtures', 'hf');
const bertMiniDir = path.join(fixturesDir, 'bert-mini-a');
const BODIES = 64;

type Mode = 'dynamic' | 'per-request';

interface Row {
  model: string;
  mode: Mode;
  connections: number;
  requests: number;
  seconds: number;
  rps: number;
  pairsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  batches: number;
  pairsPerBatch: number;
  requestsPerBatch: number;
  paddingEfficiency: number;
  /** Forward-pass time over wall time: how busy the model was. */
  busy: number;
  /** Forward-pass time per pair, ms. */
  msPerPair: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'fixture,small' },
      connections: { type: 'string', default: '1,16,64' },
      docs: { type: 'string', default: '100' },
      rounds: { type: 'string', default: '3' },
      'min-requests': { type: 'string', default: '30' },
      'max-seconds': { type: 'string', default: '300' },
      repeats: { type: 'string', default: '1' },
      modes: { type: 'string', default: 'dynamic,per-request' },
      'server-args': { type: 'string', default: '' },
      out: { type: 'string' },
    },
  });
  const connectionsList = values.connections.split(',').map(Number);
  const nDocs = Number(values.docs);
  const rounds = Number(values.rounds);
  const minRequests = Number(values['min-requests']);
  const maxSeconds = Number(values['max-seconds']);
  const repeats = Number(values.repeats);
  const serverArgs = values['server-args'].split(/\s+/).filter(Boolean);

  // Requests cycle through BODIES different (query, 100 documents) sets, so that batches vary as in real traffic.
  const rows = await loadDebdesc('dev');
  const bodies = Array.from({ length: BODIES }, (_, i) => JSON.stringify({
    query: rows[i].query,
    documents: Array.from({ length: nDocs }, (_, j) => rows[(BODIES + i * 37 + j) % rows.length].document),
  }));

  const models: { name: string; dir: string; maxLength?: number }[] = [];
  let tmp: string | undefined;
  for (const name of values.models.split(',')) {
    if (name === 'fixture') models.push({ name: 'fixture (bert-mini-a: 2x64, max 128)', dir: bertMiniDir });
    else if (name === 'small') {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rrnative-bench-'));
      await createSmallModel(tmp);
      models.push({ name: 'small BERT (4x256, max 256)', dir: tmp, maxLength: 256 });
    } else throw new Error(`--models: unknown model ${name} (fixture, small)`);
  }

  const modes = values.modes.split(',') as Mode[];
  for (const m of modes) if (m !== 'dynamic' && m !== 'per-request') throw new Error(`--modes: unknown mode ${m}`);
  const results: Row[] = [];
  const started = new Date();
  try {
    for (const model of models) {
      // Both servers run side by side (an idle one costs nothing) and the runs alternate between them, so that
      // drifting load on the machine hits both modes alike.
      const servers = new Map<Mode, Server>();
      try {
        for (const mode of modes) {
          const extra = [...serverArgs, ...(mode === 'per-request' ? ['--max-batch-requests', '1'] : [])];
          servers.set(mode, await startServer(model.dir, model.maxLength, extra));
          await run(servers.get(mode)!.url, bodies, 2, 4, 60);  // warm-up
        }
        for (const connections of connectionsList) {
          const amount = Math.max(rounds * connections, minRequests);
          const reps: Record<string, Rep[]> = {};
          for (let rep = 0; rep < repeats; rep++) {
            const order = rep % 2 ? [...modes].reverse() : modes;
            for (const mode of order) {
              const url = servers.get(mode)!.url;
              const before = await serverStats(url);
              const r = await run(url, bodies, connections, amount, maxSeconds);
              const after = await serverStats(url);
              (reps[mode] ??= []).push({ ...r, before, after });
              const forward = after.forwardSeconds - before.forwardSeconds;
              console.error(`${model.name} ${mode} c=${connections} #${rep + 1}: ${(r.ok / r.seconds).toFixed(2)} req/s, ` +
                `p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.errors} errors, ` +
                `${((after.batchRequests - before.batchRequests) / Math.max(after.batches - before.batches, 1)).toFixed(2)} requests per batch, ` +
                `model busy ${(100 * forward / r.seconds).toFixed(0)}%, ${(1000 * forward / Math.max(after.pairs - before.pairs, 1)).toFixed(2)} ms/pair`);
            }
          }
          for (const mode of modes) results.push(summarize(model.name, mode, connections, nDocs, reps[mode]));
        }
      } finally {
        for (const server of servers.values()) await server.stop();
      }
    }
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }

  console.log(`\nrrtrain serve load test — ${started.toISOString()} — ${os.cpus().length} CPU cores (${os.cpus()[0]?.model ?? '?'}), ` +
    `node ${process.version}; 1 query x ${nDocs} documents (debdesc dev, ${BODIES} different bodies) per request, loopback, autocannon; ` +
    `${repeats} alternating repeat(s) per cell, medians\n`);
  console.log('| model | batching | conc. | requests | req/s | docs/s | p50 ms | p99 ms | errors | pairs/batch | requests/batch | real/padded tokens | model busy | forward ms/pair |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.model} | ${r.mode} | ${r.connections} | ${r.requests} | ${r.rps.toFixed(2)} | ${r.pairsPerSecond.toFixed(0)} | ` +
      `${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.errors} | ${r.pairsPerBatch.toFixed(1)} | ${r.requestsPerBatch.toFixed(2)} | ${(100 * r.paddingEfficiency).toFixed(0)}% | ` +
      `${(100 * r.busy).toFixed(0)}% | ${r.msPerPair.toFixed(2)} |`);
  }
  console.log('\nThroughput, dynamic over per-request batching:');
  for (const model of models) {
    for (const c of connectionsList) {
      const d = results.find((r) => r.model === model.name && r.mode === 'dynamic' && r.connections === c);
      const p = results.find((r) => r.model === model.name && r.mode === 'per-request' && r.connections === c);
      if (d && p && p.rps > 0) console.log(`  ${model.name}, ${c} connections: x${(d.rps / p.rps).toFixed(2)} req/s, p50 ${d.p50.toFixed(0)} vs ${p.p50.toFixed(0)} ms`);
    }
  }
  if (values.out) fs.writeFileSync(values.out, JSON.stringify({ date: started.toISOString(), cores: os.cpus().length, results }, null, 2) + '\n');
}

type Stats = Awaited<ReturnType<typeof serverStats>>;
type Rep = Awaited<ReturnType<typeof run>> & { before: Stats; after: Stats };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// Medians over the repeats; batch statistics pooled.
function summarize(model: string, mode: Mode, connections: number, nDocs: number, reps: Rep[]): Row {
  const delta = (k: keyof Stats) => reps.reduce((s, r) => s + r.after[k] - r.before[k], 0);
  const batches = delta('batches');
  return {
    model, mode, connections,
    requests: reps.reduce((s, r) => s + r.ok, 0),
    seconds: reps.reduce((s, r) => s + r.seconds, 0),
    rps: median(reps.map((r) => r.ok / r.seconds)),
    pairsPerSecond: median(reps.map((r) => (r.ok * nDocs) / r.seconds)),
    p50: median(reps.map((r) => r.p50)),
    p99: median(reps.map((r) => r.p99)),
    errors: reps.reduce((s, r) => s + r.errors, 0),
    batches,
    pairsPerBatch: delta('pairs') / Math.max(batches, 1),
    requestsPerBatch: delta('batchRequests') / Math.max(batches, 1),
    paddingEfficiency: delta('realTokens') / Math.max(delta('paddedTokens'), 1),
    busy: delta('forwardSeconds') / reps.reduce((s, r) => s + r.seconds, 0),
    msPerPair: (1000 * delta('forwardSeconds')) / Math.max(delta('pairs'), 1),
  };
}

async function createSmallModel(dir: string): Promise<void> {
  const config = JSON.parse(fs.readFileSync(path.join(bertMiniDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const model = await Reranker.create({
    config: {
      ...config, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024,
      max_position_embeddings: 512,  // the fixture's 128 positions cannot hold a 256-token pair
    } as never,
    tokenizer: bertMiniDir,
    maxLength: 256,
  });
  try {
    await model.save(dir);
  } finally {
    model.dispose();
  }
}

interface Server {
  url: string;
  stop(): Promise<void>;
}

async function startServer(dir: string, maxLength: number | undefined, extra: string[]): Promise<Server> {
  const args = [cli, 'serve', '--model', dir, '--port', '0', '--log-level', 'warn', '--timeout-ms', '600000', ...extra];
  if (maxLength) args.push('--max-length', String(maxLength));
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, args, { stdio: 'pipe', env: { ...process.env, RRNATIVE_API_KEY: '' } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${stderr}`)), 60_000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', () => reject(new Error(`the server exited: ${stderr}`)));
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) console.error(`server exited with ${code}: ${stderr}`);
    },
  };
}

async function run(url: string, bodies: string[], connections: number, amount: number, maxSeconds: number) {
  const t0 = process.hrtime.bigint();
  let next = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: `${url}/rerank`, method: 'POST', headers: { 'content-type': 'application/json' },
      requests: [{ setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
      connections, amount, timeout: 600,
    }, (err, res) => (err ? reject(err) : resolve(res)));
    const timer = setTimeout(() => instance.stop(), maxSeconds * 1000);
    instance.on('done', () => clearTimeout(timer));
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    ok: result['2xx'], seconds,
    p50: result.latency.p50, p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

async function serverStats(url: string) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    batches: value('rrnative_batches_total'),
    pairs: value('rrnative_pairs_scored_total'),
    batchRequests: value('rrnative_batch_requests_sum'),
    realTokens: value('rrnative_tokens_total'),
    paddedTokens: value('rrnative_padded_tokens_total'),
    forwardSeconds: value('rrnative_forward_duration_seconds_sum'),
  };
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
