#include "heads.h"
#include "dropout.h"
#include "activations.h"

namespace rr {

namespace F = torch::nn::functional;

BertPoolerImpl::BertPoolerImpl(const ModelConfig& cfg) {
  dense = register_module("dense", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
}

torch::Tensor BertPoolerImpl::forward(const torch::Tensor& hidden) {
  return torch::tanh(dense(hidden.select(1, 0)));
}

LinearClassifierImpl::LinearClassifierImpl(int64_t inFeatures, int64_t numLabels, double dropout) : dropout(dropout) {
  // Parameters sit on the module itself, so they are named "classifier.weight" / "classifier.bias" as in HF.
  weight = register_parameter("weight", torch::empty({numLabels, inFeatures}));
  bias = register_parameter("bias", torch::zeros({numLabels}));
}

torch::Tensor LinearClassifierImpl::forward(const torch::Tensor& pooled) {
  return F::linear(rr::dropout(pooled, dropout, is_training()), weight, bias);
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

ContextPoolerImpl::ContextPoolerImpl(const ModelConfig& cfg) : activation(cfg.poolerHiddenAct), dropout(cfg.poolerDropout) {
  dense = register_module("dense", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
}

torch::Tensor ContextPoolerImpl::forward(const torch::Tensor& hidden) {
  return activate(activation, dense(rr::dropout(hidden.select(1, 0), dropout, is_training())));
}

}  // namespace rr
