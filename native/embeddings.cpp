#include "embeddings.h"
#include "dropout.h"

namespace rr {

namespace {
int64_t embeddingSize(const ModelConfig& cfg) { return cfg.embeddingSize > 0 ? cfg.embeddingSize : cfg.hiddenSize; }
}  // namespace

BertEmbeddingsImpl::BertEmbeddingsImpl(const ModelConfig& cfg)
    : robertaPositions(cfg.type == ModelType::Roberta), padTokenId(cfg.padTokenId), dropout(cfg.hiddenDropoutProb) {
  const int64_t size = embeddingSize(cfg);
  wordEmbeddings = register_module("word_embeddings",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(cfg.vocabSize, size).padding_idx(cfg.padTokenId)));
  auto positionOptions = torch::nn::EmbeddingOptions(cfg.maxPositionEmbeddings, size);
  if (robertaPositions) positionOptions.padding_idx(cfg.padTokenId);
  positionEmbeddings = register_module("position_embeddings", torch::nn::Embedding(positionOptions));
  tokenTypeEmbeddings = register_module("token_type_embeddings",
      torch::nn::Embedding(std::max<int64_t>(cfg.typeVocabSize, 1), size));
  layerNorm = register_module("LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({size}).eps(cfg.layerNormEps)));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& inputIds, const torch::Tensor& tokenTypeIds) {
  torch::Tensor positions;
  if (robertaPositions) {
    // HF's create_position_ids_from_input_ids: padding_idx + running count of non-pad tokens; pads stay at padding_idx.
    auto notPad = inputIds.ne(padTokenId).to(torch::kInt64);
    positions = torch::cumsum(notPad, 1) * notPad + padTokenId;
  } else {
    positions = torch::arange(inputIds.size(1), inputIds.options()).unsqueeze(0);
  }
  auto x = wordEmbeddings(inputIds) + tokenTypeEmbeddings(tokenTypeIds) + positionEmbeddings(positions);
  x = layerNorm(x);
  return rr::dropout(x, dropout, is_training());
}

DebertaEmbeddingsImpl::DebertaEmbeddingsImpl(const ModelConfig& cfg) : dropout(cfg.hiddenDropoutProb) {
  const int64_t size = embeddingSize(cfg);
  wordEmbeddings = register_module("word_embeddings",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(cfg.vocabSize, size).padding_idx(cfg.padTokenId)));
  if (cfg.positionBiasedInput)
    positionEmbeddings = register_module("position_embeddings", torch::nn::Embedding(cfg.maxPositionEmbeddings, size));
  if (cfg.typeVocabSize > 0)
    tokenTypeEmbeddings = register_module("token_type_embeddings", torch::nn::Embedding(cfg.typeVocabSize, size));
  if (size != cfg.hiddenSize)
    embedProj = register_module("embed_proj", torch::nn::Linear(torch::nn::LinearOptions(size, cfg.hiddenSize).bias(false)));
  layerNorm = register_module("LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.hiddenSize}).eps(cfg.layerNormEps)));
}

torch::Tensor DebertaEmbeddingsImpl::forward(const torch::Tensor& inputIds, const torch::Tensor& tokenTypeIds,
                                             const torch::Tensor& attentionMask) {
  auto x = wordEmbeddings(inputIds);
  if (positionEmbeddings) x = x + positionEmbeddings(torch::arange(inputIds.size(1), inputIds.options()).unsqueeze(0));
  if (tokenTypeEmbeddings) x = x + tokenTypeEmbeddings(tokenTypeIds);
  if (embedProj) x = embedProj(x);
  x = layerNorm(x);
  x = x * attentionMask.unsqueeze(2).to(x.scalar_type());
  return rr::dropout(x, dropout, is_training());
}

}  // namespace rr
