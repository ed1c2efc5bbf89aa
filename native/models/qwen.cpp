#include "models/qwen.h"
#include "kernels/cpu_gemm.h"
#include "kernels/packed_attention.h"
#include "layers/attention.h"
#include "layers/rope.h"
#include "models/encoder.h"

namespace rr {

namespace {
int64_t headDimOf(const ModelConfig& cfg) { return cfg.headDim > 0 ? cfg.headDim : cfg.hiddenSize / cfg.numAttentionHeads; }
int64_t kvHeadsOf(const ModelConfig& cfg) { return cfg.numKeyValueHeads > 0 ? cfg.numKeyValueHeads : cfg.numAttentionHeads; }
}  // namespace

QwenAttentionImpl::QwenAttentionImpl(const ModelConfig& cfg)
    : numHeads(cfg.numAttentionHeads), kvHeads(kvHeadsOf(cfg)), headDim(headDimOf(cfg)), dropout(cfg.attentionProbsDropoutProb) {
  auto linear = [&](int64_t in, int64_t out, bool bias) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias)); };
  qProj = register_module("q_proj", linear(cfg.hiddenSize, numHeads * headDim, cfg.qkvBias));
  kProj = register_module("k_proj", linear(cfg.hiddenSize, kvHeads * headDim, cfg.qkvBias));
  vProj = register_module("v_proj", linear(cfg.hiddenSize, kvHeads * headDim, cfg.qkvBias));
  oProj = register_module("o_proj", linear(numHeads * headDim, cfg.hiddenSize, cfg.attentionBias));
  if (cfg.qkNorm) {
    qNorm = register_module("q_norm", RmsNorm(headDim, cfg.layerNormEps));
    kNorm = register_module("k_norm", RmsNorm(headDim, cfg.layerNormEps));
  }
}

torch::Tensor QwenAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& cos, const torch::Tensor& sin,
                                         const torch::Tensor& additiveMask, const TokenPacking& packing) {
  const int64_t qWidth = numHeads * headDim, kvWidth = kvHeads * headDim;
  torch::Tensor q, k, v;
  if (qkvInt8.defined()) {
    auto joined = qkvInt8(hidden).split({qWidth, kvWidth, kvWidth}, -1);
    q = joined[0], k = joined[1], v = joined[2];
  } else {
    q = linearProduct(hidden, qProj->weight, qProj->bias);
    k = linearProduct(hidden, kProj->weight, kProj->bias);
    v = linearProduct(hidden, vProj->weight, vProj->bias);
  }
  auto leading = hidden.sizes().vec();
  leading.pop_back();
  auto heads = [&](const torch::Tensor& x) {
    auto shape = leading;
    shape.push_back(-1), shape.push_back(headDim);
    return x.reshape(shape);  // [..., heads, headDim]
  };
  q = heads(q), k = heads(k), v = heads(v);
  if (qNorm) q = qNorm(q), k = kNorm(k);
  // cos / sin have no head dimension: [..., 1, headDim] against [..., heads, headDim].
  q = applyRotary(q, cos.unsqueeze(-2), sin.unsqueeze(-2));
  k = applyRotary(k, cos.unsqueeze(-2), sin.unsqueeze(-2));
  torch::Tensor context;
  if (packing.active()) {
    const int64_t tokens = hidden.size(0);
    auto qkv = torch::cat({q.reshape({tokens, qWidth}), k.reshape({tokens, kvWidth}), v.reshape({tokens, kvWidth})}, 1);
    context = packedAttention(qkv, packing.rowStarts(), packing.rowLengths(), PackedAttentionShape{numHeads, kvHeads, headDim, -1, true});
  } else {
    const int64_t batch = hidden.size(0), length = hidden.size(1), group = numHeads / kvHeads;
    auto kh = k.transpose(1, 2), vh = v.transpose(1, 2);  // [batch, kvHeads, length, headDim]
    if (group > 1) kh = kh.repeat_interleave(group, 1), vh = vh.repeat_interleave(group, 1);  // HF's repeat_kv
    context = scaledDotProductAttention(q.transpose(1, 2), kh, vh, additiveMask, dropout, is_training())
                  .transpose(1, 2)
                  .reshape({batch, length, qWidth});
  }
  return oInt8.defined() ? oInt8(context) : linearProduct(context, oProj->weight, oProj->bias);
}

void QwenAttentionImpl::setInt8(bool on) {
  if (!on) {
    qkvInt8 = Int8Linear(), oInt8 = Int8Linear();
    return;
  }
  auto bias = qProj->bias.defined() ? torch::cat({qProj->bias, kProj->bias, vProj->bias}) : torch::Tensor();
  qkvInt8 = Int8Linear(torch::cat({qProj->weight, kProj->weight, vProj->weight}), bias);
  oInt8 = Int8Linear(oProj->weight, oProj->bias);
}

QwenDecoderLayerImpl::QwenDecoderLayerImpl(const ModelConfig& cfg) {
  selfAttn = register_module("self_attn", QwenAttention(cfg));
  mlp = register_module("mlp", SwigluMlp(cfg.hiddenSize, cfg.intermediateSize, cfg.hiddenAct));
  inputLayernorm = register_module("input_layernorm", RmsNorm(cfg.hiddenSize, cfg.layerNormEps));
  postAttentionLayernorm = register_module("post_attention_layernorm", RmsNorm(cfg.hiddenSize, cfg.layerNormEps));
}

torch::Tensor QwenDecoderLayerImpl::forward(const torch::Tensor& hidden, const torch::Tensor& cos, const torch::Tensor& sin,
                                            const torch::Tensor& additiveMask, const TokenPacking& packing) {
  auto x = hidden + selfAttn(inputLayernorm(hidden), cos, sin, additiveMask, packing);
  return x + mlp(postAttentionLayernorm(x));
}

QwenModelImpl::QwenModelImpl(const ModelConfig& cfg) : headDim(headDimOf(cfg)), ropeTheta(cfg.ropeTheta) {
  auto options = torch::nn::EmbeddingOptions(cfg.vocabSize, cfg.hiddenSize);
  if (cfg.padTokenId >= 0 && cfg.padTokenId < cfg.vocabSize) options.padding_idx(cfg.padTokenId);
  embedTokens = register_module("embed_tokens", torch::nn::Embedding(options));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.numHiddenLayers; ++i) layers->push_back(QwenDecoderLayer(cfg));
  norm = register_module("norm", RmsNorm(cfg.hiddenSize, cfg.layerNormEps));
}

torch::Tensor QwenModelImpl::forward(const torch::Tensor& inputIds, const torch::Tensor& attentionMask) {
  auto hidden = embedTokens(inputIds);
  // Inference on the CPU in float32: the real tokens only, left padding or right (the packed kernel is causal and
  // shares K/V heads). Training, and other dtypes and devices, run padded.
  const bool grad = torch::GradMode::is_enabled();
  const TokenPacking packing = packedAttentionApplies(hidden) && !grad ? TokenPacking::plan(attentionMask, 2.0, true) : TokenPacking();
  torch::Tensor positions, mask;
  if (packing.active()) {
    hidden = packing.pack(hidden);
    positions = packing.positions().to(hidden.device());
  } else {
    // Each row's tokens counted from its first real one (HF passes arange(length) for every row; RoPE depends only
    // on i - j, so the scores agree to rounding), pads at 0.
    auto real = attentionMask.ne(0).to(torch::kInt64);
    positions = (real.cumsum(1) - 1).clamp_min(0);
    mask = windowedAttentionMask(attentionMask, hidden.scalar_type(), -1, true);
  }
  auto [cos, sin] = rotaryTables(positions.reshape({-1}), headDim, ropeTheta);
  if (!packing.active()) cos = cos.view({inputIds.size(0), inputIds.size(1), headDim}), sin = sin.view({inputIds.size(0), inputIds.size(1), headDim});
  for (auto& layer : *layers) hidden = layer->as<QwenDecoderLayer>()->forward(hidden, cos, sin, mask, packing);
  // Only the last real token is read: normalise that one.
  if (packing.active()) return norm(packing.lastTokens(hidden).squeeze(1));
  const int64_t length = inputIds.size(1);
  auto last = (torch::arange(length, attentionMask.options().dtype(torch::kInt64)).unsqueeze(0) * attentionMask.ne(0)).argmax(1);
  return norm(hidden.gather(1, last.view({-1, 1, 1}).expand({-1, 1, hidden.size(2)})).squeeze(1));
}

void QwenModelImpl::setInt8(bool on) {
  for (auto& layer : *layers) {
    auto* l = layer->as<QwenDecoderLayer>();
    l->selfAttn->setInt8(on);
    l->mlp->setInt8(on);
  }
}

}  // namespace rr
