// Glue for argsort: checks, allocation, device dispatch (no gradient: integer in, integer out).
#include "ops/sort/sort.h"

#include <climits>

#include "ops/common.h"

namespace lra::ops {

Tensor argsort(const Tensor& keys) {
  LRA_CHECK(keys.defined() && keys.dtype() == DType::I32 && keys.ndim() >= 1,
            "argsort: keys must be an int32 tensor of rank >= 1, got ", keys.describe());
  const int64_t n = keys.dim(-1), rows = n == 0 ? 0 : keys.numel() / n;
  LRA_CHECK(n <= INT32_MAX && keys.numel() <= INT32_MAX, "argsort: keys ", keys.shape().to_string(),
            " have more than 2^31 - 1 elements (indices are int32)");
  Tensor idx = Tensor::empty(keys.shape(), DType::I32, keys.device());
  if (keys.numel() == 0) return idx;
  switch (keys.device()) {
    case Device::CPU: cpu::argsort(keys.data<int32_t>(), idx.data<int32_t>(), rows, n); break;
    case Device::CUDA:
      LRA_ON_CUDA({
        Tensor scratch = Tensor::empty({(cuda::argsort_scratch_bytes(rows, n) + 3) / 4}, DType::F32, Device::CUDA);
        cuda::argsort(keys.data<int32_t>(), idx.data<int32_t>(), rows, n, scratch.data<float>());
      });
      break;
  }
  return idx;
}

}  // namespace lra::ops
