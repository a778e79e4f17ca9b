// CPU reference for the long convolution (see fftconv.h for the formula and conventions).
//   Direct: the definition as loops, O(L·Lk) per row; the oracle for every other path.
//   FFT:    a radix-2 iterative complex FFT (n a power of two ≥ L + Lk) so CPU training of long
//           sequences is not O(L²). Two real rows of the same channel share one complex transform
//           (real and imaginary parts), which halves the transforms; channels run in OpenMP threads.
// Every reduction (over the batch, the channel group and t) runs in a fixed order.
#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "ops/fftconv/fftconv.h"

namespace lra::ops::cpu {

namespace {

int64_t shift_of(AntiCausal anti) { return anti == AntiCausal::FromLag1 ? 1 : 0; }
}  // namespace

// ---- direct ------------------------------------------------------------------------------------

template <class T>
void fftconv_direct_forward(const FFTConvShape& s, const T* u, const T* kc, const T* ka, const T* D, T* y) {
  const int64_t L = s.L, Lk = s.Lk, sh = shift_of(s.anti);
  for (int64_t r = 0; r < s.B * s.H; ++r) {
    const int64_t h = r % s.H, c = h % s.C;
    const T* ur = u + r * L;
    const T* kcr = kc + c * Lk;
    for (int64_t t = 0; t < L; ++t) {
      T acc = D ? D[h] * ur[t] : T(0);
      for (int64_t j = 0; j < Lk && j <= t; ++j) acc += kcr[j] * ur[t - j];
      if (s.anti != AntiCausal::None)
        for (int64_t j = 0; j < Lk && t + sh + j < L; ++j) acc += ka[c * Lk + j] * ur[t + sh + j];
      y[r * L + t] = acc;
    }
  }
}

template <class T>
void fftconv_direct_backward(const FFTConvShape& s, const T* u, const T* kc, const T* ka, const T* D, const T* gy,
                             T* gu, T* gkc, T* gka, T* gD) {
  const int64_t L = s.L, Lk = s.Lk, sh = shift_of(s.anti);
  const bool anti = s.anti != AntiCausal::None;
  if (gkc)
    for (int64_t i = 0; i < s.C * Lk; ++i) gkc[i] = T(0);
  if (gka && anti)
    for (int64_t i = 0; i < s.C * Lk; ++i) gka[i] = T(0);
  if (gD)
    for (int64_t h = 0; h < s.H; ++h) gD[h] = T(0);
  for (int64_t r = 0; r < s.B * s.H; ++r) {
    const int64_t h = r % s.H, c = h % s.C;
    const T* ur = u + r * L;
    const T* gr = gy + r * L;
    if (gu)
      for (int64_t x = 0; x < L; ++x) {  // u[x] feeds y[x + j] through kc[j] and y[x − s − j] through ka[j]
        T acc = D ? D[h] * gr[x] : T(0);
        for (int64_t j = 0; j < Lk && x + j < L; ++j) acc += kc[c * Lk + j] * gr[x + j];
        if (anti)
          for (int64_t j = 0; j < Lk && x - sh - j >= 0; ++j) acc += ka[c * Lk + j] * gr[x - sh - j];
        gu[r * L + x] = acc;
      }
    for (int64_t j = 0; j < Lk; ++j) {
      T ac = T(0), aa = T(0);
      for (int64_t t = j; t < L; ++t) ac += gr[t] * ur[t - j];
      if (anti)
        for (int64_t t = 0; t + sh + j < L; ++t) aa += gr[t] * ur[t + sh + j];
      if (gkc) gkc[c * Lk + j] += ac;
      if (gka && anti) gka[c * Lk + j] += aa;
    }
    if (gD) {
      T acc = T(0);
      for (int64_t t = 0; t < L; ++t) acc += gr[t] * ur[t];
      gD[h] += acc;
    }
  }
}

// ---- FFT ---------------------------------------------------------------------------------------

int64_t fft_size(int64_t L, int64_t Lk) {
  int64_t n = 2;  // ≥ 2 so that the kernel buffer has room for a causal and an anti-causal tap
  while (n < L + Lk) n *= 2;
  return n;
}

bool prefers_direct(const FFTConvShape& s) {
  const double n = double(fft_size(s.L, s.Lk));
  return double(s.sides() * s.Lk) <= 16.0 * std::log2(n);
}

namespace {

template <class T>
using Spectrum = std::vector<std::complex<T>>;

// In-place radix-2 decimation-in-time FFT of length n = a.size() (a power of two):
// a[k] ← Σ_m a[m]·exp(∓2πi·k·m/n) (− forward, + inverse; the inverse is not divided by n).
// The twiddles come from a table computed in double, so the float path loses no accuracy to a
// running product.
template <class T>
class FFT {
 public:
  explicit FFT(int64_t n) : n_(n), twiddle_(static_cast<size_t>(n / 2)) {
    for (int64_t k = 0; k < n / 2; ++k) {
      double angle = -2.0 * std::numbers::pi * double(k) / double(n);
      twiddle_[size_t(k)] = std::complex<T>(T(std::cos(angle)), T(std::sin(angle)));
    }
  }

  void operator()(Spectrum<T>& a, bool inverse) const {
    for (int64_t i = 1, j = 0; i < n_; ++i) {  // bit-reversal permutation
      int64_t bit = n_ >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) std::swap(a[size_t(i)], a[size_t(j)]);
    }
    for (int64_t len = 2; len <= n_; len *= 2) {  // butterflies of span len, twiddle stride n/len
      const int64_t half = len / 2, stride = n_ / len;
      for (int64_t start = 0; start < n_; start += len)
        for (int64_t k = 0; k < half; ++k) {
          std::complex<T> w = twiddle_[size_t(k * stride)];
          if (inverse) w = std::conj(w);
          std::complex<T> even = a[size_t(start + k)], odd = a[size_t(start + k + half)] * w;
          a[size_t(start + k)] = even + odd;
          a[size_t(start + k + half)] = even - odd;
        }
    }
  }

 private:
  int64_t n_;
  std::vector<std::complex<T>> twiddle_;
};

// The spectrum of each kernel row's length-n circular buffer (see fftconv.h).
template <class T>
std::vector<Spectrum<T>> kernel_spectra(const FFTConvShape& s, const FFT<T>& fft, int64_t n, const T* kc,
                                        const T* ka) {
  std::vector<Spectrum<T>> out(static_cast<size_t>(s.C), Spectrum<T>(static_cast<size_t>(n)));
  for (int64_t c = 0; c < s.C; ++c) {
    Spectrum<T>& k = out[size_t(c)];
    for (int64_t j = 0; j < s.Lk; ++j) k[size_t(j)] += kc[c * s.Lk + j];
    if (s.anti != AntiCausal::None)
      for (int64_t j = 0; j < s.Lk; ++j) k[size_t(anti_position(j, n, s.anti))] += ka[c * s.Lk + j];
    fft(k, false);
  }
  return out;
}

// Two real rows x0, x1 of one channel (the same kernel spectrum) share one complex transform: the
// buffer holds x0 + i·x1, and because the product with the kernel spectrum and the inverse transform
// are linear, the inverse's real part is row 0's result and its imaginary part row 1's. A missing second
// row (odd batch) is zero.
template <class T>
void load_pair(const T* x0, const T* x1, int64_t L, const FFT<T>& fft, Spectrum<T>& a) {
  std::fill(a.begin(), a.end(), std::complex<T>(0));
  for (int64_t t = 0; t < L; ++t) a[size_t(t)] = std::complex<T>(x0[t], x1 ? x1[t] : T(0));
  fft(a, false);
}

// The spectra of the two real rows packed in z = FFT(x0 + i·x1): X0[f] = (z[f] + conj(z[−f]))/2 and
// X1[f] = (z[f] − conj(z[−f]))/(2i).
template <class T>
std::pair<std::complex<T>, std::complex<T>> unpack(const Spectrum<T>& z, int64_t f, int64_t n) {
  const std::complex<T> a = z[size_t(f)], b = std::conj(z[size_t((n - f) % n)]);
  return {(a + b) / T(2), (a - b) * std::complex<T>(0, T(-0.5))};
}

}  // namespace

// Rows (b, h) and (b + 1, h) go through one transform (load_pair); channels run in parallel, each
// writing only its own rows, so the result does not depend on the thread count.
template <class T>
void fftconv_fft_forward(const FFTConvShape& s, const T* u, const T* kc, const T* ka, const T* D, T* y) {
  const int64_t n = fft_size(s.L, s.Lk), L = s.L;
  const FFT<T> fft(n);
  const std::vector<Spectrum<T>> K = kernel_spectra(s, fft, n, kc, ka);
#pragma omp parallel for schedule(static) if (s.B * s.H * n >= (int64_t(1) << 16))
  for (int64_t h = 0; h < s.H; ++h) {
    Spectrum<T> a(static_cast<size_t>(n));
    const Spectrum<T>& k = K[size_t(h % s.C)];
    for (int64_t b = 0; b < s.B; b += 2) {
      const int64_t r0 = b * s.H + h, r1 = (b + 1) * s.H + h;
      const bool two = b + 1 < s.B;
      load_pair(u + r0 * L, two ? u + r1 * L : nullptr, L, fft, a);
      for (int64_t f = 0; f < n; ++f) a[size_t(f)] *= k[size_t(f)];
      fft(a, true);
      for (int64_t t = 0; t < L; ++t) {
        y[r0 * L + t] = a[size_t(t)].real() / T(n) + (D ? D[h] * u[r0 * L + t] : T(0));
        if (two) y[r1 * L + t] = a[size_t(t)].imag() / T(n) + (D ? D[h] * u[r1 * L + t] : T(0));
      }
    }
  }
}

// Channels in parallel as in the forward; each channel h keeps its own Σ_b conj(Û)·Ĝ spectrum, and the
// channels sharing a kernel row are summed afterwards in channel order (deterministic).
template <class T>
void fftconv_fft_backward(const FFTConvShape& s, const T* u, const T* kc, const T* ka, const T* D, const T* gy,
                          T* gu, T* gkc, T* gka, T* gD) {
  const int64_t n = fft_size(s.L, s.Lk), L = s.L;
  const FFT<T> fft(n);
  const std::vector<Spectrum<T>> K = kernel_spectra(s, fft, n, kc, ka);
  const bool kernel_grad = gkc || (gka && s.anti != AntiCausal::None);
  std::vector<Spectrum<T>> per_channel(kernel_grad ? static_cast<size_t>(s.H) : 0, Spectrum<T>(static_cast<size_t>(n)));
#pragma omp parallel for schedule(static) if (s.B * s.H * n >= (int64_t(1) << 16))
  for (int64_t h = 0; h < s.H; ++h) {
    Spectrum<T> U(static_cast<size_t>(n)), G(static_cast<size_t>(n));
    const Spectrum<T>& k = K[size_t(h % s.C)];
    T d = T(0);
    for (int64_t b = 0; b < s.B; b += 2) {
      const int64_t r0 = b * s.H + h, r1 = (b + 1) * s.H + h;
      const bool two = b + 1 < s.B;
      load_pair(gy + r0 * L, two ? gy + r1 * L : nullptr, L, fft, G);
      if (kernel_grad) {
        load_pair(u + r0 * L, two ? u + r1 * L : nullptr, L, fft, U);
        Spectrum<T>& acc = per_channel[size_t(h)];
        for (int64_t f = 0; f < n; ++f) {
          auto [u0, u1] = unpack(U, f, n);
          auto [g0, g1] = unpack(G, f, n);
          acc[size_t(f)] += std::conj(u0) * g0 + std::conj(u1) * g1;
        }
      }
      if (gu) {
        for (int64_t f = 0; f < n; ++f) G[size_t(f)] *= std::conj(k[size_t(f)]);
        fft(G, true);
        for (int64_t t = 0; t < L; ++t) {
          gu[r0 * L + t] = G[size_t(t)].real() / T(n) + (D ? D[h] * gy[r0 * L + t] : T(0));
          if (two) gu[r1 * L + t] = G[size_t(t)].imag() / T(n) + (D ? D[h] * gy[r1 * L + t] : T(0));
        }
      }
      if (gD) {
        for (int64_t t = 0; t < L; ++t) d += gy[r0 * L + t] * u[r0 * L + t];
        if (two)
          for (int64_t t = 0; t < L; ++t) d += gy[r1 * L + t] * u[r1 * L + t];
      }
    }
    if (gD) gD[h] = d;
  }
  if (!kernel_grad) return;
  for (int64_t c = 0; c < s.C; ++c) {
    Spectrum<T> a(static_cast<size_t>(n));
    for (int64_t h = c; h < s.H; h += s.C)
      for (int64_t f = 0; f < n; ++f) a[size_t(f)] += per_channel[size_t(h)][size_t(f)];
    fft(a, true);  // a[m] / n = Σ g[t]·u[t − m mod n]: the gradient of kernel buffer position m
    for (int64_t j = 0; j < s.Lk; ++j) {
      if (gkc) gkc[c * s.Lk + j] = a[size_t(j)].real() / T(n);
      if (gka && s.anti != AntiCausal::None)
        gka[c * s.Lk + j] = a[size_t(anti_position(j, n, s.anti))].real() / T(n);
    }
  }
}

#define LRA_INSTANTIATE(T)                                                                                    \
  template void fftconv_direct_forward<T>(const FFTConvShape&, const T*, const T*, const T*, const T*, T*);   \
  template void fftconv_direct_backward<T>(const FFTConvShape&, const T*, const T*, const T*, const T*,       \
                                           const T*, T*, T*, T*, T*);                                         \
  template void fftconv_fft_forward<T>(const FFTConvShape&, const T*, const T*, const T*, const T*, T*);      \
  template void fftconv_fft_backward<T>(const FFTConvShape&, const T*, const T*, const T*, const T*, const T*, \
                                        T*, T*, T*, T*);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
