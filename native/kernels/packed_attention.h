// Attention over packed tokens on the CPU: each row's tokens attend to that row's tokens only, read straight from
// the joined Q/K/V projection of the packed [tokens, 3 x hidden] rows and written as [tokens, hidden]. No padding,
// no mask, no [batch, heads, length, length] tensor, and no scatter of Q/K/V back to the padded layout. LibTorch
// 1.13's CPU bmm makes one small BLAS call per (row, head) and its softmax runs on torch's single intra-op thread:
// together they were a third of a MiniLM scoring batch on the 2-core machine. Training has its own backward pass
// (dropout on the probabilities drawn as native/layers/dropout.h draws it, recomputed from the seed). The (row, head) work
// is split over the cores as native/kernels/cpu_threads.h says.
#pragma once
#include <torch/torch.h>
#include <cstdint>
#include <vector>

namespace rr {

// The heads of a call: `numHeads` query heads; `kvHeads` K/V heads (grouped-query attention, each serving
// numHeads / kvHeads query heads; 0: as many as numHeads); `headDim` (0: qkv's width / (numHeads + 2 x kvHeads));
// `window` >= 0: query i sees keys |i - j| <= window only (ModernBERT's local layers); `causal`: keys j <= i only.
struct PackedAttentionShape {
  int64_t numHeads = 0;
  int64_t kvHeads = 0;
  int64_t headDim = 0;
  int64_t window = -1;
  bool causal = false;
};

// Whether the kernels serve hidden states like `like`: CPU float32.
bool packedAttentionApplies(const torch::Tensor& like);

// softmax(q k^T / sqrt(headDim)) v for each row and head. qkv: float32 [tokens, 3 x hidden] (Q, K, V side by
// side, heads in order within each); row r's tokens are rows [rowStarts[r], rowStarts[r] + rowLengths[r]).
torch::Tensor packedAttention(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                              const std::vector<int64_t>& rowLengths, int64_t numHeads);
// Any heads: qkv [tokens, (numHeads + 2 x kvHeads) x headDim] (Q, K, V side by side) → [tokens, numHeads x headDim].
torch::Tensor packedAttention(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                              const std::vector<int64_t>& rowLengths, const PackedAttentionShape& heads);

// The same for training, as an autograd function of qkv, with dropout `dropout` on the probabilities (HF's
// attention_probs_dropout_prob; its mask drawn from a seed taken from LibTorch's default CPU generator).
torch::Tensor packedAttentionTraining(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                                      const std::vector<int64_t>& rowLengths, int64_t numHeads, double dropout);
// With a window or a causal mask (one K/V head per query head).
torch::Tensor packedAttentionTraining(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                                      const std::vector<int64_t>& rowLengths, const PackedAttentionShape& heads, double dropout);
torch::Tensor packedAttentionTraining(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                                      const std::vector<int64_t>& rowLengths, const PackedAttentionShape& heads, double dropout,
                                      int64_t seed);
// With the dropout seed given: element e of the probabilities, in (row, head, query, key) order, is dropped as
// element e of a tensor under native/layers/dropout.h's dropoutMask(…, seed). For tests.
torch::Tensor packedAttentionTraining(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                                      const std::vector<int64_t>& rowLengths, int64_t numHeads, double dropout, int64_t seed);

// Forward calls since the addon loaded (runtimeInfo().packedAttentionCalls): tests check the kernel ran.
int64_t packedAttentionCalls();

}  // namespace rr
