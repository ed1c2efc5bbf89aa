#include "runtime/optimizer.h"
#include <ATen/CPUGeneratorImpl.h>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include "layers/norms.h"
#include "runtime/safetensors.h"

namespace rr {

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> params) {
  for (auto& [name, param] : params) {
    const bool isBias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    // As the HF Trainer's get_decay_parameter_names: biases and norms keep their values.
    slots_.push_back({name, param, torch::Tensor(), torch::Tensor(), !(isBias || isNormParameter(name))});
  }
}

// at::_fused_adamw_ and the Tensor overloads of the foreach ops are in every LibTorch from 2.2 on.
#define RR_HAVE_FUSED_ADAMW (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2))

torch::Tensor AdamW::step(const AdamWStep& o) {
  torch::NoGradGuard noGrad;
  bool anyGrad = false;
  for (auto& s : slots_) anyGrad = anyGrad || s.param.grad().defined();
  if (!anyGrad) throw std::runtime_error("optimizer step without gradients: run a training step first");
  ++steps_;
#if RR_HAVE_FUSED_ADAMW
  if (slots_.front().param.is_cuda()) return fusedStep(o);
#endif
  return referenceStep(o);
}

namespace {

// One parameter's clip + AdamW update + zeroed gradient in a single pass over its four float32 arrays, with
// referenceStep's float operations in its order (ATen's lerp, addcmul and addcdiv formulas). The per-tensor ops
// make about 12 passes over memory, some through fresh temporaries: on the 2-core machine a MiniLM update took
// ~105 ms that way, ~83 ms in one pass.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
void adamwUpdate(float* __restrict param, float* __restrict grad, float* __restrict expAvg, float* __restrict expAvgSq,
                 int64_t count, float clip, float decayFactor, float beta1Weight, float beta2, float oneMinusBeta2,
                 float biasCorrection2Sqrt, float eps, float negStepSize) {
  const bool lerpFromStart = beta1Weight < 0.5f;  // ATen's lerp: the formula depends on the weight's side of 0.5
  for (int64_t i = 0; i < count; ++i) {
    const float g = grad[i] * clip;
    const float p = param[i] * decayFactor;
    const float m = lerpFromStart ? expAvg[i] + beta1Weight * (g - expAvg[i]) : g - (g - expAvg[i]) * (1.0f - beta1Weight);
    const float v = expAvgSq[i] * beta2 + oneMinusBeta2 * g * g;
    const float denom = std::sqrt(v) / biasCorrection2Sqrt + eps;
    param[i] = p + negStepSize * (m / denom);
    expAvg[i] = m;
    expAvgSq[i] = v;
    grad[i] = 0.0f;
  }
}

bool onePassUpdate(const torch::Tensor& param, const torch::Tensor& grad, const torch::Tensor& expAvg, const torch::Tensor& expAvgSq) {
  for (const auto* t : {&param, &grad, &expAvg, &expAvgSq})
    if (!t->device().is_cpu() || t->scalar_type() != torch::kFloat32 || !t->is_contiguous()) return false;
  return true;
}

}  // namespace

torch::Tensor AdamW::referenceStep(const AdamWStep& o) {
  std::vector<torch::Tensor> norms;
  for (auto& s : slots_)
    if (s.param.grad().defined()) norms.push_back(s.param.grad().detach().norm(2).to(torch::kFloat32));
  auto totalNorm = torch::stack(norms).norm(2);
  // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6), never up.
  torch::Tensor clip;
  if (o.maxGradNorm > 0) clip = (o.maxGradNorm / (totalNorm + 1e-6)).clamp_max(1.0);
  const double biasCorrection1 = 1.0 - std::pow(o.beta1, static_cast<double>(steps_));
  const double biasCorrection2Sqrt = std::sqrt(1.0 - std::pow(o.beta2, static_cast<double>(steps_)));
  const double stepSize = o.lr / biasCorrection1;
  for (auto& s : slots_) {
    auto grad = s.param.grad();
    if (!grad.defined()) continue;
    if (!s.expAvg.defined()) {
      s.expAvg = torch::zeros_like(s.param, torch::MemoryFormat::Preserve);
      s.expAvgSq = torch::zeros_like(s.param, torch::MemoryFormat::Preserve);
    }
    const double decayFactor = s.decay && o.weightDecay != 0 ? 1.0 - o.lr * o.weightDecay : 1.0;
    if (onePassUpdate(s.param, grad, s.expAvg, s.expAvgSq)) {
      adamwUpdate(s.param.data_ptr<float>(), grad.data_ptr<float>(), s.expAvg.data_ptr<float>(), s.expAvgSq.data_ptr<float>(),
                  s.param.numel(), clip.defined() ? clip.item<float>() : 1.0f, static_cast<float>(decayFactor),
                  static_cast<float>(1.0 - o.beta1), static_cast<float>(o.beta2), static_cast<float>(1.0 - o.beta2),
                  static_cast<float>(biasCorrection2Sqrt), static_cast<float>(o.eps), static_cast<float>(-stepSize));
      continue;
    }
    if (clip.defined()) grad.mul_(clip.to(grad.dtype()));
    if (decayFactor != 1.0) s.param.mul_(decayFactor);
    s.expAvg.lerp_(grad, 1.0 - o.beta1);
    s.expAvgSq.mul_(o.beta2).addcmul_(grad, grad, 1.0 - o.beta2);
    auto denom = (s.expAvgSq.sqrt() / biasCorrection2Sqrt).add_(o.eps);
    s.param.addcdiv_(s.expAvg, denom, -stepSize);
    grad.zero_();
  }
  return totalNorm;
}

#if RR_HAVE_FUSED_ADAMW
namespace {
// The same update as AdamW::referenceStep (torch.optim.AdamW(fused=True)), in a handful of launches instead of
// ~8 per parameter: at BERT-base's 200 tensors the per-parameter launches alone outlast a GPU step. `lr`: a
// number, or a 0-dim tensor (the overload from LibTorch 2.4).
template <typename Lr>
torch::Tensor fusedClipAndUpdate(const AdamW::FusedTensors& t, const Lr& lr, const AdamWStep& o) {
  auto totalNorm = torch::stack(at::_foreach_norm(t.allGrads, 2)).norm(2).to(torch::kFloat32);
  if (o.maxGradNorm > 0) at::_foreach_mul_(t.allGrads, (o.maxGradNorm / (totalNorm + 1e-6)).clamp_max(1.0));
  for (int group = 0; group < 2; ++group) {
    if (t.params[group].empty()) continue;
    std::vector<torch::Tensor> steps(t.params[group].size(), t.deviceStep);  // the kernel's bias corrections
    at::_fused_adamw_(t.params[group], t.grads[group], t.expAvgs[group], t.expAvgSqs[group], /*max_exp_avg_sqs=*/{},
                      steps, lr, o.beta1, o.beta2, group == 0 ? o.weightDecay : 0.0, o.eps, /*amsgrad=*/false,
                      /*maximize=*/false);
  }
  at::_foreach_zero_(t.allGrads);
  return totalNorm;
}
}  // namespace
#endif

torch::Tensor AdamW::fusedStep(const AdamWStep& o) {
#if RR_HAVE_FUSED_ADAMW
  return fusedClipAndUpdate(fusedTensors(), o.lr, o);
#else
  return referenceStep(o);
#endif
}

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
torch::Tensor AdamW::fusedUpdate(const FusedTensors& t, const torch::Tensor& lr, const AdamWStep& o) {
  return fusedClipAndUpdate(t, lr, o);
}
#endif

AdamW::FusedTensors AdamW::fusedTensors() {
  torch::NoGradGuard noGrad;
  FusedTensors t;
  for (auto& s : slots_) {
    if (!s.param.grad().defined()) continue;
    if (!s.expAvg.defined()) {
      s.expAvg = torch::zeros_like(s.param, torch::MemoryFormat::Preserve);
      s.expAvgSq = torch::zeros_like(s.param, torch::MemoryFormat::Preserve);
    }
    const int group = s.decay ? 0 : 1;
    t.params[group].push_back(s.param);
    t.grads[group].push_back(s.param.grad());
    t.expAvgs[group].push_back(s.expAvg);
    t.expAvgSqs[group].push_back(s.expAvgSq);
    t.allGrads.push_back(s.param.grad());
  }
  if (t.allGrads.empty()) throw std::runtime_error("optimizer step without gradients: run a training step first");
  if (!deviceStep_.defined())
    deviceStep_ = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(slots_.front().param.device()));
  deviceStep_.fill_(static_cast<double>(steps_));
  t.deviceStep = deviceStep_;
  return t;
}

void AdamW::save(const std::string& path) const {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& s : slots_) {
    if (!s.expAvg.defined()) continue;
    tensors.emplace_back("exp_avg." + s.name, s.expAvg);
    tensors.emplace_back("exp_avg_sq." + s.name, s.expAvgSq);
  }
  tensors.emplace_back("rng.cpu", cpuRngState());
  writeSafetensors(path, tensors, {{"format", "rrnative-optimizer"}, {"step", std::to_string(steps_)}});
}

void AdamW::load(const std::string& path) {
  const SafetensorsHeader header = readSafetensorsHeader(path);
  auto stepIt = header.metadata.find("step");
  if (stepIt == header.metadata.end()) throw std::runtime_error(path + ": not an optimizer state file (no step)");
  torch::NoGradGuard noGrad;
  for (auto& s : slots_) {
    const SafetensorsEntry* avg = header.find("exp_avg." + s.name);
    const SafetensorsEntry* avgSq = header.find("exp_avg_sq." + s.name);
    if (!avg || !avgSq) {
      s.expAvg = s.expAvgSq = torch::Tensor();
      continue;
    }
    if (avg->shape != s.param.sizes().vec() || avgSq->shape != s.param.sizes().vec())
      throw std::runtime_error(path + ": optimizer state for '" + s.name + "' does not match the model's shape");
    s.expAvg = readSafetensor(header, *avg).to(s.param.device(), s.param.scalar_type());
    s.expAvgSq = readSafetensor(header, *avgSq).to(s.param.device(), s.param.scalar_type());
  }
  steps_ = std::stoll(stepIt->second);
  if (const SafetensorsEntry* rng = header.find("rng.cpu")) setCpuRngState(readSafetensor(header, *rng));
}

torch::Tensor cpuRngState() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void setCpuRngState(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace rr
