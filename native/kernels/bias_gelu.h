// The feed-forward block's bias + exact GELU in one pass on the CPU (float32), forward and backward. LibTorch's
// CPU Linear adds its bias by copying it into the output before the product (a pass over the [tokens, 4 x hidden]
// intermediate), and its GELU runs on torch's intra-op pool, which OpenBLAS builds give one thread: together
// ~10% of a MiniLM scoring batch on the 2-core machine. Here the product runs without bias and one vectorised
// pass over our CPU kernel threads (native/kernels/cpu_threads.h) adds it and applies GELU.
#pragma once
#include <torch/torch.h>
#include <string>

namespace rr {

// Whether hidden states like `like` under HF's hidden_act `activation` take this path: exact ("gelu") GELU,
// CPU float32.
bool biasGeluApplies(const torch::Tensor& like, const std::string& activation);

// gelu(product + bias) with gelu(u) = u Φ(u) (Φ: the standard normal CDF, as HF's "gelu"). product: float32 CPU
// [..., width], bias: [width]. An autograd function of both when gradients are on. With `overwriteProduct` (a
// product no one else reads: the layer's own temporary) and no gradients, the result is written over the product:
// no second [tokens, 4 x hidden] buffer to fault in and pull through the cache.
torch::Tensor biasGelu(const torch::Tensor& product, const torch::Tensor& bias, bool overwriteProduct = false);

// Calls since the addon loaded (runtimeInfo().biasGeluCalls): tests check the kernel ran.
int64_t biasGeluCalls();

}  // namespace rr
