// Dropout as HF's nn.Dropout (inverted: kept elements scaled by 1 / (1 - p)). On the CPU the keep decision of
// element i is a hash of (seed, i), so one pass applies it and the backward pass recomputes it from the seed
// instead of storing a mask. LibTorch's CPU dropout draws one element at a time from the generator (bernoulli_),
// then multiplies by a stored mask: ~20% of a MiniLM training step on 2 cores (scripts/bench/cpu.ts). CUDA keeps
// LibTorch's dropout (Philox in the kernel, and safe inside CUDA graph captures).
#pragma once
#include <cstdint>
#include <torch/torch.h>

namespace rr {

torch::Tensor dropout(const torch::Tensor& x, double p, bool training);

// A fresh dropout key from LibTorch's default CPU generator (what manual_seed sets): dropout() draws one per call.
int64_t dropoutSeed();

// The CPU keep mask of `count` elements under `seed`, as dropout() applies it forward (1 / (1 - p) with
// probability 1 - p, else 0) and as its backward pass recomputes it. Element i depends only on (seed, i), not on
// the thread count. dropout() draws its seed from LibTorch's default CPU generator, so torch::manual_seed makes
// runs repeatable. For tests.
// The keep factors (1 / (1 - p) or 0) of elements [first, first + count) of a tensor dropped under `seed`, drawn
// as dropout() draws them: kernels that apply dropout inside a larger pass (native/kernels/packed_attention.h) use this.
void dropoutKeepFactors(float* out, int64_t first, int64_t count, double p, uint64_t seed);

struct DropoutMasks {
  torch::Tensor forward, backward;
};
DropoutMasks dropoutMask(int64_t count, double p, uint64_t seed);

}  // namespace rr
