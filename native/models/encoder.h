// One post-LayerNorm transformer layer (attention, then feed-forward) and the stack of them. BERT, RoBERTa and
// ELECTRA layers use BERT attention; DeBERTa layers use disentangled attention over relative positions.
#pragma once
#include <torch/torch.h>
#include "models/bert.h"
#include "models/config.h"
#include "models/deberta.h"

namespace rr {

struct TransformerLayerImpl : torch::nn::Module {
  explicit TransformerLayerImpl(const ModelConfig& cfg);
  // hidden: [batch, length, hidden], or [tokens, hidden] when `packing` is active (BERT attention only).
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask, const torch::Tensor& relativePositions,
                        const torch::Tensor& relEmbeddings, const TokenPacking& packing);

  // Int8 products for inference (CrossEncoder::setInt8), attention's included; off: float32 Linears.
  void setInt8(bool on);

  BertAttention attention{nullptr};
  DebertaAttention disentangledAttention{nullptr};
  torch::nn::Linear intermediateDense{nullptr}, outputDense{nullptr};
  Int8Linear intermediateInt8, outputInt8;  // intermediateInt8 without its bias: added with the activation
  torch::nn::LayerNorm outputLayerNorm{nullptr};
  std::string hiddenAct;
  double dropout;
};
TORCH_MODULE(TransformerLayer);

struct EncoderImpl : torch::nn::Module {
  explicit EncoderImpl(const ModelConfig& cfg);
  torch::Tensor forward(torch::Tensor hidden, const torch::Tensor& additiveMask, const TokenPacking& packing);

  torch::nn::ModuleList layers{nullptr};
  // DeBERTa: the shared relative-position embeddings and their LayerNorm.
  torch::nn::Embedding relEmbeddings{nullptr};
  torch::nn::LayerNorm relLayerNorm{nullptr};
  int64_t positionBuckets, maxRelativePositions;
};
TORCH_MODULE(Encoder);

// [batch, length] 0/1 mask -> [batch, 1, 1, length] additive mask in `dtype` (0 kept, lowest value masked), as HF.
torch::Tensor additiveAttentionMask(const torch::Tensor& attentionMask, torch::ScalarType dtype);

// [batch, length] 0/1 mask -> [batch, 1, length, length]: padded keys masked, and with `window` >= 0 keys further
// than `window` from the query (a sliding window), with `causal` keys after it. A query row that masks every key
// (a left pad under the causal mask) gets uniform weights, as HF's eager softmax gives it; it is never read.
torch::Tensor windowedAttentionMask(const torch::Tensor& attentionMask, torch::ScalarType dtype, int64_t window, bool causal);


}  // namespace rr
