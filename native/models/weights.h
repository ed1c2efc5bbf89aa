// Moving a model's parameters in and out of Hugging Face safetensors files.
#pragma once
#include <map>
#include <string>
#include <vector>
#include "models/model.h"

namespace rr {

struct LoadReport {
  std::vector<std::string> unexpected;     // in the file, not in the model (ignored, as HF does)
  std::vector<std::string> initialized;    // head parameters the file lacks, left at their fresh initialisation
};

// Copies the file's tensors into the model (converting F16/BF16 to the model's dtype). Missing encoder
// tensors and shape mismatches are one error that lists every name; a missing classification head is
// allowed (fine-tuning from a base model) and reported.
LoadReport loadWeights(CrossEncoder& model, const std::string& path);
// The same over a sharded checkpoint's files (model-0000N-of-0000M.safetensors, as model.safetensors.index.json lists them).
LoadReport loadWeights(CrossEncoder& model, const std::vector<std::string>& paths);

void saveWeights(CrossEncoder& model, const std::string& path, const std::map<std::string, std::string>& metadata);

}  // namespace rr
