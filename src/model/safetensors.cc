#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

namespace mlxs {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A header larger than this is not a real checkpoint header (real ones are a few MB).
constexpr uint64_t kMaxHeader = 100ull << 20;

struct DtypeRow {
  StDtype t;
  const char* name;
  size_t size;
};
constexpr DtypeRow kDtypes[] = {
    {StDtype::F64, "F64", 8}, {StDtype::F32, "F32", 4}, {StDtype::F16, "F16", 2},
    {StDtype::BF16, "BF16", 2}, {StDtype::I64, "I64", 8}, {StDtype::I32, "I32", 4},
    {StDtype::I16, "I16", 2}, {StDtype::I8, "I8", 1}, {StDtype::U64, "U64", 8},
    {StDtype::U32, "U32", 4}, {StDtype::U16, "U16", 2}, {StDtype::U8, "U8", 1},
    {StDtype::BOOL, "BOOL", 1},
};

bool dtype_from_name(const std::string& s, StDtype* out) {
  for (const auto& r : kDtypes)
    if (s == r.name) {
      *out = r.t;
      return true;
    }
  return false;
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(path + ": cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

const char* st_dtype_name(StDtype t) {
  for (const auto& r : kDtypes)
    if (r.t == t) return r.name;
  return "?";
}

size_t st_dtype_size(StDtype t) {
  for (const auto& r : kDtypes)
    if (r.t == t) return r.size;
  return 1;
}

int64_t StTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string StTensor::shape_string() const {
  std::string s = "[";
  for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

Status SafetensorsSet::add_file(const uint8_t* data, size_t size, const std::string& name) {
  if (size < 8) return Status::Error(name + ": not a safetensors file (shorter than its 8-byte header length)");
  uint64_t hlen;
  std::memcpy(&hlen, data, 8);
  if (hlen > kMaxHeader || hlen > size - 8)
    return Status::Error(name + ": header length " + std::to_string(hlen) +
                         " runs past the end of the file (" + std::to_string(size) + " bytes)");
  json header = json::parse(data + 8, data + 8 + hlen, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    return Status::Error(name + ": header is not a JSON object");
  const uint8_t* base = data + 8 + hlen;
  const uint64_t data_size = size - 8 - hlen;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) return Status::Error(name + ": __metadata__ is not an object");
      if (metadata_.empty())
        for (auto m = v.begin(); m != v.end(); ++m)
          if (m.value().is_string()) metadata_[m.key()] = m.value().get<std::string>();
      continue;
    }
    auto bad = [&](const std::string& what) {
      return Status::Error(name + ": tensor '" + key + "': " + what);
    };
    if (!v.is_object()) return bad("entry is not an object");
    StTensor t;
    t.name = key;
    t.file = name;
    if (!v.contains("dtype") || !v["dtype"].is_string()) return bad("missing dtype");
    if (!dtype_from_name(v["dtype"].get<std::string>(), &t.dtype))
      return bad("unsupported dtype " + v["dtype"].get<std::string>());
    if (!v.contains("shape") || !v["shape"].is_array()) return bad("missing shape");
    int64_t n = 1;
    for (const json& d : v["shape"]) {
      if (!d.is_number_unsigned()) return bad("shape has a non-integer dimension");
      uint64_t x = d.get<uint64_t>();
      if (x > (uint64_t{1} << 40) || (x && n > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(x)))
        return bad("shape is too large");
      t.shape.push_back(static_cast<int64_t>(x));
      n *= static_cast<int64_t>(x);
    }
    const json& off = v.value("data_offsets", json());
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      return bad("data_offsets must be two non-negative integers");
    uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_size)
      return bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                 "] run past the end of the data (" + std::to_string(data_size) + " bytes): truncated or corrupt file");
    t.nbytes = static_cast<size_t>(e - b);
    if (t.nbytes != static_cast<uint64_t>(n) * st_dtype_size(t.dtype))
      return bad("holds " + std::to_string(t.nbytes) + " bytes but " + st_dtype_name(t.dtype) + " " +
                 t.shape_string() + " needs " + std::to_string(n * st_dtype_size(t.dtype)));
    t.data = base + b;
    if (tensors_.count(key)) return bad("appears in more than one file");
    ranges.push_back({b, e});
    tensors_.emplace(key, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t k = 1; k < ranges.size(); ++k)
    if (ranges[k].first < ranges[k - 1].second)
      return Status::Error(name + ": tensor data ranges overlap");
  return Status::Ok();
}

Result<std::shared_ptr<SafetensorsSet>> SafetensorsSet::parse(const uint8_t* data, size_t size,
                                                              const std::string& name) {
  auto set = std::make_shared<SafetensorsSet>();
  MLXS_RETURN_IF_ERROR(set->add_file(data, size, name));
  return set;
}

Result<std::shared_ptr<SafetensorsSet>> SafetensorsSet::open_file(const std::string& path) {
  auto map = MappedFile::open(path);
  if (!map.ok()) return map.status();
  auto set = std::make_shared<SafetensorsSet>();
  MLXS_RETURN_IF_ERROR(set->add_file(map.value()->data(), map.value()->size(), path));
  set->maps_.push_back(map.value());
  return set;
}

Result<std::shared_ptr<SafetensorsSet>> SafetensorsSet::open_folder(const std::string& dir) {
  auto set = std::make_shared<SafetensorsSet>();
  fs::path index = fs::path(dir) / "model.safetensors.index.json";
  std::vector<std::string> shards;
  json weight_map;
  std::error_code ec;
  if (fs::exists(index, ec)) {
    auto text = read_text(index.string());
    if (!text.ok()) return text.status();
    json j = json::parse(text.value(), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      return Status::Error(index.string() + ": not a JSON object with a \"weight_map\" object");
    weight_map = j["weight_map"];
    std::set<std::string> seen;
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      if (!it.value().is_string())
        return Status::Error(index.string() + ": weight_map entry '" + it.key() + "' is not a file name");
      std::string f = it.value().get<std::string>();
      if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
        return Status::Error(index.string() + ": shard name '" + f + "' is not a plain file name");
      if (seen.insert(f).second) shards.push_back(f);
    }
  } else if (fs::exists(fs::path(dir) / "model.safetensors", ec)) {
    shards.push_back("model.safetensors");
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".safetensors") shards.push_back(e.path().filename().string());
    std::sort(shards.begin(), shards.end());
  }
  if (shards.empty()) return Status::Error(dir + ": no .safetensors files");
  for (const std::string& s : shards) {
    std::string path = (fs::path(dir) / s).string();
    if (!fs::exists(path, ec))
      return Status::Error(path + ": shard listed in model.safetensors.index.json is missing");
    auto map = MappedFile::open(path);
    if (!map.ok()) return map.status();
    MLXS_RETURN_IF_ERROR(set->add_file(map.value()->data(), map.value()->size(), path));
    set->maps_.push_back(map.value());
  }
  for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
    const StTensor* t = set->find(it.key());
    std::string want = (fs::path(dir) / it.value().get<std::string>()).string();
    if (!t) return Status::Error(want + ": does not hold tensor '" + it.key() + "' that the index places there");
    if (t->file != want)
      return Status::Error(index.string() + ": tensor '" + it.key() + "' is in " + t->file +
                           ", not in " + want + " as the index says");
  }
  return set;
}

const StTensor* SafetensorsSet::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace mlxs
