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
