#include "layers/rope.h"

namespace rr {

std::pair<torch::Tensor, torch::Tensor> rotaryTables(const torch::Tensor& positions, int64_t headDim, double theta) {
  torch::NoGradGuard noGrad;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(positions.device());
  // HF: 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
  auto exponents = torch::arange(0, headDim, 2, torch::TensorOptions().dtype(torch::kInt64).device(positions.device())).to(torch::kFloat32) /
                   static_cast<double>(headDim);
  auto inverse = 1.0 / torch::pow(torch::scalar_tensor(theta, f32), exponents);
  auto angles = positions.to(torch::kFloat32).unsqueeze(1) * inverse.unsqueeze(0);  // [n, headDim / 2]
  auto both = torch::cat({angles, angles}, -1);
  return {both.cos(), both.sin()};
}

torch::Tensor applyRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos.to(x.scalar_type()) + rotated * sin.to(x.scalar_type());
}

}  // namespace rr
