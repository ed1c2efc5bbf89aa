// Settings the addon applies once, when it loads (native/runtime/worker.cpp): thread counts and glibc's allocator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { NativeRuntimeInfo } from '../src/native';

const nativeModule = path.resolve(__dirname, '..', 'src', 'native.js');

/** runtimeInfo() of a fresh process with these environment variables, and what it wrote to stderr. */
function runtimeInfoWith(env: Record<string, string>): NativeRuntimeInfo & { stderr: string } {
  const script = `process.stdout.write(JSON.stringify(require(${JSON.stringify(nativeModule)}).addon().runtimeInfo()))`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { ...(JSON.parse(r.stdout) as NativeRuntimeInfo), stderr: r.stderr };
}

const glibc = Boolean((process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime);

test('glibc keeps freed memory by default; RRNATIVE_MALLOC=system leaves its defaults', { skip: !glibc && 'not a glibc system' }, () => {
  assert.equal(runtimeInfoWith({ RRNATIVE_MALLOC: '' }).keepsFreedMemory, true);
  assert.equal(runtimeInfoWith({ RRNATIVE_MALLOC: 'system' }).keepsFreedMemory, false);
  const typo = runtimeInfoWith({ RRNATIVE_MALLOC: 'sytem' });
  assert.equal(typo.keepsFreedMemory, true);
  assert.match(typo.stderr, /RRNATIVE_MALLOC=sytem is not 'system'/);
});

test('RRNATIVE_NUM_THREADS sets the cores used', () => {
  assert.equal(runtimeInfoWith({ RRNATIVE_NUM_THREADS: '1' }).numThreads, 1);
});

test('OpenMP threads sleep when idle (OMP_WAIT_POLICY=PASSIVE) unless a wait policy or spin count is set', (t) => {
  // libgomp prints the settings it took as it loaded (OMP_DISPLAY_ENV=VERBOSE); its spin count says the policy:
  // 0 for PASSIVE, 300000 when nothing is set, 3e10 for ACTIVE.
  const spinCountWith = (env: Record<string, string>) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, OMP_DISPLAY_ENV: 'VERBOSE' };
    delete childEnv.OMP_WAIT_POLICY;
    delete childEnv.GOMP_SPINCOUNT;
    Object.assign(childEnv, env);
    const script = `require(${JSON.stringify(nativeModule)}).addon().runtimeInfo()`;
    const r = spawnSync(process.execPath, ['-e', script], { env: childEnv, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return /GOMP_SPINCOUNT = '(\d+)'/.exec(r.stderr)?.[1];
  };
  const byDefault = spinCountWith({});
  if (byDefault === undefined) return t.skip('this LibTorch does not run on GNU OpenMP');
  assert.equal(byDefault, '0');
  assert.equal(spinCountWith({ OMP_WAIT_POLICY: 'ACTIVE' }), '30000000000');
  assert.equal(spinCountWith({ GOMP_SPINCOUNT: '100000' }), '100000');
});
