#include "models/deberta.h"
#include <cmath>
#include "kernels/cpu_gemm.h"
#include "layers/activations.h"
#include "layers/attention.h"
#include "layers/dropout.h"

namespace rr {

DebertaEmbeddingsImpl::DebertaEmbeddingsImpl(const ModelConfig& cfg) : dropout(cfg.hiddenDropoutProb) {
  const int64_t size = embeddingWidth(cfg);
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

DisentangledSelfAttentionImpl::DisentangledSelfAttentionImpl(const ModelConfig& cfg)
    : numHeads(cfg.numAttentionHeads), headDim(cfg.hiddenSize / cfg.numAttentionHeads),
      span(cfg.positionBuckets > 0 ? cfg.positionBuckets
                                   : (cfg.maxRelativePositions > 0 ? cfg.maxRelativePositions : cfg.maxPositionEmbeddings)),
      c2p(cfg.relativeAttention && cfg.c2p), p2c(cfg.relativeAttention && cfg.p2c),
      dropout(cfg.attentionProbsDropoutProb), posDropout(cfg.hiddenDropoutProb) {
  queryProj = register_module("query_proj", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  keyProj = register_module("key_proj", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  valueProj = register_module("value_proj", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  if (cfg.relativeAttention && !cfg.shareAttKey) {
    if (c2p) posKeyProj = register_module("pos_key_proj", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
    if (p2c) posQueryProj = register_module("pos_query_proj", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  }
}

torch::Tensor DisentangledSelfAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                                     const torch::Tensor& relativePositions, const torch::Tensor& relEmbeddings) {
  const int64_t batch = hidden.size(0), length = hidden.size(1);
  auto heads = [&](const torch::Tensor& x, int64_t rows) { return x.view({-1, rows, numHeads, headDim}).transpose(1, 2); };
  auto project = [&](torch::nn::Linear& linear, const Int8Linear& int8) {
    return heads(int8.defined() ? int8(hidden) : linearProduct(hidden, linear->weight, linear->bias), length);
  };
  auto q = project(queryProj, queryInt8), k = project(keyProj, keyInt8), v = project(valueProj, valueInt8);
  const double scaleFactor = 1 + (c2p ? 1 : 0) + (p2c ? 1 : 0);
  // HF computes the scale as a float32 tensor: sqrt(head_dim * scale_factor).
  const double scale = static_cast<double>(std::sqrt(static_cast<float>(headDim * scaleFactor)));
  auto scores = torch::matmul(q, k.transpose(-1, -2) / scale);

  if (c2p || p2c) {
    auto rel = rr::dropout(relEmbeddings.slice(0, 0, 2 * span), posDropout, is_training());
    const int64_t relRows = rel.size(0);
    auto expandIndex = [&](const torch::Tensor& index) { return index.unsqueeze(0).unsqueeze(0).expand({batch, numHeads, length, length}); };
    if (c2p) {
      auto posKey = heads(posKeyProj ? posKeyProj(rel) : keyProj(rel), relRows);            // [1, H, 2span, D]
      auto c2pIndex = torch::clamp(relativePositions + span, 0, 2 * span - 1);
      auto c2pScores = torch::matmul(q, posKey.transpose(-1, -2)).gather(-1, expandIndex(c2pIndex));
      scores = scores + c2pScores / scale;
    }
    if (p2c) {
      auto posQuery = heads(posQueryProj ? posQueryProj(rel) : queryProj(rel), relRows);  // [1, H, 2span, D]
      auto p2cIndex = torch::clamp(-relativePositions + span, 0, 2 * span - 1);
      auto p2cScores = torch::matmul(k, posQuery.transpose(-1, -2)).gather(-1, expandIndex(p2cIndex)).transpose(-1, -2);
      scores = scores + p2cScores / scale;
    }
  }
  auto probs = torch::softmax(scores + additiveMask, -1);
  probs = rr::dropout(probs, dropout, is_training());
  return torch::matmul(probs, v).transpose(1, 2).reshape({batch, length, numHeads * headDim});
}

void DisentangledSelfAttentionImpl::setInt8(bool on) {
  queryInt8 = on ? Int8Linear(queryProj->weight, queryProj->bias) : Int8Linear();
  keyInt8 = on ? Int8Linear(keyProj->weight, keyProj->bias) : Int8Linear();
  valueInt8 = on ? Int8Linear(valueProj->weight, valueProj->bias) : Int8Linear();
}

DebertaAttentionImpl::DebertaAttentionImpl(const ModelConfig& cfg) {
  self = register_module("self", DisentangledSelfAttention(cfg));
  output = register_module("output", BertSelfOutput(cfg));
}

torch::Tensor DebertaAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                            const torch::Tensor& relativePositions, const torch::Tensor& relEmbeddings) {
  return output(self(hidden, additiveMask, relativePositions, relEmbeddings), hidden);
}


ContextPoolerImpl::ContextPoolerImpl(const ModelConfig& cfg) : activation(cfg.poolerHiddenAct), dropout(cfg.poolerDropout) {
  dense = register_module("dense", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
}

torch::Tensor ContextPoolerImpl::forward(const torch::Tensor& hidden) {
  return activate(activation, dense(rr::dropout(hidden.select(1, 0), dropout, is_training())));
}

torch::Tensor relativePositions(int64_t length, int64_t bucketSize, int64_t maxPosition, torch::Device device) {
  auto ids = torch::arange(length, torch::TensorOptions().dtype(torch::kInt64).device(device));
  auto rel = ids.unsqueeze(1) - ids.unsqueeze(0);
  if (bucketSize <= 0 || maxPosition <= 0) return rel;
  // Within ±mid positions stay exact; beyond, they share log-spaced buckets up to maxPosition.
  const int64_t mid = bucketSize / 2;
  auto sign = torch::sign(rel);
  auto absPos = torch::where((rel < mid) & (rel > -mid), torch::full_like(rel, mid - 1), torch::abs(rel));
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  auto logPos = torch::ceil(torch::log(absPos.to(torch::kFloat32) / static_cast<double>(mid)) /
                            torch::log(torch::tensor(static_cast<double>(maxPosition - 1) / mid, f32)) * static_cast<double>(mid - 1)) + static_cast<double>(mid);
  auto bucket = torch::where(absPos <= mid, rel.to(torch::kFloat32), logPos * sign.to(torch::kFloat32));
  return bucket.to(torch::kInt64);
}


}  // namespace rr
