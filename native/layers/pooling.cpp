#include "layers/pooling.h"
#include <limits>
#include <stdexcept>

namespace rr {

PoolingMode parsePoolingMode(const std::string& name) {
  if (name == "cls") return PoolingMode::Cls;
  if (name == "max") return PoolingMode::Max;
  if (name == "mean") return PoolingMode::Mean;
  if (name == "mean_sqrt_len") return PoolingMode::MeanSqrtLen;
  if (name == "weightedmean") return PoolingMode::WeightedMean;
  if (name == "lasttoken") return PoolingMode::LastToken;
  throw std::invalid_argument("pooling mode must be one of cls, max, mean, mean_sqrt_len, weightedmean, lasttoken; got '" + name + "'");
}

torch::Tensor poolTokens(const torch::Tensor& tokenStates, const torch::Tensor& attentionMask, const PoolingSpec& spec) {
  // Pooled in float32 whatever the encoder computed in: sums over hundreds of bf16 tokens would lose digits.
  const auto states = tokenStates.to(torch::kFloat32);
  auto mask = attentionMask.to(torch::kInt64);
  // include_prompt false: the prompt's positions drop out of the mask, for pooling only (the encoder saw them).
  if (spec.excludedPrefix > 0) {
    mask = mask.clone();
    mask.narrow(1, 0, std::min(spec.excludedPrefix, mask.size(1))).zero_();
  }
  const int64_t length = states.size(1), hidden = states.size(2);
  const auto maskF = mask.unsqueeze(-1).to(torch::kFloat32);  // [batch, length, 1]
  torch::Tensor maskedSum, tokenCount;  // shared by mean and mean_sqrt_len
  auto sums = [&]() {
    if (!maskedSum.defined()) {
      maskedSum = (states * maskF).sum(1);
      tokenCount = torch::clamp(maskF.sum(1), 1e-9);
    }
  };
  std::vector<torch::Tensor> parts;
  for (PoolingMode mode : spec.modes) {
    switch (mode) {
      case PoolingMode::Cls: {
        // The first pooled token: position 0 when right-padded, the first after an excluded prompt otherwise
        // (argmax of the mask, as sentence-transformers; a row with none pooled reads position 0).
        auto first = mask.to(torch::kInt32).argmax(1).to(torch::kInt64);
        parts.push_back(states.gather(1, first.view({-1, 1, 1}).expand({-1, 1, hidden})).squeeze(1));
        break;
      }
      case PoolingMode::Max:
        parts.push_back(states.masked_fill(maskF == 0, -std::numeric_limits<float>::infinity()).amax(1));
        break;
      case PoolingMode::Mean:
        sums();
        parts.push_back(maskedSum / tokenCount);
        break;
      case PoolingMode::MeanSqrtLen:
        sums();
        parts.push_back(maskedSum / torch::sqrt(tokenCount));
        break;
      case PoolingMode::WeightedMean: {
        // Weights 1, 2, … by position in the row, prompt and padding at zero.
        auto weights = torch::arange(1, length + 1, states.options()).view({1, length, 1}) * maskF;
        parts.push_back((states * weights).sum(1) / torch::clamp(weights.sum(1), 1e-9));
        break;
      }
      case PoolingMode::LastToken: {
        // The last pooled token; a row with none pooled gives zeros (masked), as sentence-transformers.
        auto [values, fromEnd] = mask.flip(1).max(1);
        auto last = torch::where(values == 0, torch::zeros_like(fromEnd), fromEnd);
        last = (length - 1) - last;
        parts.push_back((states * maskF).gather(1, last.view({-1, 1, 1}).expand({-1, 1, hidden})).squeeze(1));
        break;
      }
    }
  }
  auto pooled = parts.size() == 1 ? parts.front() : torch::cat(parts, -1);
  // Normalize: x / max(‖x‖₂, 1e-12), torch.nn.functional.normalize's epsilon.
  if (spec.normalize) pooled = pooled / torch::clamp(pooled.norm(2, -1, true), 1e-12);
  return pooled.contiguous();
}

}  // namespace rr
