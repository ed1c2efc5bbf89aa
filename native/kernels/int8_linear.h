// Int8 products for CPU inference: PyTorch's dynamic quantization (torch.ao's quantize_dynamic with per-channel
// weights). A Linear's weight is quantized once, symmetric int8 per output row; each call quantizes its input
// (uint8, from the input's own range) and runs LibTorch's quantized CPU linear. Through the oneDNN engine and
// AVX-512 VNNI on the 2-core machine the encoder's products ran 2.7-4.3x faster than OpenBLAS's float32 ones,
// within ~1-3% relative error per product (measured in a C++ probe on [4096 x 384..3072] products).
#pragma once
#include <ATen/core/ivalue.h>
#include <torch/torch.h>
#include <cstdint>
#include <string>

namespace rr {

class Int8Linear {
 public:
  // The quantization engine in use ("onednn", "x86", "fbgemm"); "" before the first int8 model or when unavailable.
  static std::string engine();
  // oneDNN's primitive cache capacity once an int8 model was made (0 unless ONEDNN_PRIMITIVE_CACHE_CAPACITY says
  // otherwise: int8_linear.cpp says why), or -1 (before, or oneDNN's symbols not visible).
  static int primitiveCacheCapacity();
  // Products run since the addon loaded (runtimeInfo().int8Products): tests check int8 models use them.
  static int64_t calls();
  // Whether activations are quantized to 7 bits (reduce_range): CPUs, or oneDNN ISA caps, without VNNI, where 8-bit
  // ones saturate the int16 sums of the u8·s8 products (int8_linear.cpp). False before the first int8 model.
  static bool reducedRange();
  // What runs the products: "gemm_u8s8s32" (oneDNN's integer GEMM called directly, where its symbols are visible,
  // as in Debian's libdnnl), "linear_dynamic" (LibTorch's quantized::linear_dynamic), "" before the first int8 model.
  static std::string kernel();

  Int8Linear() = default;
  // weight: float [out, in] on the CPU; bias: [out] or undefined. The first one picks the engine (oneDNN, else x86
  // / FBGEMM); throws, saying why, where this LibTorch has no quantized CPU linear ops or no such engine.
  Int8Linear(const torch::Tensor& weight, const torch::Tensor& bias);
  bool defined() const { return weight_.defined() || !packed_.isNone(); }
  // input: float32 [..., in] → float32 [..., out]
  torch::Tensor operator()(const torch::Tensor& input) const;

 private:
  // oneDNN's gemm_u8s8s32: the int8 weight [out, in], its per-row scales (float [out]) and the bias (or undefined).
  torch::Tensor weight_, weightScales_, bias_;
  c10::IValue packed_;  // else LibTorch's LinearPackedParamsBase: the int8 weight, its scales and the bias, prepacked
};

}  // namespace rr
