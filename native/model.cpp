#include "model.h"

namespace rr {

BertModelImpl::BertModelImpl(const ModelConfig& cfg) {
  embeddings = register_module("embeddings", BertEmbeddings(cfg));
  encoder = register_module("encoder", BertEncoder(cfg));
  pooler = register_module("pooler", BertPooler(cfg));
}

CrossEncoder::CrossEncoder(const ModelConfig& cfg, uint64_t seed) : cfg_(cfg) {
  bert_ = register_module("bert", BertModel(cfg));
  classifier_ = register_module("classifier", LinearClassifier(cfg.hiddenSize, cfg.numLabels, cfg.classifierDropout));
  torch::manual_seed(seed);
  initializeWeights();
}

// HF's _init_weights: Linear/Embedding weights ~ normal(0, initializer_range), biases 0,
// the padding row of word embeddings 0, LayerNorm weight 1 and bias 0.
void CrossEncoder::initializeWeights() {
  torch::NoGradGuard noGrad;
  const double std = cfg_.initializerRange;
  for (auto& item : named_parameters(true)) {
    const std::string& name = item.key();
    auto& p = item.value();
    const bool isLayerNorm = name.find("LayerNorm") != std::string::npos;
    const bool isBias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (isLayerNorm) {
      isBias ? p.zero_() : p.fill_(1.0);
    } else if (isBias) {
      p.zero_();
    } else {
      p.normal_(0.0, std);
    }
  }
  auto& word = bert_->embeddings->wordEmbeddings->weight;
  if (cfg_.padTokenId >= 0 && cfg_.padTokenId < cfg_.vocabSize) word[cfg_.padTokenId].zero_();
}

void CrossEncoder::moveTo(torch::Device device) {
  to(device);
  device_ = device;
}

std::vector<std::pair<std::string, torch::Tensor>> CrossEncoder::namedParameters() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : named_parameters(true)) out.emplace_back(item.key(), item.value());
  return out;
}

torch::Tensor CrossEncoder::forward(const TokenBatch& batch) {
  auto dtype = bert_->embeddings->wordEmbeddings->weight.scalar_type();
  auto mask = additiveAttentionMask(batch.attentionMask, dtype);
  auto hidden = bert_->embeddings(batch.inputIds, batch.tokenTypeIds);
  mask = mask.to(hidden.scalar_type());
  hidden = bert_->encoder(hidden, mask);
  return classifier_(bert_->pooler(hidden)).to(torch::kFloat32);
}

}  // namespace rr
