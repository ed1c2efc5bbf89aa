// Where the time goes: LibTorch's Kineto profiler around whatever the torch thread runs between start and stop,
// summed by operator (CPU) and by kernel (CUDA). Used by the benchmarks (scripts/bench/gpu.ts --profile) to find
// what bounds a step, which wall-clock timing alone cannot tell.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rr {

struct ProfileEntry {
  std::string name;
  std::string device;  // "cpu" (operators, CUDA runtime calls) or "cuda" (kernels, copies, memsets)
  int64_t calls = 0;
  // CPU operators nest (aten::linear contains aten::addmm), so their totals overlap; kernels do not.
  double totalUs = 0;
};

struct ProfileSummary {
  double wallUs = 0;         // from start to stop (after waiting for the GPU)
  double cudaKernelUs = 0;   // the sum of every CUDA event's duration: the GPU's busy time on one stream
  std::vector<ProfileEntry> entries;  // largest total first
  std::string traceError;    // why the trace could not be written (e.g. a LibTorch built without Kineto)
};

// Both run on the torch thread (the profiler records the calling thread's operators).
// Throws when a profile is already running / when none is.
void startProfiler(bool cuda);
// Waits for the GPU when CUDA was profiled; writes a Chrome trace (chrome://tracing, Perfetto) when tracePath
// is not empty. A trace that cannot be written leaves the summary intact and says why in traceError.
ProfileSummary stopProfiler(const std::string& tracePath);

}  // namespace rr
