// Attention shared by the families: softmax(q k^T * scale + mask) v on padded [batch, heads, length, headDim]
// tensors (LibTorch's fused kernels on CUDA), and which of those kernels CUDA may pick. The CPU kernel on packed
// tokens: kernels/packed_attention.h.
#pragma once
#include <torch/torch.h>
#include <string>

namespace rr {

// Which fused attention kernels LibTorch may pick on CUDA: RRNATIVE_SDPA, a comma list of flash, efficient,
// cudnn, math (unset: flash,efficient,math). Read once, on the torch thread, before any model runs.
// Returns what was applied, for runtimeInfo(); throws on an unknown name.
std::string configureAttentionBackends(const char* spec);

// softmax(q k^T * scale + mask) v over [batch, heads, length, headDim] tensors.
torch::Tensor scaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& additiveMask, double dropout, bool training);

}  // namespace rr
