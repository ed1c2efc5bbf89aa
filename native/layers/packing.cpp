#include "layers/packing.h"
#include <atomic>

namespace rr {

namespace {
std::atomic<int64_t> packedCount{0};
}  // namespace

int64_t TokenPacking::packedForwards() { return packedCount.load(); }

TokenPacking TokenPacking::plan(const torch::Tensor& attentionMask, double maxRealShare) {
  TokenPacking p;
  if (!attentionMask.device().is_cpu() || attentionMask.dim() != 2) return p;
  torch::NoGradGuard noGrad;
  auto real = attentionMask.ne(0);
  const int64_t batch = real.size(0), length = real.size(1);
  auto rowLengths = real.sum(1);
  const int64_t tokens = rowLengths.sum().item<int64_t>();
  if (tokens >= maxRealShare * static_cast<double>(batch * length)) return p;
  if (!real.select(1, 0).all().item<bool>()) return p;  // a left-padded row: its first position is not its first token
  p.batch_ = batch;
  p.length_ = length;
  p.index_ = real.reshape({-1}).nonzero().squeeze(1);
  const auto lengths = rowLengths.contiguous();  // int64 (a sum of bools)
  p.rowLengths_.assign(lengths.data_ptr<int64_t>(), lengths.data_ptr<int64_t>() + batch);
  int64_t start = 0;
  for (int64_t n : p.rowLengths_) p.rowStarts_.push_back(start), start += n;
  ++packedCount;
  return p;
}

torch::Tensor TokenPacking::pack(const torch::Tensor& padded) const {
  return padded.reshape({batch_ * length_, padded.size(-1)}).index_select(0, index_);
}

torch::Tensor TokenPacking::unpack(const torch::Tensor& packed) const {
  auto padded = torch::zeros({batch_ * length_, packed.size(-1)}, packed.options().requires_grad(false));
  return padded.index_copy_(0, index_, packed).view({batch_, length_, packed.size(-1)});
}

torch::Tensor TokenPacking::firstTokens(const torch::Tensor& packed) const {
  return packed.index_select(0, torch::tensor(rowStarts_, torch::kInt64).to(packed.device())).unsqueeze(1);
}

}  // namespace rr
