// Packed tokens: the real tokens of a right-padded [batch, length] batch as [tokens, hidden] rows. The linear
// layers, norms and activations of a BERT-family layer then skip the padding (the most work in a layer), and
// float32 attention runs on the packed rows too (native/kernels/packed_attention.h); other dtypes' attention needs the
// [batch, length] layout, so its Q/K/V are scattered back for it and its output gathered again. Padding never
// changes a real token's output, so the logits are the padded forward's.
#pragma once
#include <torch/torch.h>
#include <cstdint>
#include <vector>

namespace rr {

class TokenPacking {
 public:
  TokenPacking() = default;
  // Packs when the batch is on the CPU, right-padded (every row's first token real) and its real tokens are
  // fewer than `maxRealShare` of batch × length; else inactive (the padded forward runs). `anyPadding`: left-padded
  // rows too (decoders, which read the last real token), as long as each row's real tokens are one run.
  static TokenPacking plan(const torch::Tensor& attentionMask, double maxRealShare, bool anyPadding = false);
  // False when RRNATIVE_PACKING=off (read at every plan): every forward then runs padded, for measuring what
  // packing gains and testing the padded path on the CPU.
  static bool enabled();
  // Forwards planned as packed since the addon loaded (runtimeInfo().packedForwards).
  static int64_t packedForwards();

  bool active() const { return index_.defined(); }
  int64_t batch() const { return batch_; }
  int64_t length() const { return length_; }
  // [batch, length, C] → [tokens, C]
  torch::Tensor pack(const torch::Tensor& padded) const;
  // [tokens, C] → [batch, length, C], zeros at the padding
  torch::Tensor unpack(const torch::Tensor& packed) const;
  // [tokens, C] → [batch, 1, C]: each row's first token, what the classification heads read
  torch::Tensor firstTokens(const torch::Tensor& packed) const;
  // [tokens, C] → [batch, 1, C]: each row's last token, what a decoder's head reads
  torch::Tensor lastTokens(const torch::Tensor& packed) const;
  // [tokens, C] → [batch, C]: the mean of each row's tokens (ModernBERT's mean pooling)
  torch::Tensor rowMeans(const torch::Tensor& packed) const;
  // int64 [tokens]: each token's position within its row (0 for a row's first real token)
  torch::Tensor positions() const;
  // Each row's first packed token and its token count, on the host (native/kernels/packed_attention.h reads them).
  const std::vector<int64_t>& rowStarts() const { return rowStarts_; }
  const std::vector<int64_t>& rowLengths() const { return rowLengths_; }

 private:
  torch::Tensor index_;        // int64 [tokens]: the real tokens' positions in the flattened [batch * length]
  std::vector<int64_t> rowStarts_, rowLengths_;  // each row's first token among the packed rows, its token count
  int64_t batch_ = 0, length_ = 0;
};

}  // namespace rr
