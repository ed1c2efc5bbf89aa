// An index folder written by `rrtrain index` read by Python: vectors.safetensors opens with the safetensors
// library, and its rows are sentence-transformers' encode_document() of the corpus (the same prompts, pooling and
// Normalize) within 1e-5 (fp32) and 1e-3 (fp16). Needs RRNATIVE_HF_PYTHON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, tempDir } from '../helpers';

const python = process.env.RRNATIVE_HF_PYTHON;
const skip = python ? false : 'RRNATIVE_HF_PYTHON is not set (bash ../shared/peers/setup-hf-peers.sh makes the venv and prints its python)';
const cli = path.join(repoRoot, 'dist', 'src', 'cli.js');

const docs = [
  'the cat sleeps on the warm mat',
  'Stock markets fell sharply today; bonds rallied.',
  'Ünïcödé text, accents: café, naïve',
  'a long document '.repeat(40),
  '  leading and trailing spaces  ',
];

const compare = `
import json, sys
import numpy as np
from safetensors.numpy import load_file
from sentence_transformers import SentenceTransformer
index, model_dir, corpus = sys.argv[1], sys.argv[2], sys.argv[3]
texts = [json.loads(l)["text"] for l in open(corpus, encoding="utf-8")]
ids = json.load(open(f"{index}/ids.json"))
vectors = load_file(f"{index}/vectors.safetensors")["vectors"].astype(np.float32)
model = SentenceTransformer(model_dir, device="cpu")
expected = model.encode_document(texts, convert_to_numpy=True)
expected = expected / np.maximum(np.linalg.norm(expected, axis=1, keepdims=True), 1e-12)
print(json.dumps({"ids": ids, "shape": list(vectors.shape), "max_abs_diff": float(np.abs(vectors - expected).max())}))
`;

for (const [folder, storage, tolerance] of [['bert-mean-noprompt', 'fp32', 1e-5], ['bert-weightedmean-prompt', 'fp32', 1e-5], ['xlmr-cls-lower', 'fp16', 1e-3]] as const) {
  test(`rrtrain index (${folder}, ${storage}) is sentence-transformers' encode_document, read back with safetensors`, { skip }, () => {
    const dir = tempDir('rrnative-hf-index-');
    const corpus = path.join(dir, 'corpus.jsonl');
    fs.writeFileSync(corpus, docs.map((text, i) => JSON.stringify({ id: `d${i}`, text })).join('\n') + '\n');
    const modelDir = path.join(repoRoot, 'test', 'fixtures', 'st', folder);
    const index = path.join(dir, 'index');
    const made = spawnSync(process.execPath, [cli, 'index', '--embedder', modelDir, '--corpus', corpus, '--out', index, '--storage', storage, '--quiet'], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    // The dot-similarity folder keeps raw vectors: normalise in Python only where the index is cosine.
    const meta = JSON.parse(fs.readFileSync(path.join(index, 'index.json'), 'utf8'));
    const script = meta.metric === 'cosine' ? compare : compare.replace(/^expected = expected \/ .*$/m, '');
    const r = spawnSync(python!, ['-c', script, index, modelDir, corpus], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.deepEqual(out.ids, docs.map((_, i) => `d${i}`));
    assert.equal(out.shape[0], docs.length);
    console.log(`# ${folder} ${storage}: index vs encode_document max abs diff ${out.max_abs_diff.toExponential(2)}`);
    assert.ok(out.max_abs_diff <= tolerance, `max abs diff ${out.max_abs_diff}`);
  });
}
