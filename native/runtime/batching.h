// Length slices of a padded training batch. Grouped losses (listwise_ce: a query's 16 candidates in one batch)
// pad every candidate to the longest of the whole batch; on the bundled data that wastes ~60% of a 256-pair
// batch's work at max_length 256. Forwarding the rows sorted by length in a few slices, each padded only to its
// own longest row, computes the same logits (padding never changes a real token's output) with less work.
#pragma once
#include <cstdint>
#include <vector>

namespace rr {

struct LengthSlice {
  std::vector<int64_t> rows;  // rows of the batch, shortest first
  int64_t length = 0;         // the longest of them
};

// Each row's length in a right-padded [batch, length] attention mask: up to its last attended token (at least 1).
std::vector<int64_t> rowLengths(const std::vector<int32_t>& attentionMask, int64_t batch, int64_t length);

// Row indices sorted by length, shortest first; rows of equal length keep their order.
std::vector<int64_t> rowsByLength(const std::vector<int64_t>& rowLengths);

// The rows, sorted by length, cut into at most `maxSlices` runs that minimise the padded tokens
// (Σ rows × longest) plus `perSliceCost` tokens for every slice after the first (the overhead of one more
// forward). One slice holding every row when cutting saves nothing.
std::vector<LengthSlice> planLengthSlices(const std::vector<int64_t>& rowLengths, int64_t maxSlices, double perSliceCost);

}  // namespace rr
