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
