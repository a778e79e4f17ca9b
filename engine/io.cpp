#include "engine/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

namespace lra::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; so is this code");

namespace {

// Header JSON larger than this is refused (the reference implementation's limit).
constexpr uint64_t kMaxHeader = 100u << 20;

std::string errno_text() { return std::strerror(errno); }

// --- atomic write ---------------------------------------------------------------------------------

// A file written under a temporary name and renamed into place by commit(); removed if never committed.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path)
      : path_(path), tmp_(path + ".tmp-" + std::to_string(::getpid())) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(str("checkpoint ", path_, ": cannot create ", tmp_, ": ", errno_text()));
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail(str("checkpoint ", path_, ": cannot write ", tmp_, ": ", w < 0 ? errno_text() : "no progress"));
      p += w;
      n -= size_t(w);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) fail(str("checkpoint ", path_, ": cannot flush ", tmp_, " to disk: ", errno_text()));
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) fail(str("checkpoint ", path_, ": cannot close ", tmp_, ": ", errno_text()));
    if (::rename(tmp_.c_str(), path_.c_str()) != 0)
      fail(str("checkpoint ", path_, ": cannot rename ", tmp_, " over it: ", errno_text()));
    committed_ = true;
    // Make the rename itself durable; a failure here leaves a complete file, so it is not an error.
    std::string dir = path_.find('/') == std::string::npos ? "." : path_.substr(0, path_.rfind('/') + 1);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

// --- reading --------------------------------------------------------------------------------------

class InputFile {
 public:
  explicit InputFile(const std::string& path) : path_(path) {
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) fail(str("checkpoint ", path, ": cannot open: ", errno_text()));
    struct stat st {};
    if (::fstat(::fileno(f_), &st) != 0) fail(str("checkpoint ", path, ": cannot stat: ", errno_text()));
    size_ = uint64_t(st.st_size);
  }
  ~InputFile() { std::fclose(f_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  void read(uint64_t offset, void* dst, size_t n) {
    if (n == 0) return;
    if (::fseeko(f_, off_t(offset), SEEK_SET) != 0 || std::fread(dst, 1, n, f_) != n)
      fail(str("checkpoint ", path_, ": cannot read ", n, " bytes at offset ", offset, ": ",
               std::ferror(f_) ? errno_text() : "unexpected end of file"));
  }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  uint64_t size_ = 0;
};

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

std::string offsets_text(uint64_t b, uint64_t e) { return str("[", b, ", ", e, "]"); }

// Parses and checks one tensor's header entry against a data buffer of `data_bytes` bytes.
Entry parse_entry(const std::string& where, const std::string& name, const nlohmann::json& j, uint64_t data_bytes) {
  const std::string what = str(where, ": tensor '", name, "'");
  LRA_CHECK(j.is_object(), what, " is not a JSON object");
  LRA_CHECK(j.contains("dtype") && j["dtype"].is_string(), what, " has no dtype string");
  Entry e{name, DType::F32, Shape{}, 0, 0};
  const std::string dt = j["dtype"].get<std::string>();
  LRA_CHECK(dtype_from_name(dt, &e.dtype), what, " has dtype '", dt, "', which is not supported (F32, F64, BF16, I32)");

  LRA_CHECK(j.contains("shape") && j["shape"].is_array(), what, " has no shape array");
  const auto& shape = j["shape"];
  LRA_CHECK(shape.size() <= size_t(Shape::kMaxDims), what, " has ", shape.size(), " dims; at most ",
            Shape::kMaxDims, " are supported");
  // Byte size, guarded against overflow.
  constexpr uint64_t kMaxBytes = uint64_t(1) << 62;
  std::vector<uint64_t> dims;
  for (const auto& d : shape) {
    LRA_CHECK(d.is_number_unsigned() && d.get<uint64_t>() <= uint64_t(INT64_MAX), what, " has shape ", shape.dump(),
              " with an entry that is not a non-negative integer");
    dims.push_back(d.get<uint64_t>());
    e.shape.push_back(int64_t(dims.back()));
  }
  uint64_t bytes = 0;
  bool too_big = false;
  if (std::find(dims.begin(), dims.end(), 0) == dims.end()) {
    bytes = dtype_size(e.dtype);
    for (uint64_t v : dims) {
      if (v > kMaxBytes / bytes) {
        too_big = true;
        break;
      }
      bytes *= v;
    }
  }

  LRA_CHECK(j.contains("data_offsets") && j["data_offsets"].is_array() && j["data_offsets"].size() == 2 &&
                j["data_offsets"][0].is_number_unsigned() && j["data_offsets"][1].is_number_unsigned(),
            what, " needs data_offsets [begin, end] of two non-negative integers");
  e.begin = j["data_offsets"][0].get<uint64_t>();
  e.end = j["data_offsets"][1].get<uint64_t>();
  const std::string offs = offsets_text(e.begin, e.end);
  LRA_CHECK(e.begin <= e.end, what, " has data_offsets ", offs, " with begin after end");
  LRA_CHECK(e.end <= data_bytes, what, " data_offsets ", offs, " are outside the data, which has ", data_bytes,
            " bytes");
  LRA_CHECK(!too_big && e.end - e.begin == bytes, what, " data_offsets ", offs, " do not match shape ",
            e.shape.to_string(), " of ", dt, too_big ? std::string(" (over 2^62 bytes)") : str(" (", bytes, " bytes)"));
  return e;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

template <class I>
I metadata_int(const std::string& where, const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  LRA_CHECK(it != m.end(), where, ": '", key, "' is missing from its metadata (not an lra-engine checkpoint?)");
  const std::string& v = it->second;
  I x{};
  auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  LRA_CHECK(r.ec == std::errc() && r.ptr == v.data() + v.size(), where, ": metadata '", key, "' = '", v,
            "' is not an integer");
  return x;
}

}  // namespace

// --- safetensors ----------------------------------------------------------------------------------

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    LRA_CHECK(!name.empty() && name != "__metadata__", "checkpoint ", path, ": invalid tensor name '", name, "'");
    LRA_CHECK(!header.contains(name), "checkpoint ", path, ": tensor name '", name, "' appears twice");
    LRA_CHECK(t.defined(), "checkpoint ", path, ": tensor '", name, "' is undefined");
    header[name] = {{"dtype", dtype_name(t.dtype())}, {"shape", t.shape().vec()}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t n = text.size();

  AtomicFile out(path);
  out.write(&n, 8);
  out.write(text.data(), text.size());
  for (const auto& kv : tensors) {
    Tensor host = kv.second.to(Device::CPU);
    out.write(host.raw_data(), host.nbytes());
  }
  out.commit();
}

namespace {

// The JSON header of a safetensors file, checked for size; *data_start and *data_bytes locate the data.
nlohmann::json read_header(const std::string& where, InputFile& in, uint64_t* data_start, uint64_t* data_bytes) {
  LRA_CHECK(in.size() >= 8, where, ": the file has ", in.size(), " bytes, too short for safetensors (the 8-byte header length is missing)");
  uint64_t n = 0;
  in.read(0, &n, 8);
  LRA_CHECK(n <= in.size() - 8, where, ": header length ", n, " is larger than the file (", in.size(), " bytes)");
  LRA_CHECK(n <= kMaxHeader, where, ": header length ", n, " exceeds the limit of ", kMaxHeader, " bytes");
  std::string text(size_t(n), '\0');
  in.read(8, text.data(), text.size());
  *data_start = 8 + n;
  *data_bytes = in.size() - *data_start;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(str(where, ": the header is not valid JSON (", e.what(), ")"));
  }
  LRA_CHECK(header.is_object(), where, ": the header is not a JSON object");
  return header;
}

std::map<std::string, std::string> read_metadata(const std::string& where, const nlohmann::json& header) {
  std::map<std::string, std::string> out;
  auto it = header.find("__metadata__");
  if (it == header.end()) return out;
  LRA_CHECK(it->is_object(), where, ": __metadata__ is not a JSON object");
  for (const auto& [mk, mv] : it->items()) {
    LRA_CHECK(mv.is_string(), where, ": metadata '", mk, "' is not a string");
    out[mk] = mv.get<std::string>();
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> load_safetensors_metadata(const std::string& path) {
  const std::string where = "checkpoint " + path;
  InputFile in(path);
  uint64_t data_start = 0, data_bytes = 0;
  return read_metadata(where, read_header(where, in, &data_start, &data_bytes));
}

SafeTensors load_safetensors(const std::string& path) {
  const std::string where = "checkpoint " + path;
  InputFile in(path);
  uint64_t data_start = 0, data_bytes = 0;
  const nlohmann::json header = read_header(where, in, &data_start, &data_bytes);

  SafeTensors out;
  out.metadata = read_metadata(where, header);
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items())
    if (key != "__metadata__") entries.push_back(parse_entry(where, key, value, data_bytes));

  // The tensors must tile the data exactly: sorted by offset, each starts where the previous ended.
  std::vector<const Entry*> sorted;
  for (const auto& e : entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const Entry* a, const Entry* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : sorted) {
    LRA_CHECK(e->begin >= covered, where, ": tensors '", prev ? prev->name : "", "' ", offsets_text(prev->begin, prev->end),
              " and '", e->name, "' ", offsets_text(e->begin, e->end), " overlap");
    LRA_CHECK(e->begin == covered, where, ": data bytes [", covered, ", ", e->begin, ") belong to no tensor");
    covered = e->end;
    prev = e;
  }
  LRA_CHECK(covered == data_bytes, where, ": ", data_bytes - covered, " bytes of trailing garbage after the last tensor (data has ",
            data_bytes, " bytes, tensors cover ", covered, ")");

  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    in.read(data_start + e.begin, t.raw_data(), t.nbytes());
    out.tensors.emplace(e.name, t);
  }
  return out;
}

// --- checkpoints ----------------------------------------------------------------------------------

namespace {
// What a checkpoint holds of a model: its parameters, then its buffers (BatchNorm running statistics).
std::vector<std::pair<std::string, Tensor>> model_state(const nn::Module& module) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& p : module.named_parameters()) out.emplace_back(p.name, p.tensor);
  for (const auto& b : module.named_buffers()) out.emplace_back(b.name, b.tensor);
  return out;
}
}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& module, const optim::Optimizer* optimizer,
                     int64_t step, const Generator& rng, const std::string& config,
                     const std::map<std::string, std::string>& extra_metadata) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : model_state(module)) {
    LRA_CHECK(!starts_with(name, "optim."), "checkpoint ", path, ": model tensor '", name,
              "' collides with the optimizer state prefix 'optim.'");
    tensors.emplace_back(name, t);
  }
  std::map<std::string, std::string> meta = {
      {"format", "pt"},  // what PyTorch-side safetensors tooling expects
      {"lra.checkpoint", "1"},
      {"step", std::to_string(step)},
      {"rng.seed", std::to_string(rng.seed())},
      {"rng.offset", std::to_string(rng.offset())},
      {"config", config},
  };
  if (optimizer) {
    optim::OptimizerState st = optimizer->state();
    for (auto& [name, t] : st.tensors) tensors.emplace_back("optim." + name, t);
    meta["optim.type"] = optimizer->type();
    meta["optim.step"] = std::to_string(st.step);
  }
  for (const auto& [k, v] : extra_metadata)
    LRA_CHECK(meta.emplace(k, v).second, "checkpoint ", path, ": extra metadata key '", k,
              "' collides with one the checkpoint uses");
  save_safetensors(path, tensors, meta);
}

CheckpointInfo load_checkpoint(const std::string& path, nn::Module& module, optim::Optimizer* optimizer,
                               Generator* rng) {
  const std::string where = "checkpoint " + path;
  SafeTensors file = load_safetensors(path);

  // Compare the module with the file and collect every problem before touching anything.
  std::string problems;
  auto problem = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  auto state = model_state(module);
  std::map<std::string, bool> in_model;
  for (const auto& [name, t] : state) {
    in_model[name] = true;
    auto it = file.tensors.find(name);
    if (it == file.tensors.end()) {
      problem("missing " + name);
    } else if (it->second.shape() != t.shape()) {
      problem(str("shape of ", name, " is ", it->second.shape().to_string(), " in the file but ",
                  t.shape().to_string(), " in the model"));
    } else if (it->second.dtype() != t.dtype()) {
      problem(str("dtype of ", name, " is ", dtype_name(it->second.dtype()), " in the file but ",
                  dtype_name(t.dtype()), " in the model"));
    }
  }
  for (const auto& kv : file.tensors)
    if (!starts_with(kv.first, "optim.") && !in_model.count(kv.first)) problem("unexpected " + kv.first);
  LRA_CHECK(problems.empty(), where, " does not match the model: ", problems);

  CheckpointInfo info;
  info.metadata = file.metadata;
  info.step = metadata_int<int64_t>(where, file.metadata, "step");
  auto config = file.metadata.find("config");
  if (config != file.metadata.end()) info.config = config->second;
  uint64_t seed = 0, offset = 0;
  if (rng) {
    seed = metadata_int<uint64_t>(where, file.metadata, "rng.seed");
    offset = metadata_int<uint64_t>(where, file.metadata, "rng.offset");
  }

  if (optimizer) {
    auto type = file.metadata.find("optim.type");
    LRA_CHECK(type != file.metadata.end(), where, " has no optimizer state (it was saved without an optimizer)");
    LRA_CHECK(type->second == optimizer->type(), where, " holds ", type->second, " state, but the optimizer is ",
              optimizer->type());
    optim::OptimizerState st;
    st.step = metadata_int<int64_t>(where, file.metadata, "optim.step");
    for (const auto& [name, t] : file.tensors)
      if (starts_with(name, "optim.")) st.tensors.emplace_back(name.substr(6), t);
    try {
      optimizer->load_state(st);  // checks everything before it copies
    } catch (const Error& e) {
      fail(str(where, ": ", e.what()));
    }
  }
  for (auto& [name, t] : state) t.copy_from(file.tensors.at(name));
  if (rng) rng->set_state(seed, offset);
  return info;
}

}  // namespace lra::io
