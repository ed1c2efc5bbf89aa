#include "runtime/graphs.h"
#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>
#include <tuple>
#include "runtime/batching.h"
#include "runtime/precision.h"

// at::_fused_adamw_ with a tensor learning rate (so a replay can change it) and CUDAGraph's pool argument.
#if RR_HAVE_CUDA && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))
#define RR_HAVE_CUDA_GRAPHS 1
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#else
#define RR_HAVE_CUDA_GRAPHS 0
#endif

namespace rr {

TrainGraphs::TrainGraphs(std::shared_ptr<CrossEncoder> model, std::shared_ptr<AdamW> optimizer)
    : model_(std::move(model)), optimizer_(std::move(optimizer)) {}

#if !RR_HAVE_CUDA_GRAPHS

struct TrainGraphs::Impl {};
TrainGraphs::~TrainGraphs() = default;
bool cudaGraphsAvailable() { return false; }

namespace {
[[noreturn]] void unavailable() {
  throw std::runtime_error("CUDA graphs need rrnative built against a CUDA LibTorch 2.4 or later; this build has none");
}
}  // namespace

std::optional<torch::Tensor> TrainGraphs::trainStep(const HostTrainBatch&, const GraphLoss&) { unavailable(); }
std::optional<torch::Tensor> TrainGraphs::optimizerStep(const AdamWStep&) { unavailable(); }
void TrainGraphs::reset() {}

#else

bool cudaGraphsAvailable() { return true; }

namespace {

using PoolId = decltype(at::cuda::graph_pool_handle());

// Records `body` into `graph` on `side` (capture cannot use the default stream), after the work already
// queued on the current stream. Autocast's weight cache is off meanwhile: a cached cast would be a tensor of
// the capture that later eager code must not reuse.
template <typename Body>
void capture(at::cuda::CUDAGraph& graph, PoolId pool, c10::cuda::CUDAStream side, Body body) {
  auto current = c10::cuda::getCurrentCUDAStream();
  at::cuda::CUDAEvent ready;
  ready.record(current);
  ready.block(side);
  const bool cache = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(false);
  try {
    c10::cuda::CUDAStreamGuard guard(side);
    graph.capture_begin(pool);
    try {
      body();
    } catch (...) {
      try {
        graph.capture_end();  // leaves capture mode; the graph is discarded with its owner
      } catch (...) {
      }
      throw;
    }
    graph.capture_end();
  } catch (...) {
    at::autocast::set_autocast_cache_enabled(cache);
    throw;
  }
  at::autocast::set_autocast_cache_enabled(cache);
  at::cuda::CUDAEvent captured;
  captured.record(side);
  captured.block(current);
}

}  // namespace

struct TrainGraphs::Impl {
  PoolId pool = at::cuda::graph_pool_handle();  // one memory pool: the graphs never run at the same time
  // One capture stream for every graph: the caching allocator reuses a freed block only on the stream that
  // freed it, so captures on different streams could not share the pool (measured: 40 GiB for BERT-base's
  // length buckets, against 9 GiB eager), and cuBLAS keeps one workspace per stream.
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();

  struct Forward {
    at::cuda::CUDAGraph graph;
    torch::Tensor tokens;           // int64, per slice [3, rows, length] (ids, attention mask, token type ids), flat
    torch::Tensor positions;        // int64 [batch]: row r's logits in the slices' concatenation (slices only)
    torch::Tensor labels, teacher;  // float [batch]
    torch::Tensor loss;             // 0-dim, rewritten by each replay
  };
  // batch, each slice's rows and bucketed length, loss kind, group size, scale, bf16, teacher scores
  using ForwardKey = std::tuple<int64_t, std::vector<int64_t>, int, int64_t, double, bool, bool>;
  std::map<ForwardKey, std::unique_ptr<Forward>> forwards;

  struct Step {
    at::cuda::CUDAGraph graph;
    torch::Tensor lr, gradNorm;
    std::tuple<double, double, double, double, double> options;  // beta1, beta2, eps, weight decay, max norm
  };
  std::unique_ptr<Step> step;
};

TrainGraphs::~TrainGraphs() = default;

void TrainGraphs::reset() {
  if (impl_) impl_->forwards.clear(), impl_->step.reset();
}

std::optional<torch::Tensor> TrainGraphs::trainStep(const HostTrainBatch& b, const GraphLoss& lossSpec) {
  if (!model_->device().is_cuda()) throw std::invalid_argument("CUDA graphs need a model on a CUDA device");
  if (eagerTrainSteps_ < kWarmupSteps) {
    ++eagerTrainSteps_;
    return std::nullopt;
  }
  if (!impl_) impl_ = std::make_unique<Impl>();
  const torch::Device device = model_->device();
  const bool withTeacher = b.teacherScores && !b.teacherScores->empty();
  const int64_t maxLength = std::max<int64_t>(b.length, model_->config().maxPositionEmbeddings);
  auto bucket = [&](int64_t n) { return std::min(maxLength, (n + kGraphLengthBucket - 1) / kGraphLengthBucket * kGraphLengthBucket); };

  // The rows in the order the graph takes them: as given, or sorted by length and cut into equal runs (slices).
  const int64_t sliceCount = std::max<int64_t>(1, std::min(b.lengthSlices, b.batch));
  const std::vector<int64_t> rowLength = rowLengths(*b.attentionMask, b.batch, b.length);
  std::vector<int64_t> order(static_cast<size_t>(b.batch));
  std::iota(order.begin(), order.end(), 0);
  if (sliceCount > 1) order = rowsByLength(rowLength);
  const int64_t perSlice = (b.batch + sliceCount - 1) / sliceCount;
  std::vector<int64_t> sliceRows, sliceLengths;
  for (int64_t first = 0; first < b.batch; first += perSlice) {
    const int64_t rows = std::min(perSlice, b.batch - first);
    int64_t longest = 1;
    for (int64_t i = first; i < first + rows; ++i) longest = std::max(longest, rowLength[static_cast<size_t>(order[i])]);
    sliceRows.push_back(rows);
    sliceLengths.push_back(bucket(sliceCount > 1 ? longest : b.length));
  }

  // The slices, each padded to its length, in pinned memory: one copy each into the graph's inputs.
  int64_t total = 0;
  for (size_t s = 0; s < sliceRows.size(); ++s) total += 3 * sliceRows[s] * sliceLengths[s];
  auto pinned = torch::TensorOptions().pinned_memory(true);
  auto staged = torch::empty({total}, pinned.dtype(torch::kInt64));
  int64_t* out = staged.data_ptr<int64_t>();
  for (size_t s = 0, i = 0; s < sliceRows.size(); ++s) {
    const int64_t rows = sliceRows[s], length = sliceLengths[s], n = rows * length;
    int64_t *ids = out, *mask = out + n, *types = out + 2 * n;
    std::fill(ids, ids + n, model_->config().padTokenId);
    std::fill(mask, mask + 2 * n, 0);  // mask and token types
    for (int64_t row = 0; row < rows; ++row, ++i) {
      const int64_t source = order[i];
      for (int64_t col = 0; col < std::min(b.length, length); ++col) {
        const size_t from = static_cast<size_t>(source * b.length + col);
        ids[row * length + col] = (*b.inputIds)[from];
        mask[row * length + col] = (*b.attentionMask)[from];
        types[row * length + col] = b.tokenTypeIds->empty() ? 0 : (*b.tokenTypeIds)[from];
      }
    }
    out += 3 * n;
  }
  auto floats = [&](const std::vector<float>& v) {
    auto t = torch::empty({static_cast<int64_t>(v.size())}, pinned.dtype(torch::kFloat32));
    std::copy(v.begin(), v.end(), t.data_ptr<float>());
    return t;
  };
  auto labels = floats(*b.labels);
  torch::Tensor teacher = withTeacher ? floats(*b.teacherScores) : torch::Tensor();
  torch::Tensor positions;
  if (sliceCount > 1) {
    positions = torch::empty({b.batch}, pinned.dtype(torch::kInt64));
    for (int64_t i = 0; i < b.batch; ++i) positions.data_ptr<int64_t>()[order[i]] = i;
  }

  std::vector<int64_t> shape;
  for (size_t s = 0; s < sliceRows.size(); ++s) shape.insert(shape.end(), {sliceRows[s], sliceLengths[s]});
  const Impl::ForwardKey key{b.batch, shape, static_cast<int>(lossSpec.kind), lossSpec.groupSize, lossSpec.scale, lossSpec.bf16, withTeacher};
  auto& slot = impl_->forwards[key];
  const bool fresh = !slot;
  if (fresh) {
    auto f = std::make_unique<Impl::Forward>();
    f->tokens = torch::empty({total}, torch::TensorOptions().dtype(torch::kInt64).device(device));
    if (sliceCount > 1) f->positions = torch::empty({b.batch}, torch::TensorOptions().dtype(torch::kInt64).device(device));
    f->labels = torch::empty({b.batch}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
    if (withTeacher) f->teacher = torch::empty({b.batch}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
    slot = std::move(f);
  }
  Impl::Forward& f = *slot;
  f.tokens.copy_(staged, /*non_blocking=*/true);
  if (sliceCount > 1) f.positions.copy_(positions, /*non_blocking=*/true);
  f.labels.copy_(labels, /*non_blocking=*/true);
  if (withTeacher) f.teacher.copy_(teacher, /*non_blocking=*/true);
  model_->train();
  if (fresh) {
    try {
      capture(f.graph, impl_->pool, impl_->stream, [&] {
        AutocastGuard autocast(lossSpec.bf16, device);
        std::vector<torch::Tensor> parts;
        int64_t offset = 0;
        for (size_t s = 0; s < sliceRows.size(); ++s) {
          const int64_t n = 3 * sliceRows[s] * sliceLengths[s];
          auto t = f.tokens.narrow(0, offset, n).view({3, sliceRows[s], sliceLengths[s]});
          offset += n;
          parts.push_back(model_->forward(TokenBatch{t[0], t[1], t[2]}));
        }
        // Back to the batch's row order (row r's logits are at positions[r] of the concatenation).
        auto logits = parts.size() == 1 && sliceCount == 1 ? parts[0] : torch::cat(parts).index_select(0, f.positions);
        LossInputs in;
        in.kind = lossSpec.kind;
        in.groupSize = lossSpec.groupSize;
        in.labels = f.labels;
        if (withTeacher) in.teacherScores = f.teacher;
        auto loss = computeLoss(logits, in);
        (loss * lossSpec.scale).backward();
        f.loss = loss.detach();
      });
    } catch (...) {
      impl_->forwards.erase(key);
      throw;
    }
  }
  f.graph.replay();  // a fresh capture recorded the step without running it
  return f.loss.clone();
}

std::optional<torch::Tensor> TrainGraphs::optimizerStep(const AdamWStep& o) {
  if (!model_->device().is_cuda()) throw std::invalid_argument("CUDA graphs need a model on a CUDA device");
  if (eagerOptimizerSteps_ < kWarmupSteps) {
    ++eagerOptimizerSteps_;
    return std::nullopt;
  }
  if (!impl_) impl_ = std::make_unique<Impl>();
  const auto options = std::make_tuple(o.beta1, o.beta2, o.eps, o.weightDecay, o.maxGradNorm);
  if (impl_->step && impl_->step->options != options) impl_->step.reset();  // constants of the capture changed
  if (!impl_->step) {
    torch::NoGradGuard noGrad;
    auto s = std::make_unique<Impl::Step>();
    s->options = options;
    AdamW::FusedTensors t = optimizer_->fusedTensors();  // moments created, device step = steps so far
    s->lr = torch::full({}, o.lr, torch::TensorOptions().dtype(torch::kFloat32).device(model_->device()));
    capture(s->graph, impl_->pool, impl_->stream, [&] {
      t.deviceStep.add_(1);  // each replay counts its step on the device
      s->gradNorm = AdamW::fusedUpdate(t, s->lr, o);
    });
    impl_->step = std::move(s);
  }
  impl_->step->lr.fill_(o.lr);
  optimizer_->countStep();
  impl_->step->graph.replay();
  return impl_->step->gradNorm.clone();
}

#endif

}  // namespace rr
