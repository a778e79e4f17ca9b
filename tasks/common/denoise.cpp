// Masked-token denoising (see denoise.h).
#include "tasks/common/denoise.h"

#include <cmath>
#include <utility>
#include <vector>

namespace lra::tasks {

namespace {

void check_options(const DenoiseOptions& o) {
  LRA_CHECK(o.rate >= 0.0 && o.rate <= 1.0, "denoise: rate must be in [0, 1], got ", o.rate);
  LRA_CHECK(o.random_fraction >= 0.0 && o.random_fraction <= 1.0,
            "denoise: random_fraction must be in [0, 1], got ", o.random_fraction);
  LRA_CHECK(o.random_low <= o.random_high, "denoise: random ids [", o.random_low, ", ", o.random_high,
            "] form an empty range");
  LRA_CHECK(o.mask_id != o.pad_id && (o.mask_id < o.random_low || o.mask_id > o.random_high) &&
                (o.pad_id < o.random_low || o.pad_id > o.random_high),
            "denoise: mask_id ", o.mask_id, ", pad_id ", o.pad_id, " and the random ids [", o.random_low, ", ",
            o.random_high, "] must not overlap");
}

}  // namespace

int64_t corrupt_row(const int32_t* ids, int64_t L, Generator& gen, const DenoiseOptions& o, int32_t* out_ids,
                    int32_t* targets) {
  std::vector<int64_t> real;  // non-pad positions
  for (int64_t t = 0; t < L; ++t) {
    LRA_CHECK(ids[t] >= 0 && ids[t] < o.mask_id, "denoise: id ", ids[t], " at position ", t, " is outside [0, ",
              o.mask_id, ") (already corrupted?)");
    out_ids[t] = ids[t];
    const bool pad = ids[t] == o.pad_id;
    targets[t] = !pad && o.targets == DenoiseTargets::All ? ids[t] : kDenoiseIgnore;
    if (!pad) real.push_back(t);
  }
  const int64_t n = int64_t(real.size());
  const int64_t k = std::llround(o.rate * double(n));
  const int64_t r = std::llround(o.random_fraction * double(k));
  const uint32_t span = uint32_t(int64_t(o.random_high) - o.random_low + 1);
  // Partial Fisher-Yates: real[0..k) becomes a uniform k-subset in uniform order, so its first r
  // elements are a uniform r-subset of it.
  for (int64_t i = 0; i < k; ++i) {
    const int64_t j = i + int64_t(gen.below(uint32_t(n - i)));
    std::swap(real[size_t(i)], real[size_t(j)]);
    const int64_t t = real[size_t(i)];
    targets[t] = ids[t];
    out_ids[t] = i < r ? o.random_low + int32_t(gen.below(span)) : o.mask_id;
  }
  return k;
}

Denoised corrupt(const Tensor& ids, Generator& gen, const DenoiseOptions& options) {
  check_options(options);
  LRA_CHECK(ids.defined() && ids.dtype() == DType::I32 && !ids.is_cuda() && ids.ndim() == 2,
            "denoise: ids must be a host int32 tensor [B, L], got ", ids.defined() ? ids.describe() : "none");
  const int64_t B = ids.dim(0), L = ids.dim(1);
  Denoised out{Tensor::empty({B, L}, DType::I32), Tensor::empty({B, L}, DType::I32)};
  const int32_t* in = ids.data<int32_t>();
  int32_t* o = out.ids.data<int32_t>();
  int32_t* t = out.targets.data<int32_t>();
  const uint64_t stride = uint64_t(kDenoiseCountersPerPosition * L);
  const uint64_t base = gen.reserve_rows(B, stride, "denoise");
  for (int64_t b = 0; b < B; ++b) {
    try {
      Generator row(gen.seed(), base + uint64_t(b) * stride);
      corrupt_row(in + b * L, L, row, options, o + b * L, t + b * L);
      LRA_CHECK(row.offset() <= base + uint64_t(b + 1) * stride, "denoise: row drew past its ", stride,
                " counters");
    } catch (const Error& e) {
      fail(str(e.what(), " in row ", b, " of [", B, ", ", L, "]"));
    }
  }
  return out;
}

}  // namespace lra::tasks
