#include "heads.h"

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
  return F::linear(F::dropout(pooled, F::DropoutFuncOptions().p(dropout).training(is_training())), weight, bias);
}

}  // namespace rr
