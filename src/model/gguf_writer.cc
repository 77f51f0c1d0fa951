#include "model/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace mlxs {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kGgufVersion = 3;

// Appends the little-endian bytes of trivially copyable values (the targets are x86-64).
class Enc {
 public:
  template <typename T>
  Enc& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    buf.insert(buf.end(), p, p + sizeof(T));
    return *this;
  }
  Enc& str(const std::string& s) {
    put<uint64_t>(s.size());
    buf.insert(buf.end(), s.begin(), s.end());
    return *this;
  }
  std::vector<uint8_t> buf;
};

template <typename T>
std::vector<uint8_t> scalar(T v) {
  Enc e;
  e.put(v);
  return std::move(e.buf);
}

template <typename T, typename V>
std::vector<uint8_t> array_of(GgufType elem, const std::vector<V>& v) {
  Enc e;
  e.put<uint32_t>(static_cast<uint32_t>(elem)).put<uint64_t>(v.size());
  for (const auto& x : v) e.put<T>(static_cast<T>(x));
  return std::move(e.buf);
}

Status encode_value(const GgufValue& v, Enc* e, int depth);

Status encode_scalar(GgufType t, int64_t i, uint64_t u, double f, const std::string& s, Enc* e) {
  switch (t) {
    case GgufType::UINT8: e->put<uint8_t>(static_cast<uint8_t>(u ? u : i)); break;
    case GgufType::INT8: e->put<int8_t>(static_cast<int8_t>(i)); break;
    case GgufType::UINT16: e->put<uint16_t>(static_cast<uint16_t>(u ? u : i)); break;
    case GgufType::INT16: e->put<int16_t>(static_cast<int16_t>(i)); break;
    case GgufType::UINT32: e->put<uint32_t>(static_cast<uint32_t>(u ? u : i)); break;
    case GgufType::INT32: e->put<int32_t>(static_cast<int32_t>(i)); break;
    case GgufType::UINT64: e->put<uint64_t>(u ? u : static_cast<uint64_t>(i)); break;
    case GgufType::INT64: e->put<int64_t>(i); break;
    case GgufType::FLOAT32: e->put<float>(static_cast<float>(f)); break;
    case GgufType::FLOAT64: e->put<double>(f); break;
    case GgufType::BOOL: e->put<uint8_t>(i ? 1 : 0); break;
    case GgufType::STRING: e->str(s); break;
    case GgufType::ARRAY: return Status::Error("internal: array encoded as scalar");
  }
  return Status::Ok();
}

Status encode_array(const GgufArray& a, Enc* e, int depth) {
  if (depth > 8) return Status::Error("GGUF arrays nested too deeply");
  e->put<uint32_t>(static_cast<uint32_t>(a.elem_type)).put<uint64_t>(a.size());
  switch (a.elem_type) {
    case GgufType::STRING:
      for (const auto& s : a.strings) e->str(s);
      break;
    case GgufType::FLOAT32:
    case GgufType::FLOAT64:
      for (double f : a.floats) MLXS_RETURN_IF_ERROR(encode_scalar(a.elem_type, 0, 0, f, {}, e));
      break;
    case GgufType::ARRAY:
      for (const auto& v : a.arrays) MLXS_RETURN_IF_ERROR(encode_value(v, e, depth + 1));
      break;
    case GgufType::UINT64:
      // The reader keeps the exact values in `uints` (ints saturate above INT64_MAX).
      for (uint64_t u : a.uints) e->put<uint64_t>(u);
      break;
    default:
      for (int64_t i : a.ints) MLXS_RETURN_IF_ERROR(encode_scalar(a.elem_type, i, 0, 0, {}, e));
      break;
  }
  return Status::Ok();
}

Status encode_value(const GgufValue& v, Enc* e, int depth) {
  if (v.type == GgufType::ARRAY) {
    if (!v.arr) return Status::Error("GGUF array value without elements");
    return encode_array(*v.arr, e, depth);
  }
  return encode_scalar(v.type, v.i, v.u, v.f, v.s, e);
}

size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// Closes the FILE on every return path.
struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  // Written explicitly even at the default so readers never have to guess.
  set_u32("general.alignment", alignment_);
}

void GgufWriter::put(const std::string& key, GgufType type, std::vector<uint8_t> bytes) {
  for (auto& e : kv_) {
    if (e.key == key) {
      e.type = type;
      e.bytes = std::move(bytes);
      return;
    }
  }
  kv_.push_back({key, type, std::move(bytes)});
}

void GgufWriter::set_u8(const std::string& k, uint8_t v) { put(k, GgufType::UINT8, scalar(v)); }
void GgufWriter::set_i8(const std::string& k, int8_t v) { put(k, GgufType::INT8, scalar(v)); }
void GgufWriter::set_u16(const std::string& k, uint16_t v) { put(k, GgufType::UINT16, scalar(v)); }
void GgufWriter::set_i16(const std::string& k, int16_t v) { put(k, GgufType::INT16, scalar(v)); }
void GgufWriter::set_u32(const std::string& k, uint32_t v) { put(k, GgufType::UINT32, scalar(v)); }
void GgufWriter::set_i32(const std::string& k, int32_t v) { put(k, GgufType::INT32, scalar(v)); }
void GgufWriter::set_u64(const std::string& k, uint64_t v) { put(k, GgufType::UINT64, scalar(v)); }
void GgufWriter::set_i64(const std::string& k, int64_t v) { put(k, GgufType::INT64, scalar(v)); }
void GgufWriter::set_f32(const std::string& k, float v) { put(k, GgufType::FLOAT32, scalar(v)); }
void GgufWriter::set_f64(const std::string& k, double v) { put(k, GgufType::FLOAT64, scalar(v)); }
void GgufWriter::set_bool(const std::string& k, bool v) {
  put(k, GgufType::BOOL, scalar<uint8_t>(v ? 1 : 0));
}
void GgufWriter::set_string(const std::string& k, const std::string& v) {
  Enc e;
  e.str(v);
  put(k, GgufType::STRING, std::move(e.buf));
}

void GgufWriter::set_strings(const std::string& k, const std::vector<std::string>& v) {
  Enc e;
  e.put<uint32_t>(static_cast<uint32_t>(GgufType::STRING)).put<uint64_t>(v.size());
  for (const auto& s : v) e.str(s);
  put(k, GgufType::ARRAY, std::move(e.buf));
}
void GgufWriter::set_i32s(const std::string& k, const std::vector<int32_t>& v) {
  put(k, GgufType::ARRAY, array_of<int32_t>(GgufType::INT32, v));
}
void GgufWriter::set_u32s(const std::string& k, const std::vector<uint32_t>& v) {
  put(k, GgufType::ARRAY, array_of<uint32_t>(GgufType::UINT32, v));
}
void GgufWriter::set_i64s(const std::string& k, const std::vector<int64_t>& v) {
  put(k, GgufType::ARRAY, array_of<int64_t>(GgufType::INT64, v));
}
void GgufWriter::set_f32s(const std::string& k, const std::vector<float>& v) {
  put(k, GgufType::ARRAY, array_of<float>(GgufType::FLOAT32, v));
}
void GgufWriter::set_f64s(const std::string& k, const std::vector<double>& v) {
  put(k, GgufType::ARRAY, array_of<double>(GgufType::FLOAT64, v));
}
void GgufWriter::set_bools(const std::string& k, const std::vector<bool>& v) {
  put(k, GgufType::ARRAY, array_of<uint8_t>(GgufType::BOOL, v));
}

Status GgufWriter::set_value(const std::string& key, const GgufValue& v) {
  Enc e;
  MLXS_RETURN_IF_ERROR(encode_value(v, &e, 0));
  if (key == "general.alignment") {
    // The padding we write must match what readers will use.
    if (!v.is_integer() || v.i <= 0 || (v.i & (v.i - 1)) != 0)
      return Status::Error("general.alignment must be a power of two");
    alignment_ = static_cast<uint32_t>(v.i);
  }
  put(key, v.type, std::move(e.buf));
  return Status::Ok();
}

bool GgufWriter::has_key(const std::string& key) const {
  for (const auto& e : kv_)
    if (e.key == key) return true;
  return false;
}

void GgufWriter::remove_key(const std::string& key) {
  for (size_t k = 0; k < kv_.size(); ++k) {
    if (kv_[k].key == key) {
      kv_.erase(kv_.begin() + static_cast<std::ptrdiff_t>(k));
      return;
    }
  }
}

Status GgufWriter::check_tensor(const std::string& name, GgmlType type,
                                const std::vector<int64_t>& ne, size_t* nbytes) const {
  if (name.empty()) return Status::Error("tensor name is empty");
  for (const auto& t : tensors_)
    if (t.name == name) return Status::Error("duplicate tensor name '" + name + "'");
  if (ne.empty() || ne.size() > 4)
    return Status::Error("tensor '" + name + "' must have 1 to 4 dimensions");
  int64_t n = 1;
  for (int64_t d : ne) {
    if (d <= 0) return Status::Error("tensor '" + name + "' has a non-positive dimension");
    n *= d;
  }
  const TypeInfo& ti = type_info(type);
  if (ne[0] % ti.block_size != 0)
    return Status::Error("tensor '" + name + "' row length " + std::to_string(ne[0]) +
                         " is not a multiple of the " + ti.name + " block size " +
                         std::to_string(ti.block_size));
  *nbytes = static_cast<size_t>(n / ti.block_size) * ti.type_size;
  return Status::Ok();
}

Status GgufWriter::add_tensor(const std::string& name, GgmlType type,
                              const std::vector<int64_t>& ne, std::vector<uint8_t> data) {
  size_t nbytes = 0;
  MLXS_RETURN_IF_ERROR(check_tensor(name, type, ne, &nbytes));
  if (data.size() != nbytes)
    return Status::Error("tensor '" + name + "' has " + std::to_string(data.size()) +
                         " bytes of data, its shape and type need " + std::to_string(nbytes));
  tensors_.push_back({name, type, ne, nbytes, 0});
  data_.push_back(std::move(data));
  has_data_.push_back(true);
  return Status::Ok();
}

Status GgufWriter::declare_tensor(const std::string& name, GgmlType type,
                                  const std::vector<int64_t>& ne) {
  size_t nbytes = 0;
  MLXS_RETURN_IF_ERROR(check_tensor(name, type, ne, &nbytes));
  tensors_.push_back({name, type, ne, nbytes, 0});
  data_.emplace_back();
  has_data_.push_back(false);
  return Status::Ok();
}

Status GgufWriter::write(const std::string& path, const Filler& fill) {
  for (size_t k = 0; k < tensors_.size(); ++k)
    if (!has_data_[k] && !fill)
      return Status::Error("tensor '" + tensors_[k].name + "' has no data and no filler was given");

  // Offsets first: every tensor starts on an alignment boundary of the data section.
  uint64_t off = 0;
  for (auto& t : tensors_) {
    t.offset = off;
    off = align_up(off + t.nbytes, alignment_);
  }

  Enc h;
  h.put<uint32_t>(kGgufMagic).put<uint32_t>(kGgufVersion);
  h.put<uint64_t>(tensors_.size()).put<uint64_t>(kv_.size());
  for (const auto& e : kv_) {
    h.str(e.key).put<uint32_t>(static_cast<uint32_t>(e.type));
    h.buf.insert(h.buf.end(), e.bytes.begin(), e.bytes.end());
  }
  for (const auto& t : tensors_) {
    h.str(t.name).put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) h.put<uint64_t>(static_cast<uint64_t>(d));
    h.put<uint32_t>(static_cast<uint32_t>(t.type)).put<uint64_t>(t.offset);
  }
  h.buf.resize(align_up(h.buf.size(), alignment_), 0);

  const std::string tmp = path + ".tmp";
  std::unique_ptr<FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
  if (!f) return Status::Error(tmp + ": cannot create: " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    std::string msg = tmp + ": " + what + ": " + std::strerror(errno);
    f.reset();
    std::remove(tmp.c_str());
    return Status::Error(msg);
  };
  auto emit = [&](const uint8_t* p, size_t n) {
    return n == 0 || std::fwrite(p, 1, n, f.get()) == n;
  };

  if (!emit(h.buf.data(), h.buf.size())) return fail("write failed");
  static const uint8_t kZeros[64] = {};
  std::vector<uint8_t> scratch;
  for (size_t k = 0; k < tensors_.size(); ++k) {
    const TensorInfo& t = tensors_[k];
    const std::vector<uint8_t>* bytes = &data_[k];
    if (!has_data_[k]) {
      scratch.clear();
      Status st = fill(k, t, &scratch);
      if (!st.ok()) {
        f.reset();
        std::remove(tmp.c_str());
        return st;
      }
      if (scratch.size() != t.nbytes) {
        f.reset();
        std::remove(tmp.c_str());
        return Status::Error("tensor '" + t.name + "': filler produced " +
                             std::to_string(scratch.size()) + " bytes, expected " +
                             std::to_string(t.nbytes));
      }
      bytes = &scratch;
    }
    if (!emit(bytes->data(), bytes->size())) return fail("write failed");
    size_t pad = align_up(t.nbytes, alignment_) - t.nbytes;
    // The last tensor is padded too: harmless, and keeps the file size a multiple of the
    // alignment as llama.cpp's writer does.
    while (pad > 0) {
      size_t n = pad < sizeof(kZeros) ? pad : sizeof(kZeros);
      if (!emit(kZeros, n)) return fail("write failed");
      pad -= n;
    }
  }
  if (std::fflush(f.get()) != 0) return fail("flush failed");
  if (std::fclose(f.release()) != 0) {
    std::remove(tmp.c_str());
    return Status::Error(tmp + ": close failed: " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string msg = path + ": cannot rename from " + tmp + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return Status::Error(msg);
  }
  return Status::Ok();
}

}  // namespace mlxs
