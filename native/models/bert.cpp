#include "models/bert.h"
#include <cmath>
#include "kernels/cpu_gemm.h"
#include "kernels/packed_attention.h"
#include "kernels/residual_norm.h"
#include "layers/activations.h"
#include "layers/attention.h"
#include "layers/dropout.h"

namespace rr {

BertEmbeddingsImpl::BertEmbeddingsImpl(const ModelConfig& cfg)
    : robertaPositions(cfg.type == ModelType::Roberta), padTokenId(cfg.padTokenId), dropout(cfg.hiddenDropoutProb) {
  const int64_t size = embeddingWidth(cfg);
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

BertSelfAttentionImpl::BertSelfAttentionImpl(const ModelConfig& cfg)
    : numHeads(cfg.numAttentionHeads), headDim(cfg.hiddenSize / cfg.numAttentionHeads),
      dropout(cfg.attentionProbsDropoutProb) {
  query = register_module("query", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  key = register_module("key", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  value = register_module("value", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                            const TokenPacking& packing) {
  const int64_t batch = packing.active() ? packing.batch() : hidden.size(0);
  const int64_t length = packing.active() ? packing.length() : hidden.size(1);
  auto heads = [&](const torch::Tensor& x) { return x.view({batch, length, numHeads, headDim}).transpose(1, 2); };
  // Q, K and V as one [hidden -> 3 x hidden] product: one larger GEMM instead of three small ones (forward and
  // backward), and under autocast one cast of `hidden` instead of three. The parameters stay HF's three Linears;
  // joining their weights costs a copy of 3 x hidden^2 values per forward.
  torch::Tensor qkv;
  if (qkvInt8.defined()) {
    qkv = qkvInt8(hidden);
  } else {
    auto joined = joinedQkv();
    qkv = linearProduct(hidden, joined.first, joined.second);
  }
  if (packing.active() && packedAttentionApplies(qkv)) {
    const bool dropping = is_training() && dropout > 0.0;
    if (dropping || (torch::GradMode::is_enabled() && qkv.requires_grad()))
      return packedAttentionTraining(qkv, packing.rowStarts(), packing.rowLengths(), numHeads, dropping ? dropout : 0.0);
    return packedAttention(qkv, packing.rowStarts(), packing.rowLengths(), numHeads);
  }
  if (packing.active()) qkv = packing.unpack(qkv);  // the padded attention needs the [batch, length] layout
  auto parts = qkv.chunk(3, -1);
  auto context = scaledDotProductAttention(heads(parts[0]), heads(parts[1]), heads(parts[2]), additiveMask, dropout, is_training())
                     .transpose(1, 2)
                     .reshape({batch, length, numHeads * headDim});
  return packing.active() ? packing.pack(context) : context;
}

std::pair<torch::Tensor, torch::Tensor> BertSelfAttentionImpl::joinedQkv() const {
  return {torch::cat({query->weight, key->weight, value->weight}), torch::cat({query->bias, key->bias, value->bias})};
}

void BertSelfAttentionImpl::setInt8(bool on) {
  if (!on) {
    qkvInt8 = Int8Linear();
    return;
  }
  auto joined = joinedQkv();
  qkvInt8 = Int8Linear(joined.first, joined.second);
}

BertSelfOutputImpl::BertSelfOutputImpl(const ModelConfig& cfg) : dropout(cfg.hiddenDropoutProb) {
  dense = register_module("dense", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  layerNorm = register_module("LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.hiddenSize}).eps(cfg.layerNormEps)));
}

torch::Tensor BertSelfOutputImpl::forward(const torch::Tensor& hidden, const torch::Tensor& residual) {
  if (!is_training() && residualLayerNormApplies(hidden)) {  // bias, residual and norm in one pass
    if (denseInt8.defined()) return residualLayerNorm(denseInt8(hidden), torch::Tensor(), residual, layerNorm, true);
    return residualLayerNorm(linearProduct(hidden, dense->weight, torch::Tensor()), dense->bias, residual, layerNorm, true);
  }
  auto x = rr::dropout(denseInt8.defined() ? denseInt8(hidden) : linearProduct(hidden, dense->weight, dense->bias), dropout, is_training());
  return layerNorm(x + residual);
}

void BertSelfOutputImpl::setInt8(bool on) { denseInt8 = on ? Int8Linear(dense->weight, dense->bias) : Int8Linear(); }

BertAttentionImpl::BertAttentionImpl(const ModelConfig& cfg) {
  self = register_module("self", BertSelfAttention(cfg));
  output = register_module("output", BertSelfOutput(cfg));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                        const TokenPacking& packing) {
  return output(self(hidden, additiveMask, packing), hidden);
}

BertPoolerImpl::BertPoolerImpl(const ModelConfig& cfg) {
  dense = register_module("dense", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
}

torch::Tensor BertPoolerImpl::forward(const torch::Tensor& hidden) {
  return torch::tanh(dense(hidden.select(1, 0)));
}

ClassificationHeadImpl::ClassificationHeadImpl(const ModelConfig& cfg, std::string activation)
    : activation(std::move(activation)), dropout(cfg.classifierDropout) {
  dense = register_module("dense", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  outProj = register_module("out_proj", torch::nn::Linear(cfg.hiddenSize, cfg.numLabels));
}

torch::Tensor ClassificationHeadImpl::forward(const torch::Tensor& hidden) {
  auto x = dense(rr::dropout(hidden.select(1, 0), dropout, is_training()));
  x = activate(activation, x);
  return outProj(rr::dropout(x, dropout, is_training()));
}

}  // namespace rr
