#include "runtime/worker.h"
#include <dlfcn.h>
#include <torch/torch.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include "kernels/cpu_threads.h"
#include "layers/attention.h"

namespace rr {

// glibc hands large freed blocks back to the kernel (each one mmap'd; heap tops past the trim threshold), so
// the pages of nearly every new tensor fault in again: an elementwise op on a 50 MB tensor ran 6x slower for it
// on the 2-core machine (25 vs 4 ms), and a CPU training step 10% slower. Keeping freed memory in the process,
// as tcmalloc and jemalloc do, trades that for a resident size that stays at its peak.
// RRNATIVE_MALLOC=system leaves glibc's settings alone.
bool TorchThread::keepFreedMemory() {
#if defined(__GLIBC__)
  const char* choice = std::getenv("RRNATIVE_MALLOC");
  if (choice != nullptr && std::strcmp(choice, "system") == 0) return false;
  if (choice != nullptr && *choice != '\0')
    std::fprintf(stderr, "rrnative: RRNATIVE_MALLOC=%s is not 'system' (the only setting); keeping freed memory\n", choice);
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max()) == 1;
#else
  return false;
#endif
}

TorchThread::TorchThread() {
  // Thread counts are set once, here: RRNATIVE_NUM_THREADS, else every core.
  int wanted = static_cast<int>(std::thread::hardware_concurrency());
  if (const char* env = std::getenv("RRNATIVE_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) wanted = n;
  }
  numThreads_ = wanted > 0 ? wanted : 1;
  // With OpenBLAS (Debian's LibTorch), matrix products run on OpenBLAS's own thread pool: giving torch's
  // OpenMP pool the same cores as well makes the two spin against each other (measured here: a third of
  // the time in the kernel, 1.6x slower training). So OpenBLAS gets the cores and torch's elementwise
  // work one thread. Other BLAS builds (MKL) share torch's OpenMP pool, which then gets the cores.
  using SetThreads = void (*)(int);
  if (auto setOpenblasThreads = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    setOpenblasThreads(numThreads_);
    // With the kernel family it picked for this CPU (or OPENBLAS_CORETYPE): "openblas (Haswell)", "(SkylakeX)", …
    using CoreName = char* (*)();
    auto coreName = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    blas_ = coreName && coreName() ? std::string("openblas (") + coreName() + ")" : "openblas";
    intraOpThreads_ = 1;
  } else {
    intraOpThreads_ = numThreads_;
  }
  keepFreedMemory_ = keepFreedMemory();
  thread_ = std::thread([this] { run(); });
  // Return only once the thread has configured torch and sits idle: a process that exits right after loading
  // the addon (a CLI argument error) would otherwise run LibTorch's and OpenMP's static destructors while this
  // thread is still inside them (seen: a segfault in 2 of 15 such exits). It also settles what
  // attentionBackends() reports before anyone can ask.
  std::unique_lock<std::mutex> lock(mutex_);
  stateChanged_.wait(lock, [this] { return ready_; });
}

void TorchThread::stopForExit() {
  std::unique_lock<std::mutex> lock(mutex_);
  stopping_ = true;
  // Dropped without running; their promises will never settle, and the process is ending anyway. Leaked on
  // purpose: destroying a job touches its thread-safe function, whose environment is going away.
  new std::deque<std::function<void()>>(std::move(tasks_));
  tasks_.clear();
  wake_.notify_all();
  if (stateChanged_.wait_for(lock, std::chrono::seconds(10), [this] { return exited_; })) {
    lock.unlock();
    if (thread_.joinable()) thread_.join();
  }
}

TorchThread::~TorchThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TorchThread::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void TorchThread::run() {
  // at::set_num_threads configures the intra-op pool (OpenMP settings are per calling thread).
  try {
    at::set_num_interop_threads(1);
  } catch (...) {
    // already set by another user of LibTorch in this process
  }
  at::set_num_threads(intraOpThreads_);
  setCpuKernelThreads(numThreads_);
  std::string attention;
  try {
    attention = configureAttentionBackends(std::getenv("RRNATIVE_SDPA"));
  } catch (const std::exception& e) {
    attention = std::string("flash,efficient,math (") + e.what() + ")";
    std::fprintf(stderr, "rrnative: %s; using flash,efficient,math\n", e.what());
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    attentionBackends_ = attention;
    ready_ = true;
  }
  stateChanged_.notify_all();
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) {  // stopping, and nothing left
        exited_ = true;
        stateChanged_.notify_all();
        return;
      }
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

Job::Job(Napi::Env env) : deferred_(Napi::Promise::Deferred::New(env)) {
  // One thread-safe function per job: it keeps the event loop alive until the job has reported back.
  done_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "rrnative", 0, 1);
}

Job::~Job() {
  if (!queued_) done_.Release();
}

Napi::Promise Job::Queue(TorchThread& thread, std::unique_ptr<Job> job) {
  Napi::Promise promise = job->promise();
  job->queued_ = true;
  Job* raw = job.release();
  thread.post([raw] {
    try {
      raw->Execute();
    } catch (const c10::Error& e) {
      raw->error_ = e.what_without_backtrace();
    } catch (const std::exception& e) {
      raw->error_ = e.what();
    } catch (...) {
      raw->error_ = "unknown native error";
    }
    Napi::ThreadSafeFunction done = raw->done_;
    if (done.NonBlockingCall(raw, Complete) != napi_ok) delete raw;  // the environment is shutting down
    done.Release();
  });
  return promise;
}

void Job::Complete(Napi::Env env, Napi::Function, Job* job) {
  std::unique_ptr<Job> owned(job);
  if (env == nullptr) return;
  Napi::HandleScope scope(env);
  if (!job->error_.empty()) {
    job->deferred_.Reject(Napi::Error::New(env, job->error_).Value());
    return;
  }
  try {
    job->deferred_.Resolve(job->OnOK(env));
  } catch (const Napi::Error& e) {
    job->deferred_.Reject(e.Value());
  } catch (const std::exception& e) {
    job->deferred_.Reject(Napi::Error::New(env, e.what()).Value());
  }
}

}  // namespace rr
