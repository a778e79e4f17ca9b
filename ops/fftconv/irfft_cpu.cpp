// CPU inverse real DFT of any length (irfft.h): the direct sum (reference) and an O(n log n) path
// (radix-2, or Bluestein's chirp-z for other lengths). Rows run in OpenMP threads when it is enabled.
#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "ops/fftconv/irfft.h"

namespace lra::ops::cpu {

namespace {

// The weight of bin k in a real signal's spectrum: bins 0 and n/2 (n even) appear once, the others twice.
double bin_weight(int64_t k, int64_t n) { return k == 0 || 2 * k == n ? 1.0 : 2.0; }

// ---- direct ------------------------------------------------------------------------------------
// e^{2πi·(k·t mod n)/n}: the angle reduced exactly in integers, so large k·t loses no accuracy.
std::complex<double> root(int64_t k, int64_t t, int64_t n) {
  const double a = 2.0 * std::numbers::pi * double((k * t) % n) / double(n);
  return {std::cos(a), std::sin(a)};
}

}  // namespace

template <class T>
void irfft_direct_forward(const IrfftShape& s, const T* X, T* x) {
  const int64_t K = s.bins();
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t t = 0; t < s.L; ++t) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const std::complex<double> e = root(k, t, s.n);
        const double re = double(X[2 * (r * K + k)]), im = double(X[2 * (r * K + k) + 1]);
        const bool real_bin = k == 0 || 2 * k == s.n;  // the imaginary part is ignored there
        acc += bin_weight(k, s.n) * (re * e.real() - (real_bin ? 0.0 : im * e.imag()));
      }
      x[r * s.L + t] = T(acc / double(s.n));
    }
}

template <class T>
void irfft_direct_backward(const IrfftShape& s, const T* gx, T* gX) {
  const int64_t K = s.bins();
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t k = 0; k < K; ++k) {
      std::complex<double> acc = 0;
      for (int64_t t = 0; t < s.L; ++t) acc += double(gx[r * s.L + t]) * std::conj(root(k, t, s.n));
      acc *= bin_weight(k, s.n) / double(s.n);
      const bool real_bin = k == 0 || 2 * k == s.n;
      gX[2 * (r * K + k)] = T(acc.real());
      gX[2 * (r * K + k) + 1] = real_bin ? T(0) : T(acc.imag());
    }
}

// ---- FFT ---------------------------------------------------------------------------------------

namespace {

// An in-place complex DFT of any length n, y[k] = Σ_j a[j]·e^{sign·2πijk/n}: radix-2 for powers of two,
// Bluestein otherwise (jk = (j² + k² − (k−j)²)/2 turns the DFT into a convolution with a chirp, done by
// radix-2 transforms of length m ≥ 2n − 1). Tables are built once per (n, sign) in double.
template <class T>
class DFT {
 public:
  DFT(int64_t n, int sign) : n_(n), sign_(sign) {
    if (pow2(n)) {
      make_twiddles(n, sign, tw_);
      return;
    }
    m_ = 1;
    while (m_ < 2 * n - 1) m_ *= 2;
    make_twiddles(m_, -1, tw_fwd_);
    make_twiddles(m_, +1, tw_inv_);
    chirp_.resize(size_t(n));
    for (int64_t j = 0; j < n; ++j) {
      // e^{sign·πi·j²/n}, with j² reduced mod 2n exactly
      const double a = std::numbers::pi * double((j * j) % (2 * n)) / double(n);
      chirp_[size_t(j)] = {T(std::cos(a)), T(sign * std::sin(a))};
    }
    filter_.assign(size_t(m_), std::complex<T>(0));
    for (int64_t j = 0; j < n; ++j) {
      filter_[size_t(j)] = std::conj(chirp_[size_t(j)]);
      if (j > 0) filter_[size_t(m_ - j)] = std::conj(chirp_[size_t(j)]);
    }
    radix2(filter_, tw_fwd_);
  }

  void operator()(std::vector<std::complex<T>>& a) const {
    if (pow2(n_)) {
      radix2(a, tw_);
      return;
    }
    std::vector<std::complex<T>> b(size_t(m_), std::complex<T>(0));
    for (int64_t j = 0; j < n_; ++j) b[size_t(j)] = a[size_t(j)] * chirp_[size_t(j)];
    radix2(b, tw_fwd_);
    for (int64_t i = 0; i < m_; ++i) b[size_t(i)] *= filter_[size_t(i)];
    radix2(b, tw_inv_);
    const T scale = T(1) / T(m_);
    for (int64_t k = 0; k < n_; ++k) a[size_t(k)] = b[size_t(k)] * chirp_[size_t(k)] * scale;
  }

 private:
  static bool pow2(int64_t n) { return (n & (n - 1)) == 0; }
  static void make_twiddles(int64_t n, int sign, std::vector<std::complex<T>>& tw) {
    tw.resize(size_t(n / 2 + 1));
    for (int64_t k = 0; k <= n / 2; ++k) {
      const double a = 2.0 * std::numbers::pi * double(k) / double(n);
      tw[size_t(k)] = {T(std::cos(a)), T(sign * std::sin(a))};
    }
  }
  // Iterative radix-2 (bit reversal, then butterflies), length = 2·(tw.size() − 1) or 1.
  static void radix2(std::vector<std::complex<T>>& a, const std::vector<std::complex<T>>& tw) {
    const int64_t n = int64_t(a.size());
    if (n <= 1) return;
    for (int64_t i = 1, j = 0; i < n; ++i) {
      int64_t bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) std::swap(a[size_t(i)], a[size_t(j)]);
    }
    for (int64_t len = 2; len <= n; len *= 2) {
      const int64_t half = len / 2, stride = n / len;
      for (int64_t start = 0; start < n; start += len)
        for (int64_t k = 0; k < half; ++k) {
          const std::complex<T> w = tw[size_t(k * stride)];
          const std::complex<T> even = a[size_t(start + k)], odd = a[size_t(start + k + half)] * w;
          a[size_t(start + k)] = even + odd;
          a[size_t(start + k + half)] = even - odd;
        }
    }
  }

  int64_t n_, m_ = 0;
  int sign_;
  std::vector<std::complex<T>> tw_, tw_fwd_, tw_inv_, chirp_, filter_;
};

}  // namespace

template <class T>
void irfft_forward(const IrfftShape& s, const T* X, T* x) {
  const int64_t n = s.n, K = s.bins();
  const DFT<T> dft(n, +1);
#pragma omp parallel for schedule(static) if (s.rows * n >= (int64_t(1) << 16))
  for (int64_t r = 0; r < s.rows; ++r) {
    std::vector<std::complex<T>> a(static_cast<size_t>(n));
    const T* row = X + 2 * r * K;
    a[0] = {row[0], T(0)};
    for (int64_t k = 1; k < K; ++k) {
      if (2 * k == n) {
        a[size_t(k)] = {row[2 * k], T(0)};
      } else {
        a[size_t(k)] = {row[2 * k], row[2 * k + 1]};
        a[size_t(n - k)] = {row[2 * k], -row[2 * k + 1]};
      }
    }
    dft(a);
    const T scale = T(1) / T(n);
    for (int64_t t = 0; t < s.L; ++t) x[r * s.L + t] = a[size_t(t)].real() * scale;
  }
}

template <class T>
void irfft_backward(const IrfftShape& s, const T* gx, T* gX) {
  const int64_t n = s.n, K = s.bins();
  const DFT<T> dft(n, -1);
#pragma omp parallel for schedule(static) if (s.rows * n >= (int64_t(1) << 16))
  for (int64_t r = 0; r < s.rows; ++r) {
    std::vector<std::complex<T>> a(size_t(n), std::complex<T>(0));
    for (int64_t t = 0; t < s.L; ++t) a[size_t(t)] = {gx[r * s.L + t], T(0)};
    dft(a);
    T* row = gX + 2 * r * K;
    for (int64_t k = 0; k < K; ++k) {
      const T w = T(bin_weight(k, n) / double(n));
      const bool real_bin = k == 0 || 2 * k == n;
      row[2 * k] = w * a[size_t(k)].real();
      row[2 * k + 1] = real_bin ? T(0) : w * a[size_t(k)].imag();
    }
  }
}

#define LRA_INSTANTIATE(T)                                                          \
  template void irfft_direct_forward<T>(const IrfftShape&, const T*, T*);          \
  template void irfft_direct_backward<T>(const IrfftShape&, const T*, T*);         \
  template void irfft_forward<T>(const IrfftShape&, const T*, T*);                 \
  template void irfft_backward<T>(const IrfftShape&, const T*, T*);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
