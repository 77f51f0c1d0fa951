#include "testmodel/safetensors_writer.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace mlxs::testmodel {

size_t StGroup::nbytes() const {
  size_t n = 0;
  for (const StEntry& e : entries) n += e.nbytes;
  return n;
}

Status write_safetensors(const std::string& path, const std::vector<StGroup>& groups,
                         const std::vector<size_t>& indices,
                         const std::map<std::string, std::string>& metadata,
                         const StFiller& fill) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i : indices) {
    for (const StEntry& e : groups[i].entries) {
      header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape},
                        {"data_offsets", {offset, offset + e.nbytes}}};
      offset += e.nbytes;
    }
  }
  std::string text = header.dump();
  // The data section starts 8-byte aligned, as the safetensors writers do.
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');

  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return Status::Error(tmp + ": cannot create");
  uint8_t len[8];
  for (int k = 0; k < 8; ++k) len[k] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * k));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  // A failed write leaves no half-written file behind.
  auto fail = [&](Status st) {
    out.close();
    std::remove(tmp.c_str());
    return st;
  };
  std::vector<std::vector<uint8_t>> blobs;
  for (size_t i : indices) {
    blobs.clear();
    Status st = fill(i, &blobs);
    if (!st.ok()) return fail(st);
    const auto& entries = groups[i].entries;
    if (blobs.size() != entries.size())
      return fail(Status::Error(path + ": filler gave the wrong number of tensors"));
    for (size_t k = 0; k < entries.size(); ++k) {
      if (blobs[k].size() != entries[k].nbytes)
        return fail(Status::Error(path + ": tensor '" + entries[k].name + "' got " +
                                  std::to_string(blobs[k].size()) + " bytes, expected " +
                                  std::to_string(entries[k].nbytes)));
      out.write(reinterpret_cast<const char*>(blobs[k].data()),
                static_cast<std::streamsize>(blobs[k].size()));
    }
  }
  out.close();
  if (!out) return fail(Status::Error(tmp + ": write failed (disk full?)"));
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::Error(path + ": cannot rename from " + tmp + ": " + ec.message());
  return Status::Ok();
}

}  // namespace mlxs::testmodel
