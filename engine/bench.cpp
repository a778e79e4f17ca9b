#include "engine/bench.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>

#include "engine/base.h"
#include "engine/tensor.h"

#if LRA_WITH_CUDA
#include "engine/cuda.h"
#endif

namespace lra::bench {

Timing time(Device device, const std::function<void(int)>& fn, int warmup, int iterations) {
  LRA_CHECK(iterations > 0, "bench::time: iterations must be positive");
  for (int i = 0; i < warmup; ++i) fn(i);
  synchronize();
  std::vector<double> ms;
  ms.reserve(size_t(iterations));
  if (device == Device::CUDA) {
#if LRA_WITH_CUDA
    cudaEvent_t start, stop;
    LRA_CUDA_CHECK(cudaEventCreate(&start));
    LRA_CUDA_CHECK(cudaEventCreate(&stop));
    for (int i = 0; i < iterations; ++i) {
      LRA_CUDA_CHECK(cudaEventRecord(start, cuda::stream()));
      fn(warmup + i);
      LRA_CUDA_CHECK(cudaEventRecord(stop, cuda::stream()));
      LRA_CUDA_CHECK(cudaEventSynchronize(stop));
      float t = 0;
      LRA_CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
      ms.push_back(t);
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
#else
    fail("bench::time on CUDA in a CPU-only build");
#endif
  } else {
    for (int i = 0; i < iterations; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      fn(warmup + i);
      auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
  }
  std::sort(ms.begin(), ms.end());
  Timing t;
  t.iterations = iterations;
  t.min_ms = ms.front();
  t.max_ms = ms.back();
  t.median_ms = median(ms);
  return t;
}

double seconds_of(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

Ceilings measure_ceilings(Device device) {
  // 256 MiB on the GPU (well past the 50 MB L2), 64 MiB on the host.
  size_t bytes = device == Device::CUDA ? (size_t(256) << 20) : (size_t(64) << 20);
  Tensor a = Tensor::zeros({int64_t(bytes / 4)}, DType::F32, device);
  Tensor b = Tensor::empty({int64_t(bytes / 4)}, DType::F32, device);
  Timing t = time(device, [&](int) { b.copy_from(a); }, 3, 10);
  Ceilings c;
  c.copy_gbs = 2.0 * double(bytes) / (t.median_ms * 1e-3) / 1e9;
  return c;
}

std::string markdown_table(const std::vector<Row>& rows) {
  std::ostringstream o;
  o << "| op | size | median ms | min ms | GB/s | TFLOP/s | of ceiling | note |\n";
  o << "|---|---|---:|---:|---:|---:|---:|---|\n";
  auto num = [](double v, int prec) {
    if (v <= 0) return std::string("");
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(prec);
    s << v;
    return s.str();
  };
  for (const Row& r : rows)
    o << "| " << r.name << " | " << r.size << " | " << num(r.timing.median_ms, 3) << " | " << num(r.timing.min_ms, 3)
      << " | " << num(r.gbs, 1) << " | " << num(r.tflops, r.tflops < 1 ? 4 : 2) << " | "
      << (r.ceiling_fraction > 0 ? num(100 * r.ceiling_fraction, 0) + "%" : "") << " | " << r.note << " |\n";
  return o.str();
}

}  // namespace lra::bench
