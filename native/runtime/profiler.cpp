#include "runtime/profiler.h"

#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>

namespace rr {
namespace {

namespace kineto = torch::autograd::profiler;
namespace impl = torch::profiler::impl;

bool running = false;
bool profilingCuda = false;
std::chrono::steady_clock::time_point startedAt;

// KinetoEvent reports microseconds up to LibTorch 2.1 and nanoseconds from 2.2.
double durationUs(const kineto::KinetoEvent& e) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
  return static_cast<double>(e.durationNs()) / 1000.0;
#else
  return static_cast<double>(e.durationUs());
#endif
}

}  // namespace

void startProfiler(bool cuda) {
  if (running) throw std::runtime_error("a profile is already running: stop it first");
  if (cuda && !torch::cuda::is_available()) throw std::runtime_error("cannot profile CUDA: no CUDA device is available");
  std::set<impl::ActivityType> activities{impl::ActivityType::CPU};
  if (cuda) activities.insert(impl::ActivityType::CUDA);
  const impl::ProfilerConfig config(impl::ProfilerState::KINETO);
  kineto::prepareProfiler(config, activities);
  kineto::enableProfiler(config, activities);
  running = true;
  profilingCuda = cuda;
  startedAt = std::chrono::steady_clock::now();
}

ProfileSummary stopProfiler(const std::string& tracePath) {
  if (!running) throw std::runtime_error("no profile is running: start one first");
  if (profilingCuda) torch::cuda::synchronize();  // the kernels queued inside the window finish inside it
  ProfileSummary summary;
  summary.wallUs = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - startedAt).count();
  running = false;
  std::unique_ptr<kineto::ProfilerResult> result = kineto::disableProfiler();
  std::map<std::pair<std::string, std::string>, ProfileEntry> byName;
  for (const auto& e : result->events()) {
    const std::string device = e.deviceType() == c10::DeviceType::CUDA ? "cuda" : "cpu";
    ProfileEntry& entry = byName[{device, e.name()}];
    entry.name = e.name();
    entry.device = device;
    entry.calls += 1;
    const double us = durationUs(e);
    entry.totalUs += us;
    if (device == "cuda") summary.cudaKernelUs += us;
  }
  for (auto& kv : byName) summary.entries.push_back(std::move(kv.second));
  std::sort(summary.entries.begin(), summary.entries.end(),
            [](const ProfileEntry& a, const ProfileEntry& b) { return a.totalUs > b.totalUs; });
  if (!tracePath.empty()) {
    try {
      result->save(tracePath);
    } catch (const c10::Error& e) {
      summary.traceError = e.what_without_backtrace();
    }
  }
  return summary;
}

}  // namespace rr
