// Image (LRA task 4): sequential CIFAR-10, 32x32 grayscale pixels as a sequence of 1024, 10 classes.
// Offline stand-in: Debian's Fashion-MNIST padded to 32x32. Pixels enter as tokens (LRA) or, with
// input = scalars, as normalised scalars (S4).
#include "tasks/image/image.h"
#include "tasks/registry.h"

namespace lra::tasks {

TaskDescriptor image_task() {
  TaskDescriptor t;
  t.name = "image";
  t.title = "Image: sequential CIFAR-10 (10 classes, length 1024)";
  t.render = Render::Image;
  t.release = {"cifar10", true, "the folder holding cifar-10-batches-bin (or that folder)", "",
               [](const std::string& dir, const DataOptions&) { return image::load_cifar10(dir); }};
  t.stand_ins = {{"fashion-mnist", false,
                  "the Fashion-MNIST IDX folder (default /usr/share/datasets/fashion-mnist); STAND-IN, NOT CIFAR-10",
                  image::kFashionMnistDir,
                  [](const std::string& dir, const DataOptions&) { return image::load_fashion_mnist(dir); }}};
  t.generate_help =
      "offline stand-in: Fashion-MNIST from --fashion-mnist (NOT CIFAR-10; apt-get install dataset-fashion-mnist)";
  t.generate = [](const DataOptions& d, const std::string&, uint64_t) {
    return image::load_fashion_mnist(d.fashion_mnist);
  };
  t.augment = [](const TaskInfo&) { return image::train_augment(); };
  t.augment_name = "AutoAugment + flip + affine";
  t.pixel_normalization = [](const TaskInfo& info) { return image::normalization_for(info); };
  t.settings = {"fashion_mnist"};
  return t;
}

}  // namespace lra::tasks
