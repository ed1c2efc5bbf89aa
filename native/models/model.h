// The cross-encoder: an encoder family plus its classification head, with HF parameter names,
// HF initialisation, and the train/eval forward.
#pragma once
#include <torch/torch.h>
#include <string>
#include "layers/classifier.h"
#include "models/bert.h"
#include "models/config.h"
#include "models/deberta.h"
#include "models/encoder.h"
#include "models/modernbert.h"
#include "models/qwen.h"

namespace rr {

struct TokenBatch {
  torch::Tensor inputIds;      // int64 [batch, length]
  torch::Tensor attentionMask; // int64 [batch, length]
  torch::Tensor tokenTypeIds;  // int64 [batch, length]
};

// The base model of each family, registered under HF's prefix ("bert", "roberta", "electra", "deberta").
struct BaseModelImpl : torch::nn::Module {
  explicit BaseModelImpl(const ModelConfig& cfg);
  // The last hidden states the heads read (they take the first token): [batch, length, hidden], or
  // [batch, 1, hidden] when the layers ran on packed tokens.
  torch::Tensor forward(const TokenBatch& batch);
  // Every token's last hidden state [batch, length, hidden] (zeros at padding when the layers ran packed): what
  // an embedding model pools.
  torch::Tensor tokenStates(const TokenBatch& batch);
  static constexpr double kPackBelowRealShare = 0.98;
  static constexpr double kAlwaysPack = 2.0;  // a real-token share no batch reaches

  BertEmbeddings embeddings{nullptr};
  DebertaEmbeddings debertaEmbeddings{nullptr};
  torch::nn::Linear embeddingsProject{nullptr};  // ELECTRA, when embedding_size != hidden_size
  Encoder encoder{nullptr};
  BertPooler pooler{nullptr};                    // BERT only
  bool singleTokenType;

 private:
  torch::Tensor run(const TokenBatch& batch, bool everyToken);
};
TORCH_MODULE(BaseModel);

class CrossEncoder : public torch::nn::Module {
 public:
  CrossEncoder(const ModelConfig& cfg, uint64_t seed);
  // Logits [batch, num_labels] in float32.
  torch::Tensor forward(const TokenBatch& batch);
  // The base model's token states, for embedding models (native/layers/pooling.h), in the model's dtype.
  torch::Tensor tokenStates(const TokenBatch& batch);
  const ModelConfig& config() const { return cfg_; }
  torch::Device device() const { return device_; }
  void moveTo(torch::Device device);
  // The parameters' dtype: float32 (training, and bf16 autocast), or bfloat16 for inference only (half the
  // memory, no casts per forward; HF's from_pretrained(dtype=torch.bfloat16)).
  torch::Dtype dtype() const { return dtype_; }
  void setDtype(torch::Dtype dtype);
  // Int8 products in the encoder layers for CPU inference (native/kernels/int8_linear.h; float32 parameters kept, so
  // save() writes them unchanged). Quantizes the current weights: call again after loading new ones.
  void setInt8(bool on);
  bool int8() const { return int8_; }
  // HF-named parameters, in registration order.
  std::vector<std::pair<std::string, torch::Tensor>> namedParameters() const;
  // HF's base_model_prefix of the family ("bert.", "roberta.", …): base-model-only checkpoints lack it.
  std::string basePrefix() const;

 private:
  void initializeWeights();
  ModelConfig cfg_;
  torch::Device device_{torch::kCPU};
  torch::Dtype dtype_ = torch::kFloat32;
  bool int8_ = false;
  BaseModel base_{nullptr};
  LinearClassifier linearClassifier_{nullptr};  // BERT, DeBERTa
  ClassificationHead headClassifier_{nullptr};  // RoBERTa, ELECTRA
  ContextPooler contextPooler_{nullptr};        // DeBERTa
  ModernBertModel modernBert_{nullptr};         // ModernBERT: "model", "head", "classifier"
  ModernBertHead modernHead_{nullptr};
  QwenModel qwen_{nullptr};                     // Qwen3 / Qwen2: "model", and "score" or the LM head's yes/no rows
  torch::nn::Linear score_{nullptr};
  torch::nn::Linear lmHead_{nullptr};           // a yes/no reranker with untied embeddings: lm_head.weight
  torch::Tensor yesNoIds_;                      // int64 [2]: the "yes" and "no" token ids
};

}  // namespace rr
