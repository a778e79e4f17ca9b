// Pathfinder (LRA task 5): are the two circles connected by a path? 2 classes, S x S pixels as a
// sequence of S², S = 32 (Pathfinder) to 128 (Path-X). --generate draws a fresh set with our port of the
// original stimulus generator into the run directory.
#include "tasks/pathfinder/pathfinder.h"
#include "tasks/registry.h"

namespace lra::tasks {

std::string pathfinder_difficulty_folder(const std::string& difficulty, int* contour_length) {
  struct Level {
    const char* name;
    int contour_length;
  };
  const Level levels[3] = {{"easy", 6}, {"intermediate", 9}, {"hard", 14}};
  for (const Level& l : levels) {
    std::string folder = pathfinder_difficulty_dir(l.contour_length);
    if (difficulty == l.name || difficulty == folder) {
      if (contour_length) *contour_length = l.contour_length;
      return folder;
    }
  }
  fail(str("unknown pathfinder difficulty '", difficulty,
           "' (use easy, intermediate or hard, or curv_baseline, curv_contour_length_9, curv_contour_length_14)"));
}

namespace {

PathfinderOptions options(const DataOptions& d) {
  LRA_CHECK(d.size == 32 || d.size == 64 || d.size == 128 || d.size == 256, "--size must be 32, 64, 128 or 256, got ",
            d.size);
  PathfinderOptions o;
  o.resolution = d.size;
  o.difficulty = pathfinder_difficulty_folder(d.difficulty);
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
  t.generate_help = "generate --gen-count images with the Pathfinder generator into RUN_DIR/data";
  t.generate = [](const DataOptions& d, const std::string& scratch, uint64_t seed) {
    const PathfinderOptions o = options(d);
    int contour = 14;
    pathfinder_difficulty_folder(d.difficulty, &contour);
    PathfinderWriteOptions w;
    w.count = d.gen_count;
    w.seed = seed;
    write_pathfinder(scratch + "/pathfinder" + std::to_string(d.size) + "/" + o.difficulty,
                     lra_pathfinder_params(d.size, contour), w);
    return load_pathfinder(scratch, o);
  };
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
