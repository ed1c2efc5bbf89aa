#include "kernels/cpu_threads.h"
#include <dlfcn.h>
#include <atomic>

namespace rr {

namespace {
std::atomic<int> kernelThreads{1};
}  // namespace

void setCpuKernelThreads(int threads) { kernelThreads.store(std::max(1, threads)); }

int cpuKernelThreads() { return kernelThreads.load(); }

namespace {
// OpenMP's per-thread setting, which LibTorch's OpenMP builds read as their intra-op thread count; null without it.
using SetThreads = void (*)(int);
SetThreads openMpSetThreads() {
  static const SetThreads set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  return set;
}

void setIntraOpThreads(int threads) {
  if (auto set = openMpSetThreads()) {
    set(threads);
    if (at::get_num_threads() == threads) return;
  }
  at::set_num_threads(threads);
}
}  // namespace

IntraOpThreads::IntraOpThreads(int threads) : previous_(at::get_num_threads()) {
  if (threads != previous_) setIntraOpThreads(threads);
}

IntraOpThreads::~IntraOpThreads() {
  if (at::get_num_threads() != previous_) setIntraOpThreads(previous_);
}

}  // namespace rr
