// N-API surface of the addon. Mirrors src/native.ts, which declares these types for TypeScript.
// Arguments are validated in TypeScript; the checks here only keep bad calls from crashing the process.
#include <napi.h>
#include <ATen/record_function.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include "kernels/bias_gelu.h"
#include "kernels/cpu_gemm.h"
#include "kernels/cpu_threads.h"
#include "kernels/int8_linear.h"
#include "kernels/packed_attention.h"
#include "kernels/residual_norm.h"
#include "kernels/vector_index.h"
#include "layers/dropout.h"
#include "layers/packing.h"
#include "layers/pooling.h"
#include "models/model.h"
#include "models/weights.h"
#include "runtime/batching.h"
#include "runtime/distributed.h"
#include "runtime/graphs.h"
#include "runtime/losses.h"
#include "runtime/optimizer.h"
#include "runtime/precision.h"
#include "runtime/profiler.h"
#include "runtime/worker.h"

namespace rr {

namespace {

struct AddonData {
  std::unique_ptr<TorchThread> torchThread;
  Napi::FunctionReference crossEncoderClass;
  Napi::FunctionReference processGroupClass;
  Napi::FunctionReference vectorIndexClass;
  std::shared_ptr<DataParallelGroup> processGroup;  // at most one per process, as torch's default group
};

AddonData& addonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

// A whole number in [lo, hi], else a RangeError: "<what> must be a whole number from <range>".
void requireWholeNumber(Napi::Env env, double v, double lo, double hi, const std::string& what, const char* range) {
  if (!(v >= lo && v <= hi && std::floor(v) == v)) throw Napi::RangeError::New(env, what + " must be a whole number from " + range);
}

Napi::Float32Array float32Array(Napi::Env env, const float* data, size_t count) {
  auto out = Napi::Float32Array::New(env, count);
  std::copy(data, data + count, out.Data());
  return out;
}

// A test hook's result: each defined float32 tensor as a Float32Array under its name.
Napi::Object float32Tensors(Napi::Env env, std::initializer_list<std::pair<const char*, const torch::Tensor*>> tensors) {
  Napi::Object result = Napi::Object::New(env);
  for (const auto& [name, t] : tensors)
    if (t->defined()) result.Set(name, float32Array(env, t->data_ptr<float>(), static_cast<size_t>(t->numel())));
  return result;
}

bool isFloat32Array(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
}

double numberField(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(obj.Env(), std::string("config.") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool boolField(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsBoolean()) throw Napi::TypeError::New(obj.Env(), std::string("config.") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

ModelConfig readConfig(const Napi::Object& obj) {
  ModelConfig cfg;
  const std::string type = obj.Get("modelType").ToString();
  if (type == "bert") cfg.type = ModelType::Bert;
  else if (type == "roberta") cfg.type = ModelType::Roberta;
  else if (type == "electra") cfg.type = ModelType::Electra;
  else if (type == "deberta-v2") cfg.type = ModelType::DebertaV2;
  else if (type == "modernbert") cfg.type = ModelType::ModernBert;
  else if (type == "qwen3") cfg.type = ModelType::Qwen3;
  else if (type == "qwen2") cfg.type = ModelType::Qwen2;
  else throw Napi::TypeError::New(obj.Env(), "unsupported modelType '" + type + "'");
  auto integer = [&](const char* key) { return static_cast<int64_t>(numberField(obj, key)); };
  cfg.vocabSize = integer("vocabSize");
  cfg.hiddenSize = integer("hiddenSize");
  cfg.embeddingSize = integer("embeddingSize");
  cfg.numHiddenLayers = integer("numHiddenLayers");
  cfg.numAttentionHeads = integer("numAttentionHeads");
  cfg.intermediateSize = integer("intermediateSize");
  cfg.maxPositionEmbeddings = integer("maxPositionEmbeddings");
  cfg.typeVocabSize = integer("typeVocabSize");
  cfg.numLabels = integer("numLabels");
  cfg.padTokenId = integer("padTokenId");
  cfg.layerNormEps = numberField(obj, "layerNormEps");
  cfg.hiddenDropoutProb = numberField(obj, "hiddenDropoutProb");
  cfg.attentionProbsDropoutProb = numberField(obj, "attentionProbsDropoutProb");
  cfg.classifierDropout = numberField(obj, "classifierDropout");
  cfg.initializerRange = numberField(obj, "initializerRange");
  cfg.hiddenAct = obj.Get("hiddenAct").ToString();
  cfg.positionBiasedInput = boolField(obj, "positionBiasedInput");
  cfg.relativeAttention = boolField(obj, "relativeAttention");
  cfg.maxRelativePositions = integer("maxRelativePositions");
  cfg.positionBuckets = integer("positionBuckets");
  cfg.c2p = boolField(obj, "c2p");
  cfg.p2c = boolField(obj, "p2c");
  cfg.shareAttKey = boolField(obj, "shareAttKey");
  cfg.normRelEmbedding = boolField(obj, "normRelEmbedding");
  cfg.poolerHiddenAct = obj.Get("poolerHiddenAct").ToString();
  cfg.poolerDropout = numberField(obj, "poolerDropout");
  // The newer families' keys (src/hfconfig.ts fills them; absent for the BERT family).
  auto has = [&](const char* key) { return !obj.Get(key).IsUndefined(); };
  if (has("normBias")) cfg.normBias = boolField(obj, "normBias");
  if (has("attentionBias")) cfg.attentionBias = boolField(obj, "attentionBias");
  if (has("mlpBias")) cfg.mlpBias = boolField(obj, "mlpBias");
  if (has("classifierBias")) cfg.classifierBias = boolField(obj, "classifierBias");
  if (has("globalRopeTheta")) cfg.globalRopeTheta = numberField(obj, "globalRopeTheta");
  if (has("localRopeTheta")) cfg.localRopeTheta = numberField(obj, "localRopeTheta");
  if (has("localAttention")) cfg.localAttention = integer("localAttention");
  if (has("localLayers")) {
    Napi::Value v = obj.Get("localLayers");
    if (!v.IsArray()) throw Napi::TypeError::New(obj.Env(), "config.localLayers must be an array of booleans");
    auto list = v.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) cfg.localLayers.push_back(list.Get(i).ToBoolean().Value());
  }
  if (has("meanPooling")) cfg.meanPooling = boolField(obj, "meanPooling");
  if (has("classifierActivation")) cfg.classifierActivation = obj.Get("classifierActivation").ToString();
  if (has("embeddingDropout")) cfg.embeddingDropout = numberField(obj, "embeddingDropout");
  if (has("mlpDropout")) cfg.mlpDropout = numberField(obj, "mlpDropout");
  if (has("numKeyValueHeads")) cfg.numKeyValueHeads = integer("numKeyValueHeads");
  if (has("headDim")) cfg.headDim = integer("headDim");
  if (has("ropeTheta")) cfg.ropeTheta = numberField(obj, "ropeTheta");
  if (has("qkNorm")) cfg.qkNorm = boolField(obj, "qkNorm");
  if (has("qkvBias")) cfg.qkvBias = boolField(obj, "qkvBias");
  if (has("tieWordEmbeddings")) cfg.tieWordEmbeddings = boolField(obj, "tieWordEmbeddings");
  if (has("decoderHead")) {
    const std::string head = obj.Get("decoderHead").ToString();
    if (head == "score") cfg.decoderHead = DecoderHead::Score;
    else if (head == "yes_no") cfg.decoderHead = DecoderHead::YesNo;
    else throw Napi::TypeError::New(obj.Env(), "config.decoderHead must be 'score' or 'yes_no', got '" + head + "'");
  }
  if (has("yesTokenId")) cfg.yesTokenId = integer("yesTokenId");
  if (has("noTokenId")) cfg.noTokenId = integer("noTokenId");
  if (cfg.hiddenSize <= 0 || cfg.numAttentionHeads <= 0 || (!isDecoder(cfg.type) && cfg.hiddenSize % cfg.numAttentionHeads != 0))
    throw Napi::RangeError::New(obj.Env(), "hiddenSize must be a positive multiple of numAttentionHeads");
  if (isDecoder(cfg.type)) {
    const int64_t kv = cfg.numKeyValueHeads > 0 ? cfg.numKeyValueHeads : cfg.numAttentionHeads;
    if (cfg.numAttentionHeads % kv != 0) throw Napi::RangeError::New(obj.Env(), "numAttentionHeads must be a multiple of numKeyValueHeads");
    if (cfg.headDim <= 0 && cfg.hiddenSize % cfg.numAttentionHeads != 0)
      throw Napi::RangeError::New(obj.Env(), "hiddenSize must be a multiple of numAttentionHeads when headDim is not given");
    if (cfg.decoderHead == DecoderHead::YesNo &&
        (cfg.yesTokenId < 0 || cfg.yesTokenId >= cfg.vocabSize || cfg.noTokenId < 0 || cfg.noTokenId >= cfg.vocabSize))
      throw Napi::RangeError::New(obj.Env(), "config.yesTokenId and config.noTokenId must be token ids below vocabSize");
  }
  return cfg;
}

torch::Device parseDevice(Napi::Env env, const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) return torch::Device(name);
  throw Napi::TypeError::New(env, "device must be 'cpu' or 'cuda', got '" + name + "'");
}

// A batch of token ids copied off the JS heap, so the torch thread never touches JS memory.
struct HostBatch {
  int64_t batch = 0, length = 0;
  std::vector<int32_t> inputIds, attentionMask, tokenTypeIds;

  static HostBatch FromJs(const Napi::Object& obj) {
    Napi::Env env = obj.Env();
    HostBatch b;
    b.batch = obj.Get("batch").As<Napi::Number>().Int64Value();
    b.length = obj.Get("length").As<Napi::Number>().Int64Value();
    const size_t n = static_cast<size_t>(b.batch * b.length);
    auto copy = [&](const char* key, std::vector<int32_t>& into, bool optional) {
      Napi::Value v = obj.Get(key);
      if (optional && (v.IsNull() || v.IsUndefined())) return;
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw Napi::TypeError::New(env, std::string(key) + " must be an Int32Array");
      auto arr = v.As<Napi::Int32Array>();
      if (arr.ElementLength() != n)
        throw Napi::RangeError::New(env, std::string(key) + " has " + std::to_string(arr.ElementLength()) +
                                             " values, expected batch*length = " + std::to_string(n));
      into.assign(arr.Data(), arr.Data() + n);
    };
    copy("inputIds", b.inputIds, false);
    copy("attentionMask", b.attentionMask, false);
    copy("tokenTypeIds", b.tokenTypeIds, true);
    return b;
  }

  TokenBatch ToDevice(torch::Device device) {
    TokenBatch t;
    if (!device.is_cuda()) {
      auto make = [&](std::vector<int32_t>& v) { return torch::from_blob(v.data(), {batch, length}, torch::kInt32).to(torch::kInt64); };
      t.inputIds = make(inputIds);
      t.attentionMask = make(attentionMask);
      t.tokenTypeIds = tokenTypeIds.empty() ? torch::zeros_like(t.inputIds) : make(tokenTypeIds);
      return t;
    }
    // One copy from pinned memory, queued behind the GPU's work: a copy from pageable memory would wait for
    // the GPU to finish everything queued so far (a host sync every step).
    const int64_t n = batch * length;
    auto staged = torch::empty({3, batch, length}, torch::TensorOptions().dtype(torch::kInt32).pinned_memory(true));
    int32_t* out = staged.data_ptr<int32_t>();
    std::copy(inputIds.begin(), inputIds.end(), out);
    std::copy(attentionMask.begin(), attentionMask.end(), out + n);
    if (tokenTypeIds.empty()) std::fill(out + 2 * n, out + 3 * n, 0);
    else std::copy(tokenTypeIds.begin(), tokenTypeIds.end(), out + 2 * n);
    auto onDevice = staged.to(device, torch::kInt64, /*non_blocking=*/true);
    t.inputIds = onDevice[0];
    t.attentionMask = onDevice[1];
    t.tokenTypeIds = onDevice[2];
    return t;
  }

  // The given rows, cut to `newLength` columns.
  HostBatch Rows(const std::vector<int64_t>& rows, int64_t newLength) const {
    HostBatch b;
    b.batch = static_cast<int64_t>(rows.size());
    b.length = newLength;
    auto take = [&](const std::vector<int32_t>& from, std::vector<int32_t>& into) {
      if (from.empty()) return;
      into.reserve(static_cast<size_t>(b.batch * newLength));
      for (int64_t r : rows) {
        auto start = from.begin() + static_cast<std::ptrdiff_t>(r * length);
        into.insert(into.end(), start, start + newLength);
      }
    };
    take(inputIds, b.inputIds);
    take(attentionMask, b.attentionMask);
    take(tokenTypeIds, b.tokenTypeIds);
    return b;
  }
};

// Host values to the device; through pinned memory on CUDA (see HostBatch::ToDevice).
template <typename T>
torch::Tensor valuesToDevice(std::vector<T>& v, torch::Dtype dtype, torch::Device device) {
  auto host = torch::from_blob(v.data(), {static_cast<int64_t>(v.size())}, dtype);
  if (!device.is_cuda()) return host.clone();
  auto staged = torch::empty_like(host, torch::TensorOptions().pinned_memory(true));
  staged.copy_(host);
  return staged.to(device, /*non_blocking=*/true);
}

torch::Tensor floatsToDevice(std::vector<float>& v, torch::Device device) { return valuesToDevice(v, torch::kFloat32, device); }

// Training updates float32 parameters (the optimizer's state and the captured steps assume them).
void requireTrainable(const CrossEncoder& model) {
  if (model.dtype() != torch::kFloat32)
    throw std::runtime_error("this model holds bf16 weights for inference (dtype 'bf16'); load it with dtype 'fp32' to train it");
  if (model.int8())
    throw std::runtime_error("this model runs int8 products for inference (dtype 'int8'); load it with dtype 'fp32' to train it");
}

// Training-mode logits of a batch. With maxSlices > 1 the rows may be forwarded in length slices
// (native/runtime/batching.h) when that saves at least 2% of the padded tokens per extra slice; `sliced` says whether.
torch::Tensor forwardForTraining(CrossEncoder& model, HostBatch& batch, int64_t maxSlices, bool& sliced) {
  const torch::Device device = model.device();
  sliced = false;
  if (maxSlices <= 1) return model.forward(batch.ToDevice(device));
  auto slices = planLengthSlices(rowLengths(batch.attentionMask, batch.batch, batch.length), maxSlices, 0.02 * static_cast<double>(batch.batch * batch.length));
  if (slices.size() == 1) return model.forward(batch.ToDevice(device));
  sliced = true;
  std::vector<torch::Tensor> parts;
  std::vector<int64_t> position(static_cast<size_t>(batch.batch));
  int64_t next = 0;
  for (const LengthSlice& slice : slices) {
    HostBatch rows = batch.Rows(slice.rows, slice.length);
    parts.push_back(model.forward(rows.ToDevice(device)));
    for (int64_t r : slice.rows) position[static_cast<size_t>(r)] = next++;
  }
  // Back to the batch's row order: row r's logits are at position[r] of the concatenation.
  return torch::cat(parts).index_select(0, valuesToDevice(position, torch::kInt64, device));
}

// Training losses and gradient norms kept on the device between reads, so a training step never waits for
// the GPU: the trainer reads them every logging_steps (takeTrainStats), as HF's Trainer does. Touched only
// on the torch thread.
struct TrainStats {
  torch::Tensor stepLossSum, windowLossSum, lastGradNorm;
  int64_t stepMicroBatches = 0, windowSteps = 0;
  int64_t slicedMicroBatches = 0;  // forwarded in length slices (reported, then reset, by takeTrainStats)

  void addMicroBatch(const torch::Tensor& loss) {
    auto l = loss.detach().to(torch::kFloat32);
    stepLossSum = stepLossSum.defined() ? stepLossSum + l : l.clone();  // never an alias of the caller's tensor
    ++stepMicroBatches;
  }
  // An optimizer step ends a step: its loss is the mean over its micro-batches (as the trainer's own).
  void endStep(const torch::Tensor& gradNorm) {
    lastGradNorm = gradNorm.clone();
    if (stepMicroBatches == 0) return;
    auto stepLoss = stepLossSum / static_cast<double>(stepMicroBatches);
    windowLossSum = windowLossSum.defined() ? windowLossSum + stepLoss : stepLoss;
    ++windowSteps;
    stepLossSum = torch::Tensor();
    stepMicroBatches = 0;
  }
};

Napi::Array toJsStrings(Napi::Env env, const std::vector<std::string>& items) {
  Napi::Array out = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); ++i) out.Set(static_cast<uint32_t>(i), items[i]);
  return out;
}

class CrossEncoderWrap : public Napi::ObjectWrap<CrossEncoderWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeCrossEncoder", {
        InstanceMethod<&CrossEncoderWrap::Forward>("forward"),
        InstanceMethod<&CrossEncoderWrap::ForwardMany>("forwardMany"),
        InstanceMethod<&CrossEncoderWrap::EmbedMany>("embedMany"),
        InstanceMethod<&CrossEncoderWrap::LoadWeights>("loadWeights"),
        InstanceMethod<&CrossEncoderWrap::SaveWeights>("saveWeights"),
        InstanceMethod<&CrossEncoderWrap::TrainStep>("trainStep"),
        InstanceMethod<&CrossEncoderWrap::OptimizerStep>("optimizerStep"),
        InstanceMethod<&CrossEncoderWrap::TakeTrainStats>("takeTrainStats"),
        InstanceMethod<&CrossEncoderWrap::SaveOptimizer>("saveOptimizer"),
        InstanceMethod<&CrossEncoderWrap::LoadOptimizer>("loadOptimizer"),
        InstanceMethod<&CrossEncoderWrap::SetDtype>("setDtype"),
        InstanceMethod<&CrossEncoderWrap::Dispose>("dispose"),
    });
  }

  explicit CrossEncoderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CrossEncoderWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "NativeCrossEncoder is created by createModel(), not with new");
    model_ = *info[0].As<Napi::External<std::shared_ptr<CrossEncoder>>>().Data();
    optimizer_ = std::make_shared<AdamW>(model_->namedParameters());
    stats_ = std::make_shared<TrainStats>();
    graphs_ = std::make_shared<TrainGraphs>(model_, optimizer_);
  }

  // The model behind a JS NativeCrossEncoder, for jobs of other objects (the process group's).
  static std::shared_ptr<CrossEncoder> ModelOf(const Napi::Value& value) {
    Napi::Env env = value.Env();
    if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(addonData(env).crossEncoderClass.Value()))
      throw Napi::TypeError::New(env, "expected a model from createModel()");
    return Unwrap(value.As<Napi::Object>())->live(env);
  }

 private:
  std::shared_ptr<CrossEncoder> live(Napi::Env env) {
    if (!model_) throw Napi::Error::New(env, "the model has been disposed");
    return model_;
  }

  // Eval-mode logits of batches, one job. On CUDA they come back through pinned memory with one wait at the
  // end, so with several batches the host queues batch k+1 while the GPU runs batch k.
  struct ForwardJob : Job {
    ForwardJob(Napi::Env env, std::shared_ptr<CrossEncoder> m, std::vector<HostBatch> b, bool bf16, bool many)
        : Job(env), model(std::move(m)), batches(std::move(b)), bf16(bf16), many(many) {}
    void Execute() override {
      c10::InferenceMode inference;
      // A bf16 model computes in bf16 already; autocast would only move its layer norms back to float32.
      AutocastGuard autocast(bf16 && model->dtype() == torch::kFloat32, model->device());
      model->eval();
      const bool cuda = model->device().is_cuda();
      std::vector<torch::Tensor> host;
      for (auto& batch : batches) {
        RECORD_FUNCTION("rr::forward", std::vector<c10::IValue>());  // a profile's whole-forward time per batch
        auto logits = model->forward(batch.ToDevice(model->device()));
        if (!cuda) {
          host.push_back(logits.contiguous());
          continue;
        }
        auto pinned = torch::empty(logits.sizes(), torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(true));
        pinned.copy_(logits, /*non_blocking=*/true);
        host.push_back(pinned);
      }
      if (cuda) torch::cuda::synchronize(model->device().index());
      for (auto& t : host) results.emplace_back(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    }
    Napi::Value OnOK(Napi::Env env) override {
      auto typed = [&](const std::vector<float>& r) { return float32Array(env, r.data(), r.size()); };
      if (!many) return typed(results.front());
      Napi::Array out = Napi::Array::New(env, results.size());
      for (size_t i = 0; i < results.size(); ++i) out.Set(static_cast<uint32_t>(i), typed(results[i]));
      return out;
    }
    std::shared_ptr<CrossEncoder> model;
    std::vector<HostBatch> batches;
    bool bf16, many;
    std::vector<std::vector<float>> results;
  };

  static bool bf16Option(const Napi::CallbackInfo& info) {
    return info.Length() > 1 && info[1].IsObject() && info[1].As<Napi::Object>().Get("bf16").ToBoolean();
  }

  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto model = live(env);
    std::vector<HostBatch> batches;
    batches.push_back(HostBatch::FromJs(info[0].As<Napi::Object>()));
    return Job::Queue(*addonData(env).torchThread, std::make_unique<ForwardJob>(env, model, std::move(batches), bf16Option(info), false));
  }

  Napi::Value ForwardMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto model = live(env);
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "forwardMany takes an array of token batches");
    Napi::Array list = info[0].As<Napi::Array>();
    std::vector<HostBatch> batches;
    for (uint32_t i = 0; i < list.Length(); ++i) batches.push_back(HostBatch::FromJs(list.Get(i).As<Napi::Object>()));
    return Job::Queue(*addonData(env).torchThread, std::make_unique<ForwardJob>(env, model, std::move(batches), bf16Option(info), true));
  }

  // Sentence embeddings of batches of single texts: the base model's token states pooled (native/layers/pooling.h),
  // one job; float32 rows [batch, dimension] per batch.
  struct EmbedJob : Job {
    EmbedJob(Napi::Env env, std::shared_ptr<CrossEncoder> m, std::vector<HostBatch> b, PoolingSpec p, bool bf16)
        : Job(env), model(std::move(m)), batches(std::move(b)), pooling(std::move(p)), bf16(bf16) {}
    void Execute() override {
      c10::InferenceMode inference;
      AutocastGuard autocast(bf16 && model->dtype() == torch::kFloat32, model->device());
      model->eval();
      const bool cuda = model->device().is_cuda();
      std::vector<torch::Tensor> host;
      for (auto& batch : batches) {
        TokenBatch tokens = batch.ToDevice(model->device());
        auto pooled = poolTokens(model->tokenStates(tokens), tokens.attentionMask, pooling);
        if (!cuda) {
          host.push_back(pooled);
          continue;
        }
        auto pinned = torch::empty(pooled.sizes(), torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(true));
        pinned.copy_(pooled, /*non_blocking=*/true);
        host.push_back(pinned);
      }
      if (cuda) torch::cuda::synchronize(model->device().index());
      for (auto& t : host) results.emplace_back(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    }
    Napi::Value OnOK(Napi::Env env) override {
      Napi::Array out = Napi::Array::New(env, results.size());
      for (size_t i = 0; i < results.size(); ++i) out.Set(static_cast<uint32_t>(i), float32Array(env, results[i].data(), results[i].size()));
      return out;
    }
    std::shared_ptr<CrossEncoder> model;
    std::vector<HostBatch> batches;
    PoolingSpec pooling;
    bool bf16;
    std::vector<std::vector<float>> results;
  };

  Napi::Value EmbedMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto model = live(env);
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsObject())
      throw Napi::TypeError::New(env, "embedMany takes an array of token batches and the pooling options");
    Napi::Array list = info[0].As<Napi::Array>();
    std::vector<HostBatch> batches;
    for (uint32_t i = 0; i < list.Length(); ++i) batches.push_back(HostBatch::FromJs(list.Get(i).As<Napi::Object>()));
    Napi::Object options = info[1].As<Napi::Object>();
    PoolingSpec pooling;
    Napi::Value modes = options.Get("pooling");
    if (!modes.IsArray() || modes.As<Napi::Array>().Length() == 0)
      throw Napi::TypeError::New(env, "pooling must be a non-empty array of pooling modes");
    for (uint32_t i = 0; i < modes.As<Napi::Array>().Length(); ++i) {
      try {
        pooling.modes.push_back(parsePoolingMode(modes.As<Napi::Array>().Get(i).ToString().Utf8Value()));
      } catch (const std::invalid_argument& err) {
        throw Napi::TypeError::New(env, err.what());
      }
    }
    const double prefix = options.Has("excludedPrefix") ? numberField(options, "excludedPrefix") : 0;
    requireWholeNumber(env, prefix, 0, 1e9, "excludedPrefix", "0 or more");
    pooling.excludedPrefix = static_cast<int64_t>(prefix);
    pooling.normalize = options.Get("normalize").ToBoolean();
    const bool bf16 = options.Get("bf16").ToBoolean();
    return Job::Queue(*addonData(env).torchThread, std::make_unique<EmbedJob>(env, model, std::move(batches), std::move(pooling), bf16));
  }

  Napi::Value LoadWeights(const Napi::CallbackInfo& info) {
    struct LoadJob : Job {
      LoadJob(Napi::Env env, std::shared_ptr<CrossEncoder> m, std::vector<std::string> p) : Job(env), model(std::move(m)), paths(std::move(p)) {}
      void Execute() override {
        report = loadWeights(*model, paths);
        if (model->int8()) model->setInt8(true);  // quantize the new weights
      }
      Napi::Value OnOK(Napi::Env env) override {
        Napi::Object out = Napi::Object::New(env);
        out.Set("unexpected", toJsStrings(env, report.unexpected));
        out.Set("initialized", toJsStrings(env, report.initialized));
        return out;
      }
      std::shared_ptr<CrossEncoder> model;
      std::vector<std::string> paths;
      LoadReport report;
    };
    auto model = live(info.Env());
    // One safetensors file, or a sharded checkpoint's files.
    std::vector<std::string> paths;
    if (info.Length() > 0 && info[0].IsArray()) {
      auto list = info[0].As<Napi::Array>();
      for (uint32_t i = 0; i < list.Length(); ++i) paths.push_back(list.Get(i).ToString().Utf8Value());
      if (paths.empty()) throw Napi::TypeError::New(info.Env(), "loadWeights: give a safetensors path or a non-empty array of them");
    } else {
      paths.push_back(info[0].ToString().Utf8Value());
    }
    return Job::Queue(*addonData(info.Env()).torchThread, std::make_unique<LoadJob>(info.Env(), model, std::move(paths)));
  }

  Napi::Value SaveWeights(const Napi::CallbackInfo& info) {
    struct SaveJob : Job {
      SaveJob(Napi::Env env, std::shared_ptr<CrossEncoder> m, std::string p, std::map<std::string, std::string> md)
          : Job(env), model(std::move(m)), path(std::move(p)), metadata(std::move(md)) {}
      void Execute() override { saveWeights(*model, path, metadata); }
      std::shared_ptr<CrossEncoder> model;
      std::string path;
      std::map<std::string, std::string> metadata;
    };
    auto model = live(info.Env());
    std::map<std::string, std::string> metadata;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object md = info[1].As<Napi::Object>();
      Napi::Array keys = md.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); ++i) {
        std::string key = keys.Get(i).ToString();
        metadata[key] = md.Get(key).ToString().Utf8Value();
      }
    }
    return Job::Queue(*addonData(info.Env()).torchThread,
                      std::make_unique<SaveJob>(info.Env(), model, info[0].ToString().Utf8Value(), std::move(metadata)));
  }


  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    struct TrainJob : Job {
      TrainJob(Napi::Env env, std::shared_ptr<CrossEncoder> m, std::shared_ptr<TrainStats> s, std::shared_ptr<TrainGraphs> g)
          : Job(env), model(std::move(m)), stats(std::move(s)), graphs(std::move(g)) {}
      void Execute() override {
        requireTrainable(*model);
        if (cudaGraphs) {
          HostTrainBatch host;
          host.batch = batch.batch;
          host.length = batch.length;
          host.inputIds = &batch.inputIds;
          host.attentionMask = &batch.attentionMask;
          host.tokenTypeIds = &batch.tokenTypeIds;
          host.labels = &labels;
          host.teacherScores = &teacherScores;
          host.lengthSlices = lengthSlices;
          if (auto loss = graphs->trainStep(host, GraphLoss{kind, groupSize, scale, bf16})) {
            stats->addMicroBatch(*loss);
            return;
          }
        }
        model->train();
        AutocastGuard autocast(bf16, model->device());
        bool sliced = false;
        auto logits = forwardForTraining(*model, batch, lengthSlices, sliced);
        if (sliced) ++stats->slicedMicroBatches;
        LossInputs in;
        in.kind = kind;
        in.groupSize = groupSize;
        in.labels = floatsToDevice(labels, model->device());
        if (!teacherScores.empty()) in.teacherScores = floatsToDevice(teacherScores, model->device());
        auto loss = computeLoss(logits, in);
        (loss * scale).backward();
        stats->addMicroBatch(loss);
        if (!deferLoss) lossValue = loss.item<double>();
      }
      Napi::Value OnOK(Napi::Env env) override { return deferLoss ? env.Null() : Napi::Number::New(env, lossValue); }
      std::shared_ptr<CrossEncoder> model;
      std::shared_ptr<TrainStats> stats;
      std::shared_ptr<TrainGraphs> graphs;
      bool deferLoss = false, cudaGraphs = false;
      int64_t lengthSlices = 1;
      HostBatch batch;
      LossKind kind = LossKind::Bce;
      int64_t groupSize = 1;
      std::vector<float> labels, teacherScores;
      double scale = 1.0;
      bool bf16 = false;
      double lossValue = 0;
    };
    Napi::Env env = info.Env();
    auto job = std::make_unique<TrainJob>(env, live(env), stats_, graphs_);
    job->batch = HostBatch::FromJs(info[0].As<Napi::Object>());
    Napi::Object loss = info[1].As<Napi::Object>();
    try {
      job->kind = parseLossKind(loss.Get("kind").ToString());
    } catch (const std::exception& e) {
      throw Napi::TypeError::New(env, e.what());
    }
    job->groupSize = loss.Get("groupSize").ToNumber().Int64Value();
    job->scale = loss.Get("scale").ToNumber().DoubleValue();
    job->bf16 = loss.Get("bf16").ToBoolean();
    job->deferLoss = loss.Get("deferLoss").ToBoolean();
    job->cudaGraphs = loss.Get("cudaGraphs").ToBoolean();
    if (loss.Has("lengthSlices") && !loss.Get("lengthSlices").IsUndefined()) {
      Napi::Value v = loss.Get("lengthSlices");
      const double n = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(n >= 1 && n <= 64 && n == static_cast<double>(static_cast<int64_t>(n))))
        throw Napi::RangeError::New(env, "loss.lengthSlices must be a whole number from 1 to 64");
      job->lengthSlices = static_cast<int64_t>(n);
    }
    if (job->cudaGraphs && !job->deferLoss)
      throw Napi::TypeError::New(env, "loss.cudaGraphs needs loss.deferLoss (a captured step cannot wait for its loss)");
    const size_t pairs = static_cast<size_t>(job->batch.batch);
    auto copyFloats = [&](const char* key, std::vector<float>& into, bool optional) {
      Napi::Value v = loss.Get(key);
      if (optional && (v.IsNull() || v.IsUndefined())) return;
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        throw Napi::TypeError::New(env, std::string("loss.") + key + " must be a Float32Array");
      auto arr = v.As<Napi::Float32Array>();
      if (arr.ElementLength() != pairs)
        throw Napi::RangeError::New(env, std::string("loss.") + key + " has " + std::to_string(arr.ElementLength()) +
                                             " values for " + std::to_string(pairs) + " pairs");
      into.assign(arr.Data(), arr.Data() + pairs);
    };
    copyFloats("labels", job->labels, false);
    copyFloats("teacherScores", job->teacherScores, true);
    return Job::Queue(*addonData(env).torchThread, std::move(job));
  }

  Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
    struct StepJob : Job {
      StepJob(Napi::Env env, std::shared_ptr<CrossEncoder> m, std::shared_ptr<AdamW> o, std::shared_ptr<TrainStats> st,
              std::shared_ptr<TrainGraphs> g, AdamWStep s, bool defer, bool graphed)
          : Job(env), model(std::move(m)), optimizer(std::move(o)), stats(std::move(st)), graphs(std::move(g)), options(s),
            deferGradNorm(defer), cudaGraphs(graphed) {}
      void Execute() override {
        requireTrainable(*model);
        std::optional<torch::Tensor> graphed;
        if (cudaGraphs) graphed = graphs->optimizerStep(options);
        auto norm = graphed ? *graphed : optimizer->step(options);
        stats->endStep(norm);
        if (!deferGradNorm) gradNorm = norm.item<double>();
      }
      Napi::Value OnOK(Napi::Env env) override { return deferGradNorm ? env.Null() : Napi::Number::New(env, gradNorm); }
      std::shared_ptr<CrossEncoder> model;
      std::shared_ptr<AdamW> optimizer;
      std::shared_ptr<TrainStats> stats;
      std::shared_ptr<TrainGraphs> graphs;
      AdamWStep options;
      bool deferGradNorm, cudaGraphs;
      double gradNorm = 0;
    };
    Napi::Env env = info.Env();
    Napi::Object o = info[0].As<Napi::Object>();
    AdamWStep step;
    step.lr = o.Get("lr").ToNumber().DoubleValue();
    step.beta1 = o.Get("beta1").ToNumber().DoubleValue();
    step.beta2 = o.Get("beta2").ToNumber().DoubleValue();
    step.eps = o.Get("eps").ToNumber().DoubleValue();
    step.weightDecay = o.Get("weightDecay").ToNumber().DoubleValue();
    step.maxGradNorm = o.Get("maxGradNorm").ToNumber().DoubleValue();
    const bool defer = o.Get("deferGradNorm").ToBoolean();
    const bool graphed = o.Get("cudaGraphs").ToBoolean();
    if (graphed && !defer) throw Napi::TypeError::New(env, "options.cudaGraphs needs options.deferGradNorm");
    auto model = live(env);
    return Job::Queue(*addonData(env).torchThread,
                      std::make_unique<StepJob>(env, model, optimizer_, stats_, graphs_, step, defer, graphed));
  }

  // The mean step loss since the last read, the steps it covers, and the last gradient norm (one GPU sync).
  Napi::Value TakeTrainStats(const Napi::CallbackInfo& info) {
    struct StatsJob : Job {
      StatsJob(Napi::Env env, std::shared_ptr<CrossEncoder> m, std::shared_ptr<TrainStats> s) : Job(env), model(std::move(m)), stats(std::move(s)) {}
      void Execute() override {
        steps = stats->windowSteps;
        if (steps > 0) loss = stats->windowLossSum.item<double>() / static_cast<double>(steps);
        if (stats->lastGradNorm.defined()) gradNorm = stats->lastGradNorm.item<double>();
        stats->windowLossSum = torch::Tensor();
        stats->windowSteps = 0;
        sliced = stats->slicedMicroBatches;
        stats->slicedMicroBatches = 0;
      }
      Napi::Value OnOK(Napi::Env env) override {
        Napi::Object out = Napi::Object::New(env);
        out.Set("loss", steps > 0 ? Napi::Number::New(env, loss) : env.Null());
        out.Set("steps", Napi::Number::New(env, static_cast<double>(steps)));
        out.Set("gradNorm", std::isnan(gradNorm) ? env.Null() : Napi::Number::New(env, gradNorm));
        out.Set("slicedMicroBatches", Napi::Number::New(env, static_cast<double>(sliced)));
        return out;
      }
      std::shared_ptr<CrossEncoder> model;
      std::shared_ptr<TrainStats> stats;
      int64_t steps = 0, sliced = 0;
      double loss = 0, gradNorm = std::nan("");
    };
    Napi::Env env = info.Env();
    return Job::Queue(*addonData(env).torchThread, std::make_unique<StatsJob>(env, live(env), stats_));
  }

  Napi::Value SaveOptimizer(const Napi::CallbackInfo& info) {
    return QueueOptimizerIo(info, /*save=*/true);
  }

  Napi::Value LoadOptimizer(const Napi::CallbackInfo& info) {
    return QueueOptimizerIo(info, /*save=*/false);
  }

  Napi::Value QueueOptimizerIo(const Napi::CallbackInfo& info, bool save) {
    struct IoJob : Job {
      IoJob(Napi::Env env, std::shared_ptr<CrossEncoder> m, std::shared_ptr<AdamW> o, std::shared_ptr<TrainGraphs> g,
            std::string p, bool s)
          : Job(env), model(std::move(m)), optimizer(std::move(o)), graphs(std::move(g)), path(std::move(p)), save(s) {}
      void Execute() override {
        if (save) return optimizer->save(path);
        optimizer->load(path);
        graphs->reset();  // a captured step would still update the replaced moments
      }
      std::shared_ptr<CrossEncoder> model;
      std::shared_ptr<AdamW> optimizer;
      std::shared_ptr<TrainGraphs> graphs;
      std::string path;
      bool save;
    };
    Napi::Env env = info.Env();
    auto model = live(env);
    return Job::Queue(*addonData(env).torchThread,
                      std::make_unique<IoJob>(env, model, optimizer_, graphs_, info[0].ToString().Utf8Value(), save));
  }

  // "fp32", "bf16" (see CrossEncoder::dtype()) or "int8" (float32 parameters, int8 products: CrossEncoder::setInt8).
  Napi::Value SetDtype(const Napi::CallbackInfo& info) {
    struct DtypeJob : Job {
      DtypeJob(Napi::Env env, std::shared_ptr<CrossEncoder> m, torch::Dtype d, bool i) : Job(env), model(std::move(m)), dtype(d), int8(i) {}
      void Execute() override {
        model->setDtype(dtype);
        model->setInt8(int8);
      }
      std::shared_ptr<CrossEncoder> model;
      torch::Dtype dtype;
      bool int8;
    };
    Napi::Env env = info.Env();
    const std::string name = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (name != "fp32" && name != "bf16" && name != "int8") throw Napi::TypeError::New(env, "setDtype: dtype must be 'fp32', 'bf16' or 'int8'");
    return Job::Queue(*addonData(env).torchThread,
                      std::make_unique<DtypeJob>(env, live(env), name == "bf16" ? torch::kBFloat16 : torch::kFloat32, name == "int8"));
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (model_) {
      // Freed on the torch thread, after any job still holding the model has finished.
      addonData(info.Env()).torchThread->post([m = std::move(model_), o = std::move(optimizer_), s = std::move(stats_),
                                               g = std::move(graphs_)]() mutable {
        g.reset();
        s.reset();
        o.reset();
        m.reset();
      });
      model_.reset();
      optimizer_.reset();
      stats_.reset();
      graphs_.reset();
    }
    return info.Env().Undefined();
  }

  std::shared_ptr<CrossEncoder> model_;
  std::shared_ptr<AdamW> optimizer_;
  std::shared_ptr<TrainStats> stats_;
  std::shared_ptr<TrainGraphs> graphs_;
};

Napi::Value CreateModel(const Napi::CallbackInfo& info) {
  struct CreateJob : Job {
    CreateJob(Napi::Env env, ModelConfig c, torch::Device d, uint64_t s) : Job(env), config(std::move(c)), device(d), seed(s) {}
    void Execute() override {
      if (device.is_cuda() && !torch::cuda::is_available())
        throw std::runtime_error("device 'cuda' was asked for, but this LibTorch build or machine has no CUDA device");
      model = std::make_shared<CrossEncoder>(config, seed);
      model->moveTo(device);
    }
    Napi::Value OnOK(Napi::Env env) override {
      auto external = Napi::External<std::shared_ptr<CrossEncoder>>::New(env, &model);
      return addonData(env).crossEncoderClass.New({external});
    }
    ModelConfig config;
    torch::Device device;
    uint64_t seed;
    std::shared_ptr<CrossEncoder> model;
  };
  Napi::Env env = info.Env();
  ModelConfig config = readConfig(info[0].As<Napi::Object>());
  Napi::Object options = info[1].As<Napi::Object>();
  torch::Device device = parseDevice(env, options.Get("device").ToString());
  uint64_t seed = static_cast<uint64_t>(options.Get("seed").As<Napi::Number>().Int64Value());
  return Job::Queue(*addonData(env).torchThread, std::make_unique<CreateJob>(env, std::move(config), device, seed));
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  struct SeedJob : Job {
    SeedJob(Napi::Env env, uint64_t s) : Job(env), seed(s) {}
    void Execute() override { torch::manual_seed(seed); }
    uint64_t seed;
  };
  Napi::Env env = info.Env();
  return Job::Queue(*addonData(env).torchThread, std::make_unique<SeedJob>(env, static_cast<uint64_t>(info[0].ToNumber().Int64Value())));
}

// ---- profiling (native/runtime/profiler.h): a window of the torch thread's work, summed by operator and kernel ----

Napi::Value StartProfiler(const Napi::CallbackInfo& info) {
  struct StartJob : Job {
    StartJob(Napi::Env env, bool c) : Job(env), cuda(c) {}
    void Execute() override { startProfiler(cuda); }
    bool cuda;
  };
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "startProfiler(options): options must be an object");
  const bool cuda = info[0].As<Napi::Object>().Get("cuda").ToBoolean();
  return Job::Queue(*addonData(env).torchThread, std::make_unique<StartJob>(env, cuda));
}

Napi::Value StopProfiler(const Napi::CallbackInfo& info) {
  struct StopJob : Job {
    StopJob(Napi::Env env, std::string path) : Job(env), tracePath(std::move(path)) {}
    void Execute() override { summary = stopProfiler(tracePath); }
    Napi::Value OnOK(Napi::Env env) override {
      Napi::Object out = Napi::Object::New(env);
      out.Set("wallUs", summary.wallUs);
      out.Set("cudaKernelUs", summary.cudaKernelUs);
      Napi::Array entries = Napi::Array::New(env, summary.entries.size());
      for (size_t i = 0; i < summary.entries.size(); i++) {
        const ProfileEntry& e = summary.entries[i];
        Napi::Object row = Napi::Object::New(env);
        row.Set("name", e.name);
        row.Set("device", e.device);
        row.Set("calls", static_cast<double>(e.calls));
        row.Set("totalUs", e.totalUs);
        entries.Set(static_cast<uint32_t>(i), row);
      }
      out.Set("entries", entries);
      if (!summary.traceError.empty()) out.Set("traceError", summary.traceError);
      return out;
    }
    std::string tracePath;
    ProfileSummary summary;
  };
  Napi::Env env = info.Env();
  std::string tracePath;
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Value path = info[0].As<Napi::Object>().Get("tracePath");
    if (path.IsString()) tracePath = path.As<Napi::String>().Utf8Value();
    else if (!path.IsUndefined() && !path.IsNull()) throw Napi::TypeError::New(env, "stopProfiler: options.tracePath must be a string");
  }
  return Job::Queue(*addonData(env).torchThread, std::make_unique<StopJob>(env, std::move(tracePath)));
}

// ---- dropout (native/layers/dropout.h): the CPU keep mask, forward and backward, for tests of its statistics ----

Napi::Value DropoutMask(const Napi::CallbackInfo& info) {
  struct MaskJob : Job {
    MaskJob(Napi::Env env, int64_t n, double prob, uint64_t s) : Job(env), count(n), p(prob), seed(s) {}
    void Execute() override { masks = dropoutMask(count, p, seed); }
    Napi::Value OnOK(Napi::Env env) override {
      Napi::Object out = Napi::Object::New(env);
      out.Set("forward", float32Array(env, masks.forward.data_ptr<float>(), static_cast<size_t>(count)));
      out.Set("backward", float32Array(env, masks.backward.data_ptr<float>(), static_cast<size_t>(count)));
      return out;
    }
    int64_t count;
    double p;
    uint64_t seed;
    DropoutMasks masks;
  };
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "dropoutMask(options): options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  const double count = o.Get("count").ToNumber().DoubleValue(), p = o.Get("p").ToNumber().DoubleValue(),
               seed = o.Get("seed").ToNumber().DoubleValue();
  requireWholeNumber(env, count, 1, 1e8, "dropoutMask: options.count", "1 to 1e8");
  if (!(p >= 0 && p < 1)) throw Napi::RangeError::New(env, "dropoutMask: options.p must be in [0, 1)");
  requireWholeNumber(env, seed, 0, 9007199254740991.0, "dropoutMask: options.seed", "0 to 2^53 - 1");
  return Job::Queue(*addonData(env).torchThread,
                    std::make_unique<MaskJob>(env, static_cast<int64_t>(count), p, static_cast<uint64_t>(seed)));
}

// ---- packed attention (native/kernels/packed_attention.h): the kernels alone, for tests against a reference ----

Napi::Value PackedAttention(const Napi::CallbackInfo& info) {
  struct AttentionJob : Job {
    AttentionJob(Napi::Env env, std::vector<float> q, std::vector<int64_t> lengths, PackedAttentionShape h)
        : Job(env), qkv(std::move(q)), rowLengths(std::move(lengths)), heads(h) {}
    void Execute() override {
      std::vector<int64_t> starts;
      int64_t tokens = 0;
      for (int64_t n : rowLengths) starts.push_back(tokens), tokens += n;
      auto input = torch::from_blob(qkv.data(), {tokens, static_cast<int64_t>(qkv.size()) / tokens}, torch::kFloat32);
      if (gradOut.empty()) {
        torch::NoGradGuard noGrad;
        out = packedAttention(input, starts, rowLengths, heads);
        return;
      }
      torch::AutoGradMode gradMode(true);
      auto leaf = input.clone().requires_grad_(true);
      out = packedAttentionTraining(leaf, starts, rowLengths, heads, dropout, seed);
      out.backward(torch::from_blob(gradOut.data(), out.sizes(), torch::kFloat32));
      out = out.detach();
      gradQkv = leaf.grad();
    }
    Napi::Value OnOK(Napi::Env env) override { return float32Tensors(env, {{"out", &out}, {"gradQkv", &gradQkv}}); }
    std::vector<float> qkv, gradOut;
    std::vector<int64_t> rowLengths;
    PackedAttentionShape heads;
    double dropout = 0;
    int64_t seed = 0;
    torch::Tensor out, gradQkv;
  };
  Napi::Env env = info.Env();
  const char* usage = "packedAttention({ qkv: Float32Array, rowLengths: number[], heads, kvHeads?, window?, causal?, gradOut?, dropout?, seed? })";
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, std::string(usage) + ": options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value qkvValue = o.Get("qkv"), lengthsValue = o.Get("rowLengths"), gradValue = o.Get("gradOut");
  if (!isFloat32Array(qkvValue)) throw Napi::TypeError::New(env, std::string(usage) + ": qkv must be a Float32Array");
  if (!lengthsValue.IsArray()) throw Napi::TypeError::New(env, std::string(usage) + ": rowLengths must be an array");
  const double heads = o.Get("heads").ToNumber().DoubleValue();
  requireWholeNumber(env, heads, 1, 1024, std::string(usage) + ": heads", "1 to 1024");
  const double kvHeads = o.Has("kvHeads") ? o.Get("kvHeads").ToNumber().DoubleValue() : heads;
  requireWholeNumber(env, kvHeads, 1, heads, std::string(usage) + ": kvHeads", "1 to heads");
  if (std::fmod(heads, kvHeads) != 0) throw Napi::RangeError::New(env, std::string(usage) + ": heads must be a multiple of kvHeads");
  const double window = o.Has("window") ? o.Get("window").ToNumber().DoubleValue() : -1;
  if (window != -1) requireWholeNumber(env, window, 0, 65536, std::string(usage) + ": window", "0 to 65536 (or -1: none)");
  const bool causal = o.Has("causal") && o.Get("causal").ToBoolean().Value();
  const int64_t columnsPerHead = static_cast<int64_t>(heads + 2 * kvHeads);
  Napi::Array lengthsArray = lengthsValue.As<Napi::Array>();
  std::vector<int64_t> lengths;
  double tokens = 0;
  for (uint32_t i = 0; i < lengthsArray.Length(); ++i) {
    const double n = lengthsArray.Get(i).ToNumber().DoubleValue();
    requireWholeNumber(env, n, 1, 65536, std::string(usage) + ": rowLengths[" + std::to_string(i) + "]", "1 to 65536");
    lengths.push_back(static_cast<int64_t>(n));
    tokens += n;
  }
  auto qkv = qkvValue.As<Napi::Float32Array>();
  const double width = lengths.empty() ? 0 : static_cast<double>(qkv.ElementLength()) / tokens;
  if (lengths.empty() || width != std::floor(width) || static_cast<int64_t>(width) % columnsPerHead != 0 || width == 0)
    throw Napi::RangeError::New(env, std::string(usage) + ": qkv must hold sum(rowLengths) rows of (heads + 2 x kvHeads) x headDim values");
  const int64_t headDim = static_cast<int64_t>(width) / columnsPerHead;
  auto job = std::make_unique<AttentionJob>(env, std::vector<float>(qkv.Data(), qkv.Data() + qkv.ElementLength()), std::move(lengths),
      PackedAttentionShape{static_cast<int64_t>(heads), static_cast<int64_t>(kvHeads), headDim, static_cast<int64_t>(window), causal});
  if (!gradValue.IsUndefined()) {
    if (kvHeads != heads) throw Napi::RangeError::New(env, std::string(usage) + ": the training kernel (gradOut) needs kvHeads = heads");
    if (!isFloat32Array(gradValue) || gradValue.As<Napi::Float32Array>().ElementLength() * 3 != qkv.ElementLength())
      throw Napi::TypeError::New(env, std::string(usage) + ": gradOut must be a Float32Array of sum(rowLengths) x hidden values");
    auto grad = gradValue.As<Napi::Float32Array>();
    job->gradOut.assign(grad.Data(), grad.Data() + grad.ElementLength());
    const double p = o.Has("dropout") ? o.Get("dropout").ToNumber().DoubleValue() : 0.0;
    const double seed = o.Has("seed") ? o.Get("seed").ToNumber().DoubleValue() : 0.0;
    if (!(p >= 0 && p < 1)) throw Napi::RangeError::New(env, std::string(usage) + ": dropout must be in [0, 1)");
    requireWholeNumber(env, seed, 0, 9007199254740991.0, std::string(usage) + ": seed", "0 to 2^53 - 1");
    job->dropout = p;
    job->seed = static_cast<int64_t>(seed);
  }
  return Job::Queue(*addonData(env).torchThread, std::move(job));
}

// ---- bias + residual + LayerNorm (native/kernels/residual_norm.h): the kernel alone, for tests against a reference ----

Napi::Value ResidualLayerNorm(const Napi::CallbackInfo& info) {
  struct NormJob : Job {
    explicit NormJob(Napi::Env env) : Job(env) {}
    void Execute() override {
      torch::NoGradGuard noGrad;
      const int64_t width = static_cast<int64_t>(weight.size());
      const int64_t rows = static_cast<int64_t>(product.size()) / width;
      torch::nn::LayerNorm norm(torch::nn::LayerNormOptions({width}).eps(eps));
      norm->weight.copy_(torch::from_blob(weight.data(), {width}, torch::kFloat32));
      norm->bias.copy_(torch::from_blob(normBias.data(), {width}, torch::kFloat32));
      auto p = torch::from_blob(product.data(), {rows, width}, torch::kFloat32);
      auto r = torch::from_blob(residual.data(), {rows, width}, torch::kFloat32);
      auto b = bias.empty() ? torch::Tensor() : torch::from_blob(bias.data(), {width}, torch::kFloat32);
      out = residualLayerNorm(p, b, r, norm, false).clone();
    }
    Napi::Value OnOK(Napi::Env env) override { return float32Tensors(env, {{"out", &out}}); }
    std::vector<float> product, residual, bias, weight, normBias;
    double eps = 1e-12;
    torch::Tensor out;
  };
  Napi::Env env = info.Env();
  const std::string usage =
      "residualLayerNorm({ product: Float32Array, residual: Float32Array, bias?: Float32Array, weight: Float32Array, normBias: Float32Array, eps: number })";
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, usage + ": options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_unique<NormJob>(env);
  auto take = [&](const char* key, std::vector<float>& to, bool optional) {
    Napi::Value v = o.Get(key);
    if (optional && v.IsUndefined()) return;
    if (!isFloat32Array(v)) throw Napi::TypeError::New(env, usage + ": " + key + " must be a Float32Array");
    auto a = v.As<Napi::Float32Array>();
    to.assign(a.Data(), a.Data() + a.ElementLength());
  };
  take("product", job->product, false);
  take("residual", job->residual, false);
  take("bias", job->bias, true);
  take("weight", job->weight, false);
  take("normBias", job->normBias, false);
  const size_t width = job->weight.size();
  if (width == 0 || job->normBias.size() != width || (!job->bias.empty() && job->bias.size() != width))
    throw Napi::RangeError::New(env, usage + ": weight, normBias and bias must be non-empty and equally long");
  if (job->product.empty() || job->product.size() % width != 0 || job->residual.size() != job->product.size())
    throw Napi::RangeError::New(env, usage + ": product and residual must hold the same whole rows of weight.length values");
  const double eps = o.Get("eps").IsNumber() ? o.Get("eps").ToNumber().DoubleValue() : -1;
  if (!(eps > 0)) throw Napi::RangeError::New(env, usage + ": eps must be a positive number");
  job->eps = eps;
  return Job::Queue(*addonData(env).torchThread, std::move(job));
}

// ---- bias + GELU (native/kernels/bias_gelu.h): the kernel alone, for tests against a reference ----

Napi::Value BiasGelu(const Napi::CallbackInfo& info) {
  struct GeluJob : Job {
    GeluJob(Napi::Env env, std::vector<float> p, std::vector<float> b) : Job(env), product(std::move(p)), bias(std::move(b)) {}
    void Execute() override {
      const int64_t width = static_cast<int64_t>(bias.size());
      auto input = torch::from_blob(product.data(), {static_cast<int64_t>(product.size()) / width, width}, torch::kFloat32);
      auto b = torch::from_blob(bias.data(), {width}, torch::kFloat32);
      if (gradOut.empty()) {
        torch::NoGradGuard noGrad;
        out = biasGelu(input, b);
        return;
      }
      torch::AutoGradMode gradMode(true);
      auto leaf = input.clone().requires_grad_(true), biasLeaf = b.clone().requires_grad_(true);
      out = biasGelu(leaf, biasLeaf);
      out.backward(torch::from_blob(gradOut.data(), out.sizes(), torch::kFloat32));
      out = out.detach();
      gradProduct = leaf.grad();
      gradBias = biasLeaf.grad();
    }
    Napi::Value OnOK(Napi::Env env) override {
      return float32Tensors(env, {{"out", &out}, {"gradProduct", &gradProduct}, {"gradBias", &gradBias}});
    }
    std::vector<float> product, bias, gradOut;
    torch::Tensor out, gradProduct, gradBias;
  };
  Napi::Env env = info.Env();
  const std::string usage = "biasGelu({ product: Float32Array, bias: Float32Array, gradOut?: Float32Array })";
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, usage + ": options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value productValue = o.Get("product"), biasValue = o.Get("bias"), gradValue = o.Get("gradOut");
  if (!isFloat32Array(productValue)) throw Napi::TypeError::New(env, usage + ": product must be a Float32Array");
  if (!isFloat32Array(biasValue) || biasValue.As<Napi::Float32Array>().ElementLength() == 0)
    throw Napi::TypeError::New(env, usage + ": bias must be a non-empty Float32Array");
  auto product = productValue.As<Napi::Float32Array>();
  auto bias = biasValue.As<Napi::Float32Array>();
  if (product.ElementLength() == 0 || product.ElementLength() % bias.ElementLength() != 0)
    throw Napi::RangeError::New(env, usage + ": product must hold whole rows of bias.length values");
  auto job = std::make_unique<GeluJob>(env, std::vector<float>(product.Data(), product.Data() + product.ElementLength()),
                                       std::vector<float>(bias.Data(), bias.Data() + bias.ElementLength()));
  if (!gradValue.IsUndefined()) {
    if (!isFloat32Array(gradValue) || gradValue.As<Napi::Float32Array>().ElementLength() != product.ElementLength())
      throw Napi::TypeError::New(env, usage + ": gradOut must be a Float32Array as long as product");
    auto grad = gradValue.As<Napi::Float32Array>();
    job->gradOut.assign(grad.Data(), grad.Data() + grad.ElementLength());
  }
  return Job::Queue(*addonData(env).torchThread, std::move(job));
}

// ---- torch.distributed: the process group of a data-parallel job (see native/runtime/distributed.h) ----

std::vector<double> readDoubles(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Float64Array");
  auto arr = v.As<Napi::Float64Array>();
  return std::vector<double>(arr.Data(), arr.Data() + arr.ElementLength());
}

// One collective on the torch thread; resolves to its values (a Float64Array) or to undefined.
struct GroupJob : Job {
  using Work = std::function<std::vector<double>(DataParallelGroup&)>;
  GroupJob(Napi::Env env, std::shared_ptr<DataParallelGroup> g, Work w, bool values)
      : Job(env), group(std::move(g)), work(std::move(w)), returnsValues(values) {}
  void Execute() override { result = work(*group); }
  Napi::Value OnOK(Napi::Env env) override {
    if (!returnsValues) return env.Undefined();
    auto out = Napi::Float64Array::New(env, result.size());
    std::copy(result.begin(), result.end(), out.Data());
    return out;
  }
  std::shared_ptr<DataParallelGroup> group;
  Work work;
  bool returnsValues;
  std::vector<double> result;
};

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeProcessGroup", {
        InstanceAccessor<&ProcessGroupWrap::Rank>("rank"),
        InstanceAccessor<&ProcessGroupWrap::WorldSize>("worldSize"),
        InstanceAccessor<&ProcessGroupWrap::Backend>("backend"),
        InstanceMethod<&ProcessGroupWrap::BroadcastParameters>("broadcastParameters"),
        InstanceMethod<&ProcessGroupWrap::AllReduceGradients>("allReduceGradients"),
        InstanceMethod<&ProcessGroupWrap::AllReduce>("allReduce"),
        InstanceMethod<&ProcessGroupWrap::AllGather>("allGather"),
        InstanceMethod<&ProcessGroupWrap::Barrier>("barrier"),
        InstanceMethod<&ProcessGroupWrap::Destroy>("destroy"),
    });
  }

  explicit ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "NativeProcessGroup is created by initProcessGroup(), not with new");
    group_ = *info[0].As<Napi::External<std::shared_ptr<DataParallelGroup>>>().Data();
    rank_ = group_->rank();
    worldSize_ = group_->worldSize();
    backend_ = group_->backend();
  }

 private:
  std::shared_ptr<DataParallelGroup> live(Napi::Env env) {
    if (!group_) throw Napi::Error::New(env, "the process group has been destroyed");
    return group_;
  }

  Napi::Value Rank(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), rank_); }
  Napi::Value WorldSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), worldSize_); }
  Napi::Value Backend(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), backend_); }

  Napi::Value Queue(Napi::Env env, GroupJob::Work work, bool returnsValues) {
    return Job::Queue(*addonData(env).torchThread, std::make_unique<GroupJob>(env, live(env), std::move(work), returnsValues));
  }

  Napi::Value BroadcastParameters(const Napi::CallbackInfo& info) {
    auto model = CrossEncoderWrap::ModelOf(info[0]);
    return Queue(info.Env(), [model](DataParallelGroup& g) {
      g.broadcastParameters(*model);
      return std::vector<double>();
    }, false);
  }

  Napi::Value AllReduceGradients(const Napi::CallbackInfo& info) {
    auto model = CrossEncoderWrap::ModelOf(info[0]);
    auto values = readDoubles(info[1], "values");
    return Queue(info.Env(), [model, values](DataParallelGroup& g) { return g.allReduceGradients(*model, values); }, true);
  }

  Napi::Value AllReduce(const Napi::CallbackInfo& info) {
    auto values = readDoubles(info[0], "values");
    const std::string opName = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "sum";
    ReduceOp op;
    if (opName == "sum") op = ReduceOp::Sum;
    else if (opName == "max") op = ReduceOp::Max;
    else if (opName == "min") op = ReduceOp::Min;
    else throw Napi::TypeError::New(info.Env(), "op must be 'sum', 'max' or 'min', got '" + opName + "'");
    return Queue(info.Env(), [values, op](DataParallelGroup& g) { return g.allReduce(values, op); }, true);
  }

  Napi::Value AllGather(const Napi::CallbackInfo& info) {
    auto values = readDoubles(info[0], "values");
    return Queue(info.Env(), [values](DataParallelGroup& g) { return g.allGather(values); }, true);
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    return Queue(info.Env(), [](DataParallelGroup& g) {
      g.barrier();
      return std::vector<double>();
    }, false);
  }

  // Leaves the group once the jobs already queued are done; later calls reject.
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto group = live(env);
    group_.reset();
    if (addonData(env).processGroup == group) addonData(env).processGroup.reset();
    return Job::Queue(*addonData(env).torchThread, std::make_unique<GroupJob>(env, group, [](DataParallelGroup& g) {
      g.destroy();
      return std::vector<double>();
    }, false));
  }

  std::shared_ptr<DataParallelGroup> group_;
  int rank_ = 0, worldSize_ = 1;
  std::string backend_;
};

// The exact vector index (native/kernels/vector_index.h). Its vectors live on the torch thread's side: every method is
// a job, so adds and searches run in the order they were called.
class VectorIndexWrap : public Napi::ObjectWrap<VectorIndexWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeVectorIndex", {
        InstanceMethod<&VectorIndexWrap::Add>("add"),
        InstanceMethod<&VectorIndexWrap::Search>("search"),
        InstanceMethod<&VectorIndexWrap::Stored>("stored"),
        InstanceMethod<&VectorIndexWrap::Dispose>("dispose"),
        InstanceAccessor<&VectorIndexWrap::Size>("size"),
    });
  }

  explicit VectorIndexWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VectorIndexWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "NativeVectorIndex is created by createVectorIndex(), not with new");
    index_ = *info[0].As<Napi::External<std::shared_ptr<ExactVectorIndex>>>().Data();
  }

 private:
  std::shared_ptr<ExactVectorIndex> live(Napi::Env env) {
    if (!index_) throw Napi::Error::New(env, "the vector index has been disposed");
    return index_;
  }

  // Float32Array, or Uint16Array of float16 bits (an fp16 index file read back), as rows of `dimension`.
  static std::pair<std::vector<uint8_t>, torch::Dtype> copyRows(const Napi::Value& v, int64_t dimension, const char* what) {
    Napi::Env env = v.Env();
    if (!v.IsTypedArray()) throw Napi::TypeError::New(env, std::string(what) + " must be a Float32Array or a Uint16Array of float16 bits");
    auto typed = v.As<Napi::TypedArray>();
    const bool half = typed.TypedArrayType() == napi_uint16_array;
    if (!half && typed.TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, std::string(what) + " must be a Float32Array or a Uint16Array of float16 bits");
    if (typed.ElementLength() % static_cast<size_t>(dimension) != 0)
      throw Napi::RangeError::New(env, std::string(what) + " has " + std::to_string(typed.ElementLength()) + " values, not a multiple of the dimension " + std::to_string(dimension));
    const auto* bytes = static_cast<const uint8_t*>(typed.ArrayBuffer().Data()) + typed.ByteOffset();
    return {std::vector<uint8_t>(bytes, bytes + typed.ByteLength()), half ? torch::kHalf : torch::kFloat32};
  }

  static torch::Tensor rowsOf(std::vector<uint8_t>& bytes, torch::Dtype dtype, int64_t dimension) {
    const int64_t values = static_cast<int64_t>(bytes.size()) / (dtype == torch::kHalf ? 2 : 4);
    return torch::from_blob(bytes.data(), {values / dimension, dimension}, dtype);
  }

  Napi::Value Add(const Napi::CallbackInfo& info) {
    struct AddJob : Job {
      AddJob(Napi::Env env, std::shared_ptr<ExactVectorIndex> i, std::pair<std::vector<uint8_t>, torch::Dtype> r)
          : Job(env), index(std::move(i)), bytes(std::move(r.first)), dtype(r.second) {}
      void Execute() override {
        torch::NoGradGuard noGrad;
        index->add(rowsOf(bytes, dtype, index->dimension()));
        size = index->size();
      }
      Napi::Value OnOK(Napi::Env env) override { return Napi::Number::New(env, static_cast<double>(size)); }
      std::shared_ptr<ExactVectorIndex> index;
      std::vector<uint8_t> bytes;
      torch::Dtype dtype;
      int64_t size = 0;
    };
    Napi::Env env = info.Env();
    auto index = live(env);
    auto rows = copyRows(info[0], index->dimension(), "vectors");
    return Job::Queue(*addonData(env).torchThread, std::make_unique<AddJob>(env, index, std::move(rows)));
  }

  Napi::Value Search(const Napi::CallbackInfo& info) {
    struct SearchJob : Job {
      SearchJob(Napi::Env env, std::shared_ptr<ExactVectorIndex> i, std::vector<float> q, int64_t k)
          : Job(env), index(std::move(i)), queries(std::move(q)), k(k) {}
      void Execute() override {
        torch::NoGradGuard noGrad;
        const int64_t d = index->dimension();
        auto found = index->search(torch::from_blob(queries.data(), {static_cast<int64_t>(queries.size()) / d, d}, torch::kFloat32), k);
        rows = found.first.to(torch::kInt32).contiguous();
        scores = found.second.contiguous();
      }
      Napi::Value OnOK(Napi::Env env) override {
        Napi::Object out = Napi::Object::New(env);
        auto ids = Napi::Int32Array::New(env, static_cast<size_t>(rows.numel()));
        std::copy(rows.data_ptr<int32_t>(), rows.data_ptr<int32_t>() + rows.numel(), ids.Data());
        out.Set("rows", ids);
        out.Set("scores", float32Array(env, scores.data_ptr<float>(), static_cast<size_t>(scores.numel())));
        out.Set("k", Napi::Number::New(env, static_cast<double>(rows.size(1))));
        return out;
      }
      std::shared_ptr<ExactVectorIndex> index;
      std::vector<float> queries;
      int64_t k;
      torch::Tensor rows, scores;
    };
    Napi::Env env = info.Env();
    auto index = live(env);
    if (!isFloat32Array(info[0])) throw Napi::TypeError::New(env, "queries must be a Float32Array");
    auto q = info[0].As<Napi::Float32Array>();
    if (q.ElementLength() % static_cast<size_t>(index->dimension()) != 0)
      throw Napi::RangeError::New(env, "queries has " + std::to_string(q.ElementLength()) + " values, not a multiple of the dimension " + std::to_string(index->dimension()));
    const double k = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
    requireWholeNumber(env, k, 1, 1e9, "k", "1");
    return Job::Queue(*addonData(env).torchThread,
                      std::make_unique<SearchJob>(env, index, std::vector<float>(q.Data(), q.Data() + q.ElementLength()), static_cast<int64_t>(k)));
  }

  // The stored vectors, row-major: a Float32Array, or a Uint16Array of float16 bits for an fp16 index.
  Napi::Value Stored(const Napi::CallbackInfo& info) {
    struct StoredJob : Job {
      StoredJob(Napi::Env env, std::shared_ptr<ExactVectorIndex> i) : Job(env), index(std::move(i)) {}
      void Execute() override { vectors = index->stored(); }
      Napi::Value OnOK(Napi::Env env) override {
        const size_t n = static_cast<size_t>(vectors.numel());
        if (vectors.scalar_type() == torch::kHalf) {
          auto out = Napi::Uint16Array::New(env, n);
          std::memcpy(out.Data(), vectors.data_ptr(), n * 2);
          return out;
        }
        return float32Array(env, vectors.data_ptr<float>(), n);
      }
      std::shared_ptr<ExactVectorIndex> index;
      torch::Tensor vectors;
    };
    Napi::Env env = info.Env();
    return Job::Queue(*addonData(env).torchThread, std::make_unique<StoredJob>(env, live(env)));
  }

  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), index_ ? static_cast<double>(index_->size()) : 0); }

  // Drops this handle; queued jobs keep the vectors alive until they finish.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    index_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<ExactVectorIndex> index_;
};

Napi::Value CreateVectorIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "createVectorIndex takes { dimension, metric, storage, device }");
  Napi::Object options = info[0].As<Napi::Object>();
  const double dimension = options.Get("dimension").IsNumber() ? options.Get("dimension").As<Napi::Number>().DoubleValue() : -1;
  requireWholeNumber(env, dimension, 1, 1 << 20, "dimension", "1 to 1048576");
  const std::string metric = options.Get("metric").ToString().Utf8Value();
  if (metric != "cosine" && metric != "dot") throw Napi::TypeError::New(env, "metric must be 'cosine' or 'dot', got '" + metric + "'");
  const std::string storage = options.Get("storage").ToString().Utf8Value();
  if (storage != "fp32" && storage != "fp16") throw Napi::TypeError::New(env, "storage must be 'fp32' or 'fp16', got '" + storage + "'");
  const torch::Device device = parseDevice(env, options.Get("device").IsString() ? options.Get("device").ToString().Utf8Value() : "cpu");
  auto index = std::make_shared<ExactVectorIndex>(static_cast<int64_t>(dimension), metric == "cosine" ? VectorMetric::Cosine : VectorMetric::Dot,
                                                  storage == "fp16" ? torch::kHalf : torch::kFloat32, device);
  auto external = Napi::External<std::shared_ptr<ExactVectorIndex>>::New(env, &index);
  return addonData(env).vectorIndexClass.New({external});
}

Napi::Value InitProcessGroup(const Napi::CallbackInfo& info) {
  struct InitJob : Job {
    InitJob(Napi::Env env, DistributedOptions o) : Job(env), options(std::move(o)) {}
    void Execute() override { group = DataParallelGroup::create(options); }
    Napi::Value OnOK(Napi::Env env) override {
      addonData(env).processGroup = group;
      auto external = Napi::External<std::shared_ptr<DataParallelGroup>>::New(env, &group);
      return addonData(env).processGroupClass.New({external});
    }
    DistributedOptions options;
    std::shared_ptr<DataParallelGroup> group;
  };
  Napi::Env env = info.Env();
  if (addonData(env).processGroup)
    throw Napi::Error::New(env, "a process group is already initialized in this process; destroy() it first");
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "initProcessGroup(options) needs an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  DistributedOptions options;
  options.rank = static_cast<int>(numberField(o, "rank"));
  options.worldSize = static_cast<int>(numberField(o, "worldSize"));
  options.localRank = static_cast<int>(numberField(o, "localRank"));
  options.masterAddr = o.Get("masterAddr").ToString().Utf8Value();
  options.masterPort = static_cast<int>(numberField(o, "masterPort"));
  options.backend = o.Get("backend").ToString().Utf8Value();
  options.timeoutSeconds = numberField(o, "timeoutSeconds");
  options.cuda = parseDevice(env, o.Get("device").ToString()).is_cuda();
  return Job::Queue(*addonData(env).torchThread, std::make_unique<InitJob>(env, std::move(options)));
}

Napi::Value DistributedBackends(const Napi::CallbackInfo& info) {
  return toJsStrings(info.Env(), distributedBackends());
}

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("torchVersion", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                              std::to_string(TORCH_VERSION_PATCH));
  out.Set("cudaAvailable", torch::cuda::is_available());
  out.Set("numThreads", addonData(env).torchThread->numThreads());
  out.Set("intraOpThreads", addonData(env).torchThread->intraOpThreads());
  out.Set("blas", addonData(env).torchThread->blas());
  out.Set("keepsFreedMemory", addonData(env).torchThread->keepsFreedMemory());
  out.Set("attentionBackends", addonData(env).torchThread->attentionBackends());
  out.Set("cudaGraphs", cudaGraphsAvailable());
  out.Set("packedForwards", static_cast<double>(TokenPacking::packedForwards()));
  out.Set("packedAttentionCalls", static_cast<double>(packedAttentionCalls()));
  out.Set("biasGeluCalls", static_cast<double>(biasGeluCalls()));
  out.Set("residualLayerNormCalls", static_cast<double>(residualLayerNormCalls()));
  out.Set("int8Products", static_cast<double>(Int8Linear::calls()));
  out.Set("int8Engine", Int8Linear::engine());
  out.Set("int8Kernel", Int8Linear::kernel());
  out.Set("cpuGemm", cpuGemmBackend());
  out.Set("cpuGemmCalls", static_cast<double>(cpuGemmCalls()));
  out.Set("int8Activations", Int8Linear::engine().empty() ? "" : Int8Linear::reducedRange() ? "u7" : "u8");
  out.Set("onednnPrimitiveCache", Int8Linear::primitiveCacheCapacity());
  return out;
}

// Synchronous: run from process's 'exit' event (native.ts), which process.exit() emits before exit().
Napi::Value StopForExit(const Napi::CallbackInfo& info) {
  addonData(info.Env()).torchThread->stopForExit();
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->torchThread = std::make_unique<TorchThread>();
  data->crossEncoderClass = Napi::Persistent(CrossEncoderWrap::Define(env));
  data->processGroupClass = Napi::Persistent(ProcessGroupWrap::Define(env));
  data->vectorIndexClass = Napi::Persistent(VectorIndexWrap::Define(env));
  env.SetInstanceData<AddonData>(data);  // deleted (thread joined) when the environment goes away
  exports.Set("createModel", Napi::Function::New(env, CreateModel));
  exports.Set("runtimeInfo", Napi::Function::New(env, RuntimeInfo));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("startProfiler", Napi::Function::New(env, StartProfiler));
  exports.Set("stopProfiler", Napi::Function::New(env, StopProfiler));
  exports.Set("dropoutMask", Napi::Function::New(env, DropoutMask));
  exports.Set("packedAttention", Napi::Function::New(env, PackedAttention));
  exports.Set("biasGelu", Napi::Function::New(env, BiasGelu));
  exports.Set("residualLayerNorm", Napi::Function::New(env, ResidualLayerNorm));
  exports.Set("stopForExit", Napi::Function::New(env, StopForExit));
  exports.Set("createVectorIndex", Napi::Function::New(env, CreateVectorIndex));
  exports.Set("initProcessGroup", Napi::Function::New(env, InitProcessGroup));
  exports.Set("distributedBackends", Napi::Function::New(env, DistributedBackends));
  return exports;
}

}  // namespace

}  // namespace rr

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return rr::Init(env, exports); }

NODE_API_MODULE(rrnative, InitAddon)
