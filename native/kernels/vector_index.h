// Exact nearest-neighbour search over stored vectors: the similarity of every stored vector to each query, in
// chunks (a matrix product per chunk of rows and block of queries), and the top k merged across chunks. Memory per
// step is bounded by the chunk and block sizes, not the corpus: exact up to a few hundred thousand documents
// on one machine. Vectors are stored in float32 or float16 (half the memory; on the CPU a chunk is widened to
// float32 for its product). Cosine similarity stores unit vectors and normalizes the queries.
#pragma once
#include <torch/torch.h>
#include <cstdint>
#include <vector>

namespace rr {

enum class VectorMetric { Cosine, Dot };

class ExactVectorIndex {
 public:
  ExactVectorIndex(int64_t dimension, VectorMetric metric, torch::Dtype storage, torch::Device device);
  // Appends rows [n, dimension] (float32, or float16 stored bits); cosine indexes normalize them first.
  void add(const torch::Tensor& rows);
  // The k best stored rows for each query [q, dimension]: row numbers int64 [q, k'] and similarities float32
  // [q, k'], best first, k' = min(k, size()).
  std::pair<torch::Tensor, torch::Tensor> search(const torch::Tensor& queries, int64_t k) const;
  // The stored vectors [size(), dimension] in the storage dtype, on the CPU (what an index file holds).
  torch::Tensor stored() const;
  int64_t size() const { return size_; }
  int64_t dimension() const { return dimension_; }

  // Rows per product: 16,384 × 384 float32 is 25 MB, a block of 256 queries' scores 16 MB.
  static constexpr int64_t kChunkRows = 16384;
  static constexpr int64_t kQueryBlock = 256;

 private:
  int64_t dimension_;
  VectorMetric metric_;
  torch::Dtype storage_;
  torch::Device device_;
  std::vector<torch::Tensor> chunks_;  // each at most kChunkRows rows; only the last one is partly filled
  int64_t size_ = 0;
};

}  // namespace rr
