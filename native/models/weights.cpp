#include "models/weights.h"
#include <sstream>
#include <stdexcept>
#include <tuple>
#include "runtime/safetensors.h"

namespace rr {

namespace {

bool startsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Names a checkpoint may use for one of our parameters: the canonical one, the base-model one without the
// "bert." prefix, and the old TensorFlow-converted LayerNorm gamma/beta.
std::vector<std::string> candidateNames(const std::string& name, const std::string& basePrefix) {
  std::vector<std::string> names{name};
  if (startsWith(name, basePrefix)) names.push_back(name.substr(basePrefix.size()));
  const size_t n = names.size();
  for (size_t i = 0; i < n; ++i) {
    if (endsWith(names[i], "LayerNorm.weight")) names.push_back(names[i].substr(0, names[i].size() - 6) + "gamma");
    if (endsWith(names[i], "LayerNorm.bias")) names.push_back(names[i].substr(0, names[i].size() - 4) + "beta");
  }
  return names;
}

std::string joinNames(const std::vector<std::string>& names) {
  std::ostringstream out;
  for (size_t i = 0; i < names.size(); ++i) out << (i ? ", " : "") << names[i];
  return out.str();
}

}  // namespace

LoadReport loadWeights(CrossEncoder& model, const std::string& path) { return loadWeights(model, std::vector<std::string>{path}); }

LoadReport loadWeights(CrossEncoder& model, const std::vector<std::string>& paths) {
  if (paths.empty()) throw std::runtime_error("loadWeights: no safetensors file given");
  std::vector<SafetensorsHeader> headers;
  for (const auto& p : paths) headers.push_back(readSafetensorsHeader(p));
  const std::string path = paths.size() == 1 ? paths[0] : paths[0] + " (and " + std::to_string(paths.size() - 1) + " more shards)";
  // A tensor's entry and the shard holding it; a name in two shards is an error, not a silent pick.
  std::map<std::string, std::pair<const SafetensorsHeader*, const SafetensorsEntry*>> byName;
  for (const auto& h : headers)
    for (const auto& e : h.entries)
      if (!byName.emplace(e.name, std::make_pair(&h, &e)).second)
        throw std::runtime_error(h.path + ": tensor " + e.name + " is also in " + byName[e.name].first->path);
  const std::string basePrefix = model.basePrefix();
  std::vector<std::string> missing, mismatched;
  std::map<std::string, bool> used;
  std::vector<std::pair<torch::Tensor, std::pair<const SafetensorsHeader*, const SafetensorsEntry*>>> assignments;
  LoadReport report;

  for (auto& [name, param] : model.namedParameters()) {
    const SafetensorsEntry* entry = nullptr;
    const SafetensorsHeader* shard = nullptr;
    for (const auto& candidate : candidateNames(name, basePrefix)) {
      auto found = byName.find(candidate);
      if (found != byName.end()) {
        std::tie(shard, entry) = found->second;
        break;
      }
    }
    if (!entry) {
      // A base-model checkpoint has no head: the head (and DeBERTa's pooler) start fresh, as in HF.
      // ModernBERT's head and Qwen's score head likewise (a ModernBertModel or Qwen3ForCausalLM checkpoint).
      if (startsWith(name, "classifier.") || startsWith(name, "pooler.") || startsWith(name, "head.") || startsWith(name, "score."))
        report.initialized.push_back(name);
      else missing.push_back(name);
      continue;
    }
    used[entry->name] = true;
    if (entry->dtype != "F32" && entry->dtype != "F16" && entry->dtype != "BF16" && entry->dtype != "F64") {
      mismatched.push_back(name + " (dtype " + entry->dtype + ", expected a float type)");
      continue;
    }
    if (entry->shape != param.sizes().vec()) {
      std::ostringstream shape;
      shape << name << " (file " << c10::IntArrayRef(entry->shape) << ", model " << param.sizes() << ")";
      mismatched.push_back(shape.str());
      continue;
    }
    assignments.emplace_back(param, std::make_pair(shard, entry));
  }
  if (!missing.empty() || !mismatched.empty()) {
    std::string message = path + ": the checkpoint does not fit the model.";
    if (!missing.empty()) message += " Missing tensors: " + joinNames(missing) + ".";
    if (!mismatched.empty()) message += " Mismatched tensors: " + joinNames(mismatched) + ".";
    throw std::runtime_error(message);
  }
  torch::NoGradGuard noGrad;
  for (auto& [param, at] : assignments) param.copy_(readSafetensor(*at.first, *at.second));
  for (const auto& h : headers)
    for (const auto& e : h.entries)
      if (!used.count(e.name)) report.unexpected.push_back(e.name);
  return report;
}

void saveWeights(CrossEncoder& model, const std::string& path, const std::map<std::string, std::string>& metadata) {
  writeSafetensors(path, model.namedParameters(), metadata);
}

}  // namespace rr
