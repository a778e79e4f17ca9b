// Text: byte encoding, the aclImdb loader and the fortunes stand-in (see text.h).
#include "tasks/text/text.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "engine/rng.h"

namespace lra::tasks::text {

namespace fs = std::filesystem;

namespace {

// The whole file as bytes. `who` prefixes the messages ("text", "text-fortunes").
std::string read_bytes(const fs::path& path, const char* who) {
  LRA_CHECK(fs::is_regular_file(path), who, ": ", path.string(), ": not a readable regular file");
  std::ifstream in(path, std::ios::binary);
  LRA_CHECK(in, who, ": ", path.string(), ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  LRA_CHECK(!in.bad(), who, ": ", path.string(), ": read error");
  return s.str();
}

std::string list(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

}  // namespace

TaskInfo info(int max_len) { return TaskInfo{"text", kVocabSize, max_len, kNumClasses, false}; }

std::vector<int32_t> encode_bytes(std::string_view bytes, int64_t max_len) {
  const size_t n = max_len < 0 ? bytes.size() : std::min(bytes.size(), size_t(max_len));
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = int32_t(static_cast<unsigned char>(bytes[i])) + 1;
  return ids;
}

std::string decode_bytes(const std::vector<int32_t>& ids) {
  std::string out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == kPad) continue;
    LRA_CHECK(ids[i] >= 1 && ids[i] <= 256, "decode_bytes: id ", ids[i], " at position ", i,
              " is not a byte id (1..256)");
    out += char(static_cast<unsigned char>(ids[i] - 1));
  }
  return out;
}

ByteSplit::ByteSplit(std::vector<ByteDocument> documents, int max_len) : documents_(std::move(documents)) {
  LRA_CHECK(max_len > 0, "ByteSplit: max_len must be positive, got ", max_len);
  for (ByteDocument& d : documents_) {
    if (d.text.size() > size_t(max_len)) d.text.resize(size_t(max_len));
    if (d.text2.size() > size_t(max_len)) d.text2.resize(size_t(max_len));
    d.text.shrink_to_fit();
    d.text2.shrink_to_fit();
  }
}

Example ByteSplit::get(int64_t index) const {
  LRA_CHECK(index >= 0 && index < size(), "ByteSplit: index ", index, " outside [0, ", size(), ")");
  const ByteDocument& d = documents_[size_t(index)];
  return Example{encode_bytes(d.text), encode_bytes(d.text2), d.label};
}

// --- IMDB -----------------------------------------------------------------------------------------

std::vector<ByteDocument> load_split_documents(const std::string& split_dir, int max_len) {
  LRA_CHECK(max_len > 0, "text: max_len must be positive, got ", max_len);
  std::vector<ByteDocument> docs;
  const char* const kLabels[2] = {"neg", "pos"};
  for (int32_t label = 0; label < 2; ++label) {
    const fs::path dir = fs::path(split_dir) / kLabels[label];
    LRA_CHECK(fs::is_directory(dir), "text: directory ", dir.string(), " not found (aclImdb has ",
              "train/{neg,pos} and test/{neg,pos}, one review per *.txt file)");
    std::vector<fs::path> files;
    for (const fs::directory_entry& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".txt") files.push_back(e.path());
    LRA_CHECK(!files.empty(), "text: ", dir.string(), " holds no *.txt review");
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      ByteDocument d;
      d.text = read_bytes(f, "text");
      LRA_CHECK(!d.text.empty(), "text: ", f.string(), ": empty review");
      if (d.text.size() > size_t(max_len)) d.text.resize(size_t(max_len));
      d.label = label;
      docs.push_back(std::move(d));
    }
  }
  return docs;
}

Dataset load(const std::string& dir, const LoadOptions& options) {
  LRA_CHECK(fs::is_directory(dir), "text: IMDB directory '", dir, "' not found (expected aclImdb, holding ",
            "train/{neg,pos} and test/{neg,pos})");
  Dataset d;
  d.info = info(options.max_len);
  for (const char* split : {"train", "test"})
    d.splits[split] = std::make_shared<ByteSplit>(
        load_split_documents((fs::path(dir) / split).string(), options.max_len), options.max_len);
  d.splits["val"] = d.splits["test"];  // LRA validates on the test set
  return d;
}

// --- fortunes stand-in ----------------------------------------------------------------------------

std::vector<std::string> read_fortunes(const std::string& path) {
  const std::string bytes = read_bytes(path, "text-fortunes");
  std::vector<std::string> entries;
  std::string entry;
  auto flush = [&] {
    if (!entry.empty() && entry.back() == '\n') entry.pop_back();
    if (!blank(entry)) entries.push_back(entry);
    entry.clear();
  };
  std::istringstream in(bytes);
  for (std::string line; std::getline(in, line);) {
    if (line == "%") {
      flush();
    } else {
      entry += line;
      entry += '\n';
    }
  }
  flush();
  return entries;
}

std::vector<std::string> fortune_categories(const std::string& dir) {
  LRA_CHECK(fs::is_directory(dir), "text-fortunes: fortune directory '", dir, "' not found (install the ",
            "Debian packages: apt-get install fortunes fortunes-min)");
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.find('.') == std::string::npos) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

FortuneSplits split_fortunes(const std::string& dir, const std::vector<std::string>& categories, bool balance,
                             uint64_t seed) {
  const std::vector<std::string> known = fortune_categories(dir);
  LRA_CHECK(categories.size() >= 2, "text-fortunes: need at least two categories, got ", categories.size());
  std::set<std::string> seen;
  std::vector<std::vector<std::string>> entries;
  for (const std::string& c : categories) {
    LRA_CHECK(seen.insert(c).second, "text-fortunes: category '", c, "' is named twice");
    LRA_CHECK(std::binary_search(known.begin(), known.end(), c), "text-fortunes: no category '", c, "' in ", dir,
              " (it has: ", list(known), ")");
    entries.push_back(read_fortunes((fs::path(dir) / c).string()));
    LRA_CHECK(entries.back().size() >= 10, "text-fortunes: category '", c, "' has ", entries.back().size(),
              " entries; at least 10 are needed for an 80/10/10 split");
  }
  size_t keep = entries[0].size();
  for (const auto& e : entries) keep = std::min(keep, e.size());

  FortuneSplits out;
  for (size_t c = 0; c < entries.size(); ++c) {
    // One stream per category position, so adding a category leaves the others' splits unchanged.
    const std::vector<int64_t> order = Generator(seed, uint64_t(c) << 32).permutation(int64_t(entries[c].size()));
    const size_t n = balance ? keep : entries[c].size();
    const size_t n_train = n * 8 / 10, n_val = n / 10;
    auto take = [&](size_t begin, size_t end) {
      std::vector<std::string> part;
      for (size_t i = begin; i < end; ++i) part.push_back(std::move(entries[c][size_t(order[i])]));
      return part;
    };
    out.train.push_back(take(0, n_train));
    out.val.push_back(take(n_train, n_train + n_val));
    out.test.push_back(take(n_train + n_val, n));
  }
  return out;
}

Dataset load_fortunes(const FortuneOptions& o) {
  LRA_CHECK(o.max_len > 0, "text-fortunes: max_len must be positive, got ", o.max_len);
  FortuneSplits parts = split_fortunes(o.dir, o.categories, o.balance, o.seed);
  Dataset d;
  d.info = TaskInfo{"text-fortunes", kVocabSize, o.max_len, int(o.categories.size()), false};
  auto make = [&](std::vector<std::vector<std::string>>& by_category) {
    std::vector<ByteDocument> docs;
    for (size_t c = 0; c < by_category.size(); ++c)
      for (std::string& text : by_category[c]) docs.push_back(ByteDocument{std::move(text), {}, int32_t(c)});
    return std::make_shared<ByteSplit>(std::move(docs), o.max_len);
  };
  d.splits["train"] = make(parts.train);
  d.splits["val"] = make(parts.val);
  d.splits["test"] = make(parts.test);
  return d;
}

}  // namespace lra::tasks::text
