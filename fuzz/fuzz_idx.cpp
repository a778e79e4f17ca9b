// Fuzzes the IDX readers (tasks/image/idx.cpp): read_maybe_gzip (plain or gzip), read_idx_images and
// read_idx_labels on the same bytes (the magic decides which accepts), then pad_to_32 on accepted
// images that fit. Properties: pixels = count·rows·cols, labels below num_classes.
#include "fuzz/fuzz_common.h"
#include "tasks/image/image.h"

namespace im = lra::tasks::image;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = lra_fuzz::scratch_dir() / "input-idx-ubyte";
  lra_fuzz::write_bytes(path, data, size);
  lra_fuzz::guarded([&] {
    const im::IdxImages images = im::read_idx_images(path.string());
    LRA_FUZZ_ASSERT(images.rows > 0 && images.cols > 0 && images.count >= 0, "dims");
    LRA_FUZZ_ASSERT(int64_t(images.pixels.size()) == images.count * images.rows * images.cols, "pixel count");
    if (images.rows <= im::kSide && images.cols <= im::kSide)
      for (int64_t i = 0; i < std::min<int64_t>(images.count, 64); ++i) {
        const std::vector<uint8_t> padded =
            im::pad_to_32(images.pixels.data() + i * images.rows * images.cols, int(images.rows), int(images.cols));
        LRA_FUZZ_ASSERT(padded.size() == size_t(im::kLen), "padded size");
      }
  });
  lra_fuzz::guarded([&] {
    const std::vector<int32_t> labels = im::read_idx_labels(path.string());
    for (int32_t l : labels) LRA_FUZZ_ASSERT(l >= 0 && l < im::kNumClasses, "label range");
  });
  return 0;
}
