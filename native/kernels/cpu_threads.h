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

// `rows` rows in blocks of `perBlock` (the last one shorter), the blocks split as cpuSplit splits items: the
// element-wise kernels' unit of work (native/kernels/bias_gelu.h, residual_norm.h, int8_linear.h).
struct RowBlocks {
  int64_t rows = 0, perBlock = 1, blocks = 0;
  CpuSplit split;
};

inline RowBlocks rowBlocks(int64_t rows, int64_t perBlock) {
  RowBlocks b;
  b.rows = rows;
  b.perBlock = perBlock;
  b.blocks = (rows + perBlock - 1) / perBlock;
  b.split = cpuSplit(b.blocks);
  return b;
}

// Calls work(first, count, part) for each block: rows [first, first + count), part as forEachItem's.
template <typename Work>
void forEachRowBlock(const RowBlocks& b, Work work) {
  forEachItem(b.blocks, b.split, [&](int64_t block, int part) {
    const int64_t first = block * b.perBlock;
    work(first, std::min(b.perBlock, b.rows - first), part);
  });
}

// The intra-op thread count for a oneDNN product (native/kernels/cpu_gemm.h, int8_linear.h): all the kernel
// threads. oneDNN runs on OpenMP, whose count on the torch thread is torch's intra-op count (1 in OpenBLAS builds,
// whose own pool has the cores).
inline int productThreads() { return std::max(cpuKernelThreads(), at::get_num_threads()); }

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
