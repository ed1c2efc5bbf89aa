// BERT self-attention block: Q/K/V projections, scaled dot-product attention, output projection,
// residual and post-LayerNorm (HF's BertAttention = BertSelfAttention + BertSelfOutput).
#pragma once
#include <torch/torch.h>
#include <utility>
#include "config.h"
#include "int8_linear.h"
#include "packing.h"

namespace rr {

// Which fused attention kernels LibTorch may pick on CUDA: RRNATIVE_SDPA, a comma list of flash, efficient,
// cudnn, math (unset: flash,efficient,math). Read once, on the torch thread, before any model runs.
// Returns what was applied, for runtimeInfo(); throws on an unknown name.
std::string configureAttentionBackends(const char* spec);

struct BertSelfAttentionImpl : torch::nn::Module {
  explicit BertSelfAttentionImpl(const ModelConfig& cfg);
  // additiveMask: [batch, 1, 1, length], 0 where attended, the dtype's lowest value where padded. hidden:
  // [batch, length, hidden], or [tokens, hidden] when `packing` is active.
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask, const TokenPacking& packing);

  // Int8 products for inference (CrossEncoder::setInt8): Q, K and V joined, quantized once; else none.
  void setInt8(bool on);
  // HF's three Linears as one: weights [3 x hidden, hidden] and biases [3 x hidden], Q then K then V.
  std::pair<torch::Tensor, torch::Tensor> joinedQkv() const;

  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  Int8Linear qkvInt8;
  int64_t numHeads, headDim;
  double dropout;
};
TORCH_MODULE(BertSelfAttention);

struct BertSelfOutputImpl : torch::nn::Module {
  explicit BertSelfOutputImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& residual);

  void setInt8(bool on);

  torch::nn::Linear dense{nullptr};
  Int8Linear denseInt8;
  torch::nn::LayerNorm layerNorm{nullptr};
  double dropout;
};
TORCH_MODULE(BertSelfOutput);

struct BertAttentionImpl : torch::nn::Module {
  explicit BertAttentionImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask, const TokenPacking& packing);

  BertSelfAttention self{nullptr};
  BertSelfOutput output{nullptr};
};
TORCH_MODULE(BertAttention);

// DeBERTa's disentangled self-attention: content-to-content plus content-to-position (c2p) and
// position-to-content (p2c) scores over bucketed relative positions.
struct DisentangledSelfAttentionImpl : torch::nn::Module {
  explicit DisentangledSelfAttentionImpl(const ModelConfig& cfg);
  // relativePositions: int64 [length, length] bucketed (query - key); relEmbeddings: [2 * span, hidden], normalised.
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask, const torch::Tensor& relativePositions,
                        const torch::Tensor& relEmbeddings);

  // Int8 products of the hidden states' projections (the relative embeddings' stay float32: [2 x span] rows).
  void setInt8(bool on);

  torch::nn::Linear queryProj{nullptr}, keyProj{nullptr}, valueProj{nullptr}, posKeyProj{nullptr}, posQueryProj{nullptr};
  Int8Linear queryInt8, keyInt8, valueInt8;
  int64_t numHeads, headDim, span;
  bool c2p, p2c;
  double dropout, posDropout;
};
TORCH_MODULE(DisentangledSelfAttention);

struct DebertaAttentionImpl : torch::nn::Module {
  explicit DebertaAttentionImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask, const torch::Tensor& relativePositions,
                        const torch::Tensor& relEmbeddings);

  DisentangledSelfAttention self{nullptr};
  BertSelfOutput output{nullptr};
};
TORCH_MODULE(DebertaAttention);

// softmax(q k^T * scale + mask) v over [batch, heads, length, headDim] tensors.
torch::Tensor scaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& additiveMask, double dropout, bool training);

}  // namespace rr
