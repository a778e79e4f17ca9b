#include "tasks/registry.h"

#include "tasks/pathfinder/pathfinder.h"

namespace lra::tasks {

const std::vector<TaskDescriptor>& task_registry() {
  static const std::vector<TaskDescriptor> r = {listops_task(), text_task(), retrieval_task(), image_task(),
                                                pathfinder_task()};
  return r;
}

const TaskDescriptor& find_task(const std::string& name) {
  std::string known;
  for (const TaskDescriptor& t : task_registry()) {
    if (t.name == name) return t;
    known += (known.empty() ? "" : ", ") + t.name;
  }
  fail(str("unknown task '", name, "' (tasks: ", known, ")"));
}

std::vector<SourceRef> data_sources() {
  std::vector<SourceRef> out;
  for (const TaskDescriptor& t : task_registry()) {
    out.push_back({&t, &t.release});
    for (const DataSource& s : t.stand_ins) out.push_back({&t, &s});
  }
  return out;
}

SourceRef find_source(const std::string& kind) {
  std::string known;
  for (const SourceRef& s : data_sources()) {
    if (s.source->kind == kind) return s;
    known += (known.empty() ? "" : ", ") + s.source->kind;
  }
  fail(str("unknown dataset kind '", kind, "' (known: ", known, ")"));
}

namespace {

// Pathfinder's difficulties: a comma list read into short names, each checked as it is parsed.
settings::Setting<DataOptions> difficulty_setting() {
  settings::Setting<DataOptions> s;
  s.name = "difficulty";
  s.help = "easy | intermediate | hard (LRA uses hard), or several: easy,intermediate,hard trains on all "
           "three and validates and tests on the hardest listed (the locality-bias paper)";
  s.kind = settings::Kind::Text;
  s.set = [](DataOptions& d, const std::string& v) {
    std::vector<std::string> folders;
    try {
      folders = pathfinder_difficulties(v);
    } catch (const Error& e) {
      fail(str("setting difficulty: ", e.what()));
    }
    d.difficulty.clear();
    for (const std::string& folder : folders) d.difficulty.push_back(pathfinder_difficulty_name(folder));
  };
  s.get = [](const DataOptions& d) {
    std::string out;
    for (const std::string& n : d.difficulty) out += (out.empty() ? "" : ",") + n;
    return out;
  };
  return s;
}

}  // namespace

const std::vector<settings::Setting<DataOptions>>& data_settings() {
  using D = DataOptions;
  using namespace settings;
  static const std::vector<Setting<D>> s = {
      integer("gen_train", &D::gen_train, "--generate: training examples"),
      integer("gen_val", &D::gen_val, "--generate: validation and test examples each"),
      integer("gen_min_length", &D::gen_min_length, "--generate: shortest expression (LRA: 500)"),
      integer("gen_max_length", &D::gen_max_length,
              "--generate: longest expression, also the model length (LRA: 2000)"),
      integer("gen_depth", &D::gen_depth, "--generate: maximum tree depth (LRA: 10)"),
      integer("gen_args", &D::gen_args, "--generate: maximum operands per operator (LRA: 10)"),
      flag("eos", &D::eos, "an <eos> token (id 16, vocabulary 17) after every sequence, as S4's ListOps pipeline"),
      integer("text_len", &D::text_len, "bytes kept per document (LRA: 1000 to 4000)"),
      text("fortunes", &D::fortunes, "--generate: the Debian fortune folder (the offline stand-in)"),
      text("fashion_mnist", &D::fashion_mnist, "--generate: the Fashion-MNIST IDX folder (the offline stand-in)"),
      integer("size", &D::size, "image side: 32 (Pathfinder), 64, 128 (Path-X), 256"),
      difficulty_setting(),
      integer("gen_count", &D::gen_count, "--generate: images per difficulty (80/10/10 train/val/test)"),
  };
  return s;
}

std::vector<settings::Setting<DataOptions>> task_settings(const TaskDescriptor& task) {
  std::vector<settings::Setting<DataOptions>> out;
  for (const std::string& name : task.settings) {
    const auto* s = settings::find(data_settings(), name);
    LRA_CHECK(s != nullptr, "task ", task.name, " reads the data setting '", name, "', which data_settings() does not ",
              "declare");
    out.push_back(*s);
  }
  return out;
}

}  // namespace lra::tasks
