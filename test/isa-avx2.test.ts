// The numeric suites again, as an AVX2-only CPU (AMD EPYC Zen 2/3: no AVX-512, no VNNI) runs them: oneDNN capped at
// AVX2 (ONEDNN_MAX_CPU_ISA) and OpenBLAS on its Haswell kernels (OPENBLAS_CORETYPE). A machine with AVX-512 thus
// catches what an AVX2 machine would (int8's saturating products did); on an AVX2 machine this is a second native run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './helpers';

const suites = ['int8', 'packing', 'bias-gelu', 'parity', 'train-parity', 'ties'];
const capped = { ONEDNN_MAX_CPU_ISA: 'AVX2', OPENBLAS_CORETYPE: 'Haswell' };

test(`under ${Object.entries(capped).map(([k, v]) => `${k}=${v}`).join(' ')}: the ${suites.join(', ')} suites pass`, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...capped };
  delete env.NODE_TEST_CONTEXT;  // a runner of its own, not a child reporting to this one
  const files = suites.map((s) => path.join(repoRoot, 'dist', 'test', `${s}.test.js`));
  const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...files],
    { env, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  const out = run.stdout + run.stderr;
  // What the child measured (int8 error per family, the alone-vs-batch difference) and its counts, in this report.
  for (const line of out.split('\n')) {
    const m = /^# (?:\\# |# )?((?:tests|pass|fail|skipped) \d+|.*(?:int8 \(|alone - in one batch).*)$/.exec(line.trim());
    if (m) console.log(`# capped: ${m[1]}`);
  }
  assert.equal(run.status, 0, `the capped run failed:\n${out.split('\n').filter((l) => /^\s*not ok|error|expected|actual/.test(l)).slice(0, 60).join('\n')}`);
  assert.match(out, /int8 \([\w ]+, u7 activations, oneDNN ISA cap AVX2\)/, 'the int8 products ran with 7-bit activations under the cap');
  assert.match(out, /^# fail 0$/m);
});

test('the cap reaches the libraries: oneDNN reports AVX2, OpenBLAS its Haswell kernels', () => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...capped, ONEDNN_VERBOSE: '1' };
  const probe = `const rr = require(${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'index.js'))});
rr.load(${JSON.stringify(path.join(repoRoot, 'test', 'fixtures', 'hf', 'bert-mini-a'))}, { dtype: 'int8' }).then(async (m) => {
  await m.score([['q', 'd']]); m.dispose(); console.log('blas ' + rr.runtimeInfo().blas);
});`;
  const run = spawnSync(process.execPath, ['-e', probe], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const isa = /onednn_verbose,info,cpu,isa:(.*)/.exec(run.stdout)?.[1];
  console.log(`# oneDNN: ${isa ?? '(no verbose line)'}; ${/^blas .*/m.exec(run.stdout)?.[0]}`);
  if (isa) assert.match(isa, /^Intel AVX2$/);
  assert.match(run.stdout, /^blas .*haswell/im);
});
