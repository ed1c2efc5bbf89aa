// The BERT family: BERT, RoBERTa / XLM-R and ELECTRA. Their embeddings, the self-attention block (Q/K/V
// projections, attention, output projection, residual and post-LayerNorm: HF's BertAttention = BertSelfAttention +
// BertSelfOutput) and their classification heads. The layer stack they share with DeBERTa: models/encoder.h.
#pragma once
#include <torch/torch.h>
#include <string>
#include <utility>
#include "kernels/int8_linear.h"
#include "layers/packing.h"
#include "models/config.h"

namespace rr {

// BERT, RoBERTa and ELECTRA embeddings (ELECTRA embeds in embedding_size; its projection lives in the model).
// RoBERTa counts positions from padding_idx + 1 over non-pad tokens.
struct BertEmbeddingsImpl : torch::nn::Module {
  explicit BertEmbeddingsImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& inputIds, const torch::Tensor& tokenTypeIds);

  torch::nn::Embedding wordEmbeddings{nullptr}, positionEmbeddings{nullptr}, tokenTypeEmbeddings{nullptr};
  torch::nn::LayerNorm layerNorm{nullptr};
  bool robertaPositions;
  int64_t padTokenId;
  double dropout;
};
TORCH_MODULE(BertEmbeddings);

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

// BERT pooler: the first token's hidden state through dense + tanh.
struct BertPoolerImpl : torch::nn::Module {
  explicit BertPoolerImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& hidden);
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(BertPooler);

// RoBERTa / ELECTRA head on the first token: dropout, dense, activation (tanh / gelu), dropout, out_proj.
struct ClassificationHeadImpl : torch::nn::Module {
  ClassificationHeadImpl(const ModelConfig& cfg, std::string activation);
  torch::Tensor forward(const torch::Tensor& hidden);
  torch::nn::Linear dense{nullptr}, outProj{nullptr};
  std::string activation;
  double dropout;
};
TORCH_MODULE(ClassificationHead);

}  // namespace rr
