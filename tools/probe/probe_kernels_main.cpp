// lra-probe-kernels: the kernels probe as a standalone binary (tools/probe/kernels.h), until lra-probe
// takes it as its `kernels` subcommand.
//
//   lra-probe-kernels --checkpoint runs/listops-s4d/best.safetensors --out probe/listops-s4d
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/probe/kernels.h"

int main(int argc, char** argv) {
  CLI::App app{"lra-probe-kernels: the convolution kernels K(l) of every layer of a checkpoint, with their fitted "
               "exponential decay rate and total variation (kernels.json, kernels.png)"};
  std::string checkpoint, out, data;
  bool no_plot = false;
  app.add_option("--checkpoint", checkpoint, "a checkpoint written by lra-<task> (best.safetensors, last.safetensors)")
      ->required();
  app.add_option("--out", out, "folder for kernels.json and kernels.png")->required();
  app.add_option("--data", data,
                 "the task's data folder, as the run had it (default: regenerate the run's --generate data into "
                 "the checkpoint's folder; the data fixes vocabulary, classes and length)");
  app.add_flag("--no-plot", no_plot, "write kernels.json only (no matplotlib)");
  CLI11_PARSE(app, argc, argv);
  try {
    lra::probe::run_kernels_probe(checkpoint, out, data, !no_plot);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lra-probe-kernels: error: %s\n", e.what());
    return 1;
  }
}
