#include "int8_linear.h"
#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <algorithm>
#include <dlfcn.h>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace rr {

namespace {

std::atomic<int64_t> productCount{0};
std::atomic<bool> opsChosen{false};  // quantizedOps() has run: engine() and the cache capacity are settled

struct QuantizedOps {
  c10::optional<c10::OperatorHandle> prepack, linear;
  std::string engine, unavailable;
  int primitiveCache = -1;  // oneDNN's primitive cache capacity, -1 when unknown
};

std::string engineName(at::QEngine engine) {
  switch (engine) {
    case at::QEngine::ONEDNN: return "onednn";
    case at::QEngine::FBGEMM: return "fbgemm";
#if TORCH_VERSION_MAJOR >= 2
    case at::QEngine::X86: return "x86";
#endif
    default: return "other";
  }
}

// oneDNN keeps each product shape's primitive in a cache (1024 by default), and a cached int8 matmul holds memory
// that grows with its row count: packed batches rarely repeat a shape, so scoring BERT-base grew the process by
// ~40 MB per batch (977 MB -> 1.8 GB peak over the bench's 5 batches) with no speed gained. A cache of 0 keeps
// memory flat at no measured cost (MiniLM scoring 128 vs 121 pairs/s with 1024). ONEDNN_PRIMITIVE_CACHE_CAPACITY,
// when set, wins. Returns the capacity in force, or -1 where oneDNN's symbols are not visible (pip builds link
// oneDNN into libtorch_cpu).
int limitOneDnnPrimitiveCache() {
  using GetCapacity = int (*)(int*);
  using SetCapacity = int (*)(int);
  auto get = reinterpret_cast<GetCapacity>(dlsym(RTLD_DEFAULT, "dnnl_get_primitive_cache_capacity"));
  auto set = reinterpret_cast<SetCapacity>(dlsym(RTLD_DEFAULT, "dnnl_set_primitive_cache_capacity"));
  if (!get || !set) return -1;
  if (!std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY") && !std::getenv("DNNL_PRIMITIVE_CACHE_CAPACITY")) set(0);
  int capacity = -1;
  return get(&capacity) == 0 ? capacity : -1;
}

// Looked up by name through the dispatcher, so a LibTorch without quantized ops still loads the addon.
const QuantizedOps& quantizedOps() {
  static const QuantizedOps ops = [] {
    QuantizedOps o;
    auto& dispatcher = c10::Dispatcher::singleton();
    o.prepack = dispatcher.findSchema({"quantized::linear_prepack", ""});
    o.linear = dispatcher.findSchema({"quantized::linear_dynamic", ""});
    if (!o.prepack || !o.linear) {
      o.unavailable = "this LibTorch has no quantized CPU linear ops (quantized::linear_dynamic)";
      return o;
    }
    // oneDNN first: it is what was measured (VNNI int8 products); x86 / FBGEMM where a build has those instead.
    const auto supported = at::globalContext().supportedQEngines();
    std::vector<at::QEngine> preferred{at::QEngine::ONEDNN};
#if TORCH_VERSION_MAJOR >= 2
    preferred.push_back(at::QEngine::X86);
#endif
    preferred.push_back(at::QEngine::FBGEMM);
    for (auto engine : preferred) {
      if (std::find(supported.begin(), supported.end(), engine) == supported.end()) continue;
      at::globalContext().setQEngine(engine);
      o.engine = engineName(engine);
      if (engine == at::QEngine::ONEDNN) o.primitiveCache = limitOneDnnPrimitiveCache();
      return o;
    }
    o.unavailable = "this LibTorch has no x86 int8 engine (oneDNN, x86 or FBGEMM)";
    return o;
  }();
  opsChosen.store(true);
  return ops;
}

}  // namespace

std::string Int8Linear::engine() { return opsChosen.load() ? quantizedOps().engine : ""; }
int Int8Linear::primitiveCacheCapacity() { return opsChosen.load() ? quantizedOps().primitiveCache : -1; }
int64_t Int8Linear::calls() { return productCount.load(); }

Int8Linear::Int8Linear(const torch::Tensor& weight, const torch::Tensor& bias) {
  const auto& ops = quantizedOps();
  if (!ops.unavailable.empty()) throw std::runtime_error("dtype 'int8': " + ops.unavailable);
  if (!weight.device().is_cpu()) throw std::runtime_error("dtype 'int8' runs on the CPU only");
  torch::NoGradGuard noGrad;
  auto w = weight.detach().to(torch::kFloat32).contiguous();
  // Symmetric per output row: the row's largest magnitude maps to 127 (an all-zero row keeps scale 1).
  auto scales = w.abs().amax(1).div(127.0).to(torch::kFloat64);
  scales = torch::where(scales > 0, scales, torch::ones_like(scales));
  auto zeroPoints = torch::zeros({w.size(0)}, torch::kInt64);
  auto quantized = at::quantize_per_channel(w, scales, zeroPoints, 0, torch::kQInt8);
  c10::optional<at::Tensor> b;
  if (bias.defined()) b = bias.detach().to(torch::kFloat32).contiguous();
  torch::jit::Stack stack{quantized, b};
  ops.prepack->callBoxed(&stack);
  packed_ = std::move(stack.at(0));
}

torch::Tensor Int8Linear::operator()(const torch::Tensor& input) const {
  // reduce_range false: the engines picked above take full-range uint8 inputs (PyTorch's onednn / x86 default).
  torch::jit::Stack stack{input.to(torch::kFloat32).contiguous(), packed_, false};
  quantizedOps().linear->callBoxed(&stack);
  productCount.fetch_add(1);
  return stack.at(0).toTensor();
}

}  // namespace rr
