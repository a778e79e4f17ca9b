// lra-image: trains a model on sequential CIFAR-10 (LRA task 4). --data reads the CIFAR-10 binary release; --generate
// uses Debian's Fashion-MNIST (padded to 32x32) as an offline STAND-IN.
// Everything about the task is its descriptor (tasks/image/descriptor.cpp); the loop is tools/train.
#include "tasks/registry.h"
#include "tools/train/trainer.h"

int main(int argc, char** argv) { return lra::train::run_main(lra::tasks::find_task("image"), argc, argv); }
