// Float32 CPU products of the linear layers through oneDNN's sgemm, when the LibTorch build links a oneDNN whose
// symbols are visible (Debian's libdnnl). It picks its JIT kernels by ISA, not by vendor: on the 2-core AVX-512 EPYC
// its sgemm ran MiniLM's shapes at 305-358 GFLOP/s against OpenBLAS's 92-150 (Haswell kernels, what OpenBLAS 0.3.21
// picks there) and 144-250 (SkylakeX); capped at AVX2, 171-200 against 137-163 (scripts/bench/CPU-NOTES.md).
// Elsewhere (CUDA, bf16, a pip LibTorch with MKL and oneDNN hidden inside) the products stay LibTorch's.
#pragma once
#include <torch/torch.h>
#include <string>

namespace rr {

// input [..., K] x weight [N, K]^T (+ bias [N]) -> [..., N], as torch::linear; with autograd when an input needs
// gradients (its backward products go through sgemm too).
torch::Tensor linearProduct(const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias);

// "onednn" when linearProduct uses oneDNN's sgemm for float32 CPU tensors, "" when it leaves them to LibTorch
// (no visible dnnl_sgemm, or RRNATIVE_CPU_GEMM=torch).
std::string cpuGemmBackend();

// oneDNN's C function `name` (dnnl_sgemm, dnnl_gemm_u8s8s32) where its symbols are visible, as in Debian's libdnnl;
// null where they are not (a pip LibTorch links oneDNN inside, hidden) or when RRNATIVE_CPU_GEMM=torch leaves the
// CPU products, float32 and int8, to LibTorch.
void* oneDnnFunction(const char* name);

// How many products went through oneDNN's sgemm (forward and backward), for tests.
int64_t cpuGemmCalls();

}  // namespace rr
