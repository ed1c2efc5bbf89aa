// DeBERTa-v2/v3: its embeddings, disentangled self-attention over bucketed relative positions (with BERT's
// output block), its ContextPooler head, and the relative positions themselves. The layer stack it shares with
// the BERT family: models/encoder.h.
#pragma once
#include <torch/torch.h>
#include "kernels/int8_linear.h"
#include "models/bert.h"
#include "models/config.h"

namespace rr {

// DeBERTa-v2/v3 embeddings: optional absolute positions and token types, optional projection, LayerNorm,
// padded positions zeroed.
struct DebertaEmbeddingsImpl : torch::nn::Module {
  explicit DebertaEmbeddingsImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& inputIds, const torch::Tensor& tokenTypeIds, const torch::Tensor& attentionMask);

  torch::nn::Embedding wordEmbeddings{nullptr}, positionEmbeddings{nullptr}, tokenTypeEmbeddings{nullptr};
  torch::nn::Linear embedProj{nullptr};
  torch::nn::LayerNorm layerNorm{nullptr};
  double dropout;
};
TORCH_MODULE(DebertaEmbeddings);

// DeBERTa's disentangled self-attention: content-to-content plus content-to-position (c2p) and
// position-to-content (p2c) scores over bucketed relative positions.
struct DisentangledSelfAttentionImpl : torch::nn::Module {
  explicit DisentangledSelfAttentionImpl(const ModelConfig& cfg);
  // relativePositions: int64 [length, length] bucketed (query - key); relEmbeddings: [2 * span, hidden], normalised.
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask, const torch::Tensor& relativePositions,
                        const torch::Tensor& relEmbeddings);

  // Int8 products of the hidden states' projections (the relative embeddings' stay float32: [2 x span] rows).
  void setInt8(bool on);

  torch::nn::Linear queryProj{nullptr}, keyProj{nullptr}, valueProj{nullptr}, posKeyProj{nullptr}, posQueryProj{nullptr};
  Int8Linear queryInt8, keyInt8, valueInt8;
  int64_t numHeads, headDim, span;
  bool c2p, p2c;
  double dropout, posDropout;
};
TORCH_MODULE(DisentangledSelfAttention);

struct DebertaAttentionImpl : torch::nn::Module {
  explicit DebertaAttentionImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask, const torch::Tensor& relativePositions,
                        const torch::Tensor& relEmbeddings);

  DisentangledSelfAttention self{nullptr};
  BertSelfOutput output{nullptr};
};
TORCH_MODULE(DebertaAttention);

// DeBERTa's ContextPooler: the first token through dropout, dense and pooler_hidden_act.
struct ContextPoolerImpl : torch::nn::Module {
  explicit ContextPoolerImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& hidden);
  torch::nn::Linear dense{nullptr};
  std::string activation;
  double dropout;
};
TORCH_MODULE(ContextPooler);

// DeBERTa's relative positions (query - key) of a length x length sequence, log-bucketed as HF's
// make_log_bucket_position when bucketSize > 0.
torch::Tensor relativePositions(int64_t length, int64_t bucketSize, int64_t maxPosition, torch::Device device);

}  // namespace rr
