// Models by their Hugging Face names, against a local imitation of the Hub (test/hub-server.ts): the cache laid out
// as Python's huggingface_hub lays it out, offline use, tokens only for the endpoint, a download cut midway and
// resumed, and every refusal as the one line the user sees.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import * as rr from '../src/index';
import { parseConfig } from '../src/config/load';
import { bertMiniDir, column, fixturesDir, loadFixture, repoRoot, shardModel, tempDir } from './helpers';
import { filesOf, startFakeHub, useFakeHub, type FakeHub } from './hub-server';

const fixture = loadFixture(bertMiniDir);
// A sentence-transformers 6 folder (modules.json, 1_Pooling/config.json, prompts) for loadEmbedder by name.
const stWeightedMeanDir = path.join(repoRoot, 'test', 'fixtures', 'st', 'bert-weightedmean-prompt');
const pairs = fixture.eval.pairs.slice(0, 4);
const expected = column(fixture.eval.logits_single).slice(0, 4);
const model = filesOf(bertMiniDir);
// Copies the Hub keeps beside the safetensors weights, which rrnative must not download.
const duplicates = { 'pytorch_model.bin': Buffer.from('not wanted'), 'onnx/model.onnx': Buffer.from('not wanted'), 'tf_model.h5': Buffer.from('no') };

let hub: FakeHub;
let cache: string;
const saved = { ...process.env };

before(async () => {
  hub = await startFakeHub([
    { type: 'model', id: 'rrtest/bert-mini', revisions: { main: { ...model, ...duplicates }, v1: model } },
    { type: 'model', id: 'rrtest/private-mini', access: 'private', revisions: { main: model } },
    { type: 'model', id: 'rrtest/gated-mini', access: 'gated', revisions: { main: model } },
    { type: 'model', id: 'rrtest/bin-only', revisions: { main: { 'config.json': model['config.json'], 'pytorch_model.bin': Buffer.from('x') } } },
    { type: 'model', id: 'rrtest/big-mini', revisions: { main: model } },
    { type: 'model', id: 'rrtest/st-weightedmean', revisions: { main: filesOf(stWeightedMeanDir) } },
    { type: 'model', id: 'rrtest/qwen3-sharded', revisions: { main: filesOf(shardModel(path.join(fixturesDir, 'qwen3-seqcls-pub'), 2)) } },
  ]);
  hub.tokens.set('hf_good', { access: new Set(['rrtest/private-mini', 'rrtest/gated-mini']) });
  hub.tokens.set('hf_nogate', { access: new Set() });
});

after(async () => {
  await hub?.close();
  process.env = saved;
});

beforeEach(() => {
  cache = useFakeHub(hub, saved);
});

/** A port nothing listens on (the kernel's pick, released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function scores(name: string, options: rr.LoadOptions = {}): Promise<number[]> {
  const m = await rr.load(name, { maxLength: fixture.max_length, ...options });
  try {
    return await m.score(pairs);
  } finally {
    m.dispose();
  }
}

function assertFixtureScores(s: number[]): void {
  s.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5, `pair ${i}: ${v} vs transformers' ${expected[i]}`));
}

test('rr.load(org/name): downloaded into the cache as huggingface_hub lays it out, only the files a model needs', async () => {
  assertFixtureScores(await scores('rrtest/bert-mini'));
  const repo = path.join(cache, 'models--rrtest--bert-mini');
  const sha = hub.sha('rrtest/bert-mini', 'main');
  assert.equal(fs.readFileSync(path.join(repo, 'refs', 'main'), 'utf8'), sha, 'refs/main holds the commit, no newline');
  const snapshot = path.join(repo, 'snapshots', sha);
  assert.deepEqual(fs.readdirSync(snapshot).sort(), Object.keys(model).sort(), 'no .bin, .h5 or onnx/ copies');
  for (const name of fs.readdirSync(snapshot)) {
    const link = fs.readlinkSync(path.join(snapshot, name));
    assert.match(link, /^\.\.\/\.\.\/blobs\/[0-9a-f]{40,64}$/, `${name} is a relative link into blobs/`);
    assert.ok(fs.readFileSync(path.join(snapshot, name)).equals(model[name]));
  }
  assert.ok(fs.existsSync(path.join(repo, 'blobs', crypto.createHash('sha256').update(model['model.safetensors']).digest('hex'))),
    'an LFS file\'s blob is named by its sha256');
  assert.ok(!hub.requests.some((r) => /pytorch_model|onnx|tf_model/.test(r.url)), 'duplicates never requested');

  // Again, online: one revision request, no download. Offline: no request at all.
  hub.requests.length = 0;
  assertFixtureScores(await scores('rrtest/bert-mini'));
  assert.deepEqual(hub.requests.map((r) => r.url), ['/api/models/rrtest/bert-mini/revision/main']);
  hub.requests.length = 0;
  process.env.HF_HUB_OFFLINE = '1';
  assertFixtureScores(await scores('rrtest/bert-mini'));
  assert.equal(hub.requests.length, 0, 'HF_HUB_OFFLINE: zero requests');
  delete process.env.HF_HUB_OFFLINE;
  process.env.TRANSFORMERS_OFFLINE = 'yes';
  assertFixtureScores(await scores('rrtest/bert-mini'));
  delete process.env.TRANSFORMERS_OFFLINE;
  assertFixtureScores(await scores('rrtest/bert-mini', { localFilesOnly: true }));
  assert.equal(hub.requests.length, 0, 'localFilesOnly: zero requests');
});

test('revisions: @name, the revision option, a commit sha; refs/<revision> written for each name', async () => {
  const v1 = hub.sha('rrtest/bert-mini', 'v1');
  assertFixtureScores(await scores('rrtest/bert-mini@v1'));
  assert.equal(fs.readFileSync(path.join(cache, 'models--rrtest--bert-mini', 'refs', 'v1'), 'utf8'), v1);
  assertFixtureScores(await scores('rrtest/bert-mini', { revision: v1, localFilesOnly: true }));
  await assert.rejects(rr.load('rrtest/bert-mini@v1', { revision: 'main' }), /names revision "v1" and the revision option "main": give one/);
  await assert.rejects(rr.load('rrtest/bert-mini@nope'), /^HubError: rrtest\/bert-mini@nope: no revision "nope" \(a branch, tag or commit of the repo\)$/);
});

test('tokens: private and gated repos need HF_TOKEN (or the token file); the token goes to the endpoint only, never the CDN', async () => {
  await assert.rejects(rr.load('rrtest/private-mini'), /^HubError: rrtest\/private-mini: no local folder of that name, and no such model on http:\/\/127\.0\.0\.1:\d+ \(or it is private: set HF_TOKEN\)$/);
  await assert.rejects(rr.load('rrtest/gated-mini'), /^HubError: rrtest\/gated-mini: a gated model: accept its conditions at http:\/\/127\.0\.0\.1:\d+\/rrtest\/gated-mini, then set HF_TOKEN to a token of that account$/);
  process.env.HF_TOKEN = 'hf_nogate';
  await assert.rejects(rr.load('rrtest/gated-mini'), /a gated model, and the token has no access to it: accept its conditions at .* with the token's account/);
  process.env.HF_TOKEN = 'hf_wrong';
  await assert.rejects(rr.load('rrtest/bert-mini'), /^HubError: rrtest\/bert-mini: the Hub refused the token \(HF_TOKEN, or the token file\): Invalid credentials in Authorization header: check it, or unset it for public models$/);

  delete process.env.HF_TOKEN;
  fs.mkdirSync(path.join(cache, 'home'), { recursive: true });
  fs.writeFileSync(path.join(cache, 'home', 'token'), 'hf_good\n');  // as `huggingface-cli login` writes it
  hub.requests.length = 0;
  assertFixtureScores(await scores('rrtest/private-mini'));
  assertFixtureScores(await scores('rrtest/gated-mini'));
  const toHub = hub.requests.filter((r) => r.host === 'hub');
  const toCdn = hub.requests.filter((r) => r.host === 'cdn');
  assert.ok(toCdn.length >= 2, 'the weights came from the CDN');
  assert.ok(toHub.every((r) => r.authorization === 'Bearer hf_good'), 'every Hub request carries the token');
  assert.ok(toCdn.every((r) => r.authorization === null), 'no CDN request does');
});

test('a repo without safetensors weights, offline without the model, an unreachable endpoint: one line each, saying what to do', async () => {
  await assert.rejects(rr.load('rrtest/bin-only'), /^HubError: rrtest\/bin-only: no weights rrnative can read: it needs model\.safetensors, and the repo has pytorch_model\.bin \(convert with transformers' save_pretrained\(safe_serialization=True\), or pick a revision that has it\)$/);
  process.env.HF_HUB_OFFLINE = '1';
  const folder = path.join(cache, 'models--rrtest--bert-mini');
  await assert.rejects(rr.load('rrtest/bert-mini'), (err: Error) => {
    assert.equal(err.message, `rrtest/bert-mini: no local folder of that name, not in the Hugging Face cache (${folder}), and HF_HUB_OFFLINE is set: run once with the network, or copy the model there (Python's huggingface_hub uses the same folder)`);
    return true;
  });
  delete process.env.HF_HUB_OFFLINE;
  await assert.rejects(rr.load('rrtest/bert-mini', { localFilesOnly: true }), /not in the Hugging Face cache .*, and localFilesOnly is set/);
  process.env.HF_ENDPOINT = `http://127.0.0.1:${await closedPort()}`;
  await assert.rejects(rr.load('rrtest/bert-mini'), /^HubError: rrtest\/bert-mini: no local folder of that name; cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\) and the model is not in the cache \(.*models--rrtest--bert-mini\): check the network or HF_ENDPOINT; once the files are cached, HF_HUB_OFFLINE=1 skips the network$/);
  await assert.rejects(rr.load('./rrtest/bert-mini'), /^Error: \.\/rrtest\/bert-mini: no such model folder$/, 'a path is never taken for an id');
});

test('a download cut midway leaves no file that looks finished; the next load resumes it with a Range request', async () => {
  hub.cutNext.set('model.safetensors', 1_000_000);
  await assert.rejects(rr.load('rrtest/big-mini'), /^HubError: rrtest\/big-mini: (downloading model\.safetensors failed \(.*\)|model\.safetensors came \d+ of \d+ bytes): run again to resume$/);
  const repo = path.join(cache, 'models--rrtest--big-mini');
  const sha = hub.sha('rrtest/big-mini', 'main');
  assert.ok(!fs.existsSync(path.join(repo, 'snapshots', sha, 'model.safetensors')), 'no snapshot link to half a file');
  const partial = fs.readdirSync(path.join(repo, 'blobs')).filter((f) => f.endsWith('.incomplete'));
  assert.equal(partial.length, 1);
  const kept = fs.statSync(path.join(repo, 'blobs', partial[0])).size;
  assert.ok(kept > 0 && kept <= 1_000_000, `the bytes that arrived are kept (${kept})`);
  process.env.HF_HUB_OFFLINE = '1';
  await assert.rejects(rr.load('rrtest/big-mini'), /not in the Hugging Face cache/, 'offline, a cut download is not a model');
  delete process.env.HF_HUB_OFFLINE;

  hub.requests.length = 0;
  assertFixtureScores(await scores('rrtest/big-mini'));
  assert.ok(hub.requests.some((r) => r.host === 'cdn' && r.range === `bytes=${kept}-${model['model.safetensors'].length - 1}`),
    `resumed at byte ${kept}: ${JSON.stringify(hub.requests.filter((r) => r.host === 'cdn'))}`);
  assert.ok(!fs.readdirSync(path.join(repo, 'blobs')).some((f) => f.endsWith('.incomplete')));
});

test('a cache laid out by Python (blobs, relative symlinks, refs) is used with the Hub stopped', async () => {
  const sha = 'a'.repeat(40);
  const repo = path.join(cache, 'models--BAAI--bge-mini-local');
  fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
  fs.mkdirSync(path.join(repo, 'snapshots', sha), { recursive: true });
  fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'refs', 'main'), sha);
  for (const [name, body] of Object.entries(model)) {
    const blob = crypto.createHash('sha1').update(body).digest('hex');
    fs.writeFileSync(path.join(repo, 'blobs', blob), body);
    fs.symlinkSync(`../../blobs/${blob}`, path.join(repo, 'snapshots', sha, name));
  }
  process.env.HF_ENDPOINT = `http://127.0.0.1:${await closedPort()}`;
  const lines: string[] = [];
  const origWrite = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => { lines.push(String(chunk)); return true; }) as typeof process.stderr.write;
  try {
    assertFixtureScores(await scores('BAAI/bge-mini-local'));
  } finally {
    process.stderr.write = origWrite;
  }
  assert.match(lines.join(''), /BAAI\/bge-mini-local: http:\/\/127\.0\.0\.1:\d+ cannot be reached \(ECONNREFUSED\); using the cached snapshot a{40}/);
  process.env.HF_HUB_OFFLINE = 'ON';
  assertFixtureScores(await scores('BAAI/bge-mini-local'));
});

test('Hub ids elsewhere: rr.create\'s tokenizer (tokenizer files only), YAML model.path, rrtrain score --model', async () => {
  const created = await rr.create({ config: JSON.parse(model['config.json'].toString()), tokenizer: 'rrtest/bert-mini', seed: 1 });
  created.dispose();
  const snapshot = path.join(cache, 'models--rrtest--bert-mini', 'snapshots', hub.sha('rrtest/bert-mini', 'main'));
  assert.ok(fs.existsSync(path.join(snapshot, 'vocab.txt')) && !fs.existsSync(path.join(snapshot, 'model.safetensors')), 'no weights for a tokenizer');

  const config = parseConfig(`model: { path: rrtest/bert-mini, revision: v1 }\ndata: { train: { path: x.jsonl } }\ntraining: { output_dir: out }\n`, 'c.yaml');
  assert.equal(config.model.path, 'rrtest/bert-mini', 'a Hub id is kept, not made a path');
  assert.equal(config.model.revision, 'v1');
  assert.equal(parseConfig(`model: { path: test }\ndata: { train: { path: x.jsonl } }\ntraining: { output_dir: out }\n`, 'c.yaml').model.path,
    path.join(process.cwd(), 'test'), 'an existing folder stays a folder');

  const input = path.join(tempDir(), 'pairs.jsonl');
  fs.writeFileSync(input, pairs.map(([query, document]) => JSON.stringify({ query, document })).join('\n') + '\n');
  // Not spawnSync: the Hub imitation runs in this process and must answer the child.
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli.js'), 'score', '--model', 'rrtest/bert-mini', '--input', input,
    '--max-length', String(fixture.max_length), '--device', 'cpu'], { env: process.env });
  const run = { stdout: '', stderr: '', status: null as number | null };
  child.stdout.on('data', (d) => { run.stdout += d; });
  child.stderr.on('data', (d) => { run.stderr += d; });
  run.status = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(run.status, 0, run.stderr);
  assertFixtureScores(run.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { score: number }).score));
});

test('loadEmbedder by Hub name: the sentence-transformers files (modules.json, 1_Pooling/config.json, prompts) come down, embeddings equal the local folder\'s', async () => {
  const texts = ['a cat', 'Stock markets fell'];
  const local = await rr.loadEmbedder(stWeightedMeanDir);
  const remote = await rr.loadEmbedder('rrtest/st-weightedmean');
  try {
    assert.deepEqual(remote.folder.pooling, ['weightedmean']);
    assert.equal(remote.folder.includePrompt, false);
    assert.equal(remote.folder.prompts.passage, 'passage: ');
    assert.deepEqual([...await remote.embed(texts, { promptName: 'passage' })], [...await local.embed(texts, { promptName: 'passage' })]);
    assert.ok(fs.existsSync(path.join(remote.folder.rootDir, '1_Pooling', 'config.json')));
  } finally {
    local.dispose();
    remote.dispose();
  }
});

test('a sharded model by Hub name: the index, then its shards; the snapshot is then complete offline', async () => {
  const f = loadFixture<{ inputs: { input_ids: number[][]; attention_mask: number[][] }; outputs: { logits: number[][] } }>(path.join(fixturesDir, 'qwen3-seqcls-pub'));
  const input = { inputIds: f.inputs.input_ids, attentionMask: f.inputs.attention_mask };
  const online = await rr.load('rrtest/qwen3-sharded');
  const logits = column(await online.scoreTokens(input));
  online.dispose();
  logits.forEach((v, i) => assert.ok(Math.abs(v - f.outputs.logits[i][0]) < 1e-5, `row ${i}`));
  const fetched = hub.requests.filter((r) => r.url.includes('/resolve/')).map((r) => decodeURIComponent(r.url.replace(/.*\/resolve\/[^/]+\//, '').replace(/\?.*/, '')));
  assert.ok(fetched.includes('model.safetensors.index.json') && fetched.includes('model-00001-of-00002.safetensors') && fetched.includes('model-00002-of-00002.safetensors'),
    `fetched ${fetched.join(', ')}`);
  process.env.HF_HUB_OFFLINE = '1';
  const offline = await rr.load('rrtest/qwen3-sharded');
  assert.deepEqual(column(await offline.scoreTokens(input)), logits);
  offline.dispose();
});
