#include "models/encoder.h"
#include <limits>
#include "kernels/bias_gelu.h"
#include "kernels/cpu_gemm.h"
#include "kernels/residual_norm.h"
#include "layers/activations.h"
#include "layers/dropout.h"

namespace rr {

// HF names the feed-forward parts intermediate.dense, output.dense and output.LayerNorm.
struct Holder : torch::nn::Module {};

TransformerLayerImpl::TransformerLayerImpl(const ModelConfig& cfg) : hiddenAct(cfg.hiddenAct), dropout(cfg.hiddenDropoutProb) {
  if (cfg.type == ModelType::DebertaV2) disentangledAttention = register_module("attention", DebertaAttention(cfg));
  else attention = register_module("attention", BertAttention(cfg));
  auto intermediate = register_module("intermediate", std::make_shared<Holder>());
  intermediateDense = intermediate->register_module("dense", torch::nn::Linear(cfg.hiddenSize, cfg.intermediateSize));
  auto output = register_module("output", std::make_shared<Holder>());
  outputDense = output->register_module("dense", torch::nn::Linear(cfg.intermediateSize, cfg.hiddenSize));
  outputLayerNorm = output->register_module("LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.hiddenSize}).eps(cfg.layerNormEps)));
}

torch::Tensor TransformerLayerImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                            const torch::Tensor& relativePositions, const torch::Tensor& relEmbeddings,
                                            const TokenPacking& packing) {
  auto attended = attention ? attention(hidden, additiveMask, packing)
                            : disentangledAttention(hidden, additiveMask, relativePositions, relEmbeddings);
  // Exact GELU on float32 CPU hidden states: the product without its bias, then bias + GELU in one pass.
  torch::Tensor intermediate;
  if (intermediateInt8.defined()) {
    auto product = intermediateInt8(attended);
    intermediate = biasGeluApplies(product, hiddenAct) ? biasGelu(product, intermediateDense->bias, true)
                                                       : activate(hiddenAct, product + intermediateDense->bias);
  } else {
    intermediate = biasGeluApplies(attended, hiddenAct)
                       ? biasGelu(linearProduct(attended, intermediateDense->weight, torch::Tensor()), intermediateDense->bias, true)
                       : activate(hiddenAct, linearProduct(attended, intermediateDense->weight, intermediateDense->bias));
  }
  if (!is_training() && residualLayerNormApplies(intermediate)) {  // bias, residual and norm in one pass
    if (outputInt8.defined()) return residualLayerNorm(outputInt8(intermediate), torch::Tensor(), attended, outputLayerNorm, true);
    return residualLayerNorm(linearProduct(intermediate, outputDense->weight, torch::Tensor()), outputDense->bias, attended,
                             outputLayerNorm, true);
  }
  auto x = outputInt8.defined() ? outputInt8(intermediate) : linearProduct(intermediate, outputDense->weight, outputDense->bias);
  x = rr::dropout(x, dropout, is_training());
  return outputLayerNorm(x + attended);
}

void TransformerLayerImpl::setInt8(bool on) {
  if (attention) {
    attention->self->setInt8(on);
    attention->output->setInt8(on);
  } else {
    disentangledAttention->self->setInt8(on);
    disentangledAttention->output->setInt8(on);
  }
  intermediateInt8 = on ? Int8Linear(intermediateDense->weight, torch::Tensor()) : Int8Linear();
  outputInt8 = on ? Int8Linear(outputDense->weight, outputDense->bias) : Int8Linear();
}

EncoderImpl::EncoderImpl(const ModelConfig& cfg)
    : positionBuckets(cfg.positionBuckets),
      maxRelativePositions(cfg.maxRelativePositions > 0 ? cfg.maxRelativePositions : cfg.maxPositionEmbeddings) {
  layers = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.numHiddenLayers; ++i) layers->push_back(TransformerLayer(cfg));
  if (cfg.type == ModelType::DebertaV2 && cfg.relativeAttention) {
    const int64_t rows = positionBuckets > 0 ? 2 * positionBuckets : 2 * maxRelativePositions;
    relEmbeddings = register_module("rel_embeddings", torch::nn::Embedding(rows, cfg.hiddenSize));
    if (cfg.normRelEmbedding)
      relLayerNorm = register_module("LayerNorm",
          torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.hiddenSize}).eps(cfg.layerNormEps)));
  }
}

torch::Tensor EncoderImpl::forward(torch::Tensor hidden, const torch::Tensor& additiveMask, const TokenPacking& packing) {
  torch::Tensor relative, relEmb;
  if (relEmbeddings) {
    relative = relativePositions(hidden.size(1), positionBuckets, maxRelativePositions, hidden.device());
    relEmb = relLayerNorm ? relLayerNorm(relEmbeddings->weight) : relEmbeddings->weight;
  }
  for (auto& layer : *layers) hidden = layer->as<TransformerLayer>()->forward(hidden, additiveMask, relative, relEmb, packing);
  return hidden;
}

namespace {
double lowestOf(torch::ScalarType dtype) {
  return dtype == torch::kFloat64 ? std::numeric_limits<double>::lowest()
         : dtype == torch::kBFloat16 ? -3.3895313892515355e38
         : dtype == torch::kFloat16 ? -65504.0
                                    : static_cast<double>(std::numeric_limits<float>::lowest());
}
}  // namespace

torch::Tensor additiveAttentionMask(const torch::Tensor& attentionMask, torch::ScalarType dtype) {
  auto keep = attentionMask.to(dtype).unsqueeze(1).unsqueeze(2);
  return (1.0 - keep) * lowestOf(dtype);
}

torch::Tensor windowedAttentionMask(const torch::Tensor& attentionMask, torch::ScalarType dtype, int64_t window, bool causal) {
  const int64_t length = attentionMask.size(1);
  auto keep = attentionMask.ne(0).unsqueeze(1).unsqueeze(2);  // [batch, 1, 1, length]
  auto positions = torch::arange(length, attentionMask.options().dtype(torch::kInt64));
  auto offset = positions.unsqueeze(0) - positions.unsqueeze(1);  // [query, key]: key - query
  auto allowed = torch::ones({length, length}, attentionMask.options().dtype(torch::kBool));
  if (window >= 0) allowed = allowed.logical_and(offset.abs() <= window);
  if (causal) allowed = allowed.logical_and(offset <= 0);
  keep = keep.logical_and(allowed.unsqueeze(0).unsqueeze(0));
  return torch::zeros(keep.sizes(), attentionMask.options().dtype(dtype)).masked_fill(keep.logical_not(), lowestOf(dtype));
}
}  // namespace rr
