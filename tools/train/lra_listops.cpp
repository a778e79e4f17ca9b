// lra-listops: trains a model on ListOps (LRA task 1). --data reads the release's listops-1000 folder; --generate makes a fresh set with our
// port of LRA's generator (smaller and shorter by default, see --gen-*).
// Everything about the task is its descriptor (tasks/listops/descriptor.cpp); the loop is tools/train.
#include "tasks/registry.h"
#include "tools/train/trainer.h"

int main(int argc, char** argv) { return lra::train::run_main(lra::tasks::find_task("listops"), argc, argv); }
