// bf16 autocast on CUDA, across LibTorch versions (the autocast API changed in 2.4).
#pragma once
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <stdexcept>

namespace rr {

class AutocastGuard {
 public:
  AutocastGuard(bool enabled, torch::Device device) : enabled_(enabled) {
    if (!enabled_) return;
    if (!device.is_cuda()) throw std::invalid_argument("bf16 autocast is only supported on CUDA devices");
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
  }
  ~AutocastGuard() {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enabled_;
};

}  // namespace rr
