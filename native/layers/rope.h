// Rotary position embeddings (RoPE) as Hugging Face's default rotary embedding computes them (ModernBERT, Qwen):
// inverse frequencies 1 / theta^(2i / d) in float32, angles position × frequency, the first and second halves of
// a head rotated together (rotate_half).
#pragma once
#include <torch/torch.h>
#include <utility>

namespace rr {

// cos and sin, float32 [n, headDim], for int64 `positions` [n].
std::pair<torch::Tensor, torch::Tensor> rotaryTables(const torch::Tensor& positions, int64_t headDim, double theta);

// x * cos + rotate_half(x) * sin over the last dimension (headDim); cos and sin broadcast against x and are cast to
// x's dtype, as HF casts them.
torch::Tensor applyRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace rr
