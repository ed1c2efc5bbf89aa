// Activation functions by Hugging Face's `hidden_act` names.
#pragma once
#include <torch/torch.h>
#include <string>

namespace rr {

inline torch::Tensor activate(const std::string& name, const torch::Tensor& x) {
  if (name == "gelu") return torch::gelu(x);  // exact (erf) GELU, as HF's "gelu"
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  if (name == "tanh") return torch::tanh(x);
  if (name == "silu" || name == "swish") return torch::silu(x);
  throw std::invalid_argument("unsupported hidden_act '" + name + "'");
}

}  // namespace rr
