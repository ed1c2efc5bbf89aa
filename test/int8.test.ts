// dtype 'int8' (native/kernels/int8_linear.h): the encoder's products in int8 on the CPU, checked against transformers'
// fp32 outputs (test/fixtures/hf) as bf16 weights are, with the same 1e-2 bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as rr from '../src/index';
import { resolveDevice } from '../src/model';
import { addon } from '../src/native';
import { bertMiniDir, column, cpuFlags, fixturesDir, loadFixture, maxAbsDiff, oneDnnIsaCap, repoRoot, tempDir } from './helpers';

interface EvalFixture {
  eval: { encoded: { input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] }; logits: number[] | number[][] };
}

const cli = path.join(repoRoot, 'dist', 'src', 'cli.js');
// Products per layer: Q/K/V joined, attention output, the two feed-forward ones (DeBERTa: Q, K and V apart).
const families = [
  { name: 'bert-mini-a', productsPerLayer: 4 },
  { name: 'xlmr-pub', productsPerLayer: 4 },
  { name: 'electra-pub', productsPerLayer: 4 },
  { name: 'deberta-v3-pub', productsPerLayer: 6 },
];

// LibTorch 2.x builds may come without quantized CPU ops (gpu.sh runs this file on the pip LibTorch): there the
// tests skip, saying why. Debian's LibTorch 1.13 has them, and there a failure to load stays a failure.
const int8Missing: Promise<string | null> = (async () => {
  try {
    (await rr.load(bertMiniDir, { dtype: 'int8' })).dispose();
    return null;
  } catch (err) {
    const message = (err as Error).message;
    if (Number(addon().runtimeInfo().torchVersion.split('.')[0]) >= 2 && /has no (quantized CPU linear ops|x86 int8 engine)/.test(message)) return message;
    throw err;
  }
})();

// Full-range activations only where the products use AVX-512 VNNI (native/kernels/int8_linear.cpp): the CPU has it and
// oneDNN's ISA cap, if any, allows it. Read here from /proc/cpuinfo, independently of the addon's cpuid.
function expectedActivations(): 'u8' | 'u7' {
  if (['SSE41', 'AVX', 'AVX2', 'AVX2_VNNI', 'AVX2_VNNI_2', 'AVX512_CORE'].includes(oneDnnIsaCap())) return 'u7';
  return cpuFlags().has('avx512_vnni') ? 'u8' : 'u7';
}

function inputOf(e: EvalFixture['eval']) {
  return { inputIds: e.encoded.input_ids, attentionMask: e.encoded.attention_mask, tokenTypeIds: e.encoded.token_type_ids };
}

for (const { name, productsPerLayer } of families) {
  test(`${name}: int8 products (dtype 'int8') give logits within 1e-2 of transformers' fp32, through the int8 kernels`, async (t) => {
    const missing = await int8Missing;
    if (missing) return t.skip(missing);
    const dir = path.join(fixturesDir, name);
    const { eval: e } = loadFixture<EvalFixture>(dir);
    const layers = (JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { num_hidden_layers: number }).num_hidden_layers;
    const model = await rr.load(dir, { dtype: 'int8' });
    try {
      assert.equal(model.dtype, 'int8');
      const info = addon().runtimeInfo();
      assert.match(info.int8Engine, /^(onednn|x86|fbgemm)$/);
      // oneDNN's primitive cache off (native/kernels/int8_linear.cpp: cached int8 products held memory per batch shape).
      if (info.int8Engine === 'onednn' && info.onednnPrimitiveCache !== -1 && !process.env.ONEDNN_PRIMITIVE_CACHE_CAPACITY) {
        assert.equal(info.onednnPrimitiveCache, 0);
      }
      const before = info.int8Products;
      const logits = column(await model.scoreTokens(inputOf(e)));
      assert.equal(addon().runtimeInfo().int8Products - before, layers * productsPerLayer, 'every encoder product ran in int8, once');
      const diff = maxAbsDiff(logits, column(e.logits));
      const activations = addon().runtimeInfo().int8Activations;
      console.log(`# ${name}: int8 (${info.int8Engine} ${addon().runtimeInfo().int8Kernel}, ${activations} activations, oneDNN ISA cap ${process.env.ONEDNN_MAX_CPU_ISA ?? 'none'}) ` +
        `max |diff| vs fp32 reference ${diff.toExponential(2)}`);
      assert.equal(activations, expectedActivations(), 'u8 with AVX-512 VNNI, else 7-bit (reduce_range)');
      assert.ok(diff < 1e-2, `int8 differs from transformers' fp32 by ${diff}`);
      assert.ok(diff > 1e-6, `int8 gave fp32's logits (${diff}): the products were not quantized`);
    } finally {
      model.dispose();
    }
  });
}

test("an int8 model quantizes the weights it loads, saves its float32 weights unchanged, and refuses to train", async (t) => {
  const missing = await int8Missing;
  if (missing) return t.skip(missing);
  const { eval: e } = loadFixture<EvalFixture>(bertMiniDir);
  const expected = column(e.logits);
  // Random weights first: quantized at setDtype, then replaced by the fixture's, which must be quantized in turn.
  const config = JSON.parse(fs.readFileSync(path.join(bertMiniDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const model = await rr.create({ config, tokenizer: bertMiniDir, dtype: 'int8', seed: 3 });
  const out = tempDir('rrnative-int8-');
  try {
    const random = column(await model.scoreTokens(inputOf(e)));
    assert.ok(maxAbsDiff(random, expected) > 1e-2, 'the random model already scores like the fixture: the check below would prove nothing');
    await model.native.loadWeights(path.join(bertMiniDir, 'model.safetensors'));
    const loaded = column(await model.scoreTokens(inputOf(e)));
    assert.ok(maxAbsDiff(loaded, expected) < 1e-2, `after loadWeights the int8 model differs from the fixture by ${maxAbsDiff(loaded, expected)}`);

    await model.save(out);
    const fp32 = await rr.load(out);
    try {
      const saved = column(await fp32.scoreTokens(inputOf(e)));
      assert.ok(maxAbsDiff(saved, expected) < 1e-5, `the saved weights are not the float32 ones: ${maxAbsDiff(saved, expected)}`);
    } finally {
      fp32.dispose();
    }

    const batch = { inputIds: new Int32Array([2, 5, 3]), attentionMask: new Int32Array([1, 1, 1]), tokenTypeIds: null, batch: 1, length: 3 };
    const loss = { kind: 'bce' as const, groupSize: 1, labels: Float32Array.from([1]), teacherScores: null, scale: 1, bf16: false };
    await assert.rejects(model.native.trainStep(batch, loss), /int8 products for inference \(dtype 'int8'\); load it with dtype 'fp32' to train it/);

    // Back to fp32 on the same model: the float32 products again, the fixture's logits.
    await model.native.setDtype('fp32');
    const before = addon().runtimeInfo().int8Products;
    const again = column(await model.scoreTokens(inputOf(e)));
    assert.equal(addon().runtimeInfo().int8Products, before, 'dtype fp32 ran int8 products');
    assert.ok(maxAbsDiff(again, expected) < 1e-5, `fp32 after int8 differs by ${maxAbsDiff(again, expected)}`);
  } finally {
    model.dispose();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("dtype 'int8' is named as CPU-only when asked for on CUDA; device 'auto' means the CPU for it; rrtrain score and search --dtype int8", async (t) => {
  const missing = await int8Missing;
  if (missing) return t.skip(missing);
  await assert.rejects(rr.load(bertMiniDir, { device: 'cuda', dtype: 'int8' }),
    { name: 'RangeError', message: /options\.dtype 'int8' runs on the CPU only \(options\.device is 'cuda'\)/ });
  assert.equal(resolveDevice('auto', '--device', 'int8'), 'cpu');
  const input = path.join(tempDir('rrnative-int8-cli-'), 'pairs.jsonl');
  fs.writeFileSync(input, [{ query: 'a cat', document: 'the cat sleeps' }, { query: 'a dog', document: 'fish' }].map((p) => JSON.stringify(p)).join('\n') + '\n');
  const r = spawnSync(process.execPath, [cli, 'score', '--model', bertMiniDir, '--input', input, '--dtype', 'int8'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const scores = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { score: number }).score);
  assert.equal(scores.length, 2);
  assert.ok(scores.every(Number.isFinite));
  const corpus = path.join(path.dirname(input), 'corpus.jsonl');
  fs.writeFileSync(corpus, ['the cat sleeps on the mat', 'a dog barks', 'fish swim'].map((text, i) => JSON.stringify({ id: `d${i}`, text })).join('\n') + '\n');
  const search = spawnSync(process.execPath, [cli, 'search', '--model', bertMiniDir, '--corpus', corpus, '--dtype', 'int8', '--json', 'cat'], { encoding: 'utf8' });
  assert.equal(search.status, 0, search.stderr);
  assert.ok((JSON.parse(search.stdout) as unknown[]).length > 0, 'search --dtype int8 found nothing');
  const bad = spawnSync(process.execPath, [cli, 'score', '--model', bertMiniDir, '--input', input, '--dtype', 'int4'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /dtype/);
  assert.match(bad.stderr, /int4/);
});

test('rrnative.score() passes options.dtype to the model it loads and caches per dtype', async (t) => {
  const missing = await int8Missing;
  if (missing) return t.skip(missing);
  const pairs: [string, string][] = [['a cat', 'the cat sleeps'], ['a dog', 'fish']];
  try {
    const before = addon().runtimeInfo().int8Products;
    const int8 = await rr.score(pairs, { model: bertMiniDir, dtype: 'int8' });
    assert.ok(addon().runtimeInfo().int8Products > before, 'score({ dtype: int8 }) ran no int8 products');
    const fp32 = await rr.score(pairs, { model: bertMiniDir });
    assert.ok(maxAbsDiff(int8, fp32) > 0, 'fp32 and int8 gave the same scores: one cached model served both');
    assert.ok(maxAbsDiff(int8, fp32) < 1e-2);
  } finally {
    await rr.clearCache();
  }
});
