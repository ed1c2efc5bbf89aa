// Bounds-checked safetensors reading and writing.
#pragma once
#include <torch/torch.h>
#include <map>
#include <string>
#include <vector>

namespace rr {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets inside the data section
};

struct SafetensorsHeader {
  std::string path;
  uint64_t dataStart = 0;  // 8 + header length
  uint64_t dataSize = 0;
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
  const SafetensorsEntry* find(const std::string& name) const;
};

// Reads and validates the header: length, JSON, dtypes, shapes, offsets inside the file, no overlaps.
// Every failure is a std::runtime_error naming the file (and the tensor, where one is at fault).
SafetensorsHeader readSafetensorsHeader(const std::string& path);

// Reads one tensor's bytes into a CPU tensor of its stored dtype.
torch::Tensor readSafetensor(const SafetensorsHeader& header, const SafetensorsEntry& entry);

// Writes the tensors (moved to CPU, contiguous) in the given order, with string metadata.
void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata);

}  // namespace rr
