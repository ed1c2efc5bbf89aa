// One post-LayerNorm transformer layer (attention, then feed-forward) and the stack of them.
#pragma once
#include <torch/torch.h>
#include "attention.h"
#include "config.h"

namespace rr {

struct BertLayerImpl : torch::nn::Module {
  explicit BertLayerImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask);

  BertAttention attention{nullptr};
  torch::nn::Linear intermediateDense{nullptr}, outputDense{nullptr};
  torch::nn::LayerNorm outputLayerNorm{nullptr};
  std::string hiddenAct;
  double dropout;
};
TORCH_MODULE(BertLayer);

struct BertEncoderImpl : torch::nn::Module {
  explicit BertEncoderImpl(const ModelConfig& cfg);
  torch::Tensor forward(torch::Tensor hidden, const torch::Tensor& additiveMask);

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(BertEncoder);

// [batch, length] 0/1 mask -> [batch, 1, 1, length] additive mask in `dtype` (0 kept, lowest value masked), as HF.
torch::Tensor additiveAttentionMask(const torch::Tensor& attentionMask, torch::ScalarType dtype);

}  // namespace rr
