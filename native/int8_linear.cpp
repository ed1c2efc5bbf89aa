#include "int8_linear.h"
#include <ATen/record_function.h>
#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <algorithm>
#include <dlfcn.h>
#include <atomic>
#include <cctype>
#include <cpuid.h>
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
  bool reduceRange = false;  // 7-bit activations: see vnniProducts()
};

// oneDNN's ISA cap (ONEDNN_MAX_CPU_ISA, or DNNL_ its older name) ranked as its dnnl_cpu_isa_t orders them:
// 0 none, 1 below AVX2 VNNI, 2 AVX2 VNNI, 3 AVX-512 without VNNI, 4 AVX-512 VNNI and above (or a name it adds later).
int isaCapRank() {
  const char* value = std::getenv("ONEDNN_MAX_CPU_ISA");
  if (!value) value = std::getenv("DNNL_MAX_CPU_ISA");
  if (!value) return 0;
  std::string cap(value);
  for (auto& c : cap) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (cap == "SSE41" || cap == "AVX" || cap == "AVX2") return 1;
  if (cap == "AVX2_VNNI" || cap == "AVX2_VNNI_2") return 2;
  if (cap == "AVX512_CORE" || cap == "AVX512_MIC" || cap == "AVX512_MIC_4OPS") return 3;
  return cap == "ALL" || cap == "DEFAULT" || cap.empty() ? 0 : 4;  // AVX512_CORE_VNNI, _BF16, _FP16, AVX10_*, _AMX*
}

// Whether the int8 engine multiplies u8 by s8 with VNNI (vpdpbusd: 32-bit sums). Without it, oneDNN and FBGEMM use
// vpmaddubsw, which adds two u8·s8 products into a saturating int16: 255·127·2 = 64770 > 32767, so full-range
// activations overflow (measured on the AVX2-only EPYC: 0.024 off transformers on bert-mini-a). PyTorch's x86 and
// FBGEMM configs use reduce_range (7-bit activations: 127·127·2 fits) for that reason; so does rrnative there.
// Only AVX-512 VNNI counts: whether an engine's int8 kernels use the 256-bit AVX-VNNI form (Alder Lake and later
// without AVX-512) depends on its version, and 7-bit activations cost little accuracy where 8-bit ones would overflow.
bool vnniProducts() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  bool avx512Vnni = false;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) avx512Vnni = (ebx & (1u << 16)) && (ecx & (1u << 11));  // AVX512F, AVX512_VNNI
  const int cap = isaCapRank();
  return avx512Vnni && (cap == 0 || cap == 4);
}

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
      o.reduceRange = !vnniProducts();
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
bool Int8Linear::reducedRange() { return opsChosen.load() && quantizedOps().reduceRange; }

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
  RECORD_FUNCTION("rr::int8_linear", std::vector<c10::IValue>());  // with the activations' conversion, in the profile
  // Full-range uint8 inputs with VNNI (PyTorch's onednn default); 7-bit ones without (vnniProducts()).
  torch::jit::Stack stack{input.to(torch::kFloat32).contiguous(), packed_, quantizedOps().reduceRange};
  quantizedOps().linear->callBoxed(&stack);
  productCount.fetch_add(1);
  return stack.at(0).toTensor();
}

}  // namespace rr
