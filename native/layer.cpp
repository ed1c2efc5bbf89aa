#include "layer.h"
#include <limits>
#include "activations.h"

namespace rr {

namespace F = torch::nn::functional;

// HF names the feed-forward parts intermediate.dense, output.dense and output.LayerNorm.
struct Holder : torch::nn::Module {};

BertLayerImpl::BertLayerImpl(const ModelConfig& cfg) : hiddenAct(cfg.hiddenAct), dropout(cfg.hiddenDropoutProb) {
  attention = register_module("attention", BertAttention(cfg));
  auto intermediate = register_module("intermediate", std::make_shared<Holder>());
  intermediateDense = intermediate->register_module("dense", torch::nn::Linear(cfg.hiddenSize, cfg.intermediateSize));
  auto output = register_module("output", std::make_shared<Holder>());
  outputDense = output->register_module("dense", torch::nn::Linear(cfg.intermediateSize, cfg.hiddenSize));
  outputLayerNorm = output->register_module("LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.hiddenSize}).eps(cfg.layerNormEps)));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask) {
  auto attended = attention(hidden, additiveMask);
  auto x = outputDense(activate(hiddenAct, intermediateDense(attended)));
  x = F::dropout(x, F::DropoutFuncOptions().p(dropout).training(is_training()));
  return outputLayerNorm(x + attended);
}

BertEncoderImpl::BertEncoderImpl(const ModelConfig& cfg) {
  layers = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.numHiddenLayers; ++i) layers->push_back(BertLayer(cfg));
}

torch::Tensor BertEncoderImpl::forward(torch::Tensor hidden, const torch::Tensor& additiveMask) {
  for (auto& layer : *layers) hidden = layer->as<BertLayer>()->forward(hidden, additiveMask);
  return hidden;
}

torch::Tensor additiveAttentionMask(const torch::Tensor& attentionMask, torch::ScalarType dtype) {
  auto keep = attentionMask.to(dtype).unsqueeze(1).unsqueeze(2);
  const double lowest = dtype == torch::kFloat64 ? std::numeric_limits<double>::lowest()
                        : dtype == torch::kBFloat16 ? -3.3895313892515355e38
                        : dtype == torch::kFloat16 ? -65504.0
                                                  : static_cast<double>(std::numeric_limits<float>::lowest());
  return (1.0 - keep) * lowest;
}

}  // namespace rr
