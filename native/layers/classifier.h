// The linear classifier on a pooled vector, shared by the families' heads.
#pragma once
#include <torch/torch.h>

namespace rr {

// dropout + linear to num_labels logits (BERT's and DeBERTa's `classifier`).
struct LinearClassifierImpl : torch::nn::Module {
  LinearClassifierImpl(int64_t inFeatures, int64_t numLabels, double dropout);
  torch::Tensor forward(const torch::Tensor& pooled);
  torch::Tensor weight, bias;
  double dropout;
};
TORCH_MODULE(LinearClassifier);

}  // namespace rr
