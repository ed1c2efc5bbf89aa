#include "runtime/safetensors.h"
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include "runtime/json.h"

namespace rr {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;  // the format's own limit

struct DtypeInfo { const char* name; torch::ScalarType type; int64_t size; };
const DtypeInfo kDtypes[] = {
    {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2}, {"BF16", torch::kBFloat16, 2},
    {"F64", torch::kFloat64, 8}, {"I64", torch::kInt64, 8},   {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* dtypeByName(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtypeByType(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

}  // namespace

const SafetensorsEntry* SafetensorsHeader::find(const std::string& name) const {
  for (const auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

SafetensorsHeader readSafetensorsHeader(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, "cannot open file");
  const uint64_t fileSize = static_cast<uint64_t>(in.tellg());
  if (fileSize < 8) fail(path, "file is " + std::to_string(fileSize) + " bytes, too short for a safetensors header");
  in.seekg(0);
  unsigned char lenBytes[8];
  in.read(reinterpret_cast<char*>(lenBytes), 8);
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i) headerLen = (headerLen << 8) | lenBytes[i];  // little-endian u64
  if (headerLen > kMaxHeaderBytes) fail(path, "header length " + std::to_string(headerLen) + " exceeds the 100 MB limit");
  if (8 + headerLen > fileSize)
    fail(path, "header length " + std::to_string(headerLen) + " points past the end of the file (" +
                   std::to_string(fileSize) + " bytes): the file is truncated or not safetensors");
  std::string text(headerLen, '\0');
  in.read(text.data(), static_cast<std::streamsize>(headerLen));
  if (!in) fail(path, "could not read the header");

  JsonValue root;
  try {
    root = parseJson(text);
  } catch (const std::exception& e) {
    fail(path, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (root.kind != JsonValue::Kind::Object) fail(path, "header is not a JSON object");

  SafetensorsHeader header;
  header.path = path;
  header.dataStart = 8 + headerLen;
  header.dataSize = fileSize - header.dataStart;
  for (const auto& kv : root.object) {
    const std::string& name = kv.first;
    const JsonValue& v = kv.second;
    if (name == "__metadata__") {
      if (v.kind != JsonValue::Kind::Object) fail(path, "__metadata__ is not an object");
      for (const auto& m : v.object)
        if (m.second.kind == JsonValue::Kind::String) header.metadata[m.first] = m.second.string;
      continue;
    }
    auto bad = [&](const std::string& what) { fail(path, "tensor '" + name + "': " + what); };
    if (v.kind != JsonValue::Kind::Object) bad("entry is not an object");
    const JsonValue* dtype = v.find("dtype");
    const JsonValue* shape = v.find("shape");
    const JsonValue* offsets = v.find("data_offsets");
    if (!dtype || dtype->kind != JsonValue::Kind::String) bad("missing or non-string 'dtype'");
    if (!shape || shape->kind != JsonValue::Kind::Array) bad("missing or non-array 'shape'");
    if (!offsets || offsets->kind != JsonValue::Kind::Array || offsets->array.size() != 2) bad("'data_offsets' is not [begin, end]");
    const DtypeInfo* info = dtypeByName(dtype->string);
    if (!info) bad("unsupported dtype '" + dtype->string + "'");
    SafetensorsEntry entry;
    entry.name = name;
    entry.dtype = dtype->string;
    int64_t numel = 1;
    for (const auto& d : shape->array) {
      if (!d.isInteger || d.integer < 0) bad("shape has a negative or non-integer dimension");
      entry.shape.push_back(d.integer);
      if (d.integer != 0 && numel > (int64_t{1} << 50) / d.integer) bad("shape is too large");
      numel *= d.integer;
    }
    for (const auto& o : offsets->array)
      if (!o.isInteger || o.integer < 0) bad("data_offsets are not non-negative integers");
    entry.begin = static_cast<uint64_t>(offsets->array[0].integer);
    entry.end = static_cast<uint64_t>(offsets->array[1].integer);
    if (entry.end < entry.begin) bad("data_offsets end before they begin");
    if (entry.end > header.dataSize)
      bad("data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
          "] point past the end of the data (" + std::to_string(header.dataSize) + " bytes): the file is truncated");
    if (entry.end - entry.begin != static_cast<uint64_t>(numel * info->size))
      bad("holds " + std::to_string(entry.end - entry.begin) + " bytes but shape and dtype " + entry.dtype + " need " +
          std::to_string(numel * info->size));
    header.entries.push_back(std::move(entry));
  }
  std::vector<const SafetensorsEntry*> sorted;
  for (const auto& e : header.entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  const SafetensorsEntry* furthest = nullptr;  // the tensor reaching furthest so far
  for (const auto* e : sorted) {
    if (e->end == e->begin) continue;
    if (furthest && e->begin < furthest->end)
      fail(path, "tensors '" + furthest->name + "' and '" + e->name + "' overlap");
    if (!furthest || e->end > furthest->end) furthest = e;
  }
  return header;
}

torch::Tensor readSafetensor(const SafetensorsHeader& header, const SafetensorsEntry& entry) {
  const DtypeInfo* info = dtypeByName(entry.dtype);
  auto tensor = torch::empty(entry.shape, torch::TensorOptions().dtype(info->type));
  std::ifstream in(header.path, std::ios::binary);
  if (!in) fail(header.path, "cannot open file");
  in.seekg(static_cast<std::streamoff>(header.dataStart + entry.begin));
  in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(entry.end - entry.begin));
  if (!in) fail(header.path, "tensor '" + entry.name + "': could not read its bytes (file changed or truncated)");
  return tensor;
}

void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& unordered,
                      const std::map<std::string, std::string>& metadata) {
  // The reference writer's order: larger dtypes first (keeps every tensor aligned), then by name.
  auto tensors = unordered;
  std::stable_sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
    if (a.second.element_size() != b.second.element_size()) return a.second.element_size() > b.second.element_size();
    return a.first < b.first;
  });
  std::vector<torch::Tensor> cpu;
  std::string json = "{";
  if (!metadata.empty()) {
    json += "\"__metadata__\":{";
    bool first = true;
    for (const auto& m : metadata) {
      json += (first ? "" : ",") + jsonQuote(m.first) + ":" + jsonQuote(m.second);
      first = false;
    }
    json += "},";
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto t = tensors[i].second.detach().to(torch::kCPU).contiguous();
    const DtypeInfo* info = dtypeByType(t.scalar_type());
    if (!info) fail(path, "tensor '" + tensors[i].first + "' has a dtype safetensors cannot store");
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * info->size;
    json += (i ? "," : "") + jsonQuote(tensors[i].first) + ":{\"dtype\":\"" + info->name + "\",\"shape\":[";
    for (int64_t d = 0; d < t.dim(); ++d) json += (d ? "," : "") + std::to_string(t.size(d));
    json += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
    cpu.push_back(t);
  }
  json += "}";
  while ((8 + json.size()) % 8 != 0) json += ' ';  // align the data section to 8 bytes, as the reference writer does

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, "cannot open for writing");
  uint64_t len = json.size();
  unsigned char lenBytes[8];
  for (int i = 0; i < 8; ++i) lenBytes[i] = static_cast<unsigned char>((len >> (8 * i)) & 0xFF);
  out.write(reinterpret_cast<const char*>(lenBytes), 8);
  out.write(json.data(), static_cast<std::streamsize>(json.size()));
  for (const auto& t : cpu) out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  out.flush();
  if (!out) fail(path, "write failed (disk full?)");
}

}  // namespace rr
