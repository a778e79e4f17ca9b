// ListOps (LRA task 1): the value 0..9 of a nested MIN/MAX/MED/SM expression, up to 2000 tokens.
#include "tasks/listops/listops.h"
#include "tasks/registry.h"

namespace lra::tasks {

TaskDescriptor listops_task() {
  TaskDescriptor t;
  t.name = "listops";
  t.title = "ListOps: the value of a nested MIN/MAX/MED/SM expression (10 classes, chance 10%)";
  t.render = Render::Listops;
  t.release = {"listops", true, "the listops-1000 folder (basic_{train,val,test}.tsv)", "",
               [](const std::string& dir, const DataOptions& d) {
                 Dataset data = listops::load(dir);
                 if (d.eos) listops::append_eos(data);
                 return data;
               }};
  t.generate_help = "generate ListOps with LRA's generator (sizes and lengths from --gen-*)";
  t.generate = [](const DataOptions& d, const std::string&, uint64_t seed) {
    listops::GenerateOptions o;
    o.num_train = d.gen_train;
    o.num_val = o.num_test = d.gen_val;
    o.min_length = d.gen_min_length;
    o.max_length = d.gen_max_length;
    o.max_depth = d.gen_depth;
    o.max_args = d.gen_args;
    o.seed = seed;
    listops::Generated g = listops::generate(o);
    Dataset data;
    data.info = listops::info();
    data.info.max_len = o.max_length;
    data.splits["train"] = std::make_shared<MemorySplit>(std::move(g.train));
    data.splits["val"] = std::make_shared<MemorySplit>(std::move(g.val));
    data.splits["test"] = std::make_shared<MemorySplit>(std::move(g.test));
    if (d.eos) listops::append_eos(data);
    return data;
  };
  t.augment = [](const TaskInfo&) { return listops::operand_permutation(); };
  t.augment_name = "operand permutation";
  t.settings = {"eos", "gen_train", "gen_val", "gen_min_length", "gen_max_length", "gen_depth", "gen_args"};
  return t;
}

}  // namespace lra::tasks
