#include "layers/dropout.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace rr {

namespace F = torch::nn::functional;

namespace {

// murmur3's 32-bit finalizer: a bijection with full avalanche. Two rounds keyed by the seed's halves turn an
// element's index into its uniform draw; 32-bit multiplies let the compiler vectorise the loop.
inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
void applyKeep(const float* __restrict in, float* __restrict out, int64_t count, uint32_t seedLow, uint32_t seedHigh,
               uint32_t dropBelow, float keepScale) {
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t draw = fmix32(fmix32(static_cast<uint32_t>(i) ^ seedLow) + seedHigh);
    // Branch-free (the scaled value's bits AND all-ones or zero), so the loop vectorises.
    const uint32_t keepBits = 0u - static_cast<uint32_t>(draw >= dropBelow);
    const float kept = in[i] * keepScale;
    uint32_t bits;
    std::memcpy(&bits, &kept, sizeof bits);
    bits &= keepBits;
    std::memcpy(&out[i], &bits, sizeof bits);
  }
}

// Draws below p · 2^32 drop (p is quantised to 2^-32).
uint32_t dropThreshold(double p) { return static_cast<uint32_t>(std::min(std::ldexp(p, 32), 4294967295.0)); }

// Elements are drawn in blocks of 2^31, each under its own key: the 32-bit counter never wraps. Calls
// apply(firstInBlock, count, keyLow, keyHigh) for the runs of [first, first + count) within one block.
constexpr int64_t kKeyBlock = int64_t{1} << 31;
template <typename Apply>
void forEachKeyBlock(int64_t first, int64_t count, uint64_t seed, Apply apply) {
  for (int64_t e = first, end = first + count; e < end;) {
    const int64_t b = e / kKeyBlock, inBlock = e - b * kKeyBlock, n = std::min(kKeyBlock - inBlock, end - e);
    const uint64_t key = seed + static_cast<uint64_t>(b) * 0x9e3779b97f4a7c15ull;
    apply(e - first, inBlock, n, static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32));
    e += n;
  }
}

// out = x ⊙ mask(seed), for a float32 CPU tensor, in x's logical (contiguous) order.
torch::Tensor keep(const torch::Tensor& x, double p, uint64_t seed) {
  auto in = x.contiguous();
  auto out = torch::empty_like(in);
  const uint32_t dropBelow = dropThreshold(p);
  const float keepScale = static_cast<float>(1.0 / (1.0 - p));
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  forEachKeyBlock(0, in.numel(), seed, [&](int64_t offset, int64_t, int64_t n, uint32_t keyLow, uint32_t keyHigh) {
    applyKeep(src + offset, dst + offset, n, keyLow, keyHigh, dropBelow, keepScale);
  });
  return out;
}

// Autograd for keep(): the gradient is the incoming one through the same mask, recomputed from the seed.
struct HashDropout : torch::autograd::Function<HashDropout> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double p, int64_t seed) {
    ctx->saved_data["p"] = p;
    ctx->saved_data["seed"] = seed;
    return keep(x, p, static_cast<uint64_t>(seed));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const double p = ctx->saved_data["p"].toDouble();
    const auto seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
    return {keep(grads[0], p, seed), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

void dropoutKeepFactors(float* out, int64_t first, int64_t count, double p, uint64_t seed) {
  const uint32_t dropBelow = dropThreshold(p);
  const float keepScale = static_cast<float>(1.0 / (1.0 - p));
  forEachKeyBlock(first, count, seed, [&](int64_t offset, int64_t inBlock, int64_t n, uint32_t keyLow, uint32_t keyHigh) {
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t draw = fmix32(fmix32(static_cast<uint32_t>(inBlock + i) ^ keyLow) + keyHigh);
      out[offset + i] = draw >= dropBelow ? keepScale : 0.0f;
    }
  });
}

DropoutMasks dropoutMask(int64_t count, double p, uint64_t seed) {
  TORCH_CHECK(p >= 0.0 && p < 1.0, "dropout probability must be in [0, 1), got ", p);
  torch::AutoGradMode gradMode(true);
  auto ones = torch::ones({count}, torch::kFloat32).requires_grad_(true);
  auto forward = HashDropout::apply(ones, p, static_cast<int64_t>(seed));
  forward.backward(torch::ones_like(forward));
  return {forward.detach(), ones.grad()};
}

torch::Tensor dropout(const torch::Tensor& x, double p, bool training) {
  if (!training || p == 0.0) return x;
  if (!x.device().is_cpu() || p >= 1.0 || x.scalar_type() != torch::kFloat32) {
    return F::dropout(x, F::DropoutFuncOptions().p(p).training(true));
  }
  return HashDropout::apply(x, p, dropoutSeed());
}

int64_t dropoutSeed() {
  return torch::randint(std::numeric_limits<int64_t>::max(), {1}, torch::TensorOptions().dtype(torch::kInt64)).item<int64_t>();
}

}  // namespace rr
