#include "kernels/residual_norm.h"
#include <ATen/record_function.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include "kernels/cpu_threads.h"
#include "kernels/cpu_vector.h"

namespace rr {

namespace {

using namespace simd;

std::atomic<int64_t> callCount{0};
constexpr int64_t kRowsPerItem = 16;

RR_INLINE double laneSum(Floats8 v) {
  double sum = 0.0;
  for (int64_t lane = 0; lane < kLanes; ++lane) sum += v[lane];
  return sum;
}

// Each row: v = product + bias + residual into out (which may be product), then (v - mean) / sqrt(var + eps) *
// gamma + beta with the biased variance of the centred values, as torch's layer_norm.
RR_VECTOR_CLONES
void normRows(float* out, const float* product, const float* bias, const float* residual, const float* gamma,
              const float* beta, int64_t rows, int64_t width, float eps) {
  const int64_t whole = width / kLanes * kLanes;
  for (int64_t r = 0; r < rows; ++r, out += width, product += width, residual += width) {
    Floats8 sums{};
    double sum = 0.0;
    for (int64_t j = 0; j < whole; j += kLanes) {
      Floats8 v = load(product + j) + load(residual + j);
      if (bias) v += load(bias + j);
      store(out + j, v);
      sums += v;
    }
    for (int64_t j = whole; j < width; ++j) {
      out[j] = product[j] + residual[j] + (bias ? bias[j] : 0.0f);
      sum += out[j];
    }
    const float mean = static_cast<float>((sum + laneSum(sums)) / static_cast<double>(width));
    Floats8 squares{};
    double square = 0.0;
    for (int64_t j = 0; j < whole; j += kLanes) {
      const Floats8 d = load(out + j) - splat(mean);
      squares += d * d;
    }
    for (int64_t j = whole; j < width; ++j) square += static_cast<double>(out[j] - mean) * (out[j] - mean);
    const float rstd = static_cast<float>(1.0 / std::sqrt((square + laneSum(squares)) / static_cast<double>(width) + eps));
    for (int64_t j = 0; j < whole; j += kLanes)
      store(out + j, (load(out + j) - splat(mean)) * splat(rstd) * load(gamma + j) + load(beta + j));
    for (int64_t j = whole; j < width; ++j) out[j] = (out[j] - mean) * rstd * gamma[j] + beta[j];
  }
}

}  // namespace

bool residualLayerNormApplies(const torch::Tensor& like) {
  return like.device().is_cpu() && like.scalar_type() == torch::kFloat32 && !torch::GradMode::is_enabled();
}

torch::Tensor residualLayerNorm(const torch::Tensor& product, const torch::Tensor& bias, const torch::Tensor& residual,
                                torch::nn::LayerNorm& norm, bool overwriteProduct) {
  const auto& options = norm->options;
  if (!residualLayerNormApplies(product) || residual.scalar_type() != torch::kFloat32 || !norm->weight.defined() ||
      !norm->bias.defined() || options.normalized_shape().size() != 1) {
    return norm(bias.defined() ? product + bias + residual : product + residual);
  }
  RECORD_FUNCTION("rr::residual_layer_norm", std::vector<c10::IValue>());  // named in LibTorch's profiler
  const int64_t width = product.size(-1);
  TORCH_CHECK(residual.sizes() == product.sizes() && options.normalized_shape()[0] == width &&
                  (!bias.defined() || (bias.dim() == 1 && bias.size(0) == width)),
              "residualLayerNorm: product ", product.sizes(), ", residual ", residual.sizes(), " and norm width ",
              options.normalized_shape()[0], " do not match");
  auto p = product.contiguous();
  auto res = residual.contiguous();
  auto b = bias.defined() ? bias.contiguous() : bias;
  auto gamma = norm->weight.contiguous(), beta = norm->bias.contiguous();
  auto out = overwriteProduct || !p.is_same(product) ? p : torch::empty_like(p);
  const int64_t rows = width == 0 ? 0 : p.numel() / width;
  const float *ps = p.data_ptr<float>(), *rs = res.data_ptr<float>(), *bs = b.defined() ? b.data_ptr<float>() : nullptr;
  const float *gs = gamma.data_ptr<float>(), *betas = beta.data_ptr<float>();
  float* os = out.data_ptr<float>();
  const float eps = static_cast<float>(options.eps());
  forEachRowBlock(rowBlocks(rows, kRowsPerItem), [&](int64_t first, int64_t count, int) {
    const int64_t at = first * width;
    normRows(os + at, ps + at, bs, rs + at, gs, betas, count, width, eps);
  });
  ++callCount;
  return out;
}

int64_t residualLayerNormCalls() { return callCount.load(); }

}  // namespace rr
