#include "runtime/distributed.h"
#include <stdexcept>

#if RR_HAVE_C10D_GLOO
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if RR_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>
#endif

namespace rr {

#if !RR_HAVE_C10D_GLOO

std::vector<std::string> distributedBackends() { return {}; }

std::shared_ptr<DataParallelGroup> DataParallelGroup::create(const DistributedOptions&) {
  throw std::runtime_error("this build of rrnative has no torch.distributed support (install libgloo-dev and rebuild)");
}

#else

std::vector<std::string> distributedBackends() {
#if RR_HAVE_NCCL
  return {"gloo", "nccl"};
#else
  return {"gloo"};
#endif
}

namespace {

using namespace std::chrono_literals;
using Millis = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// ProcessGroupGloo and ProcessGroupNCCL derive from c10d::Backend since torch 2.0 (c10d::ProcessGroup before).
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

constexpr int64_t kBucketBytes = 25 * 1024 * 1024;  // DDP's default bucket_cap_mb
constexpr auto kHeartbeatInterval = 1s;
constexpr auto kHeartbeatWindow = 3s;  // a rank whose counter stands still this long has died or hangs
const char* const kJoinedKey = "rrnative/joined";
const char* const kWorldSizeKey = "rrnative/world_size";

std::string heartbeatKey(int rank) { return "rrnative/heartbeat/" + std::to_string(rank); }

std::string errorText(const std::exception& e) {
  if (const auto* c10Error = dynamic_cast<const c10::Error*>(&e)) return c10Error->what_without_backtrace();
  return e.what();
}

std::string describeSeconds(Millis t) {
  std::ostringstream out;
  out << static_cast<double>(t.count()) / 1000.0 << " s";
  return out.str();
}

bool isLoopback(const std::string& address) {
  return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

std::shared_ptr<::gloo::transport::Device> glooDevice(const std::string& masterAddr) {
  // GLOO_SOCKET_IFNAME picks the interface, as in PyTorch. A loopback master means a one-machine job: stay on
  // loopback rather than on whatever address the hostname resolves to.
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname && *ifname) return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (isLoopback(masterAddr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// "cuda" without an index is the calling thread's current device, and all torch work runs on the one torch
// thread: binding that thread to GPU localRank puts this rank's model, batches and collectives there.
torch::Device bindCudaDevice(int localRank) {
  const auto* cuda = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA);
  const auto count = cuda->deviceCount();
  if (count <= 0) throw std::runtime_error("CUDA training was asked for, but no CUDA device is visible");
  const torch::Device device(torch::kCUDA, static_cast<c10::DeviceIndex>(localRank % count));
  cuda->setDevice(device);
  return device;
}

c10::intrusive_ptr<c10d::Store> connectStore(const std::string& host, int port, bool serve, Millis timeout) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(port);
  options.isServer = serve;
  options.waitWorkers = false;  // the join count below says who is missing; TCPStore's own wait would not
  options.timeout = timeout;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  // LibTorch >= 2.4 asks for the libuv store by default, and one built without libuv (Debian's 2.6) refuses
  // it ("use_libuv was requested but PyTorch was build without libuv support"): use the classic store there.
  try {
    return c10::make_intrusive<c10d::TCPStore>(host, options);
  } catch (const c10::Error& e) {
    if (std::string(e.what_without_backtrace()).find("libuv") == std::string::npos) throw;
    options.useLibUV = false;
  }
#endif
  return c10::make_intrusive<c10d::TCPStore>(host, options);
}

c10d::ReduceOp toC10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return c10d::ReduceOp::SUM;
    case ReduceOp::Max: return c10d::ReduceOp::MAX;
    case ReduceOp::Min: return c10d::ReduceOp::MIN;
  }
  return c10d::ReduceOp::SUM;
}

const char* opName(ReduceOp op) {
  return op == ReduceOp::Sum ? "sum" : op == ReduceOp::Max ? "max" : "min";
}

// Consecutive tensors of one dtype and device, up to kBucketBytes per bucket.
std::vector<std::vector<torch::Tensor>> bucketize(const std::vector<torch::Tensor>& tensors) {
  std::vector<std::vector<torch::Tensor>> buckets;
  int64_t bytes = 0;
  for (const auto& t : tensors) {
    const int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
    const bool startNew = buckets.empty() || bytes + size > kBucketBytes ||
                          buckets.back().front().scalar_type() != t.scalar_type() ||
                          buckets.back().front().device() != t.device();
    if (startNew) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(t);
    bytes += size;
  }
  return buckets;
}

// Beats this rank's counter in the store every second from its own thread, so that after a failed collective
// the survivors can tell which rank stopped (see C10dGroup::whoStopped). Detached-safe: the thread owns
// what it uses, and a thread stuck on a frozen store is left behind rather than joined forever.
class Heartbeat {
 public:
  Heartbeat(c10::intrusive_ptr<c10d::Store> store, int rank) : state_(std::make_shared<State>()) {
    std::thread([state = state_, store = std::move(store), key = heartbeatKey(rank)] {
      std::unique_lock<std::mutex> lock(state->mutex);
      while (!state->stopping) {
        lock.unlock();
        try {
          store->add(key, 1);
        } catch (...) {
          lock.lock();
          break;  // the store is gone (rank 0 ended or died); a collective will report it
        }
        lock.lock();
        state->wake.wait_for(lock, kHeartbeatInterval, [&] { return state->stopping; });
      }
      state->finished = true;
      state->wake.notify_all();
    }).detach();
  }

  ~Heartbeat() {
    std::unique_lock<std::mutex> lock(state_->mutex);
    state_->stopping = true;
    state_->wake.notify_all();
    state_->wake.wait_for(lock, 2s, [&] { return state_->finished; });
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable wake;
    bool stopping = false, finished = false;
  };
  std::shared_ptr<State> state_;
};

class C10dGroup final : public DataParallelGroup {
 public:
  C10dGroup(const DistributedOptions& o, Millis timeout, c10::intrusive_ptr<c10d::Store> store,
            c10::intrusive_ptr<c10d::Store> heartbeatStore, c10::intrusive_ptr<CollectiveBackend> backend,
            torch::Device commDevice)
      : options_(o), timeout_(timeout), store_(std::move(store)), backend_(std::move(backend)), commDevice_(commDevice),
        heartbeat_(std::make_unique<Heartbeat>(std::move(heartbeatStore), o.rank)) {}

  ~C10dGroup() override { destroy(); }

  int rank() const override { return options_.rank; }
  int worldSize() const override { return options_.worldSize; }
  std::string backend() const override { return options_.backend; }

  void broadcastParameters(CrossEncoder& model) override {
    torch::NoGradGuard noGrad;
    std::vector<torch::Tensor> params;
    for (auto& [name, param] : model.namedParameters()) params.push_back(param);
    inBuckets(params, "the broadcast of rank 0's parameters", /*average=*/false, [this](std::vector<at::Tensor>& flat) {
      c10d::BroadcastOptions opts;
      opts.rootRank = 0;
      opts.timeout = timeout_;
      return live()->broadcast(flat, opts);
    });
  }

  std::vector<double> allReduceGradients(CrossEncoder& model, const std::vector<double>& values) override {
    torch::NoGradGuard noGrad;
    auto params = model.namedParameters();
    // First, one small all-reduce: which parameters have a gradient on any rank, plus the caller's values.
    // A parameter that got no gradient here but did elsewhere joins with zeros, so every rank reduces the
    // same buckets; one that got none anywhere keeps no gradient, as in a single process.
    std::vector<double> head(params.size() + values.size());
    for (size_t i = 0; i < params.size(); ++i) head[i] = params[i].second.grad().defined() ? 1.0 : 0.0;
    std::copy(values.begin(), values.end(), head.begin() + static_cast<std::ptrdiff_t>(params.size()));
    head = reduceValues(head, ReduceOp::Sum, "the all-reduce of the gradients");

    std::vector<torch::Tensor> grads;
    for (size_t i = 0; i < params.size(); ++i) {
      if (head[i] == 0) continue;
      auto& grad = params[i].second.mutable_grad();
      if (!grad.defined()) grad = torch::zeros_like(params[i].second);
      grads.push_back(grad);
    }
    inBuckets(grads, "the all-reduce of the gradients", /*average=*/true, [this](std::vector<at::Tensor>& flat) {
      c10d::AllreduceOptions opts;
      opts.reduceOp = c10d::ReduceOp::SUM;
      opts.timeout = timeout_;
      return live()->allreduce(flat, opts);
    });
    return std::vector<double>(head.begin() + static_cast<std::ptrdiff_t>(params.size()), head.end());
  }

  std::vector<double> allReduce(const std::vector<double>& values, ReduceOp op) override {
    return reduceValues(values, op, std::string("an all-reduce (") + opName(op) + ")");
  }

  std::vector<double> allGather(const std::vector<double>& values) override {
    std::vector<at::Tensor> input{toTensor(values)};
    std::vector<std::vector<at::Tensor>> output(1);
    for (int r = 0; r < options_.worldSize; ++r) output[0].push_back(torch::empty_like(input[0]));
    c10d::AllgatherOptions opts;
    opts.timeout = timeout_;
    await(live()->allgather(output, input, opts), "an all-gather");
    return fromTensor(torch::cat(output[0]));
  }

  // An all-reduce of one value: the same on every backend (NCCL's barrier has to guess a device).
  void barrier() override { reduceValues({1.0}, ReduceOp::Sum, "a barrier"); }

  void destroy() override {
    heartbeat_.reset();
    backend_.reset();
    store_.reset();
  }

 private:
  const c10::intrusive_ptr<CollectiveBackend>& live() {
    if (!failure_.empty()) throw std::runtime_error("the process group failed earlier: " + failure_);
    if (!backend_) throw std::runtime_error("the process group has been destroyed");
    return backend_;
  }

  std::vector<double> reduceValues(const std::vector<double>& values, ReduceOp op, const std::string& what) {
    std::vector<at::Tensor> tensors{toTensor(values)};
    c10d::AllreduceOptions opts;
    opts.reduceOp = toC10d(op);
    opts.timeout = timeout_;
    await(live()->allreduce(tensors, opts), what);
    return fromTensor(tensors[0]);
  }

  torch::Tensor toTensor(const std::vector<double>& values) const {
    return torch::tensor(values, torch::dtype(torch::kFloat64)).to(commDevice_);
  }

  static std::vector<double> fromTensor(const torch::Tensor& t) {
    auto cpu = t.to(torch::kCPU).contiguous();
    return std::vector<double>(cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel());
  }

  // One collective per bucket on a flat copy of it, all in flight at once, then the results copied back.
  void inBuckets(const std::vector<torch::Tensor>& tensors, const std::string& what, bool average,
                 const std::function<c10::intrusive_ptr<c10d::Work>(std::vector<at::Tensor>&)>& launch) {
    const auto buckets = bucketize(tensors);
    std::vector<std::vector<at::Tensor>> flats;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    flats.reserve(buckets.size());
    for (const auto& bucket : buckets) {
      std::vector<torch::Tensor> pieces;
      for (const auto& t : bucket) pieces.push_back(t.reshape({-1}));
      flats.push_back({torch::cat(pieces).to(commDevice_)});
      works.push_back(launch(flats.back()));
    }
    for (size_t b = 0; b < buckets.size(); ++b) {
      await(works[b], what);
      auto& flat = flats[b][0];
      if (average) flat.div_(options_.worldSize);
      int64_t offset = 0;
      for (auto& t : buckets[b]) {
        t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
        offset += t.numel();
      }
    }
  }

  void await(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
    try {
      // The backend enforces the timeout itself (Gloo: per operation); the margin here only backs it up.
      work->wait(timeout_ + 10s);
    } catch (const std::exception& e) {
      failure_ = what + " failed on rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.worldSize) +
                 ": " + errorText(e);
      throw std::runtime_error(failure_ + "\n" + whoStopped());
    }
  }

  // Reads every rank's heartbeat counter twice, kHeartbeatWindow apart: ranks whose counter stood still have
  // died or hang. Runs on its own thread, so a frozen store (rank 0 stopped) cannot block the report.
  std::string whoStopped() {
    struct Probe {
      std::mutex mutex;
      std::condition_variable done;
      bool finished = false;
      std::vector<int64_t> before, after;
      std::string error;
    };
    auto probe = std::make_shared<Probe>();
    const int worldSize = options_.worldSize;
    std::thread([probe, store = store_, worldSize] {
      auto read = [&] {
        std::vector<int64_t> beats;
        for (int r = 0; r < worldSize; ++r) beats.push_back(store->add(heartbeatKey(r), 0));
        return beats;
      };
      std::vector<int64_t> before, after;
      std::string error;
      try {
        before = read();
        std::this_thread::sleep_for(kHeartbeatWindow);
        after = read();
      } catch (const std::exception& e) {
        error = errorText(e);
      }
      std::lock_guard<std::mutex> lock(probe->mutex);
      probe->before = std::move(before);
      probe->after = std::move(after);
      probe->error = std::move(error);
      probe->finished = true;
      probe->done.notify_all();
    }).detach();

    const std::string where = options_.masterAddr + ":" + std::to_string(options_.masterPort);
    std::unique_lock<std::mutex> lock(probe->mutex);
    if (!probe->done.wait_for(lock, kHeartbeatWindow + 3s, [&] { return probe->finished; }) || !probe->error.empty()) {
      if (options_.rank == 0) return "(the other ranks' heartbeats could not be read)";
      return "rank 0 stopped answering: the rendezvous store it serves at " + where + " does not respond" +
             (probe->error.empty() ? "" : " (" + probe->error + ")") + "; rank 0 has died or hangs";
    }
    std::vector<int> stopped;
    for (int r = 0; r < worldSize; ++r)
      if (r != options_.rank && probe->after[r] == probe->before[r]) stopped.push_back(r);
    if (stopped.empty()) return "every other rank is still alive: see their output for the first error";
    std::string ranks;
    for (size_t i = 0; i < stopped.size(); ++i) ranks += (i ? ", " : "") + std::to_string(stopped[i]);
    return std::string(stopped.size() == 1 ? "rank " : "ranks ") + ranks + " stopped answering (no heartbeat for " +
           describeSeconds(std::chrono::duration_cast<Millis>(kHeartbeatWindow)) + "): died or hung";
  }

  DistributedOptions options_;
  Millis timeout_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<CollectiveBackend> backend_;
  torch::Device commDevice_;
  std::unique_ptr<Heartbeat> heartbeat_;
  std::string failure_;
};

void validate(const DistributedOptions& o) {
  if (o.worldSize < 1) throw std::invalid_argument("world size must be at least 1");
  if (o.rank < 0 || o.rank >= o.worldSize)
    throw std::invalid_argument("rank " + std::to_string(o.rank) + " is outside 0…" + std::to_string(o.worldSize - 1));
  if (o.masterPort < 1 || o.masterPort > 65535) throw std::invalid_argument("master port must be 1…65535");
  if (!(o.timeoutSeconds > 0)) throw std::invalid_argument("the timeout must be positive");
  if (o.backend != "gloo" && o.backend != "nccl") throw std::invalid_argument("backend must be 'gloo' or 'nccl', got '" + o.backend + "'");
#if !RR_HAVE_NCCL
  if (o.backend == "nccl")
    throw std::invalid_argument("this build of rrnative has no NCCL (it needs a CUDA LibTorch with NCCL); use ddp_backend gloo");
#endif
  if (o.backend == "nccl" && !o.cuda) throw std::invalid_argument("ddp_backend nccl needs CUDA training; use gloo on CPU");
}

}  // namespace

std::shared_ptr<DataParallelGroup> DataParallelGroup::create(const DistributedOptions& o) {
  validate(o);
  const Millis timeout(static_cast<int64_t>(o.timeoutSeconds * 1000));
  const std::string where = o.masterAddr + ":" + std::to_string(o.masterPort);
  const std::string who = "rank " + std::to_string(o.rank) + " of " + std::to_string(o.worldSize);
  const std::string within = " within " + describeSeconds(timeout);
  torch::Device commDevice = torch::kCPU;  // Gloo reduces on the host; NCCL on this rank's GPU
  if (o.cuda) {
    const torch::Device gpu = bindCudaDevice(o.localRank);
    if (o.backend == "nccl") commDevice = gpu;
  }

  // 1. The store: rank 0 serves it, the others connect to it (retrying until the timeout).
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = connectStore(o.masterAddr, o.masterPort, o.rank == 0, timeout);
  } catch (const std::exception& e) {
    if (o.rank == 0)
      throw std::runtime_error(who + ": could not serve the rendezvous at " + where +
                               " (is the port taken? pick another MASTER_PORT): " + errorText(e));
    throw std::runtime_error(who + ": could not reach the rendezvous at " + where + " (served by rank 0)" + within +
                             ": " + errorText(e));
  }

  // 2. Every rank checks in; all wait until the whole world has, and agree on its size.
  try {
    if (o.rank == 0) {
      const std::string size = std::to_string(o.worldSize);
      store->set(kWorldSizeKey, std::vector<uint8_t>(size.begin(), size.end()));
    }
    store->add(heartbeatKey(o.rank), 1);
    store->add(kJoinedKey, 1);
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const int64_t joined = store->add(kJoinedKey, 0);
      if (joined >= o.worldSize) break;
      if (Clock::now() >= deadline)
        throw std::runtime_error("the rendezvous at " + where + " did not complete" + within + ": " + std::to_string(joined) +
                                 " of " + std::to_string(o.worldSize) + " ranks joined (start every rank with the same " +
                                 "MASTER_ADDR, MASTER_PORT and WORLD_SIZE, or raise training.ddp_timeout)");
      std::this_thread::sleep_for(50ms);
    }
    const auto size = store->get(kWorldSizeKey);
    const std::string rank0Size(size.begin(), size.end());
    if (rank0Size != std::to_string(o.worldSize))
      throw std::runtime_error("rank 0 at " + where + " started a job of " + rank0Size + " ranks, but this rank has WORLD_SIZE=" +
                               std::to_string(o.worldSize));
  } catch (const std::exception& e) {
    throw std::runtime_error(who + ": " + errorText(e));
  }

  // 3. The backend's own connections (Gloo: a full mesh of TCP pairs; NCCL: communicators on first use).
  c10::intrusive_ptr<CollectiveBackend> backend;
  try {
    if (o.backend == "gloo") {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(glooDevice(o.masterAddr));
      backend = c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.worldSize, options);
    } else {
#if RR_HAVE_NCCL
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, o.rank, o.worldSize, options);
#endif
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(who + ": could not connect the ranks (" + o.backend + ") after the rendezvous at " + where +
                             ": " + errorText(e));
  }

  // The heartbeat gets its own connection, so a beat never waits behind (or interleaves with) other store use.
  c10::intrusive_ptr<c10d::Store> heartbeatStore;
  try {
    heartbeatStore = connectStore(o.masterAddr, o.masterPort, /*serve=*/false, std::min<Millis>(timeout, 5s));
  } catch (const std::exception& e) {
    throw std::runtime_error(who + ": could not reach the rendezvous at " + where + " again: " + errorText(e));
  }
  return std::make_shared<C10dGroup>(o, timeout, store, heartbeatStore, backend, commDevice);
}

#endif  // RR_HAVE_C10D_GLOO

}  // namespace rr
