// Fuzzes the CIFAR-10 binary batch reader (tasks/image/cifar.cpp: read_cifar_batch) and the ImageSplit
// built from its output. Properties: one label (0..9) and 1024 gray pixels per 3073-byte record.
#include "fuzz/fuzz_common.h"
#include "tasks/image/image.h"

namespace im = lra::tasks::image;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = lra_fuzz::scratch_dir() / "data_batch_1.bin";
  lra_fuzz::write_bytes(path, data, size);
  lra_fuzz::guarded([&] {
    im::LabeledImages images = im::read_cifar_batch(path.string());
    LRA_FUZZ_ASSERT(size % im::kCifarRecordBytes == 0 && images.size() == int64_t(size / im::kCifarRecordBytes),
                    "record count");
    LRA_FUZZ_ASSERT(images.pixels.size() == images.labels.size() * size_t(im::kLen), "pixel count");
    for (int32_t l : images.labels) LRA_FUZZ_ASSERT(l >= 0 && l < im::kNumClasses, "label range");
    const im::ImageSplit split(std::move(images));
    for (int64_t i = 0; i < split.size(); ++i) LRA_FUZZ_ASSERT(split.get(i).tokens.size() == size_t(im::kLen), "tokens");
  });
  return 0;
}
