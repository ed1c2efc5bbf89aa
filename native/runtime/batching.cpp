#include "runtime/batching.h"
#include <algorithm>
#include <limits>
#include <numeric>

namespace rr {

std::vector<int64_t> rowLengths(const std::vector<int32_t>& attentionMask, int64_t batch, int64_t length) {
  std::vector<int64_t> out(static_cast<size_t>(batch), 1);
  for (int64_t r = 0; r < batch; ++r)
    for (int64_t c = length; c > 0; --c)
      if (attentionMask[static_cast<size_t>(r * length + c - 1)] != 0) {
        out[static_cast<size_t>(r)] = c;
        break;
      }
  return out;
}

std::vector<int64_t> rowsByLength(const std::vector<int64_t>& rowLengths) {
  std::vector<int64_t> order(rowLengths.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return rowLengths[a] < rowLengths[b]; });
  return order;
}

std::vector<LengthSlice> planLengthSlices(const std::vector<int64_t>& rowLengths, int64_t maxSlices, double perSliceCost) {
  const int64_t n = static_cast<int64_t>(rowLengths.size());
  const std::vector<int64_t> order = rowsByLength(rowLengths);
  const int64_t k = std::max<int64_t>(1, std::min(maxSlices, n));
  // best[s][i]: least cost of the first i sorted rows in s slices; the last slice [j, i) pads to row i-1's length.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(static_cast<size_t>(k + 1), std::vector<double>(static_cast<size_t>(n + 1), inf));
  std::vector<std::vector<int64_t>> cut(static_cast<size_t>(k + 1), std::vector<int64_t>(static_cast<size_t>(n + 1), 0));
  best[0][0] = 0;
  for (int64_t s = 1; s <= k; ++s) {
    for (int64_t i = 1; i <= n; ++i) {
      const double longest = static_cast<double>(rowLengths[order[i - 1]]);
      for (int64_t j = s - 1; j < i; ++j) {
        if (best[s - 1][j] == inf) continue;
        const double cost = best[s - 1][j] + longest * static_cast<double>(i - j) + (s > 1 ? perSliceCost : 0.0);
        if (cost < best[s][i]) best[s][i] = cost, cut[s][i] = j;
      }
    }
  }
  int64_t slices = 1;
  for (int64_t s = 2; s <= k; ++s)
    if (best[s][n] < best[slices][n]) slices = s;
  std::vector<LengthSlice> out(static_cast<size_t>(slices));
  for (int64_t s = slices, i = n; s >= 1; --s) {
    const int64_t j = cut[s][i];
    LengthSlice& slice = out[static_cast<size_t>(s - 1)];
    slice.rows.assign(order.begin() + j, order.begin() + i);
    slice.length = n == 0 ? 0 : rowLengths[order[i - 1]];
    i = j;
  }
  return out;
}

}  // namespace rr
