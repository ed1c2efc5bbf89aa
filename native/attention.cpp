#include "attention.h"
#include <cmath>

namespace rr {

namespace F = torch::nn::functional;

torch::Tensor scaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& additiveMask, double dropout, bool training) {
#if (TORCH_VERSION_MAJOR >= 2)
  // Fused kernels (flash / memory-efficient on CUDA, a blocked kernel on CPU).
  return at::scaled_dot_product_attention(q, k, v, additiveMask, training ? dropout : 0.0, false);
#else
  // LibTorch 1.x has no SDPA: the eager formula HF uses (scale applied to the product, softmax in the input dtype).
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = torch::matmul(q, k.transpose(-1, -2)) * scale + additiveMask;
  auto probs = torch::softmax(scores, -1);
  probs = F::dropout(probs, F::DropoutFuncOptions().p(dropout).training(training));
  return torch::matmul(probs, v);
#endif
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const ModelConfig& cfg)
    : numHeads(cfg.numAttentionHeads), headDim(cfg.hiddenSize / cfg.numAttentionHeads),
      dropout(cfg.attentionProbsDropoutProb) {
  query = register_module("query", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  key = register_module("key", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  value = register_module("value", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask) {
  const int64_t batch = hidden.size(0), length = hidden.size(1);
  auto heads = [&](const torch::Tensor& x) { return x.view({batch, length, numHeads, headDim}).transpose(1, 2); };
  auto context = scaledDotProductAttention(heads(query(hidden)), heads(key(hidden)), heads(value(hidden)),
                                           additiveMask, dropout, is_training());
  return context.transpose(1, 2).reshape({batch, length, numHeads * headDim});
}

BertSelfOutputImpl::BertSelfOutputImpl(const ModelConfig& cfg) : dropout(cfg.hiddenDropoutProb) {
  dense = register_module("dense", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  layerNorm = register_module("LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.hiddenSize}).eps(cfg.layerNormEps)));
}

torch::Tensor BertSelfOutputImpl::forward(const torch::Tensor& hidden, const torch::Tensor& residual) {
  auto x = F::dropout(dense(hidden), F::DropoutFuncOptions().p(dropout).training(is_training()));
  return layerNorm(x + residual);
}

BertAttentionImpl::BertAttentionImpl(const ModelConfig& cfg) {
  self = register_module("self", BertSelfAttention(cfg));
  output = register_module("output", BertSelfOutput(cfg));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask) {
  return output(self(hidden, additiveMask), hidden);
}

}  // namespace rr
