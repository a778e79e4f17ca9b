// Block copies above the threading threshold (2^16 elements): split, concat, slice and pad of an LRA-sized
// activation give the elements an index loop gives, with 1 and 2 threads.
#include <gtest/gtest.h>
#include <omp.h>

#include "ops/shape/shape_ops.h"

namespace lra {
namespace {

TEST(ShapeLargeBlocks, SplitConcatSlicePadMoveEveryElementOnAnyThreadCount) {
  const int64_t R = 2 * 1031, C = 130;  // gMLP's [B·L, 2D] split into halves, L prime
  Tensor x = Tensor::empty({R, C});
  float* xp = x.data<float>();
  for (int64_t i = 0; i < R * C; ++i) xp[i] = float(i);
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    std::vector<Tensor> parts = ops::split(x, {64, 66}, -1);
    Tensor back = ops::concat({parts[1], parts[0]}, -1);
    Tensor mid = ops::slice(x, 0, 3, R - 5);
    Tensor padded = ops::pad(x, -1, 2, 1, -7.0);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c) {
        const float v = float(r * C + c);
        ASSERT_EQ(c < 64 ? parts[0].data<float>()[r * 64 + c] : parts[1].data<float>()[r * 66 + c - 64], v);
        ASSERT_EQ(back.data<float>()[r * C + (c < 64 ? c + 66 : c - 64)], v) << r << " " << c;
        if (r >= 3 && r < R - 5) ASSERT_EQ(mid.data<float>()[(r - 3) * C + c], v);
        ASSERT_EQ(padded.data<float>()[r * (C + 3) + c + 2], v);
      }
    for (int64_t r = 0; r < R; ++r) {
      const float* row = padded.data<float>() + r * (C + 3);
      ASSERT_EQ(row[0], -7.0f);
      ASSERT_EQ(row[1], -7.0f);
      ASSERT_EQ(row[C + 2], -7.0f);
    }
  }
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace lra
