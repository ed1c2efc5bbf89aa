// Qwen3 and Qwen2 decoders (model_type "qwen3", "qwen2") as rerankers: Qwen3-Reranker, mxbai-rerank-v2 and the
// converted *-seq-cls checkpoints. Pre-norm decoder blocks of RMSNorm, grouped-query causal attention (K/V heads
// shared by num_attention_heads / num_key_value_heads query heads; Qwen3's per-head q_norm / k_norm before RoPE,
// Qwen2's q/k/v biases) and a SwiGLU MLP; a final RMSNorm. The score is read at each row's last real token, so
// left and right padding give the same numbers. HF's modeling_qwen3.py / modeling_qwen2.py, their parameter names.
#pragma once
#include <torch/torch.h>
#include "kernels/int8_linear.h"
#include "layers/mlp.h"
#include "layers/norms.h"
#include "layers/packing.h"
#include "models/config.h"

namespace rr {

struct QwenAttentionImpl : torch::nn::Module {
  explicit QwenAttentionImpl(const ModelConfig& cfg);
  // hidden: [batch, length, hidden] with `additiveMask` [batch, 1, length, length] (causal and padding), or
  // [tokens, hidden] when `packing` is active. cos / sin: [batch, length, headDim] or [tokens, headDim].
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& additiveMask, const TokenPacking& packing);
  void setInt8(bool on);
  torch::nn::Linear qProj{nullptr}, kProj{nullptr}, vProj{nullptr}, oProj{nullptr};
  RmsNorm qNorm{nullptr}, kNorm{nullptr};  // Qwen3 only
  Int8Linear qkvInt8, oInt8;
  int64_t numHeads, kvHeads, headDim;
  double dropout;
};
TORCH_MODULE(QwenAttention);

struct QwenDecoderLayerImpl : torch::nn::Module {
  explicit QwenDecoderLayerImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& additiveMask, const TokenPacking& packing);
  QwenAttention selfAttn{nullptr};
  SwigluMlp mlp{nullptr};
  RmsNorm inputLayernorm{nullptr}, postAttentionLayernorm{nullptr};
};
TORCH_MODULE(QwenDecoderLayer);

// Qwen3Model / Qwen2Model: embed_tokens, layers, norm (registered by the cross-encoder as "model").
struct QwenModelImpl : torch::nn::Module {
  explicit QwenModelImpl(const ModelConfig& cfg);
  // The final norm's output at each row's last real token: [batch, hidden].
  torch::Tensor forward(const torch::Tensor& inputIds, const torch::Tensor& attentionMask);
  void setInt8(bool on);
  torch::nn::Embedding embedTokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RmsNorm norm{nullptr};
  int64_t headDim;
  double ropeTheta;
};
TORCH_MODULE(QwenModel);

}  // namespace rr
