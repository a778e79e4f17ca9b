// CPU reference for the diagonal linear recurrence: the sequential loop of scan.h, accumulated in
// double (or std::complex<double>) whatever T is, so it also serves as the accuracy reference at
// L = 16384.
#include <complex>

#include "ops/scan/scan.h"

namespace lra::ops::cpu {

namespace {

using C = std::complex<double>;

// V = double for the real recurrence, std::complex<double> for the complex one (interleaved pairs).
template <class V, class T>
V load(const T* p, int64_t k) {
  if constexpr (std::is_same_v<V, C>) return C(double(p[2 * k]), double(p[2 * k + 1]));
  else return double(p[k]);
}
template <class V, class T>
void store(T* p, int64_t k, V v) {
  if constexpr (std::is_same_v<V, C>) {
    p[2 * k] = T(v.real());
    p[2 * k + 1] = T(v.imag());
  } else {
    p[k] = T(v);
  }
}
template <class V>
V conj_of(V v) {
  if constexpr (std::is_same_v<V, C>) return std::conj(v);
  else return v;
}

template <class V, class T>
void scan_impl(const T* lambda, const T* b, T* x, int64_t batch, int64_t L, int64_t N, bool reverse, bool conj_lambda) {
  for (int64_t n = 0; n < N; ++n) {
    V lam = load<V>(lambda, n);
    if (conj_lambda) lam = conj_of(lam);
    for (int64_t bt = 0; bt < batch; ++bt) {
      V h = V(0);
      for (int64_t k = 0; k < L; ++k) {
        int64_t t = reverse ? L - 1 - k : k;
        int64_t i = (bt * L + t) * N + n;
        h = lam * h + load<V>(b, i);
        store(x, i, h);
      }
    }
  }
}

template <class V, class T>
void lambda_grad_impl(const T* x, const T* a, T* glambda, int64_t batch, int64_t L, int64_t N, bool reverse) {
  for (int64_t n = 0; n < N; ++n) {
    V g = V(0);
    for (int64_t bt = 0; bt < batch; ++bt)
      for (int64_t t = 0; t < L; ++t) {
        int64_t prev = reverse ? t + 1 : t - 1;  // the state lambda multiplies to make x_t
        if (prev < 0 || prev >= L) continue;
        g += conj_of(load<V>(x, (bt * L + prev) * N + n)) * load<V>(a, (bt * L + t) * N + n);
      }
    store(glambda, n, g);
  }
}

}  // namespace

template <class T>
void scan(const T* lambda, const T* b, T* x, int64_t batch, int64_t L, int64_t N, bool complex, bool reverse,
          bool conj_lambda) {
  if (complex) scan_impl<C>(lambda, b, x, batch, L, N, reverse, conj_lambda);
  else scan_impl<double>(lambda, b, x, batch, L, N, reverse, conj_lambda);
}

template <class T>
void scan_lambda_grad(const T* x, const T* a, T* glambda, int64_t batch, int64_t L, int64_t N, bool complex,
                      bool reverse) {
  if (complex) lambda_grad_impl<C>(x, a, glambda, batch, L, N, reverse);
  else lambda_grad_impl<double>(x, a, glambda, batch, L, N, reverse);
}

#define LRA_INSTANTIATE(T)                                                                               \
  template void scan<T>(const T*, const T*, T*, int64_t, int64_t, int64_t, bool, bool, bool);           \
  template void scan_lambda_grad<T>(const T*, const T*, T*, int64_t, int64_t, int64_t, bool, bool);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
