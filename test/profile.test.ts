// The profiler the GPU benchmark reads (native/runtime/profiler.h, scripts/bench/profile.ts): it records the work it
// wraps without changing it, and refuses to be stopped or started out of turn with a plain message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as rr from '../src/index';
import { addon, type NativeProfileSummary } from '../src/native';
import { kernelClass } from '../scripts/bench/profile';
import { bertMiniDir, column, loadFixture, maxAbsDiff, testDevice } from './helpers';

const fixture = loadFixture(bertMiniDir);

async function profiled<T>(work: () => Promise<T>): Promise<{ result: T; profile: NativeProfileSummary }> {
  await addon().startProfiler({ cuda: testDevice === 'cuda' });
  let result: T;
  try {
    result = await work();
  } catch (err) {
    await addon().stopProfiler();
    throw err;
  }
  return { result, profile: await addon().stopProfiler() };
}

test(`a profiled score on ${testDevice} still matches transformers, and the profile holds its operators`, async () => {
  const model = await rr.load(bertMiniDir, { maxLength: fixture.max_length, device: testDevice });
  try {
    const { result: scores, profile } = await profiled(() => model.score(fixture.eval.pairs, { batchSize: 8 }));
    assert.ok(maxAbsDiff(scores, column(fixture.eval.logits)) < 1e-5, `profiled score differs by ${maxAbsDiff(scores, column(fixture.eval.logits))}`);
    assert.ok(profile.wallUs > 0);
    const ops = new Map(profile.entries.filter((e) => e.device === 'cpu').map((e) => [e.name, e]));
    // 24 pairs in batches of 8: 3 forwards, each with 4 linear layers per encoder layer (recorded as aten::linear
    // or, by LibTorch 1.13, as the aten::matmul / aten::addmm it runs; as rr::sgemm_linear where oneDNN's sgemm
    // runs them: native/kernels/cpu_gemm.h).
    const layers = (JSON.parse(fs.readFileSync(path.join(bertMiniDir, 'config.json'), 'utf8')) as { num_hidden_layers: number }).num_hidden_layers;
    const products = ['aten::linear', 'aten::matmul', 'aten::addmm', 'rr::sgemm_linear'].reduce((n, name) => n + (ops.get(name)?.calls ?? 0), 0);
    assert.ok(products >= 3 * layers * 4, `${products} matrix products recorded for ${layers} layers: ${[...ops.keys()].join(', ')}`);
    assert.ok(profile.entries.every((e, i) => i === 0 || e.totalUs <= profile.entries[i - 1].totalUs), 'largest first');
    if (testDevice === 'cuda') {
      const kernels = profile.entries.filter((e) => e.device === 'cuda');
      assert.ok(profile.cudaKernelUs > 0 && kernels.some((k) => kernelClass(k.name) === 'matmul'), `kernels: ${kernels.slice(0, 5).map((k) => k.name)}`);
    } else {
      assert.equal(profile.cudaKernelUs, 0);
    }
  } finally {
    model.dispose();
  }
});

test('the profiler refuses a second start and a stop without a start, naming what to do', async () => {
  await assert.rejects(addon().stopProfiler(), /no profile is running: start one first/);
  await addon().startProfiler({ cuda: false });
  try {
    await assert.rejects(addon().startProfiler({ cuda: false }), /a profile is already running: stop it first/);
  } finally {
    await addon().stopProfiler();
  }
  if (!addon().runtimeInfo().cudaAvailable) {
    await assert.rejects(addon().startProfiler({ cuda: true }), /cannot profile CUDA: no CUDA device is available/);
  }
});

test('kernel classes of the names CUPTI gives on an H100/H200', () => {
  const cases: [string, ReturnType<typeof kernelClass>][] = [
    ['sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas', 'matmul'],
    ['nvjet_tst_128x64_64x8_1x2_h_bz_coopA_NNT', 'matmul'],
    ['void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<64, 128, 128, 4, false, false, cutlass::bfloat16_t>, true>(Flash_fwd_params)', 'attention'],
    ['fmha_cutlassB_bf16_aligned_64x64_k64_sm80(PyTorchMemEffAttention::AttentionBackwardKernel<cutlass::arch::Sm80>::Params)', 'attention'],
    ['void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<float, float>(int, float, float const*)', 'layer norm'],
    ['void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous namespace)::FusedAdamMathFunctor<float, 4>>', 'optimizer'],
    ['Memcpy HtoD (Pinned -> Device)', 'copy'],
    ['void at::native::vectorized_elementwise_kernel<4, at::native::GeluCUDAKernelImpl(at::TensorIteratorBase&)::{lambda()#1}>', 'elementwise / other'],
  ];
  for (const [name, cls] of cases) assert.equal(kernelClass(name), cls, name);
});
