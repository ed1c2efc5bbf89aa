// The model hyper-parameters the native core needs, copied out of config.json by the TypeScript layer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rr {

// Model families. Roberta covers XLM-RoBERTa (the bge-reranker family); DebertaV2 covers DeBERTa-v3; ModernBert the
// gte / ettin rerankers; Qwen3 and Qwen2 the decoder rerankers (Qwen3-Reranker, mxbai-rerank-v2).
enum class ModelType { Bert, Roberta, Electra, DebertaV2, ModernBert, Qwen3, Qwen2 };

// How a decoder scores a pair: a `score` Linear on the last real token (HF's *ForSequenceClassification), or
// Qwen3-Reranker's logit("yes") - logit("no") there, from those two rows of the LM head (a *ForCausalLM checkpoint).
enum class DecoderHead { Score, YesNo };

struct ModelConfig {
  ModelType type = ModelType::Bert;
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t embeddingSize = 0;  // ELECTRA/DeBERTa may embed in a smaller size, then project
  int64_t numHiddenLayers = 0;
  int64_t numAttentionHeads = 0;
  int64_t intermediateSize = 0;
  int64_t maxPositionEmbeddings = 0;
  int64_t typeVocabSize = 0;
  int64_t numLabels = 1;
  int64_t padTokenId = 0;
  double layerNormEps = 1e-12;
  double hiddenDropoutProb = 0.1;
  double attentionProbsDropoutProb = 0.1;
  double classifierDropout = 0.1;  // resolved: classifier_dropout (cls_dropout), else hidden_dropout_prob
  double initializerRange = 0.02;
  std::string hiddenAct = "gelu";

  // DeBERTa-v2/v3
  bool positionBiasedInput = true;   // absolute position embeddings added to the input
  bool relativeAttention = false;
  int64_t maxRelativePositions = -1;
  int64_t positionBuckets = -1;
  bool c2p = false, p2c = false;     // pos_att_type
  bool shareAttKey = false;
  bool normRelEmbedding = false;     // norm_rel_ebd == "layer_norm"
  std::string poolerHiddenAct = "gelu";
  double poolerDropout = 0.0;

  // ModernBERT (layerNormEps is norm_eps, hiddenAct hidden_activation, attentionProbsDropoutProb attention_dropout)
  bool normBias = true;
  bool attentionBias = false, mlpBias = false, classifierBias = false;
  double globalRopeTheta = 160000.0, localRopeTheta = 10000.0;
  std::vector<bool> localLayers;       // layer_types "sliding_attention" (or i % global_attn_every_n_layers != 0)
  int64_t localAttention = -1;         // local layers see |i - j| <= localAttention / 2
  bool meanPooling = false;            // classifier_pooling "mean" (else "cls")
  std::string classifierActivation = "gelu";
  double embeddingDropout = 0.0, mlpDropout = 0.0;

  // Qwen3 / Qwen2 (layerNormEps is rms_norm_eps)
  int64_t numKeyValueHeads = 0;
  int64_t headDim = 0;                 // Qwen3's head_dim may differ from hidden / heads
  double ropeTheta = 10000.0;
  bool qkNorm = false;                 // Qwen3: RMSNorm over each head of q and k before RoPE
  bool qkvBias = false;                // Qwen2: q/k/v projections with biases
  bool tieWordEmbeddings = false;
  DecoderHead decoderHead = DecoderHead::Score;
  int64_t yesTokenId = -1, noTokenId = -1;
};

inline bool isDecoder(ModelType type) { return type == ModelType::Qwen3 || type == ModelType::Qwen2; }

// The width the token embeddings are stored in: embedding_size where a family embeds smaller and projects.
inline int64_t embeddingWidth(const ModelConfig& cfg) { return cfg.embeddingSize > 0 ? cfg.embeddingSize : cfg.hiddenSize; }

}  // namespace rr
