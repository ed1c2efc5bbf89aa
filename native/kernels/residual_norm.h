// LayerNorm(product + bias + residual) in one pass per row on the CPU, float32 inference: what follows each
// BERT-family layer's two output products (ONNX Runtime's SkipLayerNormalization fusion). LibTorch's way is a
// bias copy into the product's output, an add and a layer norm on torch's one intra-op thread (OpenBLAS builds):
// three passes over [tokens, hidden] and a temporary each.
#pragma once
#include <torch/torch.h>

namespace rr {

// Whether hidden states like `like` take this path: CPU float32, no gradients recorded.
bool residualLayerNormApplies(const torch::Tensor& like);

// norm(product + bias + residual); bias: [hidden] or undefined. product and residual: float32 CPU [..., hidden].
// With `overwriteProduct` (the caller's own temporary) the result is written over the product.
torch::Tensor residualLayerNorm(const torch::Tensor& product, const torch::Tensor& bias, const torch::Tensor& residual,
                                torch::nn::LayerNorm& norm, bool overwriteProduct);

// Calls since the addon loaded (runtimeInfo().residualLayerNormCalls): tests check the kernel ran.
int64_t residualLayerNormCalls();

}  // namespace rr
