// The table of dataset kinds (see registry.h).
#include "tools/data/registry.h"

#include "tasks/image/image.h"
#include "tasks/listops/listops.h"
#include "tasks/pathfinder/pathfinder.h"
#include "tasks/retrieval/retrieval.h"
#include "tasks/text/text.h"

namespace lra::tools {

std::string pathfinder_difficulty_folder(const std::string& difficulty, int* contour_length) {
  struct Level {
    const char* name;
    int contour_length;
  };
  // LRA's easy/intermediate/hard sets are the contour lengths 6, 9 and 14.
  const Level levels[3] = {{"easy", 6}, {"intermediate", 9}, {"hard", 14}};
  for (const Level& l : levels) {
    std::string folder = tasks::pathfinder_difficulty_dir(l.contour_length);
    if (difficulty == l.name || difficulty == folder) {
      if (contour_length) *contour_length = l.contour_length;
      return folder;
    }
  }
  fail(str("unknown pathfinder difficulty '", difficulty,
           "' (use easy, intermediate or hard, or curv_baseline, curv_contour_length_9, curv_contour_length_14)"));
}

namespace {

std::vector<TaskKind> make_kinds() {
  std::vector<TaskKind> k;
  k.push_back({"listops", true, "the listops-1000 folder (basic_{train,val,test}.tsv)", "", Render::kListops,
               [](const std::string& dir, const LoadSettings&) { return tasks::listops::load(dir); },
               [](const tasks::TaskInfo&) { return tasks::listops::operand_permutation(); },
               "operand permutation"});
  k.push_back({"text", true, "the aclImdb folder ({train,test}/{pos,neg}/*.txt)", "", Render::kBytes,
               [](const std::string& dir, const LoadSettings&) { return tasks::text::load(dir); }, nullptr, ""});
  k.push_back({"text-fortunes", false,
               "a fortune folder (default /usr/share/games/fortunes); STAND-IN, NOT IMDB",
               tasks::text::kFortuneDir, Render::kBytes,
               [](const std::string& dir, const LoadSettings&) {
                 tasks::text::FortuneOptions o;
                 o.dir = dir;
                 return tasks::text::load_fortunes(o);
               },
               nullptr, ""});
  k.push_back({"retrieval", true, "the tsv_data folder (new_aan_pairs.{train,eval,test}.tsv)", "", Render::kBytes,
               [](const std::string& dir, const LoadSettings&) { return tasks::retrieval::load(dir); }, nullptr,
               ""});
  k.push_back({"retrieval-fortunes", false,
               "a fortune folder (default /usr/share/games/fortunes); STAND-IN, NOT AAN",
               tasks::text::kFortuneDir, Render::kBytes,
               [](const std::string& dir, const LoadSettings&) {
                 tasks::retrieval::FortuneOptions o;
                 o.dir = dir;
                 return tasks::retrieval::load_fortunes(o);
               },
               nullptr, ""});
  auto image_augment = [](const tasks::TaskInfo&) { return tasks::image::train_augment(); };
  k.push_back({"cifar10", true, "the folder holding cifar-10-batches-bin (or that folder)", "", Render::kImage,
               [](const std::string& dir, const LoadSettings&) { return tasks::image::load_cifar10(dir); },
               image_augment, "AutoAugment + flip + affine"});
  k.push_back({"fashion-mnist", false,
               "the Fashion-MNIST IDX folder (default /usr/share/datasets/fashion-mnist); STAND-IN, NOT CIFAR-10",
               tasks::image::kFashionMnistDir, Render::kImage,
               [](const std::string& dir, const LoadSettings&) { return tasks::image::load_fashion_mnist(dir); },
               image_augment, "AutoAugment + flip + affine"});
  k.push_back({"pathfinder", true,
               "the root holding pathfinder<size>/<difficulty> (the unpacked lra_release folder, or the --out of "
               "`lra-data generate pathfinder`)",
               "", Render::kImage,
               [](const std::string& dir, const LoadSettings& s) {
                 const int r = s.pathfinder_size;
                 LRA_CHECK(r == 32 || r == 64 || r == 128 || r == 256, "--size must be 32, 64, 128 or 256, got ", r);
                 tasks::PathfinderOptions o;
                 o.resolution = r;
                 o.difficulty = pathfinder_difficulty_folder(s.difficulty);
                 return tasks::load_pathfinder(dir, o);
               },
               [](const tasks::TaskInfo& info) {
                 int side = 1;
                 while (side * side < info.max_len) ++side;
                 return tasks::square_symmetries_augment(side);
               },
               "8 square symmetries"});
  return k;
}

}  // namespace

const std::vector<TaskKind>& task_kinds() {
  static const std::vector<TaskKind> kinds = make_kinds();
  return kinds;
}

std::vector<std::string> task_kind_names() {
  std::vector<std::string> names;
  for (const TaskKind& k : task_kinds()) names.push_back(k.name);
  return names;
}

const TaskKind& task_kind(const std::string& name) {
  std::string known;
  for (const TaskKind& k : task_kinds()) {
    if (k.name == name) return k;
    known += (known.empty() ? "" : ", ") + k.name;
  }
  fail(str("unknown dataset kind '", name, "' (known: ", known, ")"));
}

}  // namespace lra::tools
