// BERT embeddings: word + position + token type, then LayerNorm and dropout.
#pragma once
#include <torch/torch.h>
#include "config.h"

namespace rr {

struct BertEmbeddingsImpl : torch::nn::Module {
  explicit BertEmbeddingsImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& inputIds, const torch::Tensor& tokenTypeIds);

  torch::nn::Embedding wordEmbeddings{nullptr}, positionEmbeddings{nullptr}, tokenTypeEmbeddings{nullptr};
  torch::nn::LayerNorm layerNorm{nullptr};
  double dropout;
};
TORCH_MODULE(BertEmbeddings);

}  // namespace rr
