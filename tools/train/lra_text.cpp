// lra-text: trains a model on byte-level IMDB sentiment (LRA task 2, 2 classes, up to 4000 bytes).
// --data reads the aclImdb folder; --generate uses Debian's fortune files as an offline STAND-IN (two
// fortune categories; it says nothing about IMDB). Masked-token denoising: --denoise 0.5.
#include <CLI/CLI.hpp>

#include "tasks/text/text.h"
#include "tools/train/trainer.h"

using namespace lra;

int main(int argc, char** argv) {
  int max_len = tasks::text::kMaxLen;
  std::string fortunes = tasks::text::kFortuneDir;
  train::TaskSpec t;
  t.binary = "lra-text";
  t.description = "lra-text: train an LRA model on byte-level text classification (IMDB, 2 classes).";
  t.data_help = "the aclImdb folder ({train,test}/{pos,neg}/*.txt)";
  t.generate_help = "offline stand-in: two Debian fortune categories (NOT IMDB; apt-get install fortunes)";
  t.load = [&max_len](const std::string& dir) {
    tasks::text::LoadOptions o;
    o.max_len = max_len;
    return tasks::text::load(dir, o);
  };
  t.generate = [&max_len, &fortunes](const std::string&, uint64_t seed) {
    tasks::text::FortuneOptions o;
    o.dir = fortunes;
    o.max_len = std::min(max_len, 1024);  // fortunes are short: padding to 4000 would only cost time
    o.seed = seed;
    return tasks::text::load_fortunes(o);
  };
  t.denoise_ok = true;
  t.add_flags = [&max_len, &fortunes](CLI::App& app) {
    app.add_option("--text-len", max_len, "bytes kept per document (LRA: 1000 to 4000)")->capture_default_str()->group("Data");
    app.add_option("--fortunes", fortunes, "--generate: the fortune folder")->capture_default_str()->group("Data");
  };
  return train::run_main(t, argc, argv);
}
