// The one native thread that runs all torch work, and the baton-style jobs posted to it from JS.
//
// A Job copies its JS arguments into plain C++ members on the JS thread, runs Execute() on the torch
// thread, and builds its JS result in OnOK() back on the JS thread (sharp's "baton" pattern). Jobs run
// one at a time, in the order they were posted, so torch state (grad mode, RNG, thread counts) is
// only ever touched from one thread.
#pragma once
#include <napi.h>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace rr {

class TorchThread {
 public:
  TorchThread();
  ~TorchThread();
  void post(std::function<void()> task);
  // At process exit, before exit() runs static destructors (LibTorch's and oneDNN's, some created lazily by the
  // first forward) under a running job: drops the queued jobs, lets the running one finish (up to 10 s: a
  // collective waiting on other ranks may not) and stops the thread. Called from process's 'exit' event.
  void stopForExit();
  // Cores used for matrix products, and torch's own intra-op threads (see run()).
  int numThreads() const { return numThreads_; }
  int intraOpThreads() const { return intraOpThreads_; }
  const std::string& blas() const { return blas_; }
  // Whether glibc keeps freed memory for reuse (see keepFreedMemory in worker.cpp).
  bool keepsFreedMemory() const { return keepFreedMemory_; }
  // The fused attention kernels allowed on CUDA (RRNATIVE_SDPA), once the thread has started.
  std::string attentionBackends() {
    std::lock_guard<std::mutex> lock(mutex_);
    return attentionBackends_;
  }

 private:
  void run();
  static bool keepFreedMemory();
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  // Signalled when ready_ or exited_ is set. ready_: run() has configured torch (the constructor waits for it);
  // exited_: run() is returning (stopForExit waits a while for it).
  std::condition_variable stateChanged_;
  bool ready_ = false;
  bool exited_ = false;
  int numThreads_ = 1;
  int intraOpThreads_ = 1;
  std::string blas_ = "built-in";
  bool keepFreedMemory_ = false;
  std::string attentionBackends_ = "flash,efficient,math";
  std::thread thread_;
};

class Job {
 public:
  explicit Job(Napi::Env env);
  // A job dropped before it was queued (its arguments failed a check) releases its thread-safe function,
  // which would otherwise keep the process alive.
  virtual ~Job();
  Napi::Promise promise() const { return deferred_.Promise(); }

  // Runs on the torch thread. Throw to reject the promise; c10::Error loses its C++ backtrace.
  virtual void Execute() = 0;
  // Runs on the JS thread after a successful Execute().
  virtual Napi::Value OnOK(Napi::Env env) { return env.Undefined(); }

  // Hands the job to the torch thread and returns its promise.
  static Napi::Promise Queue(TorchThread& thread, std::unique_ptr<Job> job);

 private:
  static void Complete(Napi::Env env, Napi::Function, Job* job);
  Napi::Promise::Deferred deferred_;
  Napi::ThreadSafeFunction done_;
  bool queued_ = false;
  std::string error_;
};

}  // namespace rr
