// The float32 CPU linear products (native/kernels/cpu_gemm.h): through oneDNN's sgemm where this LibTorch links a visible
// libdnnl, else LibTorch's own; RRNATIVE_CPU_GEMM=torch chooses LibTorch's, and both give transformers' logits.
// The int8 products likewise (native/kernels/int8_linear.h): oneDNN's gemm_u8s8s32 called directly, or LibTorch's
// quantized::linear_dynamic. A misspelt value is refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { bertMiniDir, column, loadFixture, maxAbsDiff, repoRoot } from './helpers';

const fixture = loadFixture(bertMiniDir);

function scoreIn(env: NodeJS.ProcessEnv, dtype = 'fp32'): { status: number | null; stdout: string; stderr: string } {
  const probe = `const rr = require(${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'index.js'))});
rr.load(${JSON.stringify(bertMiniDir)}, { maxLength: ${fixture.max_length}, device: 'cpu', dtype: '${dtype}' }).then(async (m) => {
  const scores = await m.score(${JSON.stringify(fixture.eval.pairs)}, { batchSize: 8 });
  const info = rr.runtimeInfo();
  m.dispose();
  console.log(JSON.stringify({ scores, cpuGemm: info.cpuGemm, calls: info.cpuGemmCalls, int8Kernel: info.int8Kernel, int8Products: info.int8Products }));
}).catch((e) => { console.error(e.message); process.exit(1); });`;
  const run = spawnSync(process.execPath, ['-e', probe], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('the default and RRNATIVE_CPU_GEMM=torch both give transformers\' logits; torch runs no sgemm', () => {
  const expected = column(fixture.eval.logits);
  const byDefault = scoreIn({ RRNATIVE_CPU_GEMM: '' });
  assert.equal(byDefault.status, 0, byDefault.stderr);
  const d = JSON.parse(byDefault.stdout) as { scores: number[]; cpuGemm: string; calls: number };
  assert.ok(maxAbsDiff(d.scores, expected) < 1e-5, `default (${d.cpuGemm || 'LibTorch'}): ${maxAbsDiff(d.scores, expected)}`);
  assert.ok(d.cpuGemm === '' ? d.calls === 0 : d.cpuGemm === 'onednn' && d.calls > 0, JSON.stringify(d));
  console.log(`# products by default: ${d.cpuGemm || 'LibTorch'} (${d.calls} sgemm calls)`);

  const viaTorch = scoreIn({ RRNATIVE_CPU_GEMM: 'torch' });
  assert.equal(viaTorch.status, 0, viaTorch.stderr);
  const t = JSON.parse(viaTorch.stdout) as { scores: number[]; cpuGemm: string; calls: number };
  assert.equal(t.cpuGemm, '');
  assert.equal(t.calls, 0);
  assert.ok(maxAbsDiff(t.scores, expected) < 1e-5, `RRNATIVE_CPU_GEMM=torch: ${maxAbsDiff(t.scores, expected)}`);
});

test('int8: oneDNN\'s gemm_u8s8s32 by default where sgemm is oneDNN\'s, linear_dynamic with RRNATIVE_CPU_GEMM=torch; both quantize alike', (t) => {
  const expected = column(fixture.eval.logits);
  type Run = { scores: number[]; cpuGemm: string; int8Kernel: string; int8Products: number };
  const runs: Run[] = [];
  for (const choice of ['', 'torch']) {
    const run = scoreIn({ RRNATIVE_CPU_GEMM: choice }, 'int8');
    if (run.status !== 0 && /quantized|int8 engine/.test(run.stderr)) return t.skip(`no int8 here: ${run.stderr.trim()}`);
    assert.equal(run.status, 0, run.stderr);
    const r = JSON.parse(run.stdout) as Run;
    assert.ok(r.int8Products > 0, JSON.stringify(r));
    const diff = maxAbsDiff(r.scores, expected);
    assert.ok(diff < 1e-2 && diff > 1e-6, `RRNATIVE_CPU_GEMM=${choice || '(unset)'}, ${r.int8Kernel}: ${diff} from transformers' fp32`);
    console.log(`# int8 with RRNATIVE_CPU_GEMM=${choice || '(unset)'}: ${r.int8Kernel}, ${diff.toExponential(2)} from transformers' fp32`);
    runs.push(r);
  }
  const [byDefault, viaTorch] = runs;
  assert.equal(byDefault.int8Kernel, byDefault.cpuGemm === 'onednn' ? 'gemm_u8s8s32' : 'linear_dynamic');
  assert.equal(viaTorch.int8Kernel, 'linear_dynamic');
  // The same weight and activation quantization on both paths (qparams rounded a little differently: 1.1e-4 apart
  // on bert-mini-a, against 5e-3 from fp32): their logits agree far closer than either to fp32.
  assert.ok(maxAbsDiff(byDefault.scores, viaTorch.scores) < 1e-3, `gemm_u8s8s32 vs linear_dynamic: ${maxAbsDiff(byDefault.scores, viaTorch.scores)}`);
});

test('a misspelt RRNATIVE_CPU_GEMM is refused, naming the variable and the values it takes', () => {
  const run = scoreIn({ RRNATIVE_CPU_GEMM: 'tourch' });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /RRNATIVE_CPU_GEMM: expected 'onednn' .* or 'torch', got "tourch"/);
});
