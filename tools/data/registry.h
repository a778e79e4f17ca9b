// The dataset kinds lra-data knows, in one table: how to load a directory of each, whether it is LRA's
// real data or an offline stand-in, the training augmentation its BatchLoader uses, and how to show an
// example. `inspect` and `bench` both go through it, so a kind added here is inspectable and measurable.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tasks/common/dataset.h"

namespace lra::tools {

// Settings only some kinds read.
struct LoadSettings {
  int pathfinder_size = 32;               // 32, 64, 128 or 256
  std::string difficulty = "hard";        // easy | intermediate | hard, or the folder name itself
};

enum class Render { kListops, kBytes, kImage };

struct TaskKind {
  std::string name;         // the KIND argument: "listops", "text-fortunes", ...
  bool real = true;         // false: an offline stand-in that says nothing about the LRA task
  std::string dir_help;     // what DIR must be
  std::string default_dir;  // used when DIR is omitted ("" : DIR is required)
  Render render = Render::kBytes;
  std::function<tasks::Dataset(const std::string& dir, const LoadSettings&)> load;
  // The training augmentation the trainer will use (empty: none), given the loaded task.
  std::function<tasks::Augment(const tasks::TaskInfo&)> augment;
  std::string augment_name;  // for the report ("" when none)
};

const std::vector<TaskKind>& task_kinds();
std::vector<std::string> task_kind_names();
// The kind of that name; an lra::Error listing the known kinds otherwise.
const TaskKind& task_kind(const std::string& name);

// easy | intermediate | hard (or a folder name) -> curv_baseline | curv_contour_length_9 | _14; the
// contour length of the folder in *contour_length when given. An error names the accepted values.
std::string pathfinder_difficulty_folder(const std::string& difficulty, int* contour_length = nullptr);

}  // namespace lra::tools
