// The LRA tasks, one TaskDescriptor each (tasks/<task>/descriptor.cpp), collected in one table. The five
// training binaries (lra-<task>) and lra-data read everything they know about a task from here: how to load
// the release and the offline stand-ins, how --generate makes data, the training augmentation, whether
// pixels may enter as scalars, which objectives apply, and which data settings the task reads. No task is
// recognised by its name anywhere else.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/settings.h"
#include "tasks/common/dataset.h"
#include "tasks/image/image.h"

namespace lra::tasks {

// Every data setting some task reads, declared once in data_settings(). A task names the ones it reads
// (TaskDescriptor::settings): they become its binary's flags (--gen-train 5000) and its run's [data]
// table in config.toml.
struct DataOptions {
  int64_t gen_train = 2000, gen_val = 200;  // --generate: training examples; validation and test each
  int gen_min_length = 20, gen_max_length = 200, gen_depth = 6, gen_args = 5;  // ListOps generator
  bool eos = false;                         // ListOps: an end token after every sequence (S4's pipeline)
  int text_len = 4000;                      // bytes kept per document (text, retrieval)
  std::string fortunes = "/usr/share/games/fortunes";              // the text/retrieval stand-in
  std::string fashion_mnist = "/usr/share/datasets/fashion-mnist"; // the image stand-in
  int size = 32;                      // Pathfinder image side (128: Path-X)
  // Pathfinder: easy | intermediate | hard, one or several, easiest first (the setting's text is a comma
  // list, "easy,intermediate,hard", checked when it is parsed: tasks/pathfinder/pathfinder.h).
  std::vector<std::string> difficulty = {"hard"};
  int64_t gen_count = 2000;           // Pathfinder --generate: images per difficulty (80/10/10)
};

// How lra-data prints an example.
enum class Render { Listops, Bytes, Image };

// One loadable data set: a task's release, or an offline stand-in that says nothing about the task.
struct DataSource {
  std::string kind;         // lra-data's KIND: "listops", "text-fortunes", ...
  bool real = true;         // false: a stand-in (fortunes are NOT IMDB)
  std::string dir_help;     // what DIR must be
  std::string default_dir;  // "" : DIR is required
  std::function<Dataset(const std::string& dir, const DataOptions&)> load;
};

struct TaskDescriptor {
  std::string name;   // "listops": the binary lra-listops, runs/listops-<model>
  std::string title;  // first line of the binary's --help
  Render render = Render::Bytes;
  DataSource release;                  // --data DIR
  std::vector<DataSource> stand_ins;   // further kinds lra-data reads
  std::string generate_help;           // what --generate makes
  // Offline data for --generate (may write into `scratch`, a folder of the run directory).
  std::function<Dataset(const DataOptions&, const std::string& scratch, uint64_t seed)> generate;
  // Set when `generate` writes files into scratch: reads what it wrote. In a data-parallel run rank 0
  // generates and the other ranks read (instead of writing the same files at once); unset: every rank
  // generates in memory.
  std::function<Dataset(const DataOptions&, const std::string& scratch)> load_generated;
  // The training augmentation (empty: none) and its name for reports.
  std::function<Augment(const TaskInfo&)> augment;
  std::string augment_name;
  // Pixel tasks: how pixel ids become scalars (input = scalars); empty for token tasks.
  std::function<image::Normalization(const TaskInfo&)> pixel_normalization;
  bool denoise = false;  // byte vocabulary: the masked-token denoising objective applies
  std::vector<std::string> settings;  // names of the data settings this task reads (data_settings())
};

TaskDescriptor listops_task();
TaskDescriptor text_task();
TaskDescriptor retrieval_task();
TaskDescriptor image_task();
TaskDescriptor pathfinder_task();

const std::vector<TaskDescriptor>& task_registry();
// The task called `name`, or an lra::Error listing them.
const TaskDescriptor& find_task(const std::string& name);

// Every data source (releases and stand-ins), with its task, in registry order.
struct SourceRef {
  const TaskDescriptor* task;
  const DataSource* source;
};
std::vector<SourceRef> data_sources();
// The source of that kind, or an lra::Error listing the kinds.
SourceRef find_source(const std::string& kind);

// Every data setting, declared once.
const std::vector<settings::Setting<DataOptions>>& data_settings();
// The data settings `task` reads, in its order.
std::vector<settings::Setting<DataOptions>> task_settings(const TaskDescriptor& task);

}  // namespace lra::tasks
