// The Pathfinder loader for the LRA release layout (see pathfinder.h), and the PNG helpers.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/base.h"
#include "tasks/common/png.h"
#include "tasks/pathfinder/pathfinder.h"


namespace lra::tasks {
namespace fs = std::filesystem;

TaskInfo pathfinder_info(int resolution) {
  LRA_CHECK(resolution == 32 || resolution == 64 || resolution == 128 || resolution == 256,
            "pathfinder: resolution must be 32, 64, 128 or 256, got ", resolution);
  return TaskInfo{str("pathfinder", resolution), 256, resolution * resolution, 2, false};
}

namespace {

// Images listed by metadata, decoded on demand (in the loader thread).
class PathfinderSplit : public Split {
 public:
  PathfinderSplit(int side, std::vector<std::string> paths, std::vector<int32_t> labels)
      : side_(side), paths_(std::move(paths)), labels_(std::move(labels)) {}
  int64_t size() const override { return int64_t(paths_.size()); }
  Example get(int64_t index) const override {
    LRA_CHECK(index >= 0 && index < size(), "pathfinder: example ", index, " out of range [0, ", size(), ")");
    const std::string& path = paths_[size_t(index)];
    int h = 0, w = 0;
    std::vector<uint8_t> pixels = read_png_gray(path, h, w);
    LRA_CHECK(h == side_ && w == side_, "pathfinder: image ", path, " is ", h, "×", w, ", expected ", side_, "×",
              side_);
    Example e;
    e.tokens.assign(pixels.begin(), pixels.end());
    e.label = labels_[size_t(index)];
    return e;
  }

 private:
  int side_;
  std::vector<std::string> paths_;
  std::vector<int32_t> labels_;
};

struct Listing {
  std::vector<std::string> paths;
  std::vector<int32_t> labels;
  int64_t skipped = 0;
};

// Metadata files of one difficulty in numeric batch order ("10.npy" after "9.npy"); other names last.
std::vector<fs::path> metadata_files(const fs::path& dir) {
  std::vector<std::pair<std::pair<int64_t, std::string>, fs::path>> keyed;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".npy") continue;
    std::string stem = entry.path().stem().string();
    bool numeric = !stem.empty() && stem.size() < 18 &&
                   std::all_of(stem.begin(), stem.end(), [](unsigned char c) { return std::isdigit(c); });
    keyed.push_back({{numeric ? std::stoll(stem) : INT64_MAX, stem}, entry.path()});
  }
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<fs::path> files;
  for (auto& k : keyed) files.push_back(k.second);
  return files;
}

Listing list_difficulty(const fs::path& dir) {
  fs::path meta = dir / "metadata";
  LRA_CHECK(fs::is_directory(dir), "pathfinder: no folder ", dir.string(),
            " (expected <root>/pathfinder<S>/<difficulty>/{imgs,metadata} as in lra_release)");
  LRA_CHECK(fs::is_directory(meta), "pathfinder: no metadata folder ", meta.string());
  std::vector<fs::path> files = metadata_files(meta);
  LRA_CHECK(!files.empty(), "pathfinder: no metadata files (<batch>.npy) in ", meta.string());
  Listing out;
  for (const fs::path& file : files) {
    std::ifstream in(file);
    LRA_CHECK(in.good(), "pathfinder: cannot read ", file.string());
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      std::istringstream words(line);
      std::vector<std::string> f;
      for (std::string w; words >> w;) f.push_back(w);
      if (f.empty()) continue;  // blank line
      LRA_CHECK(f.size() >= 4, "pathfinder: ", file.string(), ":", number,
                ": expected at least 4 space-separated fields (folder, file, index, label), got ", f.size(),
                ": '", line, "'");
      LRA_CHECK(f[3] == "0" || f[3] == "1", "pathfinder: ", file.string(), ":", number,
                ": label (field 4) must be 0 or 1, got '", f[3], "'");
      // The two path fields must stay inside the release folder (fuzz/README.md, finding 2).
      for (int k : {0, 1}) {
        const fs::path part(f[size_t(k)]);
        bool escapes = part.is_absolute();
        for (const fs::path& c : part) escapes = escapes || c == "..";
        LRA_CHECK(!escapes, "pathfinder: ", file.string(), ":", number, ": field ", k + 1, " '", f[size_t(k)],
                  "' leaves the release folder (absolute or '..')");
      }
      fs::path image = dir / f[0] / f[1];
      std::error_code ec;
      uintmax_t bytes = fs::file_size(image, ec);
      LRA_CHECK(!ec, "pathfinder: ", file.string(), ":", number, ": image ", image.string(), " is missing (",
                ec.message(), ")");
      if (bytes == 0) {  // the release's known empty PNG (curv_baseline/imgs/0/sample_172.png)
        ++out.skipped;
        continue;
      }
      out.paths.push_back(image.string());
      out.labels.push_back(f[3] == "1" ? 1 : 0);
    }
  }
  return out;
}

}  // namespace

Dataset load_pathfinder(const std::string& root, const PathfinderOptions& options) {
  Dataset d;
  d.info = pathfinder_info(options.resolution);
  fs::path base = fs::path(root) / str("pathfinder", options.resolution);
  LRA_CHECK(fs::is_directory(base), "pathfinder: no folder ", base.string(),
            " (point the root at the unpacked lra_release folder that holds pathfinder32, pathfinder128, ...)");
  LRA_CHECK(!options.difficulties.empty(), "pathfinder: no difficulty to read");

  const char* names[3] = {"train", "val", "test"};
  std::vector<std::string> paths[3];
  std::vector<int32_t> labels[3];
  int64_t skipped = 0;
  for (size_t k = 0; k < options.difficulties.size(); ++k) {
    Listing l = list_difficulty(base / options.difficulties[k]);
    skipped += l.skipped;
    // TFDS slices [:80%], [80%:90%], [90%:], boundaries rounded to the nearest example. Every difficulty
    // trains; only the last (hardest) listed gives val and test.
    const bool last = k + 1 == options.difficulties.size();
    int64_t n = int64_t(l.paths.size());
    int64_t cut[4] = {0, (n * 80 + 50) / 100, (n * 90 + 50) / 100, n};
    for (int s = 0; s < (last ? 3 : 1); ++s) {
      paths[s].insert(paths[s].end(), l.paths.begin() + cut[s], l.paths.begin() + cut[s + 1]);
      labels[s].insert(labels[s].end(), l.labels.begin() + cut[s], l.labels.begin() + cut[s + 1]);
    }
  }
  for (int s = 0; s < 3; ++s) {
    auto split = std::make_shared<PathfinderSplit>(options.resolution, std::move(paths[s]), std::move(labels[s]));
    split->set_skipped(skipped);
    d.splits[names[s]] = split;
  }
  return d;
}

}  // namespace lra::tasks
