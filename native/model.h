// The cross-encoder: an encoder family plus its classification head, with HF parameter names,
// HF initialisation, and the train/eval forward.
#pragma once
#include <torch/torch.h>
#include <map>
#include <string>
#include "config.h"
#include "embeddings.h"
#include "heads.h"
#include "layer.h"

namespace rr {

struct TokenBatch {
  torch::Tensor inputIds;      // int64 [batch, length]
  torch::Tensor attentionMask; // int64 [batch, length]
  torch::Tensor tokenTypeIds;  // int64 [batch, length]
};

struct BertModelImpl : torch::nn::Module {
  explicit BertModelImpl(const ModelConfig& cfg);
  BertEmbeddings embeddings{nullptr};
  BertEncoder encoder{nullptr};
  BertPooler pooler{nullptr};
};
TORCH_MODULE(BertModel);

class CrossEncoder : public torch::nn::Module {
 public:
  CrossEncoder(const ModelConfig& cfg, uint64_t seed);
  // Logits [batch, num_labels] in float32.
  torch::Tensor forward(const TokenBatch& batch);
  const ModelConfig& config() const { return cfg_; }
  torch::Device device() const { return device_; }
  void moveTo(torch::Device device);
  // HF-named parameters, in registration order.
  std::vector<std::pair<std::string, torch::Tensor>> namedParameters() const;

 private:
  void initializeWeights();
  ModelConfig cfg_;
  torch::Device device_{torch::kCPU};
  BertModel bert_{nullptr};
  LinearClassifier classifier_{nullptr};
};

}  // namespace rr
