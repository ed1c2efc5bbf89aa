#include "kernels/int8_linear.h"
#include <ATen/record_function.h>
#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <algorithm>
#include <dlfcn.h>
#include <atomic>
#include <cctype>
#include <cpuid.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include "kernels/cpu_gemm.h"
#include "kernels/cpu_threads.h"
#include "kernels/cpu_vector.h"

namespace rr {

namespace {

std::atomic<int64_t> productCount{0};
std::atomic<bool> opsChosen{false};  // quantizedOps() has run: engine() and the cache capacity are settled

struct QuantizedOps {
  c10::optional<c10::OperatorHandle> prepack, linear;
  std::string engine, kernel, unavailable;
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

// dnnl_gemm_u8s8s32 (oneDNN 1.x and later): row-major C = alpha (op(A) - ao)(op(B) - bo) + beta C + co, int32 sums.
using GemmU8s8 = int (*)(char transa, char transb, char offsetc, int64_t m, int64_t n, int64_t k, float alpha,
                         const uint8_t* a, int64_t lda, uint8_t ao, const int8_t* b, int64_t ldb, int8_t bo, float beta,
                         int32_t* c, int64_t ldc, const int32_t* co);

// Called directly where the symbols are visible (Debian's libdnnl; a pip LibTorch hides its oneDNN), unless
// RRNATIVE_CPU_GEMM=torch sends the products back to LibTorch. quantized::linear_dynamic builds a oneDNN primitive
// per call (the cache is off: limitOneDnnPrimitiveCache()) and quantizes through ATen ops; the GEMM alone ran
// MiniLM's shapes at 450-990 G int8 ops/s with VNNI on the 2-core EPYC (scripts/bench/CPU-NOTES.md).
GemmU8s8 gemmU8s8() {
  static const GemmU8s8 fn = reinterpret_cast<GemmU8s8>(oneDnnFunction("dnnl_gemm_u8s8s32"));
  return fn;
}

// Looked up by name through the dispatcher, so a LibTorch without quantized ops still loads the addon.
const QuantizedOps& quantizedOps() {
  static const QuantizedOps ops = [] {
    QuantizedOps o;
    if (gemmU8s8()) {
      o.engine = "onednn";
      o.kernel = "gemm_u8s8s32";
      o.primitiveCache = limitOneDnnPrimitiveCache();
      o.reduceRange = !vnniProducts();
      return o;
    }
    o.kernel = "linear_dynamic";
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

using namespace simd;

constexpr int64_t kRowsPerItem = 16;  // rows per work item of the passes below

// Folds the smallest and largest value of `count` rows of x [., width] into low and high.
RR_VECTOR_CLONES
void rangeOfRows(const float* x, int64_t count, int64_t width, float& low, float& high) {
  const int64_t whole = width / kLanes * kLanes;
  Floats8 lows = splat(low), highs = splat(high);
  for (int64_t r = 0; r < count; ++r, x += width) {
    for (int64_t j = 0; j < whole; j += kLanes) {
      const Floats8 v = load(x + j);
      lows = v < lows ? v : lows;
      highs = v > highs ? v : highs;
    }
    for (int64_t j = whole; j < width; ++j) {
      low = std::min(low, x[j]);
      high = std::max(high, x[j]);
    }
  }
  for (int64_t lane = 0; lane < kLanes; ++lane) {
    low = std::min(low, lows[lane]);
    high = std::max(high, highs[lane]);
  }
}

// q = clamp(zero + round-half-even(x / scale), 0, qmax), as PyTorch's quantize. Adding and taking away 1.5 x 2^23
// rounds a float of magnitude < 2^22 to an integer, half to even; |x / scale| <= qmax here.
RR_VECTOR_CLONES
void quantizeRows(const float* x, uint8_t* q, int64_t values, float inverseScale, float zero, float qmax) {
  typedef uint8_t Bytes32 __attribute__((vector_size(32)));
  const float magic = 12582912.0f;
  const int64_t whole = values / kLanes * kLanes;
  for (int64_t j = 0; j < whole; j += kLanes) {
    Floats8 v = (load(x + j) * splat(inverseScale) + splat(magic)) - splat(magic) + splat(zero);
    v = v < splat(0.0f) ? splat(0.0f) : v;
    v = v > splat(qmax) ? splat(qmax) : v;
    // Each int32's low byte, gathered into the first 8 (a narrowing conversion became 8 extracts and stores).
    const Ints8 ints = __builtin_convertvector(v, Ints8);
    Bytes32 bytes;
    std::memcpy(&bytes, &ints, sizeof bytes);
    bytes = __builtin_shuffle(bytes, Bytes32{0, 4, 8, 12, 16, 20, 24, 28});
    std::memcpy(q + j, &bytes, kLanes);
  }
  for (int64_t j = whole; j < values; ++j)
    q[j] = static_cast<uint8_t>(std::min(qmax, std::max(0.0f, std::nearbyint(x[j] * inverseScale) + zero)));
}

// out[r][j] = sums[r][j] * scales[j] (+ bias[j]), in place: `out` holds the int32 sums on entry.
RR_VECTOR_CLONES
void dequantizeRows(float* out, int64_t count, int64_t width, const float* scales, const float* bias) {
  const int64_t whole = width / kLanes * kLanes;
  for (int64_t r = 0; r < count; ++r, out += width) {
    for (int64_t j = 0; j < whole; j += kLanes) {
      Ints8 sums;
      std::memcpy(&sums, out + j, sizeof sums);
      Floats8 v = __builtin_convertvector(sums, Floats8) * load(scales + j);
      if (bias) v += load(bias + j);
      store(out + j, v);
    }
    for (int64_t j = whole; j < width; ++j) {
      int32_t sum;
      std::memcpy(&sum, out + j, sizeof sum);
      out[j] = static_cast<float>(sum) * scales[j] + (bias ? bias[j] : 0.0f);
    }
  }
}

// x [m, k] (float32, contiguous) x weight [n, k]^T through oneDNN's integer GEMM: x quantized per call from its own
// range (asymmetric uint8, 7 bits without VNNI), the weight symmetric per row; dequantized with bias into [m, n].
torch::Tensor gemmProduct(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& weightScales,
                          const torch::Tensor& bias, bool reduceRange) {
  const int64_t m = x.size(0), k = x.size(1), n = weight.size(0);
  auto out = torch::empty({m, n}, x.options());
  if (m == 0) return out;
  const float* xs = x.data_ptr<float>();
  const RowBlocks blocks = rowBlocks(m, kRowsPerItem);

  // 0 in the range, as PyTorch's qparams
  std::vector<float> lows(blocks.split.parts, 0.0f), highs(blocks.split.parts, 0.0f);
  forEachRowBlock(blocks, [&](int64_t first, int64_t count, int part) {
    rangeOfRows(xs + first * k, count, k, lows[part], highs[part]);
  });
  const float low = *std::min_element(lows.begin(), lows.end()), high = *std::max_element(highs.begin(), highs.end());
  const float qmax = reduceRange ? 127.0f : 255.0f;
  float scale = static_cast<float>((static_cast<double>(high) - low) / qmax);
  if (!(scale > 0.0f) || std::isinf(1.0f / scale)) scale = 0.1f;  // an all-zero input, as PyTorch's qparams
  const float zero = std::min(qmax, std::max(0.0f, std::nearbyint(-low / scale)));

  auto quantized = torch::empty({m, k}, x.options().dtype(torch::kUInt8));
  uint8_t* qs = quantized.data_ptr<uint8_t>();
  forEachRowBlock(blocks, [&](int64_t first, int64_t count, int) {
    quantizeRows(xs + first * k, qs + first * k, count * k, 1.0f / scale, zero, qmax);
  });

  static_assert(sizeof(float) == sizeof(int32_t), "the int32 sums are written into the float output");
  int32_t* sums = reinterpret_cast<int32_t*>(out.data_ptr<float>());
  const int32_t noOffset = 0;
  {
    IntraOpThreads threads(productThreads());
    const int status = gemmU8s8()('N', 'T', 'F', m, n, k, 1.0f, qs, k, static_cast<uint8_t>(zero), weight.data_ptr<int8_t>(),
                                  k, 0, 0.0f, sums, n, &noOffset);
    TORCH_CHECK(status == 0, "oneDNN gemm_u8s8s32 failed with status ", status, " (m ", m, ", n ", n, ", k ", k, ")");
  }
  auto scales = (weightScales * scale).contiguous();
  const float* ss = scales.data_ptr<float>();
  const float* bs = bias.defined() ? bias.data_ptr<float>() : nullptr;
  float* os = out.data_ptr<float>();
  forEachRowBlock(blocks, [&](int64_t first, int64_t count, int) { dequantizeRows(os + first * n, count, n, ss, bs); });
  return out;
}

}  // namespace

std::string Int8Linear::kernel() { return opsChosen.load() ? quantizedOps().kernel : ""; }

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
  if (ops.kernel == "gemm_u8s8s32") {
    weight_ = w.to(torch::kFloat64).div(scales.unsqueeze(1)).round().clamp(-127, 127).to(torch::kInt8).contiguous();
    weightScales_ = scales.to(torch::kFloat32).contiguous();
    if (bias.defined()) bias_ = bias.detach().to(torch::kFloat32).contiguous();
    return;
  }
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
  if (weight_.defined()) {
    const int64_t k = weight_.size(1);
    TORCH_CHECK(input.dim() >= 1 && input.size(-1) == k, "int8 linear: input's last dimension is ", input.size(-1), ", expected ", k);
    auto x = input.to(torch::kFloat32).reshape({-1, k}).contiguous();
    auto out = gemmProduct(x, weight_, weightScales_, bias_, quantizedOps().reduceRange);
    productCount.fetch_add(1);
    auto shape = input.sizes().vec();
    shape.back() = weight_.size(0);
    return out.view(shape);
  }
  // Full-range uint8 inputs with VNNI (PyTorch's onednn default); 7-bit ones without (vnniProducts()).
  torch::jit::Stack stack{input.to(torch::kFloat32).contiguous(), packed_, quantizedOps().reduceRange};
  // oneDNN's int8 products run on torch's OpenMP pool: it gets the cores for the product only, so the attention and
  // GELU kernels around it keep threads of their own (as in float32 jobs, where they measured faster than on the pool).
  IntraOpThreads threads(productThreads());
  quantizedOps().linear->callBoxed(&stack);
  productCount.fetch_add(1);
  return stack.at(0).toTensor();
}

}  // namespace rr
