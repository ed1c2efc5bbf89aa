#include "embeddings.h"

namespace rr {

BertEmbeddingsImpl::BertEmbeddingsImpl(const ModelConfig& cfg) : dropout(cfg.hiddenDropoutProb) {
  wordEmbeddings = register_module("word_embeddings",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(cfg.vocabSize, cfg.hiddenSize).padding_idx(cfg.padTokenId)));
  positionEmbeddings = register_module("position_embeddings",
      torch::nn::Embedding(cfg.maxPositionEmbeddings, cfg.hiddenSize));
  tokenTypeEmbeddings = register_module("token_type_embeddings",
      torch::nn::Embedding(std::max<int64_t>(cfg.typeVocabSize, 1), cfg.hiddenSize));
  layerNorm = register_module("LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.hiddenSize}).eps(cfg.layerNormEps)));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& inputIds, const torch::Tensor& tokenTypeIds) {
  const int64_t length = inputIds.size(1);
  auto positions = torch::arange(length, inputIds.options()).unsqueeze(0);
  auto x = wordEmbeddings(inputIds) + tokenTypeEmbeddings(tokenTypeIds) + positionEmbeddings(positions);
  x = layerNorm(x);
  return torch::nn::functional::dropout(x, torch::nn::functional::DropoutFuncOptions().p(dropout).training(is_training()));
}

}  // namespace rr
