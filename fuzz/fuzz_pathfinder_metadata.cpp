// Fuzzes the Pathfinder release loader (tasks/pathfinder/loader.cpp): load_pathfinder on a scratch
// release whose one metadata file, metadata/0.npy, is the input, then Split::get on the listed images.
// The scratch folder holds imgs/0/sample_{0..3}.png: a valid 32×32 PNG, an 8×8 PNG (wrong size), an
// empty file (skipped, as the release's known empty PNG) and a file that is not a PNG. Properties: the
// three splits hold every listed, non-empty image once, with labels 0/1 and 32·32 pixel tokens.
//
// Note: metadata fields 0 and 1 are joined onto the difficulty folder unchecked, so a line may name
// any file on the machine ("/ etc/passwd"); see README.md.
#include <algorithm>

#include "fuzz/fuzz_common.h"
#include "tasks/pathfinder/pathfinder.h"

namespace fs = std::filesystem;
namespace tk = lra::tasks;

namespace {

const fs::path& release_root() {
  static const fs::path root = [] {
    const fs::path root = lra_fuzz::scratch_dir() / "release";
    const fs::path imgs = root / "pathfinder32" / "curv_contour_length_14" / "imgs" / "0";
    fs::create_directories(imgs);
    fs::create_directories(root / "pathfinder32" / "curv_contour_length_14" / "metadata");
    std::vector<uint8_t> pixels(32 * 32);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint8_t(i * 7);
    tk::write_png_gray((imgs / "sample_0.png").string(), pixels.data(), 32, 32);
    tk::write_png_gray((imgs / "sample_1.png").string(), pixels.data(), 8, 8);
    lra_fuzz::write_bytes(imgs / "sample_2.png", nullptr, 0);
    const uint8_t junk[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    lra_fuzz::write_bytes(imgs / "sample_3.png", junk, sizeof(junk));
    return root;
  }();
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path& root = release_root();
  lra_fuzz::write_bytes(root / "pathfinder32" / "curv_contour_length_14" / "metadata" / "0.npy", data, size);
  lra_fuzz::guarded([&] {
    const tk::Dataset d = tk::load_pathfinder(root.string(), tk::PathfinderOptions{});
    for (const char* name : {"train", "val", "test"}) {
      const tk::Split& split = *d.splits.at(name);
      // Decoding is the slow part; a few examples per split cover it.
      for (int64_t i = 0; i < std::min<int64_t>(split.size(), 8); ++i) {
        lra_fuzz::guarded([&] {
          const tk::Example e = split.get(i);
          LRA_FUZZ_ASSERT(e.tokens.size() == 32 * 32, "pixel tokens");
          LRA_FUZZ_ASSERT(e.label == 0 || e.label == 1, "label");
        });
      }
    }
  });
  return 0;
}
