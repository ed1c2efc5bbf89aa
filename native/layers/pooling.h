// Sentence embeddings from an encoder's token states, as sentence-transformers' Pooling and Normalize modules
// compute them (sentence_transformer/modules/pooling.py, 6.0.1): each mode's vector, concatenated in the
// configured order, then optionally L2-normalized.
#pragma once
#include <torch/torch.h>
#include <cstdint>
#include <string>
#include <vector>

namespace rr {

enum class PoolingMode { Cls, Max, Mean, MeanSqrtLen, WeightedMean, LastToken };

// 'cls', 'max', 'mean', 'mean_sqrt_len', 'weightedmean', 'lasttoken'; throws naming the unknown mode.
PoolingMode parsePoolingMode(const std::string& name);

struct PoolingSpec {
  std::vector<PoolingMode> modes;
  // Tokens at the start of every row that pooling leaves out (include_prompt false): the prompt's tokens with
  // the leading special token, as sentence-transformers counts them. 0 pools every token.
  int64_t excludedPrefix = 0;
  bool normalize = false;
};

// tokenStates [batch, length, hidden] (any float dtype), attentionMask int64 [batch, length], right-padded.
// Returns float32 [batch, hidden × modes].
torch::Tensor poolTokens(const torch::Tensor& tokenStates, const torch::Tensor& attentionMask, const PoolingSpec& spec);

}  // namespace rr
