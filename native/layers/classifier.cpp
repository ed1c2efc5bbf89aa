#include "layers/classifier.h"
#include "layers/dropout.h"

namespace rr {

namespace F = torch::nn::functional;

LinearClassifierImpl::LinearClassifierImpl(int64_t inFeatures, int64_t numLabels, double dropout) : dropout(dropout) {
  // Parameters sit on the module itself, so they are named "classifier.weight" / "classifier.bias" as in HF.
  weight = register_parameter("weight", torch::empty({numLabels, inFeatures}));
  bias = register_parameter("bias", torch::zeros({numLabels}));
}

torch::Tensor LinearClassifierImpl::forward(const torch::Tensor& pooled) {
  return F::linear(rr::dropout(pooled, dropout, is_training()), weight, bias);
}

}  // namespace rr
