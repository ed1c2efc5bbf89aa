// Which OpenBLAS kernel family rrnative asks for (src/native.ts openBlasCoreFor): SkylakeX on AMD CPUs with
// AVX-512 (OpenBLAS 0.3.21 runs them on its AVX2 kernels), nothing elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBlasCoreFor } from '../src/native';

const cpu = (vendor: string, flags: string) => `processor\t: 0\nvendor_id\t: ${vendor}\nflags\t\t: ${flags}\n\nprocessor\t: 1\n`;
const avx512 = 'fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni';

test('AMD with AVX-512 F/BW/DQ/VL: SKYLAKEX', () => {
  assert.equal(openBlasCoreFor(cpu('AuthenticAMD', avx512)), 'SKYLAKEX');
});

test('AMD with AVX2 only, Intel with AVX-512, or no cpuinfo: OpenBLAS chooses', () => {
  assert.equal(openBlasCoreFor(cpu('AuthenticAMD', 'fpu sse2 avx avx2 fma')), undefined);
  assert.equal(openBlasCoreFor(cpu('AuthenticAMD', 'fpu avx2 avx512f avx512dq')), undefined);  // no BW/VL
  assert.equal(openBlasCoreFor(cpu('GenuineIntel', avx512)), undefined);
  assert.equal(openBlasCoreFor(''), undefined);
});
