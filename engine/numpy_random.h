// numpy's legacy global generator (np.random.seed(int) / RandomState(int)) and its permutation, bit for
// bit, for the reference codes that fix a structure with numpy draws (LRA's BigBird draws its random
// attention blocks with np.random.permutation after np.random.seed(layer index)). Not for training
// randomness: that is the counter-based Philox of engine/rng.h.
//
// The generator is MT19937 (Matsumoto & Nishimura 1998) as numpy's legacy seeding initialises it:
//   key[0] = seed; key[i] = 1812433253 · (key[i−1] ^ (key[i−1] >> 30)) + i   (mod 2^32), i < 624,
// then the standard twist and tempering per 32-bit output. permutation(x) copies x and shuffles it as
// RandomState.shuffle does (Fisher–Yates from the back): for i = n−1 down to 1, j = interval(i), swap
// x[i] and x[j], where interval(max) masks each 32-bit draw to the smallest all-ones mask >= max and
// rejects values above max (numpy's random_interval; two draws form a 64-bit value when max >= 2^32).
// tests/engine/test_numpy_random.cpp checks outputs, permutations and the BigBird layout against numpy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace lra {

class NumpyRandomState {
 public:
  explicit NumpyRandomState(uint32_t seed) {
    key_[0] = seed;
    for (int i = 1; i < kN; ++i) key_[i] = 1812433253u * (key_[i - 1] ^ (key_[i - 1] >> 30)) + uint32_t(i);
    pos_ = kN;
  }

  // One tempered 32-bit output (numpy's mt19937_next32).
  uint32_t next_uint32() {
    if (pos_ == kN) twist();
    uint32_t y = key_[pos_++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
  }
  uint64_t next_uint64() {
    const uint64_t hi = next_uint32();
    return (hi << 32) | next_uint32();
  }

  // A uniform integer in [0, max] by masked rejection (numpy's random_interval).
  uint64_t interval(uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = max;
    for (int s = 1; s <= 32; s *= 2) mask |= mask >> s;
    uint64_t v;
    if (max <= 0xffffffffu) {
      while ((v = (next_uint32() & mask)) > max) {
      }
    } else {
      while ((v = (next_uint64() & mask)) > max) {
      }
    }
    return v;
  }

  // RandomState.permutation of a 1-D array: a shuffled copy.
  template <class T>
  std::vector<T> permutation(std::vector<T> x) {
    for (size_t i = x.size(); i-- > 1;) std::swap(x[i], x[size_t(interval(i))]);
    return x;
  }

 private:
  static constexpr int kN = 624, kM = 397;
  void twist() {
    for (int i = 0; i < kN; ++i) {
      const uint32_t y = (key_[i] & 0x80000000u) | (key_[(i + 1) % kN] & 0x7fffffffu);
      key_[i] = key_[(i + kM) % kN] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    pos_ = 0;
  }

  uint32_t key_[kN];
  int pos_;
};

}  // namespace lra
