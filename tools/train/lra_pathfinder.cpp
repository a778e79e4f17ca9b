// lra-pathfinder: trains a model on Pathfinder (LRA task 5: are the two circles connected by a path?
// 2 classes, S x S pixels as a sequence of S*S; --size 32 is Pathfinder, --size 128 is Path-X).
// --data reads the release (the folder holding pathfinder<S>/<difficulty>); --generate draws a fresh set
// with our port of the original stimulus generator into RUN_DIR/data.
#include <CLI/CLI.hpp>

#include "tasks/pathfinder/pathfinder.h"
#include "tools/data/registry.h"
#include "tools/train/trainer.h"

using namespace lra;

int main(int argc, char** argv) {
  int size = 32;
  std::string difficulty = "hard";
  int64_t count = 2000;
  train::TaskSpec t;
  t.binary = "lra-pathfinder";
  t.description = "lra-pathfinder: train an LRA model on Pathfinder (--size 32..128; 128 is Path-X; 2 classes).";
  t.data_help = "the root holding pathfinder<size>/<difficulty> (the unpacked lra_release folder)";
  t.generate_help = "generate --gen-count images with the Pathfinder generator into RUN_DIR/data";
  auto options = [&] {
    tasks::PathfinderOptions o;
    LRA_CHECK(size == 32 || size == 64 || size == 128 || size == 256, "--size must be 32, 64, 128 or 256, got ", size);
    o.resolution = size;
    o.difficulty = tools::pathfinder_difficulty_folder(difficulty);
    return o;
  };
  t.load = [&](const std::string& dir) { return tasks::load_pathfinder(dir, options()); };
  t.generate = [&](const std::string& scratch, uint64_t seed) {
    tasks::PathfinderOptions o = options();
    int contour = 14;
    tools::pathfinder_difficulty_folder(difficulty, &contour);
    tasks::PathfinderWriteOptions w;
    w.count = count;
    w.seed = seed;
    std::string dir = scratch + "/pathfinder" + std::to_string(size) + "/" + o.difficulty;
    tasks::write_pathfinder(dir, tasks::lra_pathfinder_params(size, contour), w);
    return tasks::load_pathfinder(scratch, o);
  };
  t.augment = [](const tasks::TaskInfo& info) {
    int side = 1;
    while (side * side < info.max_len) ++side;
    return tasks::square_symmetries_augment(side);
  };
  t.pixels = true;
  t.add_flags = [&](CLI::App& app) {
    app.add_option("--size", size, "image side: 32 (Pathfinder), 64, 128 (Path-X), 256")->capture_default_str()->group("Data");
    app.add_option("--difficulty", difficulty, "easy | intermediate | hard (LRA uses hard)")->capture_default_str()->group("Data");
    app.add_option("--gen-count", count, "--generate: images (80/10/10 train/val/test)")->capture_default_str()->group("Data");
  };
  return train::run_main(t, argc, argv);
}
