// Data-parallel training over torch.distributed (c10d): one process per device, a TCPStore rendezvous
// (rank 0 serves it at MASTER_ADDR:MASTER_PORT) and a Gloo (CPU) or NCCL (CUDA) process group.
//
// Every call blocks the calling thread (the torch thread) until the collective is done, and fails rather
// than hangs: within the configured timeout, with a message that names the rank that stopped answering
// when that can be told (each rank beats a heartbeat counter in the store; see Heartbeat in distributed.cpp).
//
// Builds without the c10d/Gloo headers (RR_HAVE_C10D_GLOO unset) compile stubs that reject create().
#pragma once
#include <memory>
#include <string>
#include <vector>
#include "models/model.h"

namespace rr {

struct DistributedOptions {
  int rank = 0;
  int worldSize = 1;
  int localRank = 0;  // this rank's GPU on its machine (CUDA training)
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  std::string backend = "gloo";  // "gloo" or "nccl"
  double timeoutSeconds = 1800;  // rendezvous and every collective
  bool cuda = false;             // training on CUDA: bind this rank to GPU localRank first
};

enum class ReduceOp { Sum, Max, Min };

// The backends this build supports ("gloo", "nccl"); empty without torch.distributed.
std::vector<std::string> distributedBackends();

class DataParallelGroup {
 public:
  // Forms the group: rendezvous through the TCPStore, then the backend's connections. Throws (naming the
  // address) when the other ranks do not all arrive within the timeout.
  static std::shared_ptr<DataParallelGroup> create(const DistributedOptions& options);
  virtual ~DataParallelGroup() = default;

  virtual int rank() const = 0;
  virtual int worldSize() const = 0;
  virtual std::string backend() const = 0;

  // Copies rank 0's parameters into every rank's model, so all ranks start identical.
  virtual void broadcastParameters(CrossEncoder& model) = 0;
  // Averages the gradients over the ranks (bucketed all-reduce, SUM / world size), before clipping and the
  // optimizer step. `values` ride along in the first, small all-reduce and come back summed over the ranks.
  virtual std::vector<double> allReduceGradients(CrossEncoder& model, const std::vector<double>& values) = 0;
  virtual std::vector<double> allReduce(const std::vector<double>& values, ReduceOp op) = 0;
  // Every rank's values, rank-major (all ranks must pass the same number of values).
  virtual std::vector<double> allGather(const std::vector<double>& values) = 0;
  virtual void barrier() = 0;
  // Leaves the group (no collective: call barrier() first for an orderly end).
  virtual void destroy() = 0;
};

}  // namespace rr
