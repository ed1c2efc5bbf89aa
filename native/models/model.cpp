#include "models/model.h"
#include "layers/norms.h"
#include "kernels/packed_attention.h"

namespace rr {

BaseModelImpl::BaseModelImpl(const ModelConfig& cfg) : singleTokenType(cfg.typeVocabSize <= 1) {
  if (cfg.type == ModelType::DebertaV2) {
    debertaEmbeddings = register_module("embeddings", DebertaEmbeddings(cfg));
  } else {
    embeddings = register_module("embeddings", BertEmbeddings(cfg));
  }
  if (cfg.type == ModelType::Electra && cfg.embeddingSize > 0 && cfg.embeddingSize != cfg.hiddenSize)
    embeddingsProject = register_module("embeddings_project", torch::nn::Linear(cfg.embeddingSize, cfg.hiddenSize));
  encoder = register_module("encoder", Encoder(cfg));
  if (cfg.type == ModelType::Bert) pooler = register_module("pooler", BertPooler(cfg));
}

torch::Tensor BaseModelImpl::run(const TokenBatch& batch, bool everyToken) {
  // Models with a single token type (RoBERTa, XLM-R) ignore the segment ids a pair tokenizer produces.
  auto types = singleTokenType ? torch::zeros_like(batch.inputIds) : batch.tokenTypeIds;
  auto hidden = debertaEmbeddings ? debertaEmbeddings(batch.inputIds, types, batch.attentionMask)
                                  : embeddings(batch.inputIds, types);
  if (embeddingsProject) hidden = embeddingsProject(hidden);
  auto additiveMask = additiveAttentionMask(batch.attentionMask, hidden.scalar_type());
  // BERT-family layers on the CPU run on packed tokens (native/layers/packing.h), attention included (native/
  // packed_attention.h): faster than the padded path even without padding. Other CPU dtypes (bf16 weights) pack
  // once padding is 2% of the batch or more, attention then getting the padded layout back: on the 2-core
  // machine such a forward took about the padded one's time × the real tokens' share, from 0.31 to 0.97.
  // DeBERTa's relative-position attention stays padded.
  const double packBelowRealShare = packedAttentionApplies(hidden) ? kAlwaysPack : kPackBelowRealShare;
  const TokenPacking packing = debertaEmbeddings ? TokenPacking() : TokenPacking::plan(batch.attentionMask, packBelowRealShare);
  if (!packing.active()) return encoder(hidden, additiveMask, packing);
  auto packed = encoder(packing.pack(hidden), additiveMask, packing);
  return everyToken ? packing.unpack(packed) : packing.firstTokens(packed);
}

torch::Tensor BaseModelImpl::forward(const TokenBatch& batch) { return run(batch, false); }
torch::Tensor BaseModelImpl::tokenStates(const TokenBatch& batch) { return run(batch, true); }

namespace {
const char* prefixOf(ModelType type) {
  switch (type) {
    case ModelType::Bert: return "bert";
    case ModelType::Roberta: return "roberta";
    case ModelType::Electra: return "electra";
    case ModelType::DebertaV2: return "deberta";
    case ModelType::ModernBert:
    case ModelType::Qwen3:
    case ModelType::Qwen2: return "model";
  }
  return "bert";
}
}  // namespace

CrossEncoder::CrossEncoder(const ModelConfig& cfg, uint64_t seed) : cfg_(cfg) {
  if (cfg.type == ModelType::ModernBert) {
    modernBert_ = register_module("model", ModernBertModel(cfg));
    modernHead_ = register_module("head", ModernBertHead(cfg));
    linearClassifier_ = register_module("classifier", LinearClassifier(cfg.hiddenSize, cfg.numLabels, cfg.classifierDropout));
    torch::manual_seed(seed);
    initializeModernBert(*this, cfg);
    return;
  }
  if (isDecoder(cfg.type)) {
    qwen_ = register_module("model", QwenModel(cfg));
    if (cfg.decoderHead == DecoderHead::Score) {
      score_ = register_module("score", torch::nn::Linear(torch::nn::LinearOptions(cfg.hiddenSize, cfg.numLabels).bias(false)));
    } else {
      if (!cfg.tieWordEmbeddings)
        lmHead_ = register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(cfg.hiddenSize, cfg.vocabSize).bias(false)));
      yesNoIds_ = torch::tensor(std::vector<int64_t>{cfg.yesTokenId, cfg.noTokenId}, torch::kInt64);
    }
    torch::manual_seed(seed);
    initializeWeights();
    return;
  }
  base_ = register_module(prefixOf(cfg.type), BaseModel(cfg));
  switch (cfg.type) {
    case ModelType::Bert:
      linearClassifier_ = register_module("classifier", LinearClassifier(cfg.hiddenSize, cfg.numLabels, cfg.classifierDropout));
      break;
    case ModelType::Roberta:
      headClassifier_ = register_module("classifier", ClassificationHead(cfg, "tanh"));
      break;
    case ModelType::Electra:
      headClassifier_ = register_module("classifier", ClassificationHead(cfg, "gelu"));
      break;
    case ModelType::DebertaV2:
      contextPooler_ = register_module("pooler", ContextPooler(cfg));
      linearClassifier_ = register_module("classifier", LinearClassifier(cfg.hiddenSize, cfg.numLabels, cfg.classifierDropout));
      break;
    default:
      break;
  }
  torch::manual_seed(seed);
  initializeWeights();
}

std::string CrossEncoder::basePrefix() const { return std::string(prefixOf(cfg_.type)) + "."; }

// HF's _init_weights: Linear/Embedding weights ~ normal(0, initializer_range), biases 0,
// padding rows of embeddings 0, LayerNorm weight 1 and bias 0.
void CrossEncoder::initializeWeights() {
  torch::NoGradGuard noGrad;
  const double std = cfg_.initializerRange;
  for (auto& item : named_parameters(true)) {
    const std::string& name = item.key();
    auto& p = item.value();
    const bool isLayerNorm = isNormParameter(name);  // BERT's LayerNorm, Qwen's RMSNorms: weight 1
    const bool isBias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (isLayerNorm) {
      isBias ? p.zero_() : p.fill_(1.0);
    } else if (isBias) {
      p.zero_();
    } else {
      p.normal_(0.0, std);
    }
  }
  auto zeroPaddingRow = [&](const torch::nn::Embedding& embedding) {
    if (embedding && cfg_.padTokenId >= 0 && cfg_.padTokenId < embedding->weight.size(0)) embedding->weight[cfg_.padTokenId].zero_();
  };
  if (qwen_) zeroPaddingRow(qwen_->embedTokens);
  if (!base_) return;
  if (base_->embeddings) {
    zeroPaddingRow(base_->embeddings->wordEmbeddings);
    if (cfg_.type == ModelType::Roberta) zeroPaddingRow(base_->embeddings->positionEmbeddings);
  }
  if (base_->debertaEmbeddings) zeroPaddingRow(base_->debertaEmbeddings->wordEmbeddings);
}

void CrossEncoder::moveTo(torch::Device device) {
  if (int8_ && !device.is_cpu()) throw std::runtime_error("dtype 'int8' runs on the CPU only");
  to(device);
  device_ = device;
}

void CrossEncoder::setDtype(torch::Dtype dtype) {
  if (int8_ && dtype != torch::kFloat32) setInt8(false);
  to(dtype);
  dtype_ = dtype;
}

void CrossEncoder::setInt8(bool on) {
  if (on && (dtype_ != torch::kFloat32 || !device_.is_cpu()))
    throw std::runtime_error("dtype 'int8' needs a float32 model on the CPU");
  torch::NoGradGuard noGrad;
  if (modernBert_) modernBert_->setInt8(on);
  else if (qwen_) qwen_->setInt8(on);
  else
    for (auto& layer : *base_->encoder->layers) layer->as<TransformerLayer>()->setInt8(on);
  int8_ = on;
}

std::vector<std::pair<std::string, torch::Tensor>> CrossEncoder::namedParameters() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : named_parameters(true)) out.emplace_back(item.key(), item.value());
  return out;
}

torch::Tensor CrossEncoder::tokenStates(const TokenBatch& batch) {
  if (modernBert_) {
    TokenPacking packing;
    auto states = modernBert_->forward(batch.inputIds, batch.attentionMask, packing);
    return packing.active() ? packing.unpack(states) : states;
  }
  if (qwen_) throw std::runtime_error("token states (embedding pooling) are not supported for decoder models");
  return base_->tokenStates(batch);
}

torch::Tensor CrossEncoder::forward(const TokenBatch& batch) {
  if (modernBert_) {
    TokenPacking packing;
    auto states = modernBert_->forward(batch.inputIds, batch.attentionMask, packing);
    auto pooled = modernHead_(modernBertPool(states, batch.attentionMask, packing, cfg_.meanPooling));
    return linearClassifier_(pooled).to(torch::kFloat32);
  }
  if (qwen_) {
    auto last = qwen_(batch.inputIds, batch.attentionMask);  // [batch, hidden]
    if (score_) return score_(last).to(torch::kFloat32);
    // Qwen3-Reranker: logit("yes") - logit("no") from those two rows of the LM head, not the vocabulary's product.
    const auto& head = lmHead_ ? lmHead_->weight : qwen_->embedTokens->weight;
    auto pair = torch::matmul(last, head.index_select(0, yesNoIds_.to(head.device())).t());  // [batch, 2]
    return (pair.select(1, 0) - pair.select(1, 1)).unsqueeze(1).to(torch::kFloat32);
  }
  auto hidden = base_(batch);
  torch::Tensor logits;
  switch (cfg_.type) {
    case ModelType::Bert: logits = linearClassifier_(base_->pooler(hidden)); break;
    case ModelType::Roberta:
    case ModelType::Electra: logits = headClassifier_(hidden); break;
    case ModelType::DebertaV2: logits = linearClassifier_(contextPooler_(hidden)); break;
    default: break;
  }
  return logits.to(torch::kFloat32);
}

}  // namespace rr
