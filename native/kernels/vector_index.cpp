#include "kernels/vector_index.h"
#include <algorithm>

namespace rr {

ExactVectorIndex::ExactVectorIndex(int64_t dimension, VectorMetric metric, torch::Dtype storage, torch::Device device)
    : dimension_(dimension), metric_(metric), storage_(storage), device_(device) {}

namespace {
torch::Tensor unitRows(const torch::Tensor& rows) {
  // torch.nn.functional.normalize's epsilon: a zero vector stays zero (similarity 0 to everything).
  return rows / torch::clamp(rows.norm(2, -1, true), 1e-12);
}
}  // namespace

void ExactVectorIndex::add(const torch::Tensor& rows) {
  auto incoming = rows.to(device_, torch::kFloat32);
  if (metric_ == VectorMetric::Cosine) incoming = unitRows(incoming);
  incoming = incoming.to(storage_).contiguous();
  int64_t offset = 0;
  const int64_t n = incoming.size(0);
  while (offset < n) {
    // Fill the last chunk up to kChunkRows before starting another, so many small adds still give few products.
    const int64_t lastRows = chunks_.empty() ? kChunkRows : chunks_.back().size(0);
    if (lastRows < kChunkRows) {
      const int64_t take = std::min(kChunkRows - lastRows, n - offset);
      chunks_.back() = torch::cat({chunks_.back(), incoming.narrow(0, offset, take)});
      offset += take;
    } else {
      const int64_t take = std::min(kChunkRows, n - offset);
      chunks_.push_back(incoming.narrow(0, offset, take).clone());
      offset += take;
    }
  }
  size_ += n;
}

std::pair<torch::Tensor, torch::Tensor> ExactVectorIndex::search(const torch::Tensor& queries, int64_t k) const {
  const int64_t q = queries.size(0);
  const int64_t kept = std::min(k, size_);
  auto allRows = torch::empty({q, kept}, torch::kInt64);
  auto allScores = torch::empty({q, kept}, torch::kFloat32);
  if (kept == 0 || q == 0) return {allRows, allScores};
  // Products in float32 on the CPU (its half-precision products are slow or missing); in the storage dtype on a GPU.
  const torch::Dtype compute = device_.is_cuda() ? storage_ : torch::kFloat32;
  auto all = queries.to(device_, torch::kFloat32);
  if (metric_ == VectorMetric::Cosine) all = unitRows(all);
  all = all.to(compute);
  for (int64_t start = 0; start < q; start += kQueryBlock) {
    auto block = all.narrow(0, start, std::min(kQueryBlock, q - start));
    std::vector<torch::Tensor> scores, rows;
    int64_t base = 0;
    for (const auto& chunk : chunks_) {
      auto similarity = torch::matmul(block, chunk.to(compute).t()).to(torch::kFloat32);
      auto [top, at] = similarity.topk(std::min(kept, chunk.size(0)), /*dim=*/1);
      scores.push_back(top);
      rows.push_back(at + base);
      base += chunk.size(0);
    }
    // Merge the chunks' candidates: the best k of their union is the best k of all rows.
    auto candidates = torch::cat(scores, 1), candidateRows = torch::cat(rows, 1);
    auto [top, at] = candidates.topk(kept, 1);
    allScores.narrow(0, start, block.size(0)).copy_(top.cpu());
    allRows.narrow(0, start, block.size(0)).copy_(candidateRows.gather(1, at).cpu());
  }
  return {allRows, allScores};
}

torch::Tensor ExactVectorIndex::stored() const {
  if (chunks_.empty()) return torch::empty({0, dimension_}, torch::TensorOptions().dtype(storage_));
  return torch::cat(chunks_).cpu().contiguous();
}

}  // namespace rr
