// lra-retrieval: trains a two-tower model on AAN document matching (LRA task 3: do two papers cite each
// other? 2 classes, two byte sequences of up to 4000 bytes). --data reads the tsv_data folder; --generate
// uses pairs of Debian fortunes as an offline STAND-IN (same category or not; it says nothing about AAN).
#include <CLI/CLI.hpp>

#include "tasks/retrieval/retrieval.h"
#include "tools/train/trainer.h"

using namespace lra;

int main(int argc, char** argv) {
  int max_len = tasks::retrieval::kMaxLen;
  tasks::retrieval::FortuneOptions gen;
  gen.num_train = 2000;
  gen.num_val = 200;
  gen.num_test = 200;
  train::TaskSpec t;
  t.binary = "lra-retrieval";
  t.description = "lra-retrieval: train a two-tower LRA model on document matching (AAN, 2 classes).";
  t.data_help = "the tsv_data folder (new_aan_pairs.{train,eval,test}.tsv)";
  t.generate_help = "offline stand-in: pairs of Debian fortunes (NOT AAN; apt-get install fortunes)";
  t.load = [&max_len](const std::string& dir) {
    tasks::retrieval::LoadOptions o;
    o.max_len = max_len;
    return tasks::retrieval::load(dir, o);
  };
  t.generate = [&max_len, &gen](const std::string&, uint64_t seed) {
    tasks::retrieval::FortuneOptions o = gen;
    o.max_len = std::min(max_len, 1024);  // fortunes are short
    o.seed = seed;
    return tasks::retrieval::load_fortunes(o);
  };
  t.denoise_ok = true;
  t.add_flags = [&max_len, &gen](CLI::App& app) {
    app.add_option("--text-len", max_len, "bytes kept per document (LRA: 4000)")->capture_default_str()->group("Data");
    app.add_option("--gen-train", gen.num_train, "--generate: training pairs")->capture_default_str()->group("Data");
    app.add_option("--fortunes", gen.dir, "--generate: the fortune folder")->capture_default_str()->group("Data");
  };
  return train::run_main(t, argc, argv);
}
