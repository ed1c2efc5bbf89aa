// Input embeddings of each family: word + position + token type, LayerNorm, dropout.
#pragma once
#include <torch/torch.h>
#include "config.h"

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

// DeBERTa-v2/v3 embeddings: optional absolute positions and token types, optional projection, LayerNorm,
// padded positions zeroed.
struct DebertaEmbeddingsImpl : torch::nn::Module {
  explicit DebertaEmbeddingsImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& inputIds, const torch::Tensor& tokenTypeIds, const torch::Tensor& attentionMask);

  torch::nn::Embedding wordEmbeddings{nullptr}, positionEmbeddings{nullptr}, tokenTypeEmbeddings{nullptr};
  torch::nn::Linear embedProj{nullptr};
  torch::nn::LayerNorm layerNorm{nullptr};
  double dropout;
};
TORCH_MODULE(DebertaEmbeddings);

}  // namespace rr
