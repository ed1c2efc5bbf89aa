// The norms of the newer families, with HF's parameter names ("weight", "bias"): LayerNorm with or without a bias
// (ModernBERT's norm_bias), and RMSNorm (Qwen), computed in float32 as HF's Qwen3RMSNorm does.
#pragma once
#include <torch/torch.h>
#include <string>

namespace rr {

// Whether a parameter belongs to a norm, by HF's names (case aside: the HF Trainer's no-decay patterns "layernorm",
// "rmsnorm", "norm" as a name part, "_norm"): BERT's LayerNorm, DeBERTa's layer_norm, ModernBERT's norm / attn_norm /
// final_norm, Qwen's input_layernorm / q_norm / norm. Such weights start at 1 and take no weight decay.
bool isNormParameter(const std::string& name);

struct LayerNormImpl : torch::nn::Module {
  LayerNormImpl(int64_t size, double eps, bool bias);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;  // bias undefined without norm_bias
  int64_t size;
  double eps;
};
TORCH_MODULE(LayerNorm);

struct RmsNormImpl : torch::nn::Module {
  RmsNormImpl(int64_t size, double eps);
  // weight * (x / sqrt(mean(x^2) + eps)), the normalising in float32 and the product in x's dtype.
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RmsNorm);

}  // namespace rr
