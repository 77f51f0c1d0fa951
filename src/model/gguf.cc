#include "model/gguf.h"

#include <cstring>
#include <limits>
#include <sstream>

namespace mlxs {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxDims = 4;
constexpr int kMaxArrayDepth = 8;

// Cursor over the file's bytes; every read checks bounds.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& name)
      : data_(data), size_(size), name_(name) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  Status fail(const std::string& what) const {
    std::ostringstream os;
    os << name_ << ": " << what << " (at byte offset " << pos_ << " of " << size_ << ")";
    return Status::Error(os.str());
  }

  template <typename T>
  Status read(T* out, const char* what) {
    if (remaining() < sizeof(T))
      return fail(std::string("truncated file while reading ") + what);
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status read_string(std::string* out, const char* what) {
    uint64_t len = 0;
    MLXS_RETURN_IF_ERROR(read(&len, what));
    if (len > remaining())
      return fail(std::string("string length ") + std::to_string(len) + " of " + what +
                  " runs past the end of the file");
    out->assign(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

 private:
  const uint8_t* data_;
  size_t size_;
  const std::string& name_;
  size_t pos_ = 0;
};

size_t min_encoded_size(GgufType t) {
  switch (t) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::BOOL: return 1;
    case GgufType::UINT16: case GgufType::INT16: return 2;
    case GgufType::UINT32: case GgufType::INT32: case GgufType::FLOAT32: return 4;
    case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT64: return 8;
    case GgufType::STRING: return 8;
    case GgufType::ARRAY: return 12;
  }
  return 1;
}

bool valid_gguf_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::FLOAT64); }

Status read_scalar(Reader& r, GgufType type, GgufValue* v, const std::string& key) {
  v->type = type;
  const char* what = "metadata value";
  switch (type) {
    case GgufType::UINT8: { uint8_t x = 0; MLXS_RETURN_IF_ERROR(r.read(&x, what)); v->u = x; v->i = x; break; }
    case GgufType::INT8: { int8_t x = 0; MLXS_RETURN_IF_ERROR(r.read(&x, what)); v->i = x; break; }
    case GgufType::UINT16: { uint16_t x = 0; MLXS_RETURN_IF_ERROR(r.read(&x, what)); v->u = x; v->i = x; break; }
    case GgufType::INT16: { int16_t x = 0; MLXS_RETURN_IF_ERROR(r.read(&x, what)); v->i = x; break; }
    case GgufType::UINT32: { uint32_t x = 0; MLXS_RETURN_IF_ERROR(r.read(&x, what)); v->u = x; v->i = x; break; }
    case GgufType::INT32: { int32_t x = 0; MLXS_RETURN_IF_ERROR(r.read(&x, what)); v->i = x; break; }
    case GgufType::UINT64: {
      uint64_t x; MLXS_RETURN_IF_ERROR(r.read(&x, what)); v->u = x;
      v->i = x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(x);
      break;
    }
    case GgufType::INT64: { int64_t x = 0; MLXS_RETURN_IF_ERROR(r.read(&x, what)); v->i = x; break; }
    case GgufType::FLOAT32: { float x = 0; MLXS_RETURN_IF_ERROR(r.read(&x, what)); v->f = x; break; }
    case GgufType::FLOAT64: { double x = 0; MLXS_RETURN_IF_ERROR(r.read(&x, what)); v->f = x; break; }
    case GgufType::BOOL: {
      uint8_t x; MLXS_RETURN_IF_ERROR(r.read(&x, what));
      if (x > 1) return r.fail("metadata key '" + key + "': bool value " + std::to_string(x) + " is not 0 or 1");
      v->i = x; break;
    }
    case GgufType::STRING: MLXS_RETURN_IF_ERROR(r.read_string(&v->s, "metadata string value")); break;
    case GgufType::ARRAY: return r.fail("internal: array read as scalar");
  }
  return Status::Ok();
}

Status read_value(Reader& r, GgufType type, GgufValue* v, const std::string& key, int depth);

Status read_array(Reader& r, GgufValue* v, const std::string& key, int depth) {
  if (depth > kMaxArrayDepth) return r.fail("metadata key '" + key + "': arrays nested too deeply");
  uint32_t et;
  uint64_t n;
  MLXS_RETURN_IF_ERROR(r.read(&et, "array element type"));
  if (!valid_gguf_type(et))
    return r.fail("metadata key '" + key + "': unknown array element type " + std::to_string(et));
  MLXS_RETURN_IF_ERROR(r.read(&n, "array length"));
  GgufType elem = static_cast<GgufType>(et);
  if (n > r.remaining() / min_encoded_size(elem))
    return r.fail("metadata key '" + key + "': array of " + std::to_string(n) +
                  " elements runs past the end of the file");
  auto arr = std::make_shared<GgufArray>();
  arr->elem_type = elem;
  for (uint64_t k = 0; k < n; ++k) {
    GgufValue e;
    MLXS_RETURN_IF_ERROR(read_value(r, elem, &e, key, depth + 1));
    switch (elem) {
      case GgufType::STRING: arr->strings.push_back(std::move(e.s)); break;
      case GgufType::FLOAT32: case GgufType::FLOAT64: arr->floats.push_back(e.f); break;
      case GgufType::ARRAY: arr->arrays.push_back(std::move(e)); break;
      case GgufType::UINT64: arr->uints.push_back(e.u); arr->ints.push_back(e.i); break;
      default: arr->ints.push_back(e.i); break;
    }
  }
  v->type = GgufType::ARRAY;
  v->arr = std::move(arr);
  return Status::Ok();
}

Status read_value(Reader& r, GgufType type, GgufValue* v, const std::string& key, int depth) {
  if (type == GgufType::ARRAY) return read_array(r, v, key, depth);
  return read_scalar(r, type, v, key);
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::UINT8: return "uint8";
    case GgufType::INT8: return "int8";
    case GgufType::UINT16: return "uint16";
    case GgufType::INT16: return "int16";
    case GgufType::UINT32: return "uint32";
    case GgufType::INT32: return "int32";
    case GgufType::FLOAT32: return "float32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::UINT64: return "uint64";
    case GgufType::INT64: return "int64";
    case GgufType::FLOAT64: return "float64";
  }
  return "?";
}

size_t GgufArray::size() const {
  switch (elem_type) {
    case GgufType::STRING: return strings.size();
    case GgufType::FLOAT32: case GgufType::FLOAT64: return floats.size();
    case GgufType::ARRAY: return arrays.size();
    default: return ints.size();
  }
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::UINT16: case GgufType::INT16:
    case GgufType::UINT32: case GgufType::INT32: case GgufType::UINT64: case GgufType::INT64:
      return true;
    default: return false;
  }
}

std::string GgufValue::to_string() const {
  std::ostringstream os;
  switch (type) {
    case GgufType::STRING: os << '"' << (s.size() > 60 ? s.substr(0, 60) + "..." : s) << '"'; break;
    case GgufType::FLOAT32: case GgufType::FLOAT64: os << f; break;
    case GgufType::BOOL: os << (i ? "true" : "false"); break;
    case GgufType::UINT64: os << u; break;
    case GgufType::ARRAY: os << "[" << gguf_type_name(arr->elem_type) << " x " << arr->size() << "]"; break;
    default: os << i; break;
  }
  return os.str();
}

int64_t GgufTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::string GgufTensor::shape_string() const {
  std::string s = "[";
  for (size_t k = 0; k < ne.size(); ++k) s += (k ? ", " : "") + std::to_string(ne[k]);
  return s + "]";
}

Result<std::shared_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  auto map = MappedFile::open(path);
  if (!map.ok()) return map.status();
  auto f = parse(map.value()->data(), map.value()->size(), path);
  if (!f.ok()) return f.status();
  f.value()->map_ = map.value();
  return f;
}

Result<std::shared_ptr<GgufFile>> GgufFile::parse(const uint8_t* data, size_t size,
                                                  const std::string& name) {
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->path_ = name;
  Reader r(data, size, f->path_);

  uint32_t magic;
  if (size < 4) return r.fail("not a GGUF file: too short for the magic number");
  MLXS_RETURN_IF_ERROR(r.read(&magic, "magic"));
  if (magic != kGgufMagic) {
    return Status::Error(name + ": not a GGUF file (wrong magic: expected \"GGUF\")");
  }
  MLXS_RETURN_IF_ERROR(r.read(&f->version_, "version"));
  if (f->version_ == 1)
    return Status::Error(name + ": GGUF version 1 is not supported (only versions 2 and 3)");
  if (f->version_ != 2 && f->version_ != 3)
    return Status::Error(name + ": unsupported GGUF version " + std::to_string(f->version_));

  uint64_t n_tensors, n_kv;
  MLXS_RETURN_IF_ERROR(r.read(&n_tensors, "tensor count"));
  MLXS_RETURN_IF_ERROR(r.read(&n_kv, "metadata count"));
  // Each key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor
  // info at least 8 + 4 + 4 + 8 bytes. Reject absurd counts before allocating anything.
  if (n_kv > r.remaining() / 13)
    return r.fail("metadata count " + std::to_string(n_kv) + " is larger than the file allows");
  if (n_tensors > r.remaining() / 24)
    return r.fail("tensor count " + std::to_string(n_tensors) + " is larger than the file allows");

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    MLXS_RETURN_IF_ERROR(r.read_string(&key, "metadata key"));
    uint32_t t;
    MLXS_RETURN_IF_ERROR(r.read(&t, "metadata value type"));
    if (!valid_gguf_type(t))
      return r.fail("metadata key '" + key + "' has unknown value type " + std::to_string(t));
    GgufValue v;
    MLXS_RETURN_IF_ERROR(read_value(r, static_cast<GgufType>(t), &v, key, 0));
    if (f->kv_.count(key)) return r.fail("duplicate metadata key '" + key + "'");
    f->kv_.emplace(std::move(key), std::move(v));
  }

  if (const GgufValue* a = f->find("general.alignment")) {
    if (!a->is_integer() || a->i <= 0 || (a->i & (a->i - 1)) != 0 || a->i > (1 << 20))
      return Status::Error(name + ": general.alignment must be a power of two, got " + a->to_string());
    f->alignment_ = static_cast<size_t>(a->i);
  }

  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensor t;
    MLXS_RETURN_IF_ERROR(r.read_string(&t.name, "tensor name"));
    uint32_t n_dims;
    MLXS_RETURN_IF_ERROR(r.read(&n_dims, "tensor dimension count"));
    if (n_dims == 0 || n_dims > kMaxDims)
      return r.fail("tensor '" + t.name + "' has " + std::to_string(n_dims) +
                    " dimensions (1 to 4 allowed)");
    int64_t n_el = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne;
      MLXS_RETURN_IF_ERROR(r.read(&ne, "tensor dimension"));
      if (ne == 0 || ne > (uint64_t{1} << 40))
        return r.fail("tensor '" + t.name + "' has invalid dimension " + std::to_string(ne));
      if (n_el > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(ne))
        return r.fail("tensor '" + t.name + "' has too many elements");
      n_el *= static_cast<int64_t>(ne);
      t.ne.push_back(static_cast<int64_t>(ne));
    }
    uint32_t type;
    MLXS_RETURN_IF_ERROR(r.read(&type, "tensor type"));
    auto ti = type_info(type);
    if (!ti) return r.fail("tensor '" + t.name + "' has unknown tensor type " + std::to_string(type));
    t.type = ti->type;
    if (t.ne[0] % ti->block_size != 0)
      return r.fail("tensor '" + t.name + "' row length " + std::to_string(t.ne[0]) +
                    " is not a multiple of the " + ti->name + " block size " +
                    std::to_string(ti->block_size));
    MLXS_RETURN_IF_ERROR(r.read(&t.offset, "tensor data offset"));
    if (t.offset % f->alignment_ != 0)
      return r.fail("tensor '" + t.name + "' data offset " + std::to_string(t.offset) +
                    " is not aligned to " + std::to_string(f->alignment_));
    t.nbytes = static_cast<size_t>(n_el / ti->block_size) * ti->type_size;
    if (f->tensor_index_.count(t.name)) return r.fail("duplicate tensor name '" + t.name + "'");
    f->tensor_index_[t.name] = f->tensors_.size();
    f->tensors_.push_back(std::move(t));
  }

  size_t header_end = r.pos();
  f->data_offset_ = (header_end + f->alignment_ - 1) / f->alignment_ * f->alignment_;
  for (auto& t : f->tensors_) {
    if (f->data_offset_ > size || t.offset > size - f->data_offset_ ||
        t.nbytes > size - f->data_offset_ - t.offset) {
      std::ostringstream os;
      os << name << ": tensor '" << t.name << "' data (offset " << t.offset << ", " << t.nbytes
         << " bytes from data section at " << f->data_offset_ << ") runs past the end of the file ("
         << size << " bytes): the file is truncated or corrupt";
      return Status::Error(os.str());
    }
    t.data = data + f->data_offset_ + t.offset;
  }
  return f;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::optional<std::string> GgufFile::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v || v->type != GgufType::STRING) return std::nullopt;
  return v->s;
}

std::optional<int64_t> GgufFile::get_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v || !v->is_integer()) return std::nullopt;
  return v->i;
}

std::optional<double> GgufFile::get_float(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->is_float()) return v->f;
  if (v->is_integer()) return static_cast<double>(v->i);
  return std::nullopt;
}

std::optional<bool> GgufFile::get_bool(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v || v->type != GgufType::BOOL) return std::nullopt;
  return v->i != 0;
}

const GgufArray* GgufFile::get_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v || v->type != GgufType::ARRAY) return nullptr;
  return v->arr.get();
}

}  // namespace mlxs
