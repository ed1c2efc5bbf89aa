#include "kernels/cpu_gemm.h"
#include <ATen/autocast_mode.h>
#include <ATen/record_function.h>
#include <dlfcn.h>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include "kernels/cpu_threads.h"

namespace rr {

namespace {

// dnnl_sgemm (oneDNN 1.x and later): row-major C = alpha op(A) op(B) + beta C.
using Sgemm = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                      const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

std::atomic<int64_t> callCount{0};

Sgemm sgemmFunction() {
  static const Sgemm fn = reinterpret_cast<Sgemm>(oneDnnFunction("dnnl_sgemm"));
  return fn;
}

// One product on all the kernel threads (productThreads()).
void sgemm(char transA, char transB, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
           int64_t ldb, float beta, float* c, int64_t ldc) {
  IntraOpThreads threads(productThreads());
  const int status = sgemmFunction()(transA, transB, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  TORCH_CHECK(status == 0, "oneDNN sgemm failed with status ", status, " (m ", m, ", n ", n, ", k ", k, ")");
  ++callCount;
}

// out [M, N] = x [M, K] W [N, K]^T (+ bias): the bias rows first, then the product added onto them.
torch::Tensor forwardProduct(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias) {
  RECORD_FUNCTION("rr::sgemm_linear", std::vector<c10::IValue>());
  const int64_t m = x.size(0), k = x.size(1), n = w.size(0);
  torch::Tensor out;
  if (bias.defined()) out = bias.unsqueeze(0).expand({m, n}).contiguous();
  else out = torch::empty({m, n}, x.options());
  if (m > 0 && n > 0) {
    if (k == 0) {
      if (!bias.defined()) out.zero_();
    } else {
      sgemm('N', 'T', m, n, k, x.data_ptr<float>(), k, w.data_ptr<float>(), k, bias.defined() ? 1.0f : 0.0f, out.data_ptr<float>(), n);
    }
  }
  return out;
}

struct LinearFunction : torch::autograd::Function<LinearFunction> {
  // `bias` has 0 elements for a product without one (autograd functions take defined tensors only).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& bias) {
    ctx->save_for_backward({x, w});
    const bool hasBias = bias.numel() > 0;
    ctx->saved_data["bias"] = hasBias;
    return forwardProduct(x, w, hasBias ? bias : torch::Tensor());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    RECORD_FUNCTION("rr::sgemm_linear_backward", std::vector<c10::IValue>());
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const auto dy = grads[0].contiguous();
    const int64_t m = x.size(0), k = x.size(1), n = w.size(0);
    // With an empty dimension the gradients are zeros (sgemm is not called); otherwise sgemm writes every value.
    const bool empty = m == 0 || n == 0 || k == 0;
    auto gradient = [&](int64_t rows, int64_t cols, const torch::TensorOptions& options) {
      return empty ? torch::zeros({rows, cols}, options) : torch::empty({rows, cols}, options);
    };
    torch::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
      dx = gradient(m, k, x.options());
      if (!empty) sgemm('N', 'N', m, k, n, dy.data_ptr<float>(), n, w.data_ptr<float>(), k, 0.0f, dx.data_ptr<float>(), k);
    }
    if (ctx->needs_input_grad(1)) {
      dw = gradient(n, k, w.options());
      if (!empty) sgemm('T', 'N', n, k, m, dy.data_ptr<float>(), n, x.data_ptr<float>(), k, 0.0f, dw.data_ptr<float>(), k);
    }
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) db = dy.sum(0);
    return {dx, dw, db};
  }
};

bool cpuAutocast() {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
  return at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}

// Float32 CPU operands outside CPU autocast (which would run LibTorch's product in bf16).
bool applies(const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias) {
  auto f32cpu = [](const torch::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && !t.is_sparse(); };
  return sgemmFunction() != nullptr && !cpuAutocast() && f32cpu(input) && f32cpu(weight) && (!bias.defined() || f32cpu(bias)) &&
         weight.dim() == 2 && input.dim() >= 1 && input.size(-1) == weight.size(1) &&
         (!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)));
}

}  // namespace

void* oneDnnFunction(const char* name) {
  const char* choice = std::getenv("RRNATIVE_CPU_GEMM");
  if (choice && std::strcmp(choice, "torch") == 0) return nullptr;
  return dlsym(RTLD_DEFAULT, name);
}

torch::Tensor linearProduct(const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (!applies(input, weight, bias)) return bias.defined() ? torch::linear(input, weight, bias) : torch::linear(input, weight);
  auto sizes = input.sizes().vec();
  const auto x = input.reshape({-1, input.size(-1)}).contiguous();
  const auto w = weight.contiguous();
  const auto b = bias.defined() ? bias.contiguous() : bias;
  const bool grads = torch::GradMode::is_enabled() && (input.requires_grad() || weight.requires_grad() || (bias.defined() && bias.requires_grad()));
  auto out = grads ? LinearFunction::apply(x, w, b.defined() ? b : torch::empty({0}, weight.options()))
                   : forwardProduct(x, w, b);
  sizes.back() = weight.size(0);
  return out.view(sizes);
}

std::string cpuGemmBackend() { return sgemmFunction() ? "onednn" : ""; }

int64_t cpuGemmCalls() { return callCount.load(); }

}  // namespace rr
