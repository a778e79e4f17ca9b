// lra-text: trains a model on byte-level IMDB sentiment (LRA task 2). --data reads the aclImdb folder; --generate uses
// Debian's fortune files as an offline STAND-IN (it says nothing about IMDB).
// Everything about the task is its descriptor (tasks/text/descriptor.cpp); the loop is tools/train.
#include "tasks/registry.h"
#include "tools/train/trainer.h"

int main(int argc, char** argv) { return lra::train::run_main(lra::tasks::find_task("text"), argc, argv); }
