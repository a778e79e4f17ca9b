// Benchmark helper: warm-up, then N separately timed calls, median reported. On the GPU each call is
// bracketed by CUDA events on the engine stream (no host clock around asynchronous work); on the CPU a
// steady clock is used. The callable receives the iteration index so it can rotate among several input
// sets and keep caches honest.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/device.h"

namespace lra::bench {

struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int iterations = 0;
};

Timing time(Device device, const std::function<void(int)>& fn, int warmup = 5, int iterations = 20);

// For benchmarks that interleave several code paths themselves (bench_gemm, bench_attention_cpu,
// bench_lsh_cpu): the wall-clock seconds of one call on the host, and the median time() reports — the
// upper middle element of the sorted values (0 for none).
double seconds_of(const std::function<void()>& fn);
double median(std::vector<double> values);

// Measured ceilings of the machine the benchmark runs on.
struct Ceilings {
  double copy_gbs = 0;  // large device-to-device (or host memcpy) copy, bytes read + written per second / 1e9
};
Ceilings measure_ceilings(Device device);

// One row of a result table.
struct Row {
  std::string name, size;
  Timing timing;
  double gbs = 0, tflops = 0;  // achieved; 0 where not meaningful
  double ceiling_fraction = 0;  // of the relevant measured or stated ceiling
  std::string note;
};

// A markdown table of rows.
std::string markdown_table(const std::vector<Row>& rows);

}  // namespace lra::bench
