#include "runtime/losses.h"
#include <stdexcept>

namespace rr {

namespace F = torch::nn::functional;

LossKind parseLossKind(const std::string& name) {
  if (name == "bce") return LossKind::Bce;
  if (name == "mse") return LossKind::Mse;
  if (name == "listwise_ce") return LossKind::ListwiseCe;
  if (name == "margin_mse") return LossKind::MarginMse;
  if (name == "distill_mse") return LossKind::DistillMse;
  if (name == "lambda_loss") return LossKind::LambdaLoss;
  throw std::invalid_argument("unknown loss '" + name + "'");
}

namespace {

// sentence-transformers' LambdaLoss with the NDCGLoss2++ weighting (mu = 10), sigma 1, all documents (k = None),
// log2 reduction, on fixed-size groups.
torch::Tensor lambdaLoss(const torch::Tensor& scores, const torch::Tensor& labels) {
  const double eps = 1e-10, mu = 10.0;
  const int64_t n = scores.size(1);
  auto [scoresSorted, order] = scores.sort(-1, /*descending=*/true);
  auto labelsSorted = std::get<0>(labels.sort(-1, true)).clamp_min(0.0);
  auto trueByPred = labels.gather(1, order);
  auto pairMask = (trueByPred.unsqueeze(2) - trueByPred.unsqueeze(1)) > 0;
  trueByPred = trueByPred.clamp_min(0.0);

  auto positions = torch::arange(1, n + 1, scores.options());
  auto discount = torch::log2(1.0 + positions).unsqueeze(0);                                // [1, n]
  auto maxDcg = ((torch::pow(2.0, labelsSorted) - 1.0) / discount).sum(-1).clamp_min(eps);  // [groups]
  auto gain = (torch::pow(2.0, trueByPred) - 1.0) / maxDcg.unsqueeze(1);                    // [groups, n]
  auto gainDiff = (gain.unsqueeze(2) - gain.unsqueeze(1)).abs();

  // NDCGLoss2: |1/D(|i-j|) - 1/D(|i-j|+1)| with D the discount; LambdaRank: |1/D(i) - 1/D(j)|.
  auto idx = torch::arange(1, n + 1, scores.options().dtype(torch::kLong));
  auto delta = (idx.unsqueeze(1) - idx.unsqueeze(0)).abs();
  auto fullDiscount = torch::log2(1.0 + torch::arange(0, n + 1, scores.options()));  // D(0) = 0 → 1/D = inf
  auto inv = [&](const torch::Tensor& i) { return torch::pow(fullDiscount.index_select(0, i.flatten()).view(i.sizes()).abs(), -1.0); };
  auto deltas = (inv(delta) - inv(delta + 1)).abs();
  deltas.fill_diagonal_(0.0);
  auto ndcg2 = deltas.unsqueeze(0) * gainDiff;
  auto lambdaRank = (torch::pow(discount.unsqueeze(2), -1.0) - torch::pow(discount.unsqueeze(1), -1.0)).abs() * gainDiff;
  auto weights = mu * ndcg2 + lambdaRank;

  auto diffs = (scoresSorted.unsqueeze(2) - scoresSorted.unsqueeze(1)).clamp(-1e8, 1e8);
  diffs = diffs.masked_fill(torch::isnan(diffs), 0.0);
  auto probs = torch::pow(torch::sigmoid(diffs).clamp_min(eps), weights).clamp_min(eps);
  return -torch::log2(probs).masked_select(pairMask).mean();
}

}  // namespace

torch::Tensor computeLoss(const torch::Tensor& logits, const LossInputs& in) {
  auto scores = logits.select(1, 0).to(torch::kFloat32);
  const int64_t pairs = scores.size(0);
  auto grouped = [&](const torch::Tensor& t) {
    if (in.groupSize < 1 || pairs % in.groupSize != 0)
      throw std::invalid_argument("batch of " + std::to_string(pairs) + " pairs is not whole groups of " + std::to_string(in.groupSize));
    return t.view({pairs / in.groupSize, in.groupSize});
  };
  auto needTeacher = [&]() {
    if (!in.teacherScores.defined()) throw std::invalid_argument("this loss needs teacher scores in the data");
  };
  switch (in.kind) {
    case LossKind::Bce:
      return F::binary_cross_entropy_with_logits(scores, in.labels);
    case LossKind::Mse:
      return F::mse_loss(scores, in.labels);
    case LossKind::ListwiseCe: {
      auto target = torch::zeros({pairs / std::max<int64_t>(in.groupSize, 1)}, logits.options().dtype(torch::kLong));
      return F::cross_entropy(grouped(scores), target);
    }
    case LossKind::MarginMse: {
      // Student margins (positive minus each negative) regress the teacher's margins.
      needTeacher();
      if (in.groupSize < 2) throw std::invalid_argument("margin_mse needs groups of a positive and at least one negative");
      auto s = grouped(scores), t = grouped(in.teacherScores);
      auto studentMargin = s.slice(1, 0, 1) - s.slice(1, 1);
      auto teacherMargin = t.slice(1, 0, 1) - t.slice(1, 1);
      return F::mse_loss(studentMargin, teacherMargin);
    }
    case LossKind::DistillMse:
      needTeacher();
      return F::mse_loss(scores, in.teacherScores);
    case LossKind::LambdaLoss:
      return lambdaLoss(grouped(scores), grouped(in.labels));
  }
  throw std::invalid_argument("unknown loss");
}

}  // namespace rr
