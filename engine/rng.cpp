#include "engine/rng.h"

#include <numeric>

#include "engine/tensor.h"

namespace lra {

std::vector<int64_t> Generator::permutation(int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = int64_t(below(uint32_t(i + 1)));
    std::swap(p[size_t(i)], p[size_t(j)]);
  }
  return p;
}

void Generator::set_window(const BatchWindow& w) {
  LRA_CHECK(!w.active() || (w.first_row >= 0 && w.local_rows >= 1 && w.first_row + w.local_rows <= w.global_rows),
            "Generator::set_window: rows [", w.first_row, ", ", w.first_row + w.local_rows, ") (first_row ",
            w.first_row, ", local_rows ", w.local_rows, ") must be a non-empty slice of the global batch of ",
            w.global_rows, " rows");
  window_ = w;
}

RowDraw Generator::reserve_uniform_rows(int64_t n, const char* op) {
  LRA_CHECK(n >= 0, op, ": a request of ", n, " random values");
  if (!window_.active()) return RowDraw{reserve(uniform_counters(n)), 0};
  LRA_CHECK(n % window_.local_rows == 0, op, ": under a batch window of ", window_.local_rows,
            " local rows the tensor must be batch-led, but its ", n, " mask values are not a multiple of ",
            window_.local_rows);
  const int64_t R = n / window_.local_rows;
  return RowDraw{reserve(uniform_counters(R * window_.global_rows)), window_.first_row * R};
}

uint64_t Generator::reserve_rows(int64_t rows, uint64_t counters_per_row, const char* op) {
  LRA_CHECK(rows >= 0, op, ": a request for ", rows, " rows");
  if (!window_.active()) return reserve(uint64_t(rows) * counters_per_row);
  LRA_CHECK(rows == window_.local_rows, op, ": got ", rows, " rows under a batch window of ", window_.local_rows,
            " local rows (rows [", window_.first_row, ", ", window_.first_row + window_.local_rows, ") of ",
            window_.global_rows, ")");
  return reserve(uint64_t(window_.global_rows) * counters_per_row) + uint64_t(window_.first_row) * counters_per_row;
}

namespace {
template <class T, class F>
void fill_host(Tensor& t, F draw) {
  T* p = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = T(draw(i));
}
}  // namespace

void uniform_(Tensor& t, Generator& gen, double low, double high) {
  LRA_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, "uniform_: needs a float tensor, got ", t.describe());
  uint64_t seed = gen.seed(), base = gen.reserve(uniform_counters(t.numel()));
  if (t.device() == Device::CUDA) {
    cuda::uniform_f32(t.data<float>(), t.numel(), seed, base, float(low), float(high));
    return;
  }
  // float32 computes in float, exactly as the kernel does, so both devices give the same bits.
  if (t.dtype() == DType::F32) {
    float lo = float(low), span = float(high) - float(low);
    fill_host<float>(t, [&](int64_t i) { return lo + span * philox_uniform(seed, base, i); });
  } else {
    fill_host<double>(t, [&](int64_t i) { return low + (high - low) * double(philox_uniform(seed, base, i)); });
  }
}

void normal_(Tensor& t, Generator& gen, double mean, double std) {
  LRA_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, "normal_: needs a float tensor, got ", t.describe());
  uint64_t seed = gen.seed(), base = gen.reserve(normal_counters(t.numel()));
  if (t.device() == Device::CUDA) {
    cuda::normal_f32(t.data<float>(), t.numel(), seed, base, float(mean), float(std));
    return;
  }
  if (t.dtype() == DType::F32) {
    float m = float(mean), s = float(std);
    fill_host<float>(t, [&](int64_t i) { return m + s * philox_normal(seed, base, i); });
  } else {
    fill_host<double>(t, [&](int64_t i) { return mean + std * double(philox_normal(seed, base, i)); });
  }
}

#if !LRA_WITH_CUDA
namespace cuda {
void uniform_f32(float*, int64_t, uint64_t, uint64_t, float, float) { fail("uniform_ on CUDA in a CPU-only build"); }
void normal_f32(float*, int64_t, uint64_t, uint64_t, float, float) { fail("normal_ on CUDA in a CPU-only build"); }
}  // namespace cuda
#endif

}  // namespace lra
