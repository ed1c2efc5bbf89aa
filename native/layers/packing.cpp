#include "layers/packing.h"
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace rr {

namespace {
std::atomic<int64_t> packedCount{0};
}  // namespace

int64_t TokenPacking::packedForwards() { return packedCount.load(); }

bool TokenPacking::enabled() {
  const char* setting = std::getenv("RRNATIVE_PACKING");
  return setting == nullptr || std::strcmp(setting, "off") != 0;
}

TokenPacking TokenPacking::plan(const torch::Tensor& attentionMask, double maxRealShare, bool anyPadding) {
  TokenPacking p;
  if (!attentionMask.device().is_cpu() || attentionMask.dim() != 2 || !enabled()) return p;
  torch::NoGradGuard noGrad;
  auto real = attentionMask.ne(0);
  const int64_t batch = real.size(0), length = real.size(1);
  auto rowLengths = real.sum(1);
  const int64_t tokens = rowLengths.sum().item<int64_t>();
  if (tokens >= maxRealShare * static_cast<double>(batch * length)) return p;
  if (!anyPadding && !real.select(1, 0).all().item<bool>()) return p;  // a left-padded row: its first position is not its first token
  if (anyPadding) {  // each row's real tokens one run (left or right padding), or the packed rows would not be in order
    const auto mask = real.to(torch::kUInt8).contiguous();
    const uint8_t* m = mask.data_ptr<uint8_t>();
    for (int64_t r = 0; r < batch; ++r) {
      int64_t runs = 0;
      for (int64_t i = 0; i < length; ++i) runs += m[r * length + i] && (i == 0 || !m[r * length + i - 1]);
      if (runs != 1) return p;
    }
  }
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

torch::Tensor TokenPacking::lastTokens(const torch::Tensor& packed) const {
  std::vector<int64_t> last(rowStarts_.size());
  for (size_t r = 0; r < last.size(); ++r) last[r] = rowStarts_[r] + rowLengths_[r] - 1;
  return packed.index_select(0, torch::tensor(last, torch::kInt64).to(packed.device())).unsqueeze(1);
}

torch::Tensor TokenPacking::rowMeans(const torch::Tensor& packed) const {
  std::vector<torch::Tensor> means;
  means.reserve(rowStarts_.size());
  for (size_t r = 0; r < rowStarts_.size(); ++r) means.push_back(packed.narrow(0, rowStarts_[r], rowLengths_[r]).mean(0));
  return torch::stack(means);
}

torch::Tensor TokenPacking::positions() const {
  std::vector<int64_t> out;
  out.reserve(index_.size(0));
  for (size_t r = 0; r < rowLengths_.size(); ++r)
    for (int64_t i = 0; i < rowLengths_[r]; ++i) out.push_back(i);
  return torch::tensor(out, torch::kInt64);
}

}  // namespace rr
