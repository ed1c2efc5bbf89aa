// ModernBERT (model_type "modernbert": gte-reranker-modernbert, the ettin rerankers): token embeddings + norm, then
// pre-norm layers (layer 0 without attn_norm) of fused-QKV attention with rotary positions — global on every
// global_attn_every_n_layers-th layer, a sliding window of local_attention / 2 each side on the others, each with
// its own rope theta — and a GeGLU feed-forward; a final norm; the head (pooling, dense, activation, norm). HF's
// modeling_modernbert.py, its parameter names. On the CPU in float32 the layers run on packed tokens, the window
// kept by the attention kernel (kernels/packed_attention.h).
#pragma once
#include <torch/torch.h>
#include <string>
#include "kernels/int8_linear.h"
#include "layers/mlp.h"
#include "layers/norms.h"
#include "layers/packing.h"
#include "models/config.h"

namespace rr {

// Per-forward rotary tables for both thetas: [length, headDim] (padded) or [tokens, headDim] (packed).
struct ModernBertRotary {
  torch::Tensor globalCos, globalSin, localCos, localSin;
};

struct ModernBertEmbeddingsImpl : torch::nn::Module {
  explicit ModernBertEmbeddingsImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& inputIds);
  torch::nn::Embedding tokEmbeddings{nullptr};
  LayerNorm norm{nullptr};
  double dropout;
};
TORCH_MODULE(ModernBertEmbeddings);

struct ModernBertAttentionImpl : torch::nn::Module {
  ModernBertAttentionImpl(const ModelConfig& cfg, int64_t layer);
  // hidden: [batch, length, hidden] with `additiveMask` [batch, 1, length, length] (padding and, on local layers,
  // the window), or [tokens, hidden] when `packing` is active.
  torch::Tensor forward(const torch::Tensor& hidden, const ModernBertRotary& rotary, const torch::Tensor& additiveMask,
                        const TokenPacking& packing);
  void setInt8(bool on);
  torch::nn::Linear Wqkv{nullptr}, Wo{nullptr};
  Int8Linear WqkvInt8, WoInt8;
  int64_t numHeads, headDim, window;  // window: keys |i - j| <= window on local layers, -1 on global ones
  double dropout;
};
TORCH_MODULE(ModernBertAttention);

struct ModernBertLayerImpl : torch::nn::Module {
  ModernBertLayerImpl(const ModelConfig& cfg, int64_t layer);
  torch::Tensor forward(const torch::Tensor& hidden, const ModernBertRotary& rotary, const torch::Tensor& globalMask,
                        const torch::Tensor& localMask, const TokenPacking& packing);
  LayerNorm attnNorm{nullptr};  // none on layer 0 (its input is the embeddings' norm)
  ModernBertAttention attn{nullptr};
  LayerNorm mlpNorm{nullptr};
  GegluMlp mlp{nullptr};
};
TORCH_MODULE(ModernBertLayer);

// ModernBertModel: embeddings, layers, final_norm (registered by the cross-encoder as "model").
struct ModernBertModelImpl : torch::nn::Module {
  explicit ModernBertModelImpl(const ModelConfig& cfg);
  // The final norm's output: packed [tokens, hidden] when `packing` comes back active, else [batch, length, hidden].
  torch::Tensor forward(const torch::Tensor& inputIds, const torch::Tensor& attentionMask, TokenPacking& packing);
  void setInt8(bool on);
  ModernBertEmbeddings embeddings{nullptr};
  torch::nn::ModuleList layers{nullptr};
  LayerNorm finalNorm{nullptr};
  int64_t headDim, localWindow;
  double globalTheta, localTheta;
};
TORCH_MODULE(ModernBertModel);

// ModernBertPredictionHead: norm(act(dense(pooled))).
struct ModernBertHeadImpl : torch::nn::Module {
  explicit ModernBertHeadImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& pooled);
  torch::nn::Linear dense{nullptr};
  LayerNorm norm{nullptr};
  std::string activation;
};
TORCH_MODULE(ModernBertHead);

// The pooled [batch, hidden] vector ModernBertForSequenceClassification's head reads: the first token ("cls") or
// the mean over real tokens ("mean"), from the model's output in either layout.
torch::Tensor modernBertPool(const torch::Tensor& states, const torch::Tensor& attentionMask, const TokenPacking& packing, bool mean);

// HF's ModernBERT initialisation: truncated normals (± initializer_cutoff_factor std), std initializer_range for
// inputs and embeddings, / sqrt(2 × layers) for the layers' outputs and the head's dense, hidden^-0.5 for the
// classifier; norms 1 and 0, biases 0.
void initializeModernBert(torch::nn::Module& model, const ModelConfig& cfg, double cutoffFactor = 2.0);

}  // namespace rr
