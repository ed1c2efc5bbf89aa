// CUDA graphs for training: one captured forward + loss + backward per (batch size, length bucket, loss) and
// one captured AdamW step, replayed each step. On a GPU, training is host-bound (the host issues each step's
// hundreds of kernels one by one: scripts/bench/GPU-NOTES.md); a replay issues them all at once.
// Needs a CUDA LibTorch from 2.4 on; elsewhere every call explains that it is unavailable.
#pragma once
#include <torch/torch.h>
#include <memory>
#include <optional>
#include <vector>
#include "models/model.h"
#include "runtime/losses.h"
#include "runtime/optimizer.h"

namespace rr {

// One micro-batch as the host holds it (token ids row-major [batch, length]).
struct HostTrainBatch {
  int64_t batch = 0, length = 0;
  const std::vector<int32_t>* inputIds = nullptr;
  const std::vector<int32_t>* attentionMask = nullptr;
  const std::vector<int32_t>* tokenTypeIds = nullptr;  // empty: all zero
  const std::vector<float>* labels = nullptr;
  const std::vector<float>* teacherScores = nullptr;   // empty: none
  // > 1: the rows sorted by length are cut into this many equal runs, each padded to its own longest row
  // (rounded up to the bucket), and forwarded one after the other in the captured step (see batching.h).
  int64_t lengthSlices = 1;
};

struct GraphLoss {
  LossKind kind = LossKind::Bce;
  int64_t groupSize = 1;
  double scale = 1.0;
  bool bf16 = false;
};

// Lengths are padded up to a multiple of this, so a few graphs cover every batch.
constexpr int64_t kGraphLengthBucket = 32;

bool cudaGraphsAvailable();

class TrainGraphs {
 public:
  // Cheap: nothing touches the GPU until the first step.
  TrainGraphs(std::shared_ptr<CrossEncoder> model, std::shared_ptr<AdamW> optimizer);
  ~TrainGraphs();
  // Forward, loss and backward of one micro-batch (gradients accumulate), captured once per shape (batch size,
  // the bucketed length of each slice, loss) and replayed. Returns the unscaled loss (a 0-dim device tensor of its own), or nullopt for the first
  // kWarmupSteps calls, which the caller runs eagerly (they create the gradients and CUDA's lazy state).
  std::optional<torch::Tensor> trainStep(const HostTrainBatch& batch, const GraphLoss& loss);
  // Clip, AdamW step and zeroed gradients, replayed; the gradient norm before clipping, or nullopt (eager).
  std::optional<torch::Tensor> optimizerStep(const AdamWStep& options);
  // Forget every graph (the optimizer's tensors were replaced).
  void reset();

  static constexpr int kWarmupSteps = 2;

 private:
  struct Impl;
  std::shared_ptr<CrossEncoder> model_;
  std::shared_ptr<AdamW> optimizer_;
  std::unique_ptr<Impl> impl_;
  int eagerTrainSteps_ = 0, eagerOptimizerSteps_ = 0;
};

}  // namespace rr
