// The float32 CPU path of the FFT long convolution, beside the reference (fftconv_cpu.cpp, the
// specification, which transforms one pair of rows at a time with std::complex butterflies). The same
// sums, computed W = 16 channels at a time so that every butterfly is one vector operation:
//   * a "lane block" holds one complex signal per channel h of a group of W channels, stored
//     structure-of-arrays, re[f][l] and im[f][l] (f the frequency or time index, l the lane); a radix-2
//     butterfly of span len updates rows f and f + len/2 of all W lanes with one twiddle, so the loop
//     over l is 16 contiguous floats (one AVX-512 register; checked with -fopt-info-vec: the butterfly,
//     the spectrum products and the loads/stores vectorise);
//   * as in the reference, batch rows b and b + 1 of a channel share one complex transform
//     (u[b] + i·u[b+1]), so a group of W channels costs one forward and one inverse transform per pair
//     of batch rows; the kernel spectra of the group are transformed once per call;
//   * groups of channels run on OpenMP threads; a group owns its channels' outputs, its Σ_b conj(Û)·Ĝ
//     accumulator and its kernel-gradient rows, and the channels sharing a kernel row are summed
//     afterwards in channel order, so the result does not depend on the thread count.
// Shapes and conventions (fftconv.h): u, y, gy, gu [B, H, L]; kc, ka [C, Lk], channel h uses row h % C;
// n = fft_size(L, Lk), the same power of two as the reference. Twiddles come from double. Nothing is
// saved for backward beyond the op's inputs. Memory: per thread 8 blocks of n·W floats (4 MB at L 4096).
// Cost: (2 + 3·⌈B/2⌉ + 1)·⌈H/W⌉ transforms of 5·n·log2(n)·W flops, against the reference's same count of
// scalar std::complex transforms.
//
// Version log (one call at S4D's shape in lra-speed --small: B 2, H = C = 64, L = Lk = 1024, n 2048; best
// of 3 on this shared 2-core host, one thread, as OpenMP's two threads stall whenever another job holds a
// core; a standalone driver calling the raw entry points):
//   v0  the reference (std::complex, one pair of rows per transform):   forward 12.1 ms, backward 37.5 ms
//   v1  lanes of 16 channels, radix-2, structure-of-arrays:             forward  2.2 ms, backward  4.2 ms
//       (predicted ~10x from 16 lanes against scalar complex butterflies; the forward gains less, as
//       its kernel transforms are a third of its work and have no second row to share them.)
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "ops/fftconv/fftconv.h"

namespace lra::ops::cpu {

namespace {

constexpr int64_t W = 16;  // lanes: channels per group

// Radix-2 transforms of lane blocks of length n (a power of two).
class LaneFFT {
 public:
  explicit LaneFFT(int64_t n) : n_(n), wr_(size_t(n / 2)), wi_(size_t(n / 2)), rev_(size_t(n)) {
    for (int64_t k = 0; k < n / 2; ++k) {
      const double a = -2.0 * std::numbers::pi * double(k) / double(n);
      wr_[size_t(k)] = float(std::cos(a));
      wi_[size_t(k)] = float(std::sin(a));
    }
    int bits = 0;
    while ((int64_t(1) << bits) < n) ++bits;
    for (int64_t i = 0; i < n; ++i) {
      int64_t r = 0;
      for (int b = 0; b < bits; ++b)
        if (i & (int64_t(1) << b)) r |= int64_t(1) << (bits - 1 - b);
      rev_[size_t(i)] = r;
    }
  }

  // a[k] <- Σ_m a[m]·exp(∓2πi·k·m/n) in every lane (− forward, + inverse, not divided by n).
  void operator()(float* re, float* im, bool inverse) const {
    for (int64_t i = 0; i < n_; ++i) {
      const int64_t j = rev_[size_t(i)];
      if (i < j)
        for (int64_t l = 0; l < W; ++l) {
          std::swap(re[i * W + l], re[j * W + l]);
          std::swap(im[i * W + l], im[j * W + l]);
        }
    }
    const float sign = inverse ? -1.0f : 1.0f;
    for (int64_t len = 2; len <= n_; len *= 2) {
      const int64_t half = len / 2, stride = n_ / len;
      for (int64_t start = 0; start < n_; start += len)
        for (int64_t k = 0; k < half; ++k) {
          const float wr = wr_[size_t(k * stride)], wi = sign * wi_[size_t(k * stride)];
          float* __restrict ar = re + (start + k) * W;
          float* __restrict ai = im + (start + k) * W;
          float* __restrict br = re + (start + k + half) * W;
          float* __restrict bi = im + (start + k + half) * W;
#pragma omp simd
          for (int64_t l = 0; l < W; ++l) {
            const float xr = br[l] * wr - bi[l] * wi, xi = br[l] * wi + bi[l] * wr;
            br[l] = ar[l] - xr;
            bi[l] = ai[l] - xi;
            ar[l] += xr;
            ai[l] += xi;
          }
        }
    }
  }

  int64_t n() const { return n_; }

 private:
  int64_t n_;
  std::vector<float> wr_, wi_;
  std::vector<int64_t> rev_;
};

// One thread's lane blocks.
struct Block {
  std::vector<float> re, im;
  explicit Block(int64_t n) : re(size_t(n * W)), im(size_t(n * W)) {}
  void clear() {
    std::fill(re.begin(), re.end(), 0.0f);
    std::fill(im.begin(), im.end(), 0.0f);
  }
};

// Lane l of the group starting at channel h0 holds rows b0 (real part) and b0 + 1 (imaginary part, zero
// when b0 + 1 == B) of channel h0 + l; lanes past H stay zero.
void load_pair(const FFTConvShape& s, const float* x, int64_t h0, int64_t b0, Block& a) {
  a.clear();
  const int64_t lanes = std::min(W, s.H - h0);
  for (int64_t l = 0; l < lanes; ++l) {
    const float* x0 = x + (b0 * s.H + h0 + l) * s.L;
    for (int64_t t = 0; t < s.L; ++t) a.re[size_t(t * W + l)] = x0[t];
    if (b0 + 1 < s.B) {
      const float* x1 = x + ((b0 + 1) * s.H + h0 + l) * s.L;
      for (int64_t t = 0; t < s.L; ++t) a.im[size_t(t * W + l)] = x1[t];
    }
  }
}

// The kernel spectra of the group's channels (lane l: the length-n circular buffer of row (h0 + l) % C).
void load_kernels(const FFTConvShape& s, const float* kc, const float* ka, int64_t h0, const LaneFFT& fft, Block& k) {
  k.clear();
  const int64_t n = fft.n(), lanes = std::min(W, s.H - h0);
  for (int64_t l = 0; l < lanes; ++l) {
    const int64_t c = (h0 + l) % s.C;
    for (int64_t j = 0; j < s.Lk; ++j) k.re[size_t(j * W + l)] += kc[c * s.Lk + j];
    if (s.anti != AntiCausal::None)
      for (int64_t j = 0; j < s.Lk; ++j) k.re[size_t(anti_position(j, n, s.anti) * W + l)] += ka[c * s.Lk + j];
  }
  fft(k.re.data(), k.im.data(), false);
}

// a *= k (conjugated when conj_k), every frequency and lane.
void multiply(Block& a, const Block& k, int64_t n, bool conj_k) {
  const float sign = conj_k ? -1.0f : 1.0f;
  float* __restrict ar = a.re.data();
  float* __restrict ai = a.im.data();
  const float* __restrict kr = k.re.data();
  const float* __restrict ki = k.im.data();
#pragma omp simd
  for (int64_t i = 0; i < n * W; ++i) {
    const float r = ar[i] * kr[i] - ai[i] * sign * ki[i], m = ar[i] * sign * ki[i] + ai[i] * kr[i];
    ar[i] = r;
    ai[i] = m;
  }
}

// Rows b0 and b0 + 1 of the result: real and imaginary parts divided by n, plus D·x.
void store_pair(const FFTConvShape& s, const Block& a, int64_t n, const float* D, const float* x, int64_t h0,
                int64_t b0, float* out) {
  const int64_t lanes = std::min(W, s.H - h0);
  const float inv = 1.0f / float(n);
  for (int64_t l = 0; l < lanes; ++l) {
    const int64_t h = h0 + l;
    const float d = D ? D[h] : 0.0f;
    const int64_t r0 = (b0 * s.H + h) * s.L;
    for (int64_t t = 0; t < s.L; ++t) out[r0 + t] = a.re[size_t(t * W + l)] * inv + d * x[r0 + t];
    if (b0 + 1 < s.B) {
      const int64_t r1 = ((b0 + 1) * s.H + h) * s.L;
      for (int64_t t = 0; t < s.L; ++t) out[r1 + t] = a.im[size_t(t * W + l)] * inv + d * x[r1 + t];
    }
  }
}

}  // namespace

void fftconv_fft_forward_fast(const FFTConvShape& s, const float* u, const float* kc, const float* ka,
                              const float* D, float* y) {
  const int64_t n = fft_size(s.L, s.Lk), groups = (s.H + W - 1) / W;
  const LaneFFT fft(n);
#pragma omp parallel if (s.B * s.H * n >= (int64_t(1) << 16))
  {
    Block k(n), a(n);
#pragma omp for schedule(static)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t h0 = g * W;
      load_kernels(s, kc, ka, h0, fft, k);
      for (int64_t b0 = 0; b0 < s.B; b0 += 2) {
        load_pair(s, u, h0, b0, a);
        fft(a.re.data(), a.im.data(), false);
        multiply(a, k, n, false);
        fft(a.re.data(), a.im.data(), true);
        store_pair(s, a, n, D, u, h0, b0, y);
      }
    }
  }
}

void fftconv_fft_backward_fast(const FFTConvShape& s, const float* u, const float* kc, const float* ka,
                               const float* D, const float* gy, float* gu, float* gkc, float* gka, float* gD) {
  const int64_t n = fft_size(s.L, s.Lk), groups = (s.H + W - 1) / W;
  const bool anti = s.anti != AntiCausal::None;
  const bool kernel_grad = gkc || (gka && anti);
  const LaneFFT fft(n);
  // Per channel: the gradient of its kernel buffer's taps (causal, then anti-causal), summed over the
  // channels of each kernel row afterwards in channel order.
  std::vector<float> per_channel(kernel_grad ? size_t(s.H * 2 * s.Lk) : 0, 0.0f);
#pragma omp parallel if (s.B * s.H * n >= (int64_t(1) << 16))
  {
    Block k(n), U(n), G(n), acc(n);
#pragma omp for schedule(static)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t h0 = g * W, lanes = std::min(W, s.H - h0);
      if (gu) load_kernels(s, kc, ka, h0, fft, k);
      if (kernel_grad) acc.clear();
      for (int64_t b0 = 0; b0 < s.B; b0 += 2) {
        load_pair(s, gy, h0, b0, G);
        fft(G.re.data(), G.im.data(), false);
        if (kernel_grad) {
          // z = FFT(x0 + i·x1): X0[f] = (z[f] + conj(z[−f]))/2, X1[f] = (z[f] − conj(z[−f]))/(2i);
          // acc[f] += conj(U0)·G0 + conj(U1)·G1 in every lane.
          load_pair(s, u, h0, b0, U);
          fft(U.re.data(), U.im.data(), false);
          for (int64_t f = 0; f < n; ++f) {
            const int64_t fm = (n - f) % n;
            const float* __restrict ur = U.re.data() + f * W;
            const float* __restrict ui = U.im.data() + f * W;
            const float* __restrict urm = U.re.data() + fm * W;
            const float* __restrict uim = U.im.data() + fm * W;
            const float* __restrict gr = G.re.data() + f * W;
            const float* __restrict gi = G.im.data() + f * W;
            const float* __restrict grm = G.re.data() + fm * W;
            const float* __restrict gim = G.im.data() + fm * W;
            float* __restrict cr = acc.re.data() + f * W;
            float* __restrict ci = acc.im.data() + f * W;
#pragma omp simd
            for (int64_t l = 0; l < W; ++l) {
              // U0 = (u + conj(um))/2, U1 = (u − conj(um))·(−i/2); likewise G0, G1.
              const float u0r = 0.5f * (ur[l] + urm[l]), u0i = 0.5f * (ui[l] - uim[l]);
              const float u1r = 0.5f * (ui[l] + uim[l]), u1i = -0.5f * (ur[l] - urm[l]);
              const float g0r = 0.5f * (gr[l] + grm[l]), g0i = 0.5f * (gi[l] - gim[l]);
              const float g1r = 0.5f * (gi[l] + gim[l]), g1i = -0.5f * (gr[l] - grm[l]);
              cr[l] += u0r * g0r + u0i * g0i + u1r * g1r + u1i * g1i;
              ci[l] += u0r * g0i - u0i * g0r + u1r * g1i - u1i * g1r;
            }
          }
        }
        if (gu) {
          multiply(G, k, n, true);
          fft(G.re.data(), G.im.data(), true);
          store_pair(s, G, n, D, gy, h0, b0, gu);
        }
      }
      if (gD)
        for (int64_t l = 0; l < lanes; ++l) {  // Σ_b Σ_t g·u, rows in batch order as the reference
          const int64_t h = h0 + l;
          float d = 0.0f;
          for (int64_t b = 0; b < s.B; ++b) {
            const float* gr = gy + (b * s.H + h) * s.L;
            const float* ur = u + (b * s.H + h) * s.L;
            for (int64_t t = 0; t < s.L; ++t) d += gr[t] * ur[t];
          }
          gD[h] = d;
        }
      if (kernel_grad) {
        fft(acc.re.data(), acc.im.data(), true);  // acc[m]/n: the gradient of kernel buffer position m
        const float inv = 1.0f / float(n);
        for (int64_t l = 0; l < lanes; ++l) {
          float* row = per_channel.data() + (h0 + l) * 2 * s.Lk;
          for (int64_t j = 0; j < s.Lk; ++j) {
            row[j] = acc.re[size_t(j * W + l)] * inv;
            if (anti) row[s.Lk + j] = acc.re[size_t(anti_position(j, n, s.anti) * W + l)] * inv;
          }
        }
      }
    }
  }
  if (!kernel_grad) return;
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t j = 0; j < s.Lk; ++j) {
      float sc = 0.0f, sa = 0.0f;
      for (int64_t h = c; h < s.H; h += s.C) {
        sc += per_channel[size_t(h * 2 * s.Lk + j)];
        if (anti) sa += per_channel[size_t(h * 2 * s.Lk + s.Lk + j)];
      }
      if (gkc) gkc[c * s.Lk + j] = sc;
      if (gka && anti) gka[c * s.Lk + j] = sa;
    }
}

}  // namespace lra::ops::cpu
