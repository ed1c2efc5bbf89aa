// The model hyper-parameters the native core needs, copied out of config.json by the TypeScript layer.
#pragma once
#include <string>

namespace rr {

enum class ModelType { Bert };

struct ModelConfig {
  ModelType type = ModelType::Bert;
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
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
  double classifierDropout = 0.1;  // resolved: classifier_dropout, else hidden_dropout_prob
  double initializerRange = 0.02;
  std::string hiddenAct = "gelu";
};

}  // namespace rr
