// Fuzzes the PNG decode path of the Pathfinder loader (tasks/pathfinder/loader.cpp: read_png_gray,
// stb_image compiled with STBI_ONLY_PNG). Property: a decoded image has height·width > 0 pixels.
// Use fuzz/png.dict (chunk names) to reach past the chunk parser quickly.
#include "fuzz/fuzz_common.h"
#include "tasks/pathfinder/pathfinder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = lra_fuzz::scratch_dir() / "sample_0.png";
  lra_fuzz::write_bytes(path, data, size);
  lra_fuzz::guarded([&] {
    int h = 0, w = 0;
    const std::vector<uint8_t> pixels = lra::tasks::read_png_gray(path.string(), h, w);
    LRA_FUZZ_ASSERT(h > 0 && w > 0 && pixels.size() == size_t(h) * size_t(w), "decoded size");
  });
  return 0;
}
