#include "packed_attention.h"
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <ATen/Parallel.h>
#include <system_error>
#include <thread>

// The vector helpers below are always inlined, so GCC's note that 32-byte vector returns differ between the
// default and AVX calling conventions concerns no call that exists.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace rr {

namespace {

std::atomic<int> kernelThreads{1};
std::atomic<int64_t> callCount{0};

// Eight floats as one value (GCC/Clang vector extensions): AVX registers in the x86-64-v3 clone below, pairs of
// SSE registers in the default one.
typedef float Floats8 __attribute__((vector_size(32)));
typedef int32_t Ints8 __attribute__((vector_size(32)));
constexpr int64_t kLanes = 8;
constexpr int64_t kRowsPerBlock = 4;  // query rows sharing each load of K (scores) and of V (weighted sum)

#define RR_INLINE inline __attribute__((always_inline))

// A broadcast. (A braced list of 8 x's became 8 inserts, and 0 + x an extra scalar add: x - 0 folds to x.)
RR_INLINE Floats8 splat(float x) { return x - Floats8{}; }
RR_INLINE Floats8 load(const float* p) {
  Floats8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
RR_INLINE void store(float* p, Floats8 v) { std::memcpy(p, &v, sizeof v); }
inline int64_t roundUp(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// exp(x) for x <= 0 (scores minus their row's maximum): Cephes' expf, 2^n times a degree-7 polynomial of the
// remainder, relative error ~1e-7 (ATen's softmax uses Sleef's 1-ulp expf). Below -87 the result is ~1e-38,
// where the true value is smaller still: both vanish beside the row maximum's exp(0) = 1.
RR_INLINE Floats8 expNonPositive(Floats8 x) {
  x = x < splat(-87.0f) ? splat(-87.0f) : x;
  const Floats8 fx = x * splat(1.44269504088896341f) + splat(0.5f);
  Floats8 n = __builtin_convertvector(__builtin_convertvector(fx, Ints8), Floats8);  // truncated
  n = n > fx ? n - splat(1.0f) : n;                                                 // floored
  const Floats8 r = x - n * splat(0.693359375f) - n * splat(-2.12194440e-4f);
  Floats8 y = splat(1.9875691500e-4f);
  y = y * r + splat(1.3981999507e-3f);
  y = y * r + splat(8.3334519073e-3f);
  y = y * r + splat(4.1665795894e-2f);
  y = y * r + splat(1.6666665459e-1f);
  y = y * r + splat(5.0000001201e-1f);
  y = y * (r * r) + r + splat(1.0f);
  const Ints8 exponent = (__builtin_convertvector(n, Ints8) + 127) << 23;  // 2^n as float bits, n >= -126
  return y * reinterpret_cast<const Floats8&>(exponent);
}

// Per-thread buffers, sized for the longest row of the call.
struct Scratch {
  std::vector<float> keysT;    // [headDim][paddedLength]: K transposed, zero past the row's length
  std::vector<float> values;   // [length][paddedHeadDim]: V with its head dim padded to whole vectors, if it is not
  std::vector<float> queries;  // [kRowsPerBlock][headDim]: scaled query rows
  std::vector<float> scores;   // [kRowsPerBlock][paddedLength]: scores, then exp(score - max)
  std::vector<float> context;  // [kRowsPerBlock][paddedHeadDim]: unnormalised weighted sums of V
};

struct Shape {
  const float* qkv;
  float* out;
  int64_t hidden, headDim, paddedHeadDim;
  float scale;
};

// out[r][0, 8 V) = sum over k < count of weights[r][k] * vectors[k][0, 8 V), for the 4 rows of a block: each load
// of a vector row serves all 4 rows, and the 4 x V accumulators stay in registers. Both products of attention
// are this: scores (weights: scaled queries, vectors: K transposed) and context (weights: exp scores, vectors: V).
template <int V>
RR_INLINE void fourRowProducts(const float* weights, int64_t weightRowStride, const float* vectors, int64_t vectorStride,
                               int64_t count, float* out, int64_t outRowStride) {
  Floats8 acc[kRowsPerBlock][V] = {};
  for (int64_t k = 0; k < count; ++k, vectors += vectorStride) {
    Floats8 v[V];
#pragma GCC unroll 2
    for (int i = 0; i < V; ++i) v[i] = load(vectors + i * kLanes);
#pragma GCC unroll 4
    for (int r = 0; r < kRowsPerBlock; ++r) {
      const Floats8 w = splat(weights[r * weightRowStride + k]);
#pragma GCC unroll 2
      for (int i = 0; i < V; ++i) acc[r][i] += w * v[i];
    }
  }
  for (int r = 0; r < kRowsPerBlock; ++r)
    for (int i = 0; i < V; ++i) store(out + r * outRowStride + i * kLanes, acc[r][i]);
}

// scores[0, length) := exp(score - max), zero to the next whole vector; returns 1 / their sum.
RR_INLINE float exponentiateRow(float* scores, int64_t length) {
  const int64_t whole = roundUp(length, kLanes);
  for (int64_t j = length; j < whole; ++j) scores[j] = scores[0];  // the last vector's lanes past the row: no new max
  Floats8 maxima = load(scores);
  for (int64_t j = kLanes; j < whole; j += kLanes) {
    const Floats8 v = load(scores + j);
    maxima = v > maxima ? v : maxima;
  }
  float max = maxima[0];
  for (int64_t lane = 1; lane < kLanes; ++lane) max = std::max(max, maxima[lane]);
  const Floats8 shift = splat(max);
  Floats8 sums{};
  for (int64_t j = 0; j < whole; j += kLanes) {
    Floats8 e = expNonPositive(load(scores + j) - shift);
    if (j + kLanes > length)
      for (int64_t lane = length - j; lane < kLanes; ++lane) e[lane] = 0.0f;
    store(scores + j, e);
    sums += e;
  }
  float sum = 0.0f;
  for (int64_t lane = 0; lane < kLanes; ++lane) sum += sums[lane];
  return 1.0f / sum;
}

// One row's attention for one head.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
void attendRowHead(const Shape& shape, int64_t start, int64_t length, int64_t head, Scratch& s) {
  const int64_t stride = 3 * shape.hidden, headDim = shape.headDim, paddedHeadDim = shape.paddedHeadDim;
  const int64_t paddedLength = roundUp(length, 2 * kLanes);
  const float* rows = shape.qkv + start * stride + head * headDim;  // this head's Q of the row's first token
  for (int64_t t = 0; t < headDim; ++t) {
    const float* k = rows + shape.hidden + t;
    float* kt = s.keysT.data() + t * paddedLength;
    for (int64_t j = 0; j < length; ++j) kt[j] = k[j * stride];
  }
  // V is read in place when the head dim is whole vectors, else copied with its head dim padded.
  const float* values = rows + 2 * shape.hidden;
  int64_t valueStride = stride;
  if (paddedHeadDim != headDim) {
    for (int64_t j = 0; j < length; ++j) {
      float* v = s.values.data() + j * paddedHeadDim;
      std::memcpy(v, rows + j * stride + 2 * shape.hidden, headDim * sizeof(float));
      std::fill(v + headDim, v + paddedHeadDim, 0.0f);
    }
    values = s.values.data();
    valueStride = paddedHeadDim;
  }
  for (int64_t t = 0; t < headDim; ++t) std::fill(&s.keysT[t * paddedLength + length], &s.keysT[(t + 1) * paddedLength], 0.0f);

  for (int64_t first = 0; first < length; first += kRowsPerBlock) {
    const int64_t count = std::min(kRowsPerBlock, length - first);
    // The scale goes on q, as the eager path does. A block's missing rows repeat its last one; never written out.
    for (int64_t r = 0; r < kRowsPerBlock; ++r) {
      const float* q = rows + std::min(first + r, length - 1) * stride;
      for (int64_t t = 0; t < headDim; ++t) s.queries[r * headDim + t] = q[t] * shape.scale;
    }
    for (int64_t j = 0; j < paddedLength; j += 2 * kLanes)  // scores, 16 keys at a time
      fourRowProducts<2>(s.queries.data(), headDim, s.keysT.data() + j, paddedLength, headDim, s.scores.data() + j, paddedLength);
    float inverseSums[kRowsPerBlock];
    for (int64_t r = 0; r < kRowsPerBlock; ++r) inverseSums[r] = exponentiateRow(s.scores.data() + r * paddedLength, length);
    int64_t c = 0;  // context, 16 head dims at a time, then 8
    for (; c + 2 * kLanes <= paddedHeadDim; c += 2 * kLanes)
      fourRowProducts<2>(s.scores.data(), paddedLength, values + c, valueStride, length, s.context.data() + c, paddedHeadDim);
    if (c < paddedHeadDim)
      fourRowProducts<1>(s.scores.data(), paddedLength, values + c, valueStride, length, s.context.data() + c, paddedHeadDim);
    for (int64_t r = 0; r < count; ++r) {
      float* dst = shape.out + (start + first + r) * shape.hidden + head * headDim;
      const float* src = s.context.data() + r * paddedHeadDim;
      for (int64_t t = 0; t < headDim; ++t) dst[t] = src[t] * inverseSums[r];
    }
  }
}

}  // namespace

void setPackedAttentionThreads(int threads) { kernelThreads.store(std::max(1, threads)); }

int64_t packedAttentionCalls() { return callCount.load(); }

bool packedAttentionRuns(const torch::Tensor& like) {
  return like.device().is_cpu() && like.scalar_type() == torch::kFloat32 && !torch::GradMode::is_enabled();
}

torch::Tensor packedAttention(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                              const std::vector<int64_t>& rowLengths, int64_t numHeads) {
  TORCH_CHECK(qkv.device().is_cpu() && qkv.scalar_type() == torch::kFloat32 && qkv.dim() == 2 && qkv.size(1) % 3 == 0,
              "packedAttention: qkv must be a float32 CPU tensor [tokens, 3 x hidden]");
  TORCH_CHECK(rowStarts.size() == rowLengths.size(), "packedAttention: one start per row length");
  const auto input = qkv.contiguous();
  const int64_t hidden = input.size(1) / 3;
  TORCH_CHECK(numHeads > 0 && hidden % numHeads == 0, "packedAttention: hidden size not divisible by the head count");
  int64_t longest = 0;
  for (size_t r = 0; r < rowLengths.size(); ++r) {
    TORCH_CHECK(rowLengths[r] > 0 && rowStarts[r] >= 0 && rowStarts[r] + rowLengths[r] <= input.size(0),
                "packedAttention: row ", r, " lies outside the packed tokens");
    longest = std::max(longest, rowLengths[r]);
  }
  auto out = torch::empty({input.size(0), hidden}, input.options());
  const int64_t headDim = hidden / numHeads;
  const Shape shape{input.data_ptr<float>(), out.data_ptr<float>(), hidden, headDim, roundUp(headDim, kLanes),
                    static_cast<float>(1.0 / std::sqrt(static_cast<double>(headDim)))};
  const int64_t items = static_cast<int64_t>(rowLengths.size()) * numHeads;
  // Torch's intra-op pool when it has the cores (BLAS builds that share it, such as MKL); with OpenBLAS, whose
  // pool has them and torch's has one thread, threads of our own, as many as OpenBLAS's.
  const bool torchPool = at::get_num_threads() > 1;
  const int threads = torchPool ? at::get_num_threads() : static_cast<int>(std::min<int64_t>(kernelThreads.load(), items));
  const int64_t paddedLength = roundUp(longest, 2 * kLanes);
  std::vector<Scratch> scratch(threads);  // allocated here, so a failed allocation throws on this thread
  for (auto& s : scratch) {
    s.keysT.resize(headDim * paddedLength);
    if (shape.paddedHeadDim != headDim) s.values.resize(longest * shape.paddedHeadDim);
    s.queries.resize(kRowsPerBlock * headDim);
    s.scores.resize(kRowsPerBlock * paddedLength);
    s.context.resize(kRowsPerBlock * shape.paddedHeadDim);
  }
  auto attend = [&](int64_t item, Scratch& s) {
    const int64_t row = item / numHeads;
    attendRowHead(shape, rowStarts[row], rowLengths[row], item % numHeads, s);
  };
  if (torchPool) {
    at::parallel_for(0, items, 1, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) attend(item, scratch[at::get_thread_num()]);
    });
  } else {
    // Items (row, head) interleaved over the threads: neighbouring rows have similar lengths (batches are sorted).
    auto work = [&](int part) {
      for (int64_t item = part; item < items; item += threads) attend(item, scratch[part]);
    };
    std::vector<std::thread> helpers;
    std::vector<int> unstarted;  // parts whose thread could not start run here
    for (int part = 1; part < threads; ++part) {
      try {
        helpers.emplace_back(work, part);
      } catch (const std::system_error&) {
        unstarted.push_back(part);
      }
    }
    work(0);
    for (int part : unstarted) work(part);
    for (auto& helper : helpers) helper.join();
  }
  ++callCount;
  return out;
}

}  // namespace rr
