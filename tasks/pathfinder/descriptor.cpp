// Pathfinder (LRA task 5): are the two circles connected by a path? 2 classes, S x S pixels as a
// sequence of S², S = 32 (Pathfinder) to 128 (Path-X). --generate draws a fresh set with our port of the
// original stimulus generator into the run directory.
#include <algorithm>

#include "tasks/pathfinder/pathfinder.h"
#include "tasks/registry.h"

namespace lra::tasks {

namespace {

struct Level {
  const char* name;
  int contour_length;
};
// LRA's three sets, easiest first: the contour lengths 6, 9 and 14.
const Level kLevels[3] = {{"easy", 6}, {"intermediate", 9}, {"hard", 14}};

// The index in kLevels of a name or folder, or -1.
int level_of(const std::string& difficulty) {
  for (int k = 0; k < 3; ++k)
    if (difficulty == kLevels[k].name || difficulty == pathfinder_difficulty_dir(kLevels[k].contour_length)) return k;
  return -1;
}

const char* kDifficultyHelp =
    "use easy, intermediate or hard, or curv_baseline, curv_contour_length_9, curv_contour_length_14";

}  // namespace

std::string pathfinder_difficulty_folder(const std::string& difficulty, int* contour_length) {
  const int k = level_of(difficulty);
  LRA_CHECK(k >= 0, "unknown pathfinder difficulty '", difficulty, "' (", kDifficultyHelp, ")");
  if (contour_length) *contour_length = kLevels[k].contour_length;
  return pathfinder_difficulty_dir(kLevels[k].contour_length);
}

std::string pathfinder_difficulty_name(const std::string& folder) {
  const int k = level_of(folder);
  LRA_CHECK(k >= 0, "unknown pathfinder difficulty '", folder, "' (", kDifficultyHelp, ")");
  return kLevels[k].name;
}

std::vector<std::string> pathfinder_difficulties(const std::string& text) {
  bool listed[3] = {false, false, false};
  size_t begin = 0;
  while (true) {
    const size_t comma = std::min(text.find(',', begin), text.size());
    std::string entry = text.substr(begin, comma - begin);
    const size_t first = entry.find_first_not_of(" \t"), last = entry.find_last_not_of(" \t");
    entry = first == std::string::npos ? "" : entry.substr(first, last - first + 1);
    LRA_CHECK(!entry.empty(), "empty pathfinder difficulty in '", text,
              "' (use one of easy, intermediate, hard, or several separated by commas)");
    const int k = level_of(entry);
    LRA_CHECK(k >= 0, "unknown pathfinder difficulty '", entry, "'", text == entry ? "" : str(" in '", text, "'"),
              " (", kDifficultyHelp, "; several separated by commas)");
    LRA_CHECK(!listed[k], "pathfinder difficulty '", entry, "' is listed twice in '", text, "'");
    listed[k] = true;
    if (comma == text.size()) break;
    begin = comma + 1;
  }
  std::vector<std::string> folders;
  for (int k = 0; k < 3; ++k)
    if (listed[k]) folders.push_back(pathfinder_difficulty_dir(kLevels[k].contour_length));
  return folders;
}

namespace {

PathfinderOptions options(const DataOptions& d) {
  LRA_CHECK(d.size == 32 || d.size == 64 || d.size == 128 || d.size == 256, "--size must be 32, 64, 128 or 256, got ",
            d.size);
  LRA_CHECK(!d.difficulty.empty(), "--difficulty names no pathfinder difficulty");
  PathfinderOptions o;
  o.resolution = d.size;
  o.difficulties.clear();
  for (const std::string& name : d.difficulty) o.difficulties.push_back(pathfinder_difficulty_folder(name));
  return o;
}

}  // namespace

TaskDescriptor pathfinder_task() {
  TaskDescriptor t;
  t.name = "pathfinder";
  t.title = "Pathfinder: are the two circles connected? (--size 32..128, 128 is Path-X; 2 classes)";
  t.render = Render::Image;
  t.release = {"pathfinder", true,
               "the root holding pathfinder<size>/<difficulty> (the unpacked lra_release folder, or the --out of "
               "`lra-data generate pathfinder`)",
               "", [](const std::string& dir, const DataOptions& d) { return load_pathfinder(dir, options(d)); }};
  t.generate_help = "generate --gen-count images of each --difficulty with the Pathfinder generator into RUN_DIR/data";
  t.generate = [](const DataOptions& d, const std::string& scratch, uint64_t seed) {
    const PathfinderOptions o = options(d);
    // gen_count images of each listed difficulty; the k-th listed (easiest first) draws from seed + k, so
    // a single difficulty is the set it always was.
    for (size_t k = 0; k < d.difficulty.size(); ++k) {
      int contour = 14;
      pathfinder_difficulty_folder(d.difficulty[k], &contour);
      PathfinderWriteOptions w;
      w.count = d.gen_count;
      w.seed = seed + k;
      write_pathfinder(scratch + "/pathfinder" + std::to_string(d.size) + "/" + o.difficulties[k],
                       lra_pathfinder_params(d.size, contour), w);
    }
    return load_pathfinder(scratch, o);
  };
  t.load_generated = [](const DataOptions& d, const std::string& scratch) { return load_pathfinder(scratch, options(d)); };
  t.augment = [](const TaskInfo& info) {
    int side = 1;
    while (side * side < info.max_len) ++side;
    return square_symmetries_augment(side);
  };
  t.augment_name = "8 square symmetries";
  // pixel/255 mapped to [-1, 1], as the S4 loaders do.
  t.pixel_normalization = [](const TaskInfo&) { return image::Normalization{0.5f, 0.5f}; };
  t.settings = {"size", "difficulty", "gen_count"};
  return t;
}

}  // namespace lra::tasks
