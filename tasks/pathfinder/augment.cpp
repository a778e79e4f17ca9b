// The 8 symmetries of the square (the dihedral group D4) as a training-time augmentation for square
// images such as Pathfinder's: a contour connects the two markers in the image iff it does in any
// rotation or reflection, so the label is unchanged.
#include "engine/base.h"
#include "tasks/pathfinder/pathfinder.h"

namespace lra::tasks {

std::vector<int32_t> square_symmetry(const std::vector<int32_t>& pixels, int side, int k) {
  LRA_CHECK(side >= 1 && int64_t(pixels.size()) == int64_t(side) * side, "square_symmetry: ", pixels.size(),
            " pixels do not form a ", side, "×", side, " image");
  LRA_CHECK(k >= 0 && k < 8, "square_symmetry: k must be in 0..7, got ", k);
  std::vector<int32_t> out(pixels.size());
  for (int r = 0; r < side; ++r)
    for (int c = 0; c < side; ++c) {
      int y = r, x = k >= 4 ? side - 1 - c : c;  // reflect left-right
      for (int t = 0; t < k % 4; ++t) {          // rotate 90° clockwise: (y, x) → (x, side − 1 − y)
        int ny = x, nx = side - 1 - y;
        y = ny, x = nx;
      }
      out[size_t(y) * size_t(side) + size_t(x)] = pixels[size_t(r) * size_t(side) + size_t(c)];
    }
  return out;
}

Augment square_symmetries_augment(int side) {
  return [side](Example& example, Generator& gen) {
    example.tokens = square_symmetry(example.tokens, side, int(gen.below(8)));
  };
}

}  // namespace lra::tasks
