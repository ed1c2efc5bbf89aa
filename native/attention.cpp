#include "attention.h"
#include <cmath>
#include <sstream>
#include <stdexcept>
#include "cpu_gemm.h"
#include "dropout.h"
#include "packed_attention.h"
#include "residual_norm.h"

namespace rr {

std::string configureAttentionBackends(const char* spec) {
  // Default: LibTorch's choice without cuDNN attention, which builds an execution plan for every new
  // sequence length (tens of ms on an H200, seen in scripts/bench/gpu_probe.py) while batches padded to
  // their longest pair change length nearly every step; the memory-efficient kernel has no such cost.
  bool flash = false, efficient = false, cudnn = false, math = false;
  std::string list = spec == nullptr || *spec == '\0' ? "flash,efficient,math" : spec, name;
  std::stringstream in(list);
  while (std::getline(in, name, ',')) {
    if (name == "flash") flash = true;
    else if (name == "efficient") efficient = true;
    else if (name == "cudnn") cudnn = true;
    else if (name == "math") math = true;
    else throw std::invalid_argument("RRNATIVE_SDPA: unknown attention backend '" + name + "' (flash, efficient, cudnn, math)");
  }
#if TORCH_VERSION_MAJOR >= 2
  at::globalContext().setSDPUseFlash(flash);
  at::globalContext().setSDPUseMemEfficient(efficient);
  at::globalContext().setSDPUseMath(math);
#if TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 4
  at::globalContext().setSDPUseCuDNN(cudnn);
#endif
#endif
  (void)flash, (void)efficient, (void)cudnn, (void)math;
  return list;
}

torch::Tensor scaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& additiveMask, double dropout, bool training) {
  const bool dropping = training && dropout > 0.0;
#if (TORCH_VERSION_MAJOR >= 2)
  // Fused kernels (flash / memory-efficient on CUDA, a blocked kernel on CPU). Not for CPU training with
  // dropout: there SDPA falls back to its math path with LibTorch's slow CPU dropout (native/dropout.h).
  if (!(dropping && q.device().is_cpu())) {
    return at::scaled_dot_product_attention(q, k, v, additiveMask, dropping ? dropout : 0.0, false);
  }
#endif
  // HF's eager formula (LibTorch 1.x has no SDPA), softmax in the input dtype. The scale goes on q, whose copy
  // the product needs anyway (q is a strided view of the joined QKV), rather than on the L×L scores, and the mask
  // is added in place: two fewer passes over the largest tensor of the layer.
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = torch::matmul(q * scale, k.transpose(-1, -2));
  scores.add_(additiveMask);
  auto probs = torch::softmax(scores, -1);
  return torch::matmul(rr::dropout(probs, dropout, dropping), v);
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const ModelConfig& cfg)
    : numHeads(cfg.numAttentionHeads), headDim(cfg.hiddenSize / cfg.numAttentionHeads),
      dropout(cfg.attentionProbsDropoutProb) {
  query = register_module("query", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  key = register_module("key", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  value = register_module("value", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                            const TokenPacking& packing) {
  const int64_t batch = packing.active() ? packing.batch() : hidden.size(0);
  const int64_t length = packing.active() ? packing.length() : hidden.size(1);
  auto heads = [&](const torch::Tensor& x) { return x.view({batch, length, numHeads, headDim}).transpose(1, 2); };
  // Q, K and V as one [hidden -> 3 x hidden] product: one larger GEMM instead of three small ones (forward and
  // backward), and under autocast one cast of `hidden` instead of three. The parameters stay HF's three Linears;
  // joining their weights costs a copy of 3 x hidden^2 values per forward.
  torch::Tensor qkv;
  if (qkvInt8.defined()) {
    qkv = qkvInt8(hidden);
  } else {
    auto joined = joinedQkv();
    qkv = linearProduct(hidden, joined.first, joined.second);
  }
  if (packing.active() && packedAttentionApplies(qkv)) {
    const bool dropping = is_training() && dropout > 0.0;
    if (dropping || (torch::GradMode::is_enabled() && qkv.requires_grad()))
      return packedAttentionTraining(qkv, packing.rowStarts(), packing.rowLengths(), numHeads, dropping ? dropout : 0.0);
    return packedAttention(qkv, packing.rowStarts(), packing.rowLengths(), numHeads);
  }
  if (packing.active()) qkv = packing.unpack(qkv);  // the padded attention needs the [batch, length] layout
  auto parts = qkv.chunk(3, -1);
  auto context = scaledDotProductAttention(heads(parts[0]), heads(parts[1]), heads(parts[2]), additiveMask, dropout, is_training())
                     .transpose(1, 2)
                     .reshape({batch, length, numHeads * headDim});
  return packing.active() ? packing.pack(context) : context;
}

std::pair<torch::Tensor, torch::Tensor> BertSelfAttentionImpl::joinedQkv() const {
  return {torch::cat({query->weight, key->weight, value->weight}), torch::cat({query->bias, key->bias, value->bias})};
}

void BertSelfAttentionImpl::setInt8(bool on) {
  if (!on) {
    qkvInt8 = Int8Linear();
    return;
  }
  auto joined = joinedQkv();
  qkvInt8 = Int8Linear(joined.first, joined.second);
}

BertSelfOutputImpl::BertSelfOutputImpl(const ModelConfig& cfg) : dropout(cfg.hiddenDropoutProb) {
  dense = register_module("dense", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  layerNorm = register_module("LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.hiddenSize}).eps(cfg.layerNormEps)));
}

torch::Tensor BertSelfOutputImpl::forward(const torch::Tensor& hidden, const torch::Tensor& residual) {
  if (!is_training() && residualLayerNormApplies(hidden)) {  // bias, residual and norm in one pass
    if (denseInt8.defined()) return residualLayerNorm(denseInt8(hidden), torch::Tensor(), residual, layerNorm, true);
    return residualLayerNorm(linearProduct(hidden, dense->weight, torch::Tensor()), dense->bias, residual, layerNorm, true);
  }
  auto x = rr::dropout(denseInt8.defined() ? denseInt8(hidden) : linearProduct(hidden, dense->weight, dense->bias), dropout, is_training());
  return layerNorm(x + residual);
}

void BertSelfOutputImpl::setInt8(bool on) { denseInt8 = on ? Int8Linear(dense->weight, dense->bias) : Int8Linear(); }

BertAttentionImpl::BertAttentionImpl(const ModelConfig& cfg) {
  self = register_module("self", BertSelfAttention(cfg));
  output = register_module("output", BertSelfOutput(cfg));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                        const TokenPacking& packing) {
  return output(self(hidden, additiveMask, packing), hidden);
}

DisentangledSelfAttentionImpl::DisentangledSelfAttentionImpl(const ModelConfig& cfg)
    : numHeads(cfg.numAttentionHeads), headDim(cfg.hiddenSize / cfg.numAttentionHeads),
      span(cfg.positionBuckets > 0 ? cfg.positionBuckets
                                   : (cfg.maxRelativePositions > 0 ? cfg.maxRelativePositions : cfg.maxPositionEmbeddings)),
      c2p(cfg.relativeAttention && cfg.c2p), p2c(cfg.relativeAttention && cfg.p2c),
      dropout(cfg.attentionProbsDropoutProb), posDropout(cfg.hiddenDropoutProb) {
  queryProj = register_module("query_proj", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  keyProj = register_module("key_proj", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  valueProj = register_module("value_proj", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  if (cfg.relativeAttention && !cfg.shareAttKey) {
    if (c2p) posKeyProj = register_module("pos_key_proj", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
    if (p2c) posQueryProj = register_module("pos_query_proj", torch::nn::Linear(cfg.hiddenSize, cfg.hiddenSize));
  }
}

torch::Tensor DisentangledSelfAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                                     const torch::Tensor& relativePositions, const torch::Tensor& relEmbeddings) {
  const int64_t batch = hidden.size(0), length = hidden.size(1);
  auto heads = [&](const torch::Tensor& x, int64_t rows) { return x.view({-1, rows, numHeads, headDim}).transpose(1, 2); };
  auto project = [&](torch::nn::Linear& linear, const Int8Linear& int8) {
    return heads(int8.defined() ? int8(hidden) : linearProduct(hidden, linear->weight, linear->bias), length);
  };
  auto q = project(queryProj, queryInt8), k = project(keyProj, keyInt8), v = project(valueProj, valueInt8);
  const double scaleFactor = 1 + (c2p ? 1 : 0) + (p2c ? 1 : 0);
  // HF computes the scale as a float32 tensor: sqrt(head_dim * scale_factor).
  const double scale = static_cast<double>(std::sqrt(static_cast<float>(headDim * scaleFactor)));
  auto scores = torch::matmul(q, k.transpose(-1, -2) / scale);

  if (c2p || p2c) {
    auto rel = rr::dropout(relEmbeddings.slice(0, 0, 2 * span), posDropout, is_training());
    const int64_t relRows = rel.size(0);
    auto expandIndex = [&](const torch::Tensor& index) { return index.unsqueeze(0).unsqueeze(0).expand({batch, numHeads, length, length}); };
    if (c2p) {
      auto posKey = heads(posKeyProj ? posKeyProj(rel) : keyProj(rel), relRows);            // [1, H, 2span, D]
      auto c2pIndex = torch::clamp(relativePositions + span, 0, 2 * span - 1);
      auto c2pScores = torch::matmul(q, posKey.transpose(-1, -2)).gather(-1, expandIndex(c2pIndex));
      scores = scores + c2pScores / scale;
    }
    if (p2c) {
      auto posQuery = heads(posQueryProj ? posQueryProj(rel) : queryProj(rel), relRows);  // [1, H, 2span, D]
      auto p2cIndex = torch::clamp(-relativePositions + span, 0, 2 * span - 1);
      auto p2cScores = torch::matmul(k, posQuery.transpose(-1, -2)).gather(-1, expandIndex(p2cIndex)).transpose(-1, -2);
      scores = scores + p2cScores / scale;
    }
  }
  auto probs = torch::softmax(scores + additiveMask, -1);
  probs = rr::dropout(probs, dropout, is_training());
  return torch::matmul(probs, v).transpose(1, 2).reshape({batch, length, numHeads * headDim});
}

void DisentangledSelfAttentionImpl::setInt8(bool on) {
  queryInt8 = on ? Int8Linear(queryProj->weight, queryProj->bias) : Int8Linear();
  keyInt8 = on ? Int8Linear(keyProj->weight, keyProj->bias) : Int8Linear();
  valueInt8 = on ? Int8Linear(valueProj->weight, valueProj->bias) : Int8Linear();
}

DebertaAttentionImpl::DebertaAttentionImpl(const ModelConfig& cfg) {
  self = register_module("self", DisentangledSelfAttention(cfg));
  output = register_module("output", BertSelfOutput(cfg));
}

torch::Tensor DebertaAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                            const torch::Tensor& relativePositions, const torch::Tensor& relEmbeddings) {
  return output(self(hidden, additiveMask, relativePositions, relEmbeddings), hidden);
}

}  // namespace rr
