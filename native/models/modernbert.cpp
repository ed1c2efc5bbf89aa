#include "models/modernbert.h"
#include <cmath>
#include "kernels/cpu_gemm.h"
#include "kernels/packed_attention.h"
#include "layers/activations.h"
#include "layers/attention.h"
#include "layers/dropout.h"
#include "layers/rope.h"
#include "models/encoder.h"

namespace rr {

ModernBertEmbeddingsImpl::ModernBertEmbeddingsImpl(const ModelConfig& cfg) : dropout(cfg.embeddingDropout) {
  auto options = torch::nn::EmbeddingOptions(cfg.vocabSize, cfg.hiddenSize);
  if (cfg.padTokenId >= 0 && cfg.padTokenId < cfg.vocabSize) options.padding_idx(cfg.padTokenId);
  tokEmbeddings = register_module("tok_embeddings", torch::nn::Embedding(options));
  norm = register_module("norm", LayerNorm(cfg.hiddenSize, cfg.layerNormEps, cfg.normBias));
}

torch::Tensor ModernBertEmbeddingsImpl::forward(const torch::Tensor& inputIds) {
  return rr::dropout(norm(tokEmbeddings(inputIds)), dropout, is_training());
}

ModernBertAttentionImpl::ModernBertAttentionImpl(const ModelConfig& cfg, int64_t layer)
    : numHeads(cfg.numAttentionHeads), headDim(cfg.hiddenSize / cfg.numAttentionHeads),
      window(layer < static_cast<int64_t>(cfg.localLayers.size()) && cfg.localLayers[layer] ? cfg.localAttention / 2 : -1),
      dropout(cfg.attentionProbsDropoutProb) {
  Wqkv = register_module("Wqkv", torch::nn::Linear(torch::nn::LinearOptions(cfg.hiddenSize, 3 * cfg.hiddenSize).bias(cfg.attentionBias)));
  Wo = register_module("Wo", torch::nn::Linear(torch::nn::LinearOptions(cfg.hiddenSize, cfg.hiddenSize).bias(cfg.attentionBias)));
}

torch::Tensor ModernBertAttentionImpl::forward(const torch::Tensor& hidden, const ModernBertRotary& rotary,
                                               const torch::Tensor& additiveMask, const TokenPacking& packing) {
  const auto& cos = window >= 0 ? rotary.localCos : rotary.globalCos;
  const auto& sin = window >= 0 ? rotary.localSin : rotary.globalSin;
  const int64_t width = numHeads * headDim;
  auto qkv = project(Wqkv, WqkvInt8, hidden);
  const bool dropping = is_training() && dropout > 0.0;
  torch::Tensor context;
  if (packing.active()) {
    // [tokens, 3, heads, headDim]: rotate Q and K per token at its position in its row, then the packed kernel.
    auto parts = qkv.view({qkv.size(0), 3, numHeads, headDim}).unbind(1);
    auto c = cos.unsqueeze(1), s = sin.unsqueeze(1);
    auto rotatedQkv = torch::cat({applyRotary(parts[0], c, s).reshape({-1, width}), applyRotary(parts[1], c, s).reshape({-1, width}),
                                  parts[2].reshape({-1, width})}, 1);
    const PackedAttentionShape heads{numHeads, numHeads, 0, window, false};
    if (dropping || (torch::GradMode::is_enabled() && rotatedQkv.requires_grad()))
      context = packedAttentionTraining(rotatedQkv, packing.rowStarts(), packing.rowLengths(), heads, dropping ? dropout : 0.0);
    else
      context = packedAttention(rotatedQkv, packing.rowStarts(), packing.rowLengths(), heads);
  } else {
    const int64_t batch = hidden.size(0), length = hidden.size(1);
    auto parts = qkv.view({batch, length, 3, numHeads, headDim}).unbind(2);  // each [batch, length, heads, headDim]
    auto c = cos.unsqueeze(0).unsqueeze(2), s = sin.unsqueeze(0).unsqueeze(2);
    auto q = applyRotary(parts[0], c, s).transpose(1, 2), k = applyRotary(parts[1], c, s).transpose(1, 2);
    context = scaledDotProductAttention(q, k, parts[2].transpose(1, 2), additiveMask, dropout, is_training())
                  .transpose(1, 2)
                  .reshape({batch, length, width});
  }
  return rr::dropout(project(Wo, WoInt8, context), dropout, is_training());
}

void ModernBertAttentionImpl::setInt8(bool on) {
  WqkvInt8 = on ? Int8Linear(Wqkv->weight, Wqkv->bias) : Int8Linear();
  WoInt8 = on ? Int8Linear(Wo->weight, Wo->bias) : Int8Linear();
}

ModernBertLayerImpl::ModernBertLayerImpl(const ModelConfig& cfg, int64_t layer) {
  if (layer != 0) attnNorm = register_module("attn_norm", LayerNorm(cfg.hiddenSize, cfg.layerNormEps, cfg.normBias));
  attn = register_module("attn", ModernBertAttention(cfg, layer));
  mlpNorm = register_module("mlp_norm", LayerNorm(cfg.hiddenSize, cfg.layerNormEps, cfg.normBias));
  mlp = register_module("mlp", GegluMlp(cfg.hiddenSize, cfg.intermediateSize, cfg.mlpBias, cfg.hiddenAct, cfg.mlpDropout));
}

torch::Tensor ModernBertLayerImpl::forward(const torch::Tensor& hidden, const ModernBertRotary& rotary, const torch::Tensor& globalMask,
                                           const torch::Tensor& localMask, const TokenPacking& packing) {
  auto x = hidden + attn(attnNorm ? attnNorm(hidden) : hidden, rotary, attn->window >= 0 ? localMask : globalMask, packing);
  return x + mlp(mlpNorm(x));
}

ModernBertModelImpl::ModernBertModelImpl(const ModelConfig& cfg)
    : headDim(cfg.hiddenSize / cfg.numAttentionHeads), localWindow(cfg.localAttention / 2),
      globalTheta(cfg.globalRopeTheta), localTheta(cfg.localRopeTheta) {
  embeddings = register_module("embeddings", ModernBertEmbeddings(cfg));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.numHiddenLayers; ++i) layers->push_back(ModernBertLayer(cfg, i));
  finalNorm = register_module("final_norm", LayerNorm(cfg.hiddenSize, cfg.layerNormEps, cfg.normBias));
}

torch::Tensor ModernBertModelImpl::forward(const torch::Tensor& inputIds, const torch::Tensor& attentionMask, TokenPacking& packing) {
  auto hidden = embeddings(inputIds);
  // Unpadding is what makes ModernBERT fast: on the CPU in float32 every layer runs on the real tokens only.
  packing = packedAttentionApplies(hidden) ? TokenPacking::plan(attentionMask, 2.0) : TokenPacking();
  ModernBertRotary rotary;
  torch::Tensor globalMask, localMask;
  torch::Tensor positions;
  if (packing.active()) {
    hidden = packing.pack(hidden);
    positions = packing.positions().to(hidden.device());
  } else {
    positions = torch::arange(inputIds.size(1), inputIds.options().dtype(torch::kInt64));
    globalMask = additiveAttentionMask(attentionMask, hidden.scalar_type());
    localMask = windowedAttentionMask(attentionMask, hidden.scalar_type(), localWindow, false);
  }
  std::tie(rotary.globalCos, rotary.globalSin) = rotaryTables(positions, headDim, globalTheta);
  std::tie(rotary.localCos, rotary.localSin) = rotaryTables(positions, headDim, localTheta);
  for (auto& layer : *layers) hidden = layer->as<ModernBertLayer>()->forward(hidden, rotary, globalMask, localMask, packing);
  return finalNorm(hidden);
}

void ModernBertModelImpl::setInt8(bool on) {
  for (auto& layer : *layers) {
    auto* l = layer->as<ModernBertLayer>();
    l->attn->setInt8(on);
    l->mlp->setInt8(on);
  }
}

ModernBertHeadImpl::ModernBertHeadImpl(const ModelConfig& cfg) : activation(cfg.classifierActivation) {
  dense = register_module("dense", torch::nn::Linear(torch::nn::LinearOptions(cfg.hiddenSize, cfg.hiddenSize).bias(cfg.classifierBias)));
  norm = register_module("norm", LayerNorm(cfg.hiddenSize, cfg.layerNormEps, cfg.normBias));
}

torch::Tensor ModernBertHeadImpl::forward(const torch::Tensor& pooled) { return norm(activate(activation, dense(pooled))); }

torch::Tensor modernBertPool(const torch::Tensor& states, const torch::Tensor& attentionMask, const TokenPacking& packing, bool mean) {
  if (packing.active()) return mean ? packing.rowMeans(states) : packing.firstTokens(states).squeeze(1);
  if (!mean) return states.select(1, 0);
  auto keep = attentionMask.to(states.scalar_type()).unsqueeze(-1);
  return (states * keep).sum(1) / keep.sum(1);
}

namespace {
void truncatedNormal(torch::Tensor& p, double std, double cutoffFactor) {
  // Resampled until inside ± cutoffFactor std, as torch.nn.init.trunc_normal_'s distribution.
  p.normal_(0.0, std);
  const double bound = cutoffFactor * std;
  for (int pass = 0; pass < 100; ++pass) {
    auto outside = p.abs() > bound;
    if (!outside.any().item<bool>()) return;
    p.masked_scatter_(outside, torch::empty_like(p).normal_(0.0, std).masked_select(outside));
  }
  p.clamp_(-bound, bound);
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

void initializeModernBert(torch::nn::Module& model, const ModelConfig& cfg, double cutoffFactor) {
  torch::NoGradGuard noGrad;
  const double in = cfg.initializerRange, out = cfg.initializerRange / std::sqrt(2.0 * static_cast<double>(cfg.numHiddenLayers));
  const double finalOut = 1.0 / std::sqrt(static_cast<double>(cfg.hiddenSize));
  for (auto& item : model.named_parameters(true)) {
    const std::string& name = item.key();
    auto& p = item.value();
    if (endsWith(name, ".bias") || isNormParameter(name)) {
      isNormParameter(name) && endsWith(name, ".weight") ? p.fill_(1.0) : p.zero_();
    } else if (endsWith(name, "tok_embeddings.weight") || endsWith(name, "Wqkv.weight") || endsWith(name, "mlp.Wi.weight")) {
      truncatedNormal(p, in, cutoffFactor);
    } else if (name.rfind("classifier.", 0) == 0) {
      truncatedNormal(p, finalOut, cutoffFactor);
    } else {  // attention and MLP Wo, the head's dense
      truncatedNormal(p, out, cutoffFactor);
    }
  }
}

}  // namespace rr
