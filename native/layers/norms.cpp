#include "layers/norms.h"
#include <algorithm>
#include <cctype>

namespace rr {

bool isNormParameter(const std::string& name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("layernorm") != std::string::npos || lower.find("layer_norm") != std::string::npos ||
         lower.find("rmsnorm") != std::string::npos || lower.find("_norm.") != std::string::npos ||
         lower.find(".norm.") != std::string::npos || lower.rfind("norm.", 0) == 0;
}

LayerNormImpl::LayerNormImpl(int64_t size, double eps, bool withBias) : size(size), eps(eps) {
  weight = register_parameter("weight", torch::ones({size}));
  if (withBias) bias = register_parameter("bias", torch::zeros({size}));
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) { return torch::layer_norm(x, {size}, weight, bias, eps); }

RmsNormImpl::RmsNormImpl(int64_t size, double eps) : eps(eps) { weight = register_parameter("weight", torch::ones({size})); }

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
  auto x32 = x.to(torch::kFloat32);
  auto normalised = x32 * torch::rsqrt(x32.pow(2).mean(-1, true) + eps);
  return weight * normalised.to(x.scalar_type());
}

}  // namespace rr
