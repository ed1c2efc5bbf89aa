// The model hyper-parameters the native core needs, copied out of config.json by the TypeScript layer.
#pragma once
#include <cstdint>
#include <string>

namespace rr {

// Encoder families. Roberta covers XLM-RoBERTa (the bge-reranker family); DebertaV2 covers DeBERTa-v3.
enum class ModelType { Bert, Roberta, Electra, DebertaV2 };

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
};

// The width the token embeddings are stored in: embedding_size where a family embeds smaller and projects.
inline int64_t embeddingWidth(const ModelConfig& cfg) { return cfg.embeddingSize > 0 ? cfg.embeddingSize : cfg.hiddenSize; }

}  // namespace rr
