// Sequence-classification heads on top of the encoder.
#pragma once
#include <torch/torch.h>
#include "config.h"

namespace rr {

// BERT pooler: the first token's hidden state through dense + tanh.
struct BertPoolerImpl : torch::nn::Module {
  explicit BertPoolerImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& hidden);
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(BertPooler);

// dropout + linear to num_labels logits (HF's `classifier`).
struct LinearClassifierImpl : torch::nn::Module {
  LinearClassifierImpl(int64_t inFeatures, int64_t numLabels, double dropout);
  torch::Tensor forward(const torch::Tensor& pooled);
  torch::Tensor weight, bias;
  double dropout;
};
TORCH_MODULE(LinearClassifier);

}  // namespace rr
