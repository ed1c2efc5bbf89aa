#include "layers/mlp.h"
#include "kernels/cpu_gemm.h"
#include "layers/activations.h"
#include "layers/dropout.h"

namespace rr {

torch::Tensor project(const torch::nn::Linear& linear, const Int8Linear& int8, const torch::Tensor& x) {
  if (int8.defined()) return int8(x);
  return linearProduct(x, linear->weight, linear->bias);
}

GegluMlpImpl::GegluMlpImpl(int64_t hidden, int64_t intermediate, bool bias, std::string activation, double dropout)
    : activation(std::move(activation)), dropout(dropout) {
  Wi = register_module("Wi", torch::nn::Linear(torch::nn::LinearOptions(hidden, 2 * intermediate).bias(bias)));
  Wo = register_module("Wo", torch::nn::Linear(torch::nn::LinearOptions(intermediate, hidden).bias(bias)));
}

torch::Tensor GegluMlpImpl::forward(const torch::Tensor& x) {
  auto halves = project(Wi, WiInt8, x).chunk(2, -1);
  auto gated = activate(activation, halves[0]) * halves[1];
  return project(Wo, WoInt8, rr::dropout(gated, dropout, is_training()));
}

void GegluMlpImpl::setInt8(bool on) {
  WiInt8 = on ? Int8Linear(Wi->weight, Wi->bias) : Int8Linear();
  WoInt8 = on ? Int8Linear(Wo->weight, Wo->bias) : Int8Linear();
}

SwigluMlpImpl::SwigluMlpImpl(int64_t hidden, int64_t intermediate, std::string activation) : activation(std::move(activation)) {
  gateProj = register_module("gate_proj", torch::nn::Linear(torch::nn::LinearOptions(hidden, intermediate).bias(false)));
  upProj = register_module("up_proj", torch::nn::Linear(torch::nn::LinearOptions(hidden, intermediate).bias(false)));
  downProj = register_module("down_proj", torch::nn::Linear(torch::nn::LinearOptions(intermediate, hidden).bias(false)));
}

torch::Tensor SwigluMlpImpl::forward(const torch::Tensor& x) {
  torch::Tensor gate, up;
  if (gateUpInt8.defined()) {
    auto halves = gateUpInt8(x).chunk(2, -1);
    gate = halves[0], up = halves[1];
  } else {
    gate = linearProduct(x, gateProj->weight, torch::Tensor());
    up = linearProduct(x, upProj->weight, torch::Tensor());
  }
  return project(downProj, downInt8, activate(activation, gate) * up);
}

void SwigluMlpImpl::setInt8(bool on) {
  gateUpInt8 = on ? Int8Linear(torch::cat({gateProj->weight, upProj->weight}), torch::Tensor()) : Int8Linear();
  downInt8 = on ? Int8Linear(downProj->weight, torch::Tensor()) : Int8Linear();
}

}  // namespace rr
