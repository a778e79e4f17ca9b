// Retrieval: the AAN pair loader and the fortunes stand-in (see retrieval.h).
#include "tasks/retrieval/retrieval.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <memory>
#include <tuple>

#include "engine/rng.h"

namespace lra::tasks::retrieval {

namespace fs = std::filesystem;

namespace {

std::string shorten(std::string_view s) {
  return s.size() <= 40 ? std::string(s) : std::string(s.substr(0, 37)) + "...";
}

constexpr uint64_t kPairSalt = 0x5245545249455645ull;  // "RETRIEVE": keeps pair draws apart from splits

}  // namespace

TaskInfo info(int max_len) { return TaskInfo{"retrieval", kVocabSize, max_len, kNumClasses, true}; }

std::vector<text::ByteDocument> load_file(const std::string& path, int max_len) {
  LRA_CHECK(max_len > 0, "retrieval: max_len must be positive, got ", max_len);
  LRA_CHECK(fs::is_regular_file(path), "retrieval: ", path, ": no such file (the release's tsv_data holds ",
            "new_aan_pairs.train.tsv, new_aan_pairs.eval.tsv and new_aan_pairs.test.tsv)");
  std::ifstream in(path, std::ios::binary);
  LRA_CHECK(in, "retrieval: ", path, ": cannot open");
  const size_t keep = std::min<size_t>(kDocumentBytes, size_t(max_len));
  int64_t line_no = 0;
  auto where = [&] { return str("retrieval: ", path, ":", line_no, ": "); };

  std::vector<text::ByteDocument> docs;
  std::vector<std::string_view> cols;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    cols.clear();
    for (size_t begin = 0;;) {  // every tab separates; no quote handling
      const size_t tab = line.find('\t', begin);
      cols.emplace_back(line.data() + begin, (tab == std::string::npos ? line.size() : tab) - begin);
      if (tab == std::string::npos) break;
      begin = tab + 1;
    }
    LRA_CHECK(cols.size() == 5, where(), "expected 5 tab-separated columns (label, id1, id2, text1, text2), found ",
              cols.size(), line.empty() ? " (an empty line)" : "");

    const std::string_view field = cols[0];
    double value = -1;
    auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    LRA_CHECK(ec == std::errc() && end == field.data() + field.size() && (value == 0.0 || value == 1.0), where(),
              "label '", shorten(field), "' is not 0 or 1");

    text::ByteDocument d;
    d.text = std::string(cols[3].substr(0, keep));
    d.text2 = std::string(cols[4].substr(0, keep));
    d.label = int32_t(value);
    docs.push_back(std::move(d));
  }
  LRA_CHECK(!in.bad(), "retrieval: ", path, ": read error after line ", line_no);
  LRA_CHECK(!docs.empty(), "retrieval: ", path, ": no pairs (empty file)");
  return docs;
}

Dataset load(const std::string& dir, const LoadOptions& options) {
  LRA_CHECK(fs::is_directory(dir), "retrieval: data directory '", dir, "' not found (expected the release's ",
            "tsv_data directory, holding new_aan_pairs.{train,eval,test}.tsv)");
  Dataset d;
  d.info = info(options.max_len);
  const std::pair<const char*, const char*> files[] = {{"train", "train"}, {"val", "eval"}, {"test", "test"}};
  for (const auto& [split, file] : files)
    d.splits[split] = std::make_shared<text::ByteSplit>(
        load_file((fs::path(dir) / str("new_aan_pairs.", file, ".tsv")).string(), options.max_len),
        options.max_len);
  return d;
}

// --- fortunes stand-in ----------------------------------------------------------------------------

Dataset load_fortunes(const FortuneOptions& o) {
  LRA_CHECK(o.max_len > 0, "retrieval-fortunes: max_len must be positive, got ", o.max_len);
  LRA_CHECK(o.num_train >= 1 && o.num_val >= 1 && o.num_test >= 1,
            "retrieval-fortunes: every split needs at least one pair, got ", o.num_train, "/", o.num_val, "/",
            o.num_test);
  text::FortuneSplits parts = text::split_fortunes(o.dir, o.categories, /*balance=*/false, o.seed);

  Dataset d;
  d.info = TaskInfo{"retrieval-fortunes", kVocabSize, o.max_len, kNumClasses, true};
  const std::tuple<const char*, std::vector<std::vector<std::string>>*, int64_t> splits[] = {
      {"train", &parts.train, o.num_train}, {"val", &parts.val, o.num_val}, {"test", &parts.test, o.num_test}};
  uint64_t split_no = 0;
  for (const auto& [name, pool, count] : splits) {
    const auto& by_category = *pool;
    const uint32_t C = uint32_t(by_category.size());
    for (uint32_t c = 0; c < C; ++c)
      LRA_CHECK(by_category[c].size() >= 2, "retrieval-fortunes: category '", o.categories[c], "' has ",
                by_category[c].size(), " entries in the ", name, " split; a positive pair needs 2 (give ",
                "categories of at least 20 entries)");
    Generator gen(o.seed ^ kPairSalt, split_no++ << 40);
    auto pick = [&](uint32_t c) { return uint32_t(gen.below(uint32_t(by_category[c].size()))); };
    std::vector<text::ByteDocument> pairs;
    for (int64_t i = 0; i < count; ++i) {
      text::ByteDocument p;
      if (i % 2 == 0) {
        const uint32_t c = gen.below(C), a = pick(c);
        uint32_t b = gen.below(uint32_t(by_category[c].size()) - 1);
        b += b >= a;  // distinct from a
        p = {by_category[c][a], by_category[c][b], 1};
      } else {
        const uint32_t c1 = gen.below(C);
        uint32_t c2 = gen.below(C - 1);
        c2 += c2 >= c1;
        p = {by_category[c1][pick(c1)], by_category[c2][pick(c2)], 0};
      }
      pairs.push_back(std::move(p));
    }
    const std::vector<int64_t> order = gen.permutation(count);
    std::vector<text::ByteDocument> shuffled;
    shuffled.reserve(pairs.size());
    for (int64_t i : order) shuffled.push_back(std::move(pairs[size_t(i)]));
    d.splits[name] = std::make_shared<text::ByteSplit>(std::move(shuffled), o.max_len);
  }
  return d;
}

}  // namespace lra::tasks::retrieval
