// lra-image: trains a model on sequential CIFAR-10 (LRA task 4: 32x32 grayscale pixels as a sequence of
// 1024, 10 classes). --data reads the CIFAR-10 binary release; --generate uses Debian's Fashion-MNIST
// (padded to 32x32) as an offline STAND-IN. Pixels enter as tokens (embedding of 256 values, as in
// LRA) or, with --input scalars, as normalised scalars (as in S4).
#include <CLI/CLI.hpp>

#include "tasks/image/image.h"
#include "tools/data/registry.h"
#include "tools/train/trainer.h"

using namespace lra;

int main(int argc, char** argv) {
  std::string fashion = tasks::image::kFashionMnistDir;
  train::TaskSpec t;
  t.binary = "lra-image";
  t.description = "lra-image: train an LRA model on sequential CIFAR-10 (10 classes, length 1024).";
  t.data_help = "the folder holding cifar-10-batches-bin (or that folder)";
  t.generate_help = "offline stand-in: Fashion-MNIST from --fashion-mnist (NOT CIFAR-10; apt-get install dataset-fashion-mnist)";
  t.load = [](const std::string& dir) { return tasks::image::load_cifar10(dir); };
  t.generate = [&fashion](const std::string&, uint64_t) { return tasks::image::load_fashion_mnist(fashion); };
  t.augment = tools::task_kind("cifar10").augment;
  t.pixels = true;
  t.add_flags = [&fashion](CLI::App& app) {
    app.add_option("--fashion-mnist", fashion, "--generate: the Fashion-MNIST IDX folder")->capture_default_str()->group("Data");
  };
  return train::run_main(t, argc, argv);
}
