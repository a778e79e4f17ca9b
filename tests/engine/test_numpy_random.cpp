// engine/numpy_random.h against numpy 1.24's legacy RandomState. The expected values were printed by
// Debian's python3-numpy:
//   np.random.RandomState(s).randint(0, 2**32, size=3, dtype=np.uint64)   (raw 32-bit outputs)
//   np.random.RandomState(1).permutation(10), then .permutation(np.arange(5, 105)) from the same state
//   np.random.RandomState(7).permutation(np.arange(1000))[:8], then .permutation(3), .permutation(1)
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "engine/numpy_random.h"

namespace lra {
namespace {

std::vector<int> arange(int begin, int end) {
  std::vector<int> v(size_t(end - begin));
  std::iota(v.begin(), v.end(), begin);
  return v;
}

TEST(NumpyRandomState, RawOutputsMatchNumpy) {
  const struct {
    uint32_t seed;
    uint32_t out[3];
  } cases[] = {{0, {2357136044u, 2546248239u, 3071714933u}},
               {5489, {3499211612u, 581869302u, 3890346734u}},  // MT19937's reference seed
               {4294967295u, {419326371u, 479346978u, 3918654476u}}};
  for (const auto& c : cases) {
    NumpyRandomState rs(c.seed);
    for (uint32_t want : c.out) EXPECT_EQ(rs.next_uint32(), want) << "seed " << c.seed;
  }
  NumpyRandomState rs(0);  // outputs 4 and 5 of seed 0
  for (int i = 0; i < 3; ++i) rs.next_uint32();
  EXPECT_EQ(rs.next_uint32(), 3626093760u);
  EXPECT_EQ(rs.next_uint32(), 2588848963u);
}

TEST(NumpyRandomState, PermutationsMatchNumpy) {
  NumpyRandomState rs(1);
  EXPECT_EQ(rs.permutation(arange(0, 10)), (std::vector<int>{2, 9, 6, 4, 0, 3, 1, 7, 8, 5}));
  const std::vector<int> p = rs.permutation(arange(5, 105));
  EXPECT_EQ(std::vector<int>(p.begin(), p.begin() + 12), (std::vector<int>{96, 49, 61, 87, 74, 69, 104, 63, 40, 43, 70, 97}));

  NumpyRandomState rs7(7);  // 1000 elements: many rejected draws (masks up to 1023)
  const std::vector<int> q = rs7.permutation(arange(0, 1000));
  EXPECT_EQ(std::vector<int>(q.begin(), q.begin() + 8), (std::vector<int>{778, 334, 271, 802, 216, 408, 812, 94}));
  EXPECT_EQ(rs7.permutation(arange(0, 3)), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(rs7.permutation(arange(0, 1)), (std::vector<int>{0}));
  EXPECT_TRUE(rs7.permutation(std::vector<int>{}).empty());
}

TEST(NumpyRandomState, IntervalStaysInRange) {
  NumpyRandomState rs(3);
  for (uint64_t max : {uint64_t(0), uint64_t(1), uint64_t(2), uint64_t(5), uint64_t(1023), uint64_t(1024),
                       uint64_t(0xffffffffu), uint64_t(1) << 40})
    for (int i = 0; i < 50; ++i) EXPECT_LE(rs.interval(max), max);
}

}  // namespace
}  // namespace lra
