// Training losses over a batch of logits. Grouped losses see the batch as [groups, groupSize] with the
// positive first in each group (FlagEmbedding's layout).
#pragma once
#include <torch/torch.h>
#include <string>

namespace rr {

enum class LossKind { Bce, Mse, ListwiseCe, MarginMse, DistillMse, LambdaLoss };

LossKind parseLossKind(const std::string& name);

struct LossInputs {
  LossKind kind = LossKind::Bce;
  int64_t groupSize = 1;
  torch::Tensor labels;         // float [pairs]: relevance labels (bce, mse, lambda_loss)
  torch::Tensor teacherScores;  // float [pairs]: teacher scores (margin_mse, distill_mse); undefined otherwise
};

// Mean loss over the batch. `logits` is [pairs, numLabels]; the first logit is the relevance score.
torch::Tensor computeLoss(const torch::Tensor& logits, const LossInputs& in);

}  // namespace rr
