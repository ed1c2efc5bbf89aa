// How the CPU kernels of our own (native/kernels/packed_attention.h, native/kernels/bias_gelu.h) split their work over the cores.
#pragma once
#include <ATen/Parallel.h>
#include <algorithm>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace rr {

// The threads of our own the kernels use when torch's intra-op pool has one thread (OpenBLAS builds, whose pool
// has the cores): OpenBLAS's count, set once at start-up (native/runtime/worker.cpp).
void setCpuKernelThreads(int threads);
int cpuKernelThreads();

// A split of `items` work items: torch's intra-op pool when it has the cores (BLAS builds that share it, such as
// MKL), else threads of our own. `parts`: how many distinct part numbers work() can see (per-part scratch).
struct CpuSplit {
  bool torchPool = false;
  int parts = 1;
};

inline CpuSplit cpuSplit(int64_t items) {
  CpuSplit split;
  split.torchPool = at::get_num_threads() > 1;
  split.parts = split.torchPool ? at::get_num_threads()
                                : static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(cpuKernelThreads(), items)));
  return split;
}

// Calls work(item, part) for items [0, items). Each part takes the items interleaved, on torch's pool as on threads
// of our own: batches are sorted longest first, so contiguous ranges (at::parallel_for's split) would give the
// first thread the longest rows. (Attention on torch's pool, int8 scoring, stays slower than on threads of our own
// after this: scripts/bench/CPU-NOTES.md.)
template <typename Work>
void forEachItem(int64_t items, const CpuSplit& split, Work work) {
  if (split.torchPool) {
    const int64_t parts = std::min<int64_t>(split.parts, items);
    at::parallel_for(0, parts, 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p)
        for (int64_t item = p; item < items; item += parts) work(item, static_cast<int>(p));
    });
    return;
  }
  const int threads = split.parts;
  auto part = [&](int p) {
    for (int64_t item = p; item < items; item += threads) work(item, p);
  };
  std::vector<std::thread> helpers;
  std::vector<int> unstarted;  // parts whose thread could not start run here
  for (int p = 1; p < threads; ++p) {
    try {
      helpers.emplace_back(part, p);
    } catch (const std::system_error&) {
      unstarted.push_back(p);
    }
  }
  part(0);
  for (int p : unstarted) part(p);
  for (auto& helper : helpers) helper.join();
}

// Gives torch's intra-op pool `threads` threads for a scope (an int8 forward: native/kernels/int8_linear.h) and restores the
// count after. Through OpenMP's own setting where LibTorch runs on OpenMP: at::set_num_threads also rebuilds
// LibTorch's pthreadpool, which made a 2-layer model's many small scoring jobs 40% slower when switched per job.
class IntraOpThreads {
 public:
  explicit IntraOpThreads(int threads);
  ~IntraOpThreads();
  IntraOpThreads(const IntraOpThreads&) = delete;
  IntraOpThreads& operator=(const IntraOpThreads&) = delete;

 private:
  int previous_;
};

}  // namespace rr
