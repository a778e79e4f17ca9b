// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
//
// A random value is a pure function of (seed, counter), so the CPU and the GPU produce the same
// stream for the same seed and offset, whatever the thread layout: element i of a request that
// starts at counter c uses the 4-word block philox(seed, c + i/4), lane i%4. A Generator only hands
// out disjoint counter ranges; its whole state is (seed, offset), which checkpoints save.
//
// Uniform floats use the top 24 bits of a word: exactly representable, identical on both backends.
// Normals (Box-Muller over a block's lanes) agree to float rounding across backends, since the two
// sides' log/cos implementations may differ in the last bit; initialisation therefore draws on the
// host and copies, so a model starts bit-identical on either device.
//
// What a BatchWindow changes. In a data-parallel run each rank holds rows [first_row, first_row +
// local_rows) of a global batch of global_rows rows. A Generator given that window (set_window) makes
// every batch-led draw of a step a function of the GLOBAL row, so the masks do not depend on the number
// of ranks: a batch-led request reserves counters for the whole global batch (reserve_uniform_rows,
// reserve_rows) and the local request reads the slice of that stream that belongs to its rows. With no
// window (the default) both reserve exactly what a plain reserve() of the local request would, so a
// single process draws the same numbers as before windows existed. Every draw a training step makes:
//   * ops::dropout (untied, or tied along any dim but the batch dim): batch-led, reserve_uniform_rows.
//     Tied along dim 0 the mask is shared by the batch: batch-independent, a plain reserve. Callers:
//     backbone (input, block dropouts), layers.cpp FFN, s4, s4d, s5, lru, sgconv, linformer (its
//     [B, H, L, k] weights), sinkhorn (its [B, H, nb, C, ·] weights), mega (x, v, its softmax-free
//     attention weights, h), toy classifier: all on tensors whose leading dim is B (or B·something).
//   * set_attention_dropout (attention, local/LaS variants, masked attention, synthesizer, mega's chunked
//     attention with B·nc rows): batch-led, reserve_uniform_rows over B·H·L·L weights.
//   * tasks::corrupt (denoising): one fixed stretch of counters per row, reserve_rows.
//   * batch-independent, the same on every rank: performer's feature redraw (performer.cpp, normals for a
//     [m, d] projection), s5's truncated normals and sgconv's permutation (initialisation), bigbird's
//     random blocks (its own seeded numpy-compatible stream, not this Generator's).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__CUDACC__)
#define LRA_HD __host__ __device__ __forceinline__
#else
#define LRA_HD inline
#endif

namespace lra {

struct Philox4 {
  uint32_t v[4];
};

LRA_HD Philox4 philox4x32(uint64_t seed, uint64_t counter) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c0;
    uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
    uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c1 = uint32_t(p1);
    c3 = uint32_t(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// [0, 1) with 24 random bits.
LRA_HD float philox_uniform(uint64_t seed, uint64_t base, int64_t i) {
  Philox4 r = philox4x32(seed, base + uint64_t(i) / 4);
  return float(r.v[i & 3] >> 8) * (1.0f / 16777216.0f);
}

// Standard normal for element i: Box-Muller on the block (base + i/2), lanes 0..1 give the radius
// and angle; even i takes the cosine, odd i the sine.
LRA_HD float philox_normal(uint64_t seed, uint64_t base, int64_t i) {
  Philox4 r = philox4x32(seed, base + uint64_t(i) / 2);
  float u1 = float((r.v[0] >> 8) + 1) * (1.0f / 16777216.0f);  // (0, 1]
  float u2 = float(r.v[1] >> 8) * (1.0f / 16777216.0f);
  float radius = sqrtf(-2.0f * logf(u1));
  float angle = 6.2831853071795864f * u2;
  return (i & 1) ? radius * sinf(angle) : radius * cosf(angle);
}

// Counters consumed by a request of n uniform / normal values.
inline uint64_t uniform_counters(int64_t n) { return uint64_t(n + 3) / 4; }
inline uint64_t normal_counters(int64_t n) { return uint64_t(n + 1) / 2; }

// Rows [first_row, first_row + local_rows) of a global batch of global_rows rows (see the header comment).
// The default (all zero) is no window.
struct BatchWindow {
  int64_t global_rows = 0, first_row = 0, local_rows = 0;
  bool active() const { return global_rows != 0 || first_row != 0 || local_rows != 0; }
};

// Where a batch-led request of n uniform values reads its stream: local value m is value first + m of the
// stream (seed, base), i.e. philox_uniform(seed, base, first + m).
struct RowDraw {
  uint64_t base = 0;
  int64_t first = 0;
};

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves n counters and returns the first.
  uint64_t reserve(uint64_t n) {
    uint64_t base = offset_;
    offset_ += n;
    return base;
  }
  // The batch window (BatchWindow{} clears it). Throws unless 0 <= first_row, local_rows >= 1 and
  // first_row + local_rows <= global_rows.
  void set_window(const BatchWindow& w);
  const BatchWindow& window() const { return window_; }
  // A batch-led request of n uniform values (R = n / local_rows per row; `op` names the caller in the
  // error when local_rows does not divide n). No window: {reserve(uniform_counters(n)), 0}. With one:
  // reserves uniform_counters(R·global_rows) and first = first_row·R, so local value m is global value
  // first_row·R + m (the same as without a window when the window is the whole batch).
  RowDraw reserve_uniform_rows(int64_t n, const char* op);
  // Counters for `rows` rows of counters_per_row each; returns the first counter of this call's row 0.
  // No window: reserve(rows·counters_per_row). With one (rows must equal local_rows): reserves
  // global_rows·counters_per_row and returns base + first_row·counters_per_row.
  uint64_t reserve_rows(int64_t rows, uint64_t counters_per_row, const char* op);
  // Host draws (data shuffling, augmentation decisions).
  float uniform() { return philox_uniform(seed_, reserve(1), 0); }
  // Uniform integer in [0, n), by multiply-shift on 32 random bits (bias < n / 2^32).
  uint32_t below(uint32_t n) {
    uint32_t word = philox4x32(seed_, reserve(1)).v[0];
    return uint32_t((uint64_t(word) * n) >> 32);
  }
  // A uniformly random permutation of 0..n-1 (Fisher-Yates), the same on every machine.
  std::vector<int64_t> permutation(int64_t n);

 private:
  uint64_t seed_;
  uint64_t offset_;
  BatchWindow window_;
};

class Tensor;
// Fill a float tensor (any device) in place; see the header comment for cross-device behaviour.
void uniform_(Tensor& t, Generator& gen, double low = 0.0, double high = 1.0);
void normal_(Tensor& t, Generator& gen, double mean = 0.0, double std = 1.0);

namespace cuda {
void uniform_f32(float* dst, int64_t n, uint64_t seed, uint64_t base, float low, float high);
void normal_f32(float* dst, int64_t n, uint64_t seed, uint64_t base, float mean, float std);
}  // namespace cuda

}  // namespace lra
