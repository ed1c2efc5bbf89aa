// AdamW (decoupled weight decay, as torch.optim.AdamW) with global-norm gradient clipping, and its state I/O.
#pragma once
#include <torch/torch.h>
#include <string>
#include <vector>

namespace rr {

struct AdamWStep {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.0;
  double maxGradNorm = 0.0;  // 0 or less: no clipping
};

class AdamW {
 public:
  // `params` are HF-named; biases and LayerNorm parameters get no weight decay (as HF's Trainer).
  explicit AdamW(std::vector<std::pair<std::string, torch::Tensor>> params);

  // Clips the gradients, takes one step, clears the gradients. Returns the total gradient norm before clipping
  // as a 0-dim float32 tensor on the parameters' device: reading it (.item()) waits for the GPU, so callers
  // that need no number every step keep it as a tensor.
  torch::Tensor step(const AdamWStep& options);
  int64_t stepCount() const { return steps_; }

  void save(const std::string& path) const;
  void load(const std::string& path);

  // For a step captured in a CUDA graph (native/runtime/graphs.cpp): the tensors of the fused update, by decay group
  // (moments created), and the device step counter set to the steps taken so far; the captured step adds one
  // on the device, countStep() on the host, at every replay.
  struct FusedTensors {
    std::vector<torch::Tensor> params[2], grads[2], expAvgs[2], expAvgSqs[2];  // [0]: decayed, [1]: not
    std::vector<torch::Tensor> allGrads;
    torch::Tensor deviceStep;
  };
  FusedTensors fusedTensors();
  void countStep() { ++steps_; }
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  // The clip, fused AdamW update and zeroed gradients of `t` with the learning rate as a 0-dim device tensor
  // (a replayed capture reads its current value). Returns the gradient norm before clipping.
  static torch::Tensor fusedUpdate(const FusedTensors& t, const torch::Tensor& lr, const AdamWStep& o);
#endif

 private:
  struct Slot {
    std::string name;
    torch::Tensor param, expAvg, expAvgSq;
    bool decay;
  };
  torch::Tensor referenceStep(const AdamWStep& o);  // as torch.optim.AdamW, one pass per float32 CPU tensor
  torch::Tensor fusedStep(const AdamWStep& o);      // CUDA: multi-tensor kernels, no per-parameter launches
  std::vector<Slot> slots_;
  int64_t steps_ = 0;
  torch::Tensor deviceStep_;  // the step count as the fused kernel reads it (float32, on the device)
};

// Default-generator states, so a resumed run draws the same dropout masks.
torch::Tensor cpuRngState();
void setCpuRngState(const torch::Tensor& state);

}  // namespace rr
