// The gated feed-forward blocks of the newer families, with HF's parameter names: ModernBERT's GeGLU (`Wi` to the
// input and gate halves, act(input) * gate, `Wo`) and Qwen's SwiGLU (down_proj(act(gate_proj x) * up_proj x)).
#pragma once
#include <torch/torch.h>
#include <string>
#include "kernels/int8_linear.h"

namespace rr {

struct GegluMlpImpl : torch::nn::Module {
  GegluMlpImpl(int64_t hidden, int64_t intermediate, bool bias, std::string activation, double dropout);
  torch::Tensor forward(const torch::Tensor& x);
  void setInt8(bool on);
  torch::nn::Linear Wi{nullptr}, Wo{nullptr};
  Int8Linear WiInt8, WoInt8;
  std::string activation;
  double dropout;
};
TORCH_MODULE(GegluMlp);

struct SwigluMlpImpl : torch::nn::Module {
  SwigluMlpImpl(int64_t hidden, int64_t intermediate, std::string activation);
  torch::Tensor forward(const torch::Tensor& x);
  void setInt8(bool on);
  torch::nn::Linear gateProj{nullptr}, upProj{nullptr}, downProj{nullptr};
  Int8Linear gateUpInt8, downInt8;  // gate and up joined: one product
  std::string activation;
};
TORCH_MODULE(SwigluMlp);

// A Linear's product, through int8 when `int8` is set (inference), else oneDNN's sgemm or LibTorch (cpu_gemm.h).
torch::Tensor project(const torch::nn::Linear& linear, const Int8Linear& int8, const torch::Tensor& x);

}  // namespace rr
