// CPU reference of the stable argsort (sort.h).
#include <algorithm>
#include <numeric>

#include "ops/sort/sort.h"

namespace lra::ops::cpu {

void argsort(const int32_t* keys, int32_t* idx, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* k = keys + r * n;
    int32_t* out = idx + r * n;
    std::iota(out, out + n, 0);
    std::stable_sort(out, out + n, [k](int32_t a, int32_t b) { return k[a] < k[b]; });
  }
}

}  // namespace lra::ops::cpu
