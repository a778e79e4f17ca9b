// lra-pathfinder: trains a model on Pathfinder and Path-X (LRA task 5; --size 128 is Path-X). --data reads the release;
// --generate draws a fresh set with our port of the stimulus generator.
// Everything about the task is its descriptor (tasks/pathfinder/descriptor.cpp); the loop is tools/train.
#include "tasks/registry.h"
#include "tools/train/trainer.h"

int main(int argc, char** argv) { return lra::train::run_main(lra::tasks::find_task("pathfinder"), argc, argv); }
