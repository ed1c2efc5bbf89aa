// Sequence-classification heads on top of the encoder, one per family.
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

// dropout + linear to num_labels logits (BERT's and DeBERTa's `classifier`).
struct LinearClassifierImpl : torch::nn::Module {
  LinearClassifierImpl(int64_t inFeatures, int64_t numLabels, double dropout);
  torch::Tensor forward(const torch::Tensor& pooled);
  torch::Tensor weight, bias;
  double dropout;
};
TORCH_MODULE(LinearClassifier);

// RoBERTa / ELECTRA head on the first token: dropout, dense, activation (tanh / gelu), dropout, out_proj.
struct ClassificationHeadImpl : torch::nn::Module {
  ClassificationHeadImpl(const ModelConfig& cfg, std::string activation);
  torch::Tensor forward(const torch::Tensor& hidden);
  torch::nn::Linear dense{nullptr}, outProj{nullptr};
  std::string activation;
  double dropout;
};
TORCH_MODULE(ClassificationHead);

// DeBERTa's ContextPooler: the first token through dropout, dense and pooler_hidden_act.
struct ContextPoolerImpl : torch::nn::Module {
  explicit ContextPoolerImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& hidden);
  torch::nn::Linear dense{nullptr};
  std::string activation;
  double dropout;
};
TORCH_MODULE(ContextPooler);

}  // namespace rr
