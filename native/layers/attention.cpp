#include "layers/attention.h"
#include <cmath>
#include <sstream>
#include <stdexcept>
#include "layers/dropout.h"

namespace rr {

std::string configureAttentionBackends(const char* spec) {
  // Default: LibTorch's choice without cuDNN attention, which builds an execution plan for every new
  // sequence length (tens of ms on an H200, seen in scripts/bench/gpu_probe.py) while batches padded to
  // their longest pair change length nearly every step; the memory-efficient kernel has no such cost.
  bool flash = false, efficient = false, cudnn = false, math = false;
  std::string list = spec == nullptr || *spec == '\0' ? "flash,efficient,math" : spec, name;
  std::stringstream in(list);
  while (std::getline(in, name, ',')) {
    if (name == "flash") flash = true;
    else if (name == "efficient") efficient = true;
    else if (name == "cudnn") cudnn = true;
    else if (name == "math") math = true;
    else throw std::invalid_argument("RRNATIVE_SDPA: unknown attention backend '" + name + "' (flash, efficient, cudnn, math)");
  }
#if TORCH_VERSION_MAJOR >= 2
  at::globalContext().setSDPUseFlash(flash);
  at::globalContext().setSDPUseMemEfficient(efficient);
  at::globalContext().setSDPUseMath(math);
#if TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 4
  at::globalContext().setSDPUseCuDNN(cudnn);
#endif
#endif
  (void)flash, (void)efficient, (void)cudnn, (void)math;
  return list;
}

torch::Tensor scaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& additiveMask, double dropout, bool training) {
  const bool dropping = training && dropout > 0.0;
#if (TORCH_VERSION_MAJOR >= 2)
  // Fused kernels (flash / memory-efficient on CUDA, a blocked kernel on CPU). Not for CPU training with
  // dropout: there SDPA falls back to its math path with LibTorch's slow CPU dropout (native/layers/dropout.h).
  if (!(dropping && q.device().is_cpu())) {
    return at::scaled_dot_product_attention(q, k, v, additiveMask, dropping ? dropout : 0.0, false);
  }
#endif
  // HF's eager formula (LibTorch 1.x has no SDPA), softmax in the input dtype. The scale goes on q, whose copy
  // the product needs anyway (q is a strided view of the joined QKV), rather than on the L×L scores, and the mask
  // is added in place: two fewer passes over the largest tensor of the layer.
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = torch::matmul(q * scale, k.transpose(-1, -2));
  scores.add_(additiveMask);
  auto probs = torch::softmax(scores, -1);
  return torch::matmul(rr::dropout(probs, dropout, dropping), v);
}

}  // namespace rr
