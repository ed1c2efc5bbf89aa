// A small, strict JSON reader for safetensors headers (the only JSON the native core reads).
#pragma once
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace rr {

struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  bool isInteger = false;
  int64_t integer = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::vector<std::pair<std::string, JsonValue>> object;  // in file order

  const JsonValue* find(const std::string& key) const;
};

// Throws std::runtime_error("... at byte N") on malformed input.
JsonValue parseJson(const std::string& text);

std::string jsonQuote(const std::string& s);

}  // namespace rr
