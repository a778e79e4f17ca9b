// lra-listops: trains a model on ListOps (LRA task 1: the value 0..9 of a nested MIN/MAX/MED/SM
// expression, sequences up to 2000 tokens). --data reads the release's listops-1000 folder; --generate
// makes a fresh set with our port of LRA's generator (smaller and shorter by default, see --gen-*).
#include <CLI/CLI.hpp>

#include "tasks/listops/listops.h"
#include "tools/train/trainer.h"

using namespace lra;

int main(int argc, char** argv) {
  tasks::listops::GenerateOptions gen;
  gen.num_train = 2000;
  gen.num_val = 200;
  gen.num_test = 200;
  gen.min_length = 20;
  gen.max_length = 200;
  gen.max_depth = 6;
  gen.max_args = 5;

  train::TaskSpec t;
  t.binary = "lra-listops";
  t.description = "lra-listops: train an LRA model on ListOps (10 classes, chance 10%).";
  t.data_help = "the listops-1000 folder (basic_{train,val,test}.tsv)";
  t.generate_help = "generate ListOps with LRA's generator (sizes and lengths from --gen-*)";
  t.load = [](const std::string& dir) { return tasks::listops::load(dir); };
  t.generate = [&gen](const std::string&, uint64_t seed) {
    tasks::listops::GenerateOptions o = gen;
    o.seed = seed;
    tasks::listops::Generated g = tasks::listops::generate(o);
    tasks::Dataset d;
    d.info = tasks::listops::info();
    d.info.max_len = o.max_length;
    d.splits["train"] = std::make_shared<tasks::MemorySplit>(std::move(g.train));
    d.splits["val"] = std::make_shared<tasks::MemorySplit>(std::move(g.val));
    d.splits["test"] = std::make_shared<tasks::MemorySplit>(std::move(g.test));
    return d;
  };
  t.augment = [](const tasks::TaskInfo&) { return tasks::listops::operand_permutation(); };
  t.add_flags = [&gen](CLI::App& app) {
    app.add_option("--gen-train", gen.num_train, "--generate: training examples")->capture_default_str()->group("Data");
    app.add_option("--gen-val", gen.num_val, "--generate: validation and test examples each")
        ->each([&gen](const std::string& v) { gen.num_test = std::stoll(v); })
        ->capture_default_str()
        ->group("Data");
    app.add_option("--gen-min-length", gen.min_length, "--generate: shortest expression (LRA: 500)")
        ->capture_default_str()
        ->group("Data");
    app.add_option("--gen-max-length", gen.max_length, "--generate: longest expression, also the model length (LRA: 2000)")
        ->capture_default_str()
        ->group("Data");
    app.add_option("--gen-depth", gen.max_depth, "--generate: maximum tree depth (LRA: 10)")->capture_default_str()->group("Data");
    app.add_option("--gen-args", gen.max_args, "--generate: maximum operands per operator (LRA: 10)")
        ->capture_default_str()
        ->group("Data");
  };
  return train::run_main(t, argc, argv);
}
