#include "cpu_threads.h"
#include <atomic>

namespace rr {

namespace {
std::atomic<int> kernelThreads{1};
}  // namespace

void setCpuKernelThreads(int threads) { kernelThreads.store(std::max(1, threads)); }

int cpuKernelThreads() { return kernelThreads.load(); }

}  // namespace rr
