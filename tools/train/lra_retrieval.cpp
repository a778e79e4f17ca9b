// lra-retrieval: trains a model on AAN document matching (LRA task 3), two towers. --data reads the tsv_data folder;
// --generate uses pairs of Debian fortunes as an offline STAND-IN (it says nothing about AAN).
// Everything about the task is its descriptor (tasks/retrieval/descriptor.cpp); the loop is tools/train.
#include "tasks/registry.h"
#include "tools/train/trainer.h"

int main(int argc, char** argv) { return lra::train::run_main(lra::tasks::find_task("retrieval"), argc, argv); }
