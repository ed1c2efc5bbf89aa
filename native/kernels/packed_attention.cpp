#include "kernels/packed_attention.h"
#include <ATen/record_function.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include "kernels/cpu_threads.h"
#include "kernels/cpu_vector.h"
#include "layers/dropout.h"

namespace rr {

namespace {

using namespace simd;

std::atomic<int64_t> callCount{0};

constexpr int64_t kRowsPerBlock = 4;  // query rows sharing each load of K (scores) and of V (weighted sum)

// Per-thread buffers, sized for the longest row of the call.
struct Scratch {
  std::vector<float> keysT;    // [headDim][paddedLength]: K transposed, zero past the row's length
  std::vector<float> values;   // [length][paddedHeadDim]: V with its head dim padded to whole vectors, if it is not
  std::vector<float> queries;  // [kRowsPerBlock][headDim]: scaled query rows
  std::vector<float> scores;   // [kRowsPerBlock][paddedLength]: scores, then exp(score - max)
  std::vector<float> context;  // [kRowsPerBlock][paddedHeadDim]: unnormalised weighted sums of V
  std::vector<float> factors;  // [length]: a row's dropout keep factors (training)
};

struct Shape {
  const float* qkv;
  float* out;
  int64_t stride;            // floats per token of qkv: (heads + 2 x kvHeads) x headDim
  int64_t width;             // floats per token of out: heads x headDim (also where K starts in qkv)
  int64_t valueOffset;       // where V starts in a token of qkv
  int64_t headDim, paddedHeadDim;
  int64_t group;             // query heads per K/V head (grouped-query attention)
  int64_t window;            // keys j with |i - j| <= window, or -1: every key of the row
  bool causal;               // keys j <= i only
  float scale;
};

// The keys query i of a row of `length` tokens attends to: [lo, hi).
RR_INLINE void keyRange(const Shape& shape, int64_t i, int64_t length, int64_t& lo, int64_t& hi) {
  lo = shape.window >= 0 ? std::max<int64_t>(0, i - shape.window) : 0;
  hi = shape.window >= 0 ? std::min(length, i + shape.window + 1) : length;
  if (shape.causal) hi = std::min(hi, i + 1);
}

// Training: the probabilities are saved (before dropout) for the backward pass, and dropout applied to them.
struct Training {
  float* probs;                         // each (row, head)'s [length][length] block, at probOffsets[row] + head * length^2
  const std::vector<int64_t>* probOffsets;
  double dropout;                       // attention_probs_dropout_prob; 0: none
  uint64_t seed;                        // the dropout mask of element e of `probs` is drawn from (seed, e)
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

// out[r][0, width) = sum over k < count of weights[r][k] * vectors[k][0, width) for the 4 rows of a block, width a
// multiple of 8: 16 columns at a time, then 8.
RR_INLINE void fourRowProductsAcross(const float* weights, int64_t weightRowStride, const float* vectors, int64_t vectorStride,
                                     int64_t count, int64_t width, float* out, int64_t outRowStride) {
  int64_t c = 0;
  for (; c + 2 * kLanes <= width; c += 2 * kLanes)
    fourRowProducts<2>(weights, weightRowStride, vectors + c, vectorStride, count, out + c, outRowStride);
  if (c < width) fourRowProducts<1>(weights, weightRowStride, vectors + c, vectorStride, count, out + c, outRowStride);
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

// scores[lo, hi) := exp(score - max over [lo, hi)); returns 1 / their sum. Reads (never writes) up to 7 floats
// past hi.
RR_INLINE float exponentiateRange(float* scores, int64_t lo, int64_t hi) {
  float max = scores[lo];
  for (int64_t j = lo + 1; j < hi; ++j) max = std::max(max, scores[j]);
  const Floats8 shift = splat(max);
  Floats8 sums{};
  for (int64_t j = lo; j < hi; j += kLanes) {
    Floats8 e = expNonPositive(load(scores + j) - shift);
    if (j + kLanes > hi) {  // the last lanes belong to keys past hi, or to the next query's scores
      for (int64_t lane = hi - j; lane < kLanes; ++lane) e[lane] = 0.0f;
      for (int64_t lane = 0; lane < hi - j; ++lane) scores[j + lane] = e[lane];
    } else {
      store(scores + j, e);
    }
    sums += e;
  }
  float sum = 0.0f;
  for (int64_t lane = 0; lane < kLanes; ++lane) sum += sums[lane];
  return 1.0f / sum;
}

// One row's attention for one head.
RR_VECTOR_CLONES
void attendRowHead(const Shape& shape, int64_t row, int64_t start, int64_t length, int64_t head, Scratch& s,
                   const Training* training) {
  const int64_t stride = shape.stride, headDim = shape.headDim, paddedHeadDim = shape.paddedHeadDim;
  const int64_t paddedLength = roundUp(length, 2 * kLanes);
  const bool masked = shape.window >= 0 || shape.causal;
  const float* rows = shape.qkv + start * stride + head * headDim;  // this head's Q of the row's first token
  const float* keyRows = shape.qkv + start * stride + shape.width + (head / shape.group) * headDim;
  const float* valueRows = shape.qkv + start * stride + shape.valueOffset + (head / shape.group) * headDim;
  for (int64_t t = 0; t < headDim; ++t) {
    const float* k = keyRows + t;
    float* kt = s.keysT.data() + t * paddedLength;
    for (int64_t j = 0; j < length; ++j) kt[j] = k[j * stride];
  }
  // V is read in place when the head dim is whole vectors, else copied with its head dim padded.
  const float* values = valueRows;
  int64_t valueStride = stride;
  if (paddedHeadDim != headDim) {
    for (int64_t j = 0; j < length; ++j) {
      float* v = s.values.data() + j * paddedHeadDim;
      std::memcpy(v, valueRows + j * stride, headDim * sizeof(float));
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
    // A sliding window or a causal mask: each query's keys [lo, hi); the block's scores and products cover the
    // union of its rows' ranges [blockLo, blockHi), the keys outside a row's own range weigh 0.
    int64_t lo[kRowsPerBlock], hi[kRowsPerBlock], blockLo = 0, blockHi = length;
    if (masked) {
      blockLo = length, blockHi = 0;
      for (int64_t r = 0; r < kRowsPerBlock; ++r) {
        keyRange(shape, std::min(first + r, length - 1), length, lo[r], hi[r]);
        blockLo = std::min(blockLo, lo[r]), blockHi = std::max(blockHi, hi[r]);
      }
    }
    const int64_t firstKey = blockLo / (2 * kLanes) * (2 * kLanes), lastKey = std::min(paddedLength, roundUp(blockHi, 2 * kLanes));
    for (int64_t j = firstKey; j < lastKey; j += 2 * kLanes)  // scores, 16 keys at a time
      fourRowProducts<2>(s.queries.data(), headDim, s.keysT.data() + j, paddedLength, headDim, s.scores.data() + j, paddedLength);
    float inverseSums[kRowsPerBlock];
    for (int64_t r = 0; r < kRowsPerBlock; ++r) {
      float* row = s.scores.data() + r * paddedLength;
      if (!masked) {
        inverseSums[r] = exponentiateRow(row, length);
        continue;
      }
      inverseSums[r] = exponentiateRange(row, lo[r], hi[r]);
      // Zero outside the row's own keys: the block's whole range in inference, the row's in training (saved).
      std::fill(row + (training ? 0 : blockLo), row + lo[r], 0.0f);
      std::fill(row + hi[r], row + (training ? length : blockHi), 0.0f);
    }
    if (training) {  // normalised probabilities saved, then dropped out; the context needs no normalising after
      for (int64_t r = 0; r < count; ++r) {
        float* p = s.scores.data() + r * paddedLength;
        for (int64_t j = 0; j < length; ++j) p[j] *= inverseSums[r];
        const int64_t offset = (*training->probOffsets)[row] + (head * length + first + r) * length;
        std::memcpy(training->probs + offset, p, length * sizeof(float));
        if (training->dropout > 0.0) {
          dropoutKeepFactors(s.factors.data(), offset, length, training->dropout, training->seed);
          for (int64_t j = 0; j < length; ++j) p[j] *= s.factors[j];
        }
        inverseSums[r] = 1.0f;
      }
    }
    fourRowProductsAcross(s.scores.data() + blockLo, paddedLength, values + blockLo * valueStride, valueStride, blockHi - blockLo,
                          paddedHeadDim, s.context.data(), paddedHeadDim);
    for (int64_t r = 0; r < count; ++r) {
      float* dst = shape.out + (start + first + r) * shape.width + head * headDim;
      const float* src = s.context.data() + r * paddedHeadDim;
      for (int64_t t = 0; t < headDim; ++t) dst[t] = src[t] * inverseSums[r];
    }
  }
}

// Per-thread buffers of the backward pass, sized for the longest row (rows: padded to a whole block of 4, the
// extra rows zero; row-major [rows][paddedHeadDim] or [rows][paddedLength]).
struct GradScratch {
  std::vector<float> queries, keys, gradOut;  // Q, K, dO rows, head dim padded with zeros
  std::vector<float> valuesT;                 // [headDim][paddedLength]: V transposed
  std::vector<float> gradProbs;               // [kRowsPerBlock][paddedLength]: dO V^T for a block of query rows
  std::vector<float> gradScores, gradScoresT, droppedT;  // dS, dS^T, (P with dropout)^T
  std::vector<float> factors, block;          // a row's dropout keep factors; one block's products
};

// The gradients of one row's attention for one head, written into gradQkv: with P the saved probabilities, m the
// dropout factors and D = P * m, dV = D^T dO, dP = (dO V^T) * m, dS = P * (dP - rowsum(dP * P)), dQ = scale dS K,
// dK = scale dS^T Q (the scale was applied to q in the forward pass).
RR_VECTOR_CLONES
void attendRowHeadBackward(const Shape& shape, const float* gradOut, float* gradQkv, const Training& training, int64_t row,
                           int64_t start, int64_t length, int64_t head, GradScratch& g) {
  // Training runs without grouped K/V heads (layoutOf checks), so K and V of head h sit at width and valueOffset.
  const int64_t stride = shape.stride, headDim = shape.headDim, width = shape.paddedHeadDim;
  const int64_t paddedLength = roundUp(length, 2 * kLanes), rows = roundUp(length, kRowsPerBlock);
  const float* q = shape.qkv + start * stride + head * headDim;
  const float* dO = gradOut + start * shape.width + head * headDim;
  auto copyRows = [&](std::vector<float>& to, const float* from, int64_t fromStride) {
    std::fill(to.begin(), to.begin() + rows * width, 0.0f);
    for (int64_t i = 0; i < length; ++i) std::memcpy(&to[i * width], from + i * fromStride, headDim * sizeof(float));
  };
  copyRows(g.queries, q, stride);
  copyRows(g.keys, q + shape.width, stride);
  copyRows(g.gradOut, dO, shape.width);
  for (int64_t t = 0; t < headDim; ++t) {
    float* vt = &g.valuesT[t * paddedLength];
    for (int64_t j = 0; j < length; ++j) vt[j] = q[shape.valueOffset + j * stride + t];
    std::fill(vt + length, vt + paddedLength, 0.0f);
  }
  for (auto* m : {&g.gradScores, &g.gradScoresT, &g.droppedT})
    std::fill(m->begin() + length * paddedLength, m->begin() + rows * paddedLength, 0.0f);  // the block's extra rows

  const int64_t probOffset = (*training.probOffsets)[row] + head * length * length;
  for (int64_t first = 0; first < length; first += kRowsPerBlock) {
    for (int64_t j = 0; j < paddedLength; j += 2 * kLanes)  // dO V^T, 16 keys at a time
      fourRowProducts<2>(&g.gradOut[first * width], width, &g.valuesT[j], paddedLength, headDim, &g.gradProbs[j], paddedLength);
    for (int64_t r = 0; r < std::min(kRowsPerBlock, length - first); ++r) {
      const int64_t i = first + r;
      const float* p = training.probs + probOffset + i * length;
      const float* dDropped = &g.gradProbs[r * paddedLength];
      if (training.dropout > 0.0) dropoutKeepFactors(g.factors.data(), probOffset + i * length, length, training.dropout, training.seed);
      else std::fill(g.factors.begin(), g.factors.begin() + length, 1.0f);
      float dot = 0.0f;
      for (int64_t j = 0; j < length; ++j) dot += dDropped[j] * g.factors[j] * p[j];
      for (int64_t j = 0; j < length; ++j) {
        const float dS = p[j] * (dDropped[j] * g.factors[j] - dot);
        g.gradScores[i * paddedLength + j] = dS;
        g.gradScoresT[j * paddedLength + i] = dS;
        g.droppedT[j * paddedLength + i] = p[j] * g.factors[j];
      }
    }
  }
  // dQ, dK, dV for blocks of 4 rows: weights over the row's tokens, times token rows of K, Q or dO.
  auto gradient = [&](const std::vector<float>& weights, const std::vector<float>& vectors, int64_t part, float factor) {
    for (int64_t first = 0; first < length; first += kRowsPerBlock) {
      fourRowProductsAcross(&weights[first * paddedLength], paddedLength, vectors.data(), width, length, width, g.block.data(), width);
      for (int64_t r = 0; r < std::min(kRowsPerBlock, length - first); ++r) {
        float* dst = gradQkv + (start + first + r) * stride + part * shape.width + head * headDim;
        for (int64_t t = 0; t < headDim; ++t) dst[t] = g.block[r * width + t] * factor;
      }
    }
  };
  gradient(g.gradScores, g.keys, 0, shape.scale);
  gradient(g.gradScoresT, g.queries, 1, shape.scale);
  gradient(g.droppedT, g.gradOut, 2, 1.0f);
}

}  // namespace

int64_t packedAttentionCalls() { return callCount.load(); }

bool packedAttentionApplies(const torch::Tensor& like) {
  return like.device().is_cpu() && like.scalar_type() == torch::kFloat32;
}

namespace {

// What every pass needs: the checked layout, the shape, the thread split.
struct Layout {
  torch::Tensor qkv;  // contiguous
  Shape shape{};
  int64_t longest = 0, paddedLength = 0, items = 0;
  CpuSplit split;
};

Layout layoutOf(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts, const std::vector<int64_t>& rowLengths,
                const PackedAttentionShape& heads) {
  TORCH_CHECK(qkv.device().is_cpu() && qkv.scalar_type() == torch::kFloat32 && qkv.dim() == 2,
              "packedAttention: qkv must be a float32 CPU tensor [tokens, (heads + 2 x kvHeads) x headDim]");
  TORCH_CHECK(rowStarts.size() == rowLengths.size(), "packedAttention: one start per row length");
  const int64_t numHeads = heads.numHeads, kvHeads = heads.kvHeads > 0 ? heads.kvHeads : heads.numHeads;
  TORCH_CHECK(numHeads > 0 && numHeads % kvHeads == 0, "packedAttention: the head count must be a multiple of the K/V head count");
  const int64_t headDim = heads.headDim > 0 ? heads.headDim : qkv.size(1) / (numHeads + 2 * kvHeads);
  TORCH_CHECK(headDim > 0 && qkv.size(1) == (numHeads + 2 * kvHeads) * headDim,
              "packedAttention: qkv has ", qkv.size(1), " columns, not (heads + 2 x kvHeads) x headDim");
  Layout l;
  l.qkv = qkv.contiguous();
  for (size_t r = 0; r < rowLengths.size(); ++r) {
    TORCH_CHECK(rowLengths[r] > 0 && rowStarts[r] >= 0 && rowStarts[r] + rowLengths[r] <= l.qkv.size(0),
                "packedAttention: row ", r, " lies outside the packed tokens");
    l.longest = std::max(l.longest, rowLengths[r]);
  }
  l.shape = Shape{l.qkv.data_ptr<float>(), nullptr, l.qkv.size(1), numHeads * headDim, (numHeads + kvHeads) * headDim,
                  headDim, roundUp(headDim, kLanes), numHeads / kvHeads, heads.window, heads.causal,
                  static_cast<float>(1.0 / std::sqrt(static_cast<double>(headDim)))};
  l.paddedLength = roundUp(l.longest, 2 * kLanes);
  l.items = static_cast<int64_t>(rowLengths.size()) * numHeads;
  l.split = cpuSplit(l.items);
  return l;
}

// The forward pass; with `training`, the probabilities saved and dropped out. Returns [tokens, heads x headDim].
torch::Tensor attendAll(Layout& l, const std::vector<int64_t>& rowStarts, const std::vector<int64_t>& rowLengths,
                        int64_t numHeads, const Training* training) {
  auto out = torch::empty({l.qkv.size(0), l.shape.width}, l.qkv.options());
  l.shape.out = out.data_ptr<float>();
  const int64_t headDim = l.shape.headDim;
  std::vector<Scratch> scratch(l.split.parts);  // allocated here, so a failed allocation throws on this thread
  for (auto& s : scratch) {
    s.keysT.resize(headDim * l.paddedLength);
    if (l.shape.paddedHeadDim != headDim) s.values.resize(l.longest * l.shape.paddedHeadDim);
    s.queries.resize(kRowsPerBlock * headDim);
    s.scores.resize(kRowsPerBlock * l.paddedLength + kLanes);  // exponentiateRange reads up to 7 past a row
    s.context.resize(kRowsPerBlock * l.shape.paddedHeadDim);
    if (training) s.factors.resize(l.longest);
  }
  forEachItem(l.items, l.split, [&](int64_t item, int part) {
    const int64_t row = item / numHeads;
    attendRowHead(l.shape, row, rowStarts[row], rowLengths[row], item % numHeads, scratch[part], training);
  });
  ++callCount;
  return out;
}

// Autograd for training: saves qkv and the probabilities; the dropout mask is drawn again from the seed.
struct PackedAttentionFunction : torch::autograd::Function<PackedAttentionFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv, std::vector<int64_t> rowStarts,
                               std::vector<int64_t> rowLengths, int64_t numHeads, int64_t window, bool causal, double dropout,
                               int64_t seed) {
    const PackedAttentionShape heads{numHeads, numHeads, 0, window, causal};
    Layout l = layoutOf(qkv, rowStarts, rowLengths, heads);
    std::vector<int64_t> probOffsets(rowLengths.size());
    int64_t total = 0;
    for (size_t r = 0; r < rowLengths.size(); ++r) probOffsets[r] = total, total += numHeads * rowLengths[r] * rowLengths[r];
    auto probs = torch::empty({total}, l.qkv.options());
    const Training training{probs.data_ptr<float>(), &probOffsets, dropout, static_cast<uint64_t>(seed)};
    auto out = attendAll(l, rowStarts, rowLengths, numHeads, &training);
    ctx->save_for_backward({l.qkv, probs});
    ctx->saved_data["rowStarts"] = rowStarts;
    ctx->saved_data["rowLengths"] = rowLengths;
    ctx->saved_data["probOffsets"] = probOffsets;
    ctx->saved_data["numHeads"] = numHeads;
    ctx->saved_data["window"] = window;
    ctx->saved_data["causal"] = causal;
    ctx->saved_data["dropout"] = dropout;
    ctx->saved_data["seed"] = seed;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto rowStarts = ctx->saved_data["rowStarts"].toIntVector();
    const auto rowLengths = ctx->saved_data["rowLengths"].toIntVector();
    const auto probOffsets = ctx->saved_data["probOffsets"].toIntVector();
    const int64_t numHeads = ctx->saved_data["numHeads"].toInt();
    const PackedAttentionShape heads{numHeads, numHeads, 0, ctx->saved_data["window"].toInt(), ctx->saved_data["causal"].toBool()};
    Layout l = layoutOf(saved[0], rowStarts, rowLengths, heads);
    const Training training{saved[1].data_ptr<float>(), &probOffsets, ctx->saved_data["dropout"].toDouble(),
                            static_cast<uint64_t>(ctx->saved_data["seed"].toInt())};
    const auto gradOut = grads[0].contiguous();
    auto gradQkv = torch::empty_like(l.qkv);
    const int64_t rows = roundUp(l.longest, kRowsPerBlock), width = l.shape.paddedHeadDim;
    std::vector<GradScratch> scratch(l.split.parts);
    for (auto& g : scratch) {
      for (auto* v : {&g.queries, &g.keys, &g.gradOut}) v->resize(rows * width);
      g.valuesT.resize(l.shape.headDim * l.paddedLength);
      g.gradProbs.resize(kRowsPerBlock * l.paddedLength);
      for (auto* v : {&g.gradScores, &g.gradScoresT, &g.droppedT}) v->resize(rows * l.paddedLength);
      g.factors.resize(l.longest);
      g.block.resize(kRowsPerBlock * width);
    }
    const float* dO = gradOut.data_ptr<float>();
    float* dQkv = gradQkv.data_ptr<float>();
    forEachItem(l.items, l.split, [&](int64_t item, int part) {
      const int64_t row = item / numHeads;
      attendRowHeadBackward(l.shape, dO, dQkv, training, row, rowStarts[row], rowLengths[row], item % numHeads, scratch[part]);
    });
    return {gradQkv, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor packedAttention(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                              const std::vector<int64_t>& rowLengths, const PackedAttentionShape& heads) {
  RECORD_FUNCTION("rr::packed_attention", std::vector<c10::IValue>());  // named in LibTorch's profiler
  Layout l = layoutOf(qkv, rowStarts, rowLengths, heads);
  return attendAll(l, rowStarts, rowLengths, heads.numHeads, nullptr);
}

torch::Tensor packedAttention(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                              const std::vector<int64_t>& rowLengths, int64_t numHeads) {
  return packedAttention(qkv, rowStarts, rowLengths, PackedAttentionShape{numHeads});
}

torch::Tensor packedAttentionTraining(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                                      const std::vector<int64_t>& rowLengths, const PackedAttentionShape& heads, double dropout,
                                      int64_t seed) {
  TORCH_CHECK(dropout >= 0.0 && dropout < 1.0, "packedAttention: dropout must be in [0, 1), got ", dropout);
  TORCH_CHECK((heads.kvHeads <= 0 || heads.kvHeads == heads.numHeads) &&
                  (heads.headDim <= 0 || heads.numHeads * 3 * heads.headDim == qkv.size(1)),
              "packedAttention: training needs one K/V head per query head");
  return PackedAttentionFunction::apply(qkv, rowStarts, rowLengths, heads.numHeads, heads.window, heads.causal, dropout, seed);
}

torch::Tensor packedAttentionTraining(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                                      const std::vector<int64_t>& rowLengths, const PackedAttentionShape& heads, double dropout) {
  return packedAttentionTraining(qkv, rowStarts, rowLengths, heads, dropout, dropout > 0.0 ? dropoutSeed() : 0);
}

torch::Tensor packedAttentionTraining(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                                      const std::vector<int64_t>& rowLengths, int64_t numHeads, double dropout, int64_t seed) {
  return packedAttentionTraining(qkv, rowStarts, rowLengths, PackedAttentionShape{numHeads}, dropout, seed);
}

torch::Tensor packedAttentionTraining(const torch::Tensor& qkv, const std::vector<int64_t>& rowStarts,
                                      const std::vector<int64_t>& rowLengths, int64_t numHeads, double dropout) {
  return packedAttentionTraining(qkv, rowStarts, rowLengths, PackedAttentionShape{numHeads}, dropout);
}

}  // namespace rr
