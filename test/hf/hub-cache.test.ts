// The Hugging Face cache shared with Python, both ways, against the local Hub imitation (test/hub-server.ts):
// what huggingface_hub's snapshot_download put there, rrnative loads with the Hub stopped; what rrnative
// downloaded, transformers loads offline (HF_HUB_OFFLINE=1) and scores as rrnative does. Needs RRNATIVE_HF_PYTHON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as rr from '../../src/index';
import { bertMiniDir, column, loadFixture, tempDir } from '../helpers';
import { filesOf, startFakeHub } from '../hub-server';

const python = process.env.RRNATIVE_HF_PYTHON;
const skip = python ? false : 'RRNATIVE_HF_PYTHON is not set (bash ../shared/peers/setup-hf-peers.sh makes the venv and prints its python)';
const fixture = loadFixture(bertMiniDir);
const pairs = fixture.eval.pairs.slice(0, 4);

// Not spawnSync: the Hub imitation runs in this process and must answer Python.
function runPython(script: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python!, ['-c', script], { env: { ...process.env, ...env } });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`python exited ${code}:\n${err}`))));
  });
}

async function withHub<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const hub = await startFakeHub([{ type: 'model', id: 'rrtest/bert-mini', revisions: { main: { ...filesOf(bertMiniDir), 'pytorch_model.bin': Buffer.from('x') } } }]);
  try {
    return await fn(hub.url);
  } finally {
    await hub.close();
  }
}

test('a cache huggingface_hub filled is used by rr.load with the Hub stopped', { skip }, async () => {
  const cache = tempDir('rrnative-pycache-');
  await withHub((url) => runPython('from huggingface_hub import snapshot_download\nsnapshot_download("rrtest/bert-mini", allow_patterns=["*.json", "*.txt", "*.safetensors"])\n',
    { HF_ENDPOINT: url, HF_HUB_CACHE: cache }));
  const env = { ...process.env };
  Object.assign(process.env, { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:1' });
  try {
    const model = await rr.load('rrtest/bert-mini', { maxLength: fixture.max_length });
    const scores = await model.score(pairs);
    model.dispose();
    const expected = column(fixture.eval.logits_single).slice(0, 4);
    scores.forEach((s, i) => assert.ok(Math.abs(s - expected[i]) < 1e-5, `pair ${i}`));
  } finally {
    process.env = env;
  }
});

test('what rr.load downloaded, transformers loads offline from the same cache and scores alike', { skip }, async () => {
  const cache = tempDir('rrnative-nodecache-');
  const env = { ...process.env };
  let ours: number[];
  try {
    ours = await withHub(async (url) => {
      Object.assign(process.env, { HF_HUB_CACHE: cache, HF_ENDPOINT: url });
      delete process.env.HF_HUB_OFFLINE;
      const model = await rr.load('rrtest/bert-mini', { maxLength: fixture.max_length });
      try {
        return await model.score(pairs);
      } finally {
        model.dispose();
      }
    });
  } finally {
    process.env = env;
  }
  const out = await runPython(`import json, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
tok = AutoTokenizer.from_pretrained("rrtest/bert-mini")
model = AutoModelForSequenceClassification.from_pretrained("rrtest/bert-mini").eval()
pairs = json.loads(${JSON.stringify(JSON.stringify(pairs))})
enc = tok([p[0] for p in pairs], [p[1] for p in pairs], padding=True, truncation=True, max_length=${fixture.max_length}, return_tensors="pt")
with torch.no_grad():
    print(json.dumps(model(**enc).logits.squeeze(-1).tolist()))
`, { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:1' });
  const theirs = JSON.parse(out.trim().split('\n').at(-1)!) as number[];
  console.log(`# transformers from rrnative's download: ${theirs.map((v) => v.toFixed(6)).join(' ')}; rrnative ${ours.map((v) => v.toFixed(6)).join(' ')}`);
  theirs.forEach((v, i) => assert.ok(Math.abs(v - ours[i]) < 1e-5, `pair ${i}`));
});
