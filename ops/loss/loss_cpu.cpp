// CPU reference for cross-entropy and argmax accuracy: plain loops over rows, sums in double. Labels
// have been checked by the glue; a label outside [0, C) is simply not counted here, as on CUDA.
#include <cmath>

#include "ops/loss/loss.h"

namespace lra::ops::cpu {

namespace {
bool counted(int32_t label, int64_t C, int ignore_index) { return label != ignore_index && label >= 0 && label < C; }
}  // namespace

template <class T>
void cross_entropy_forward(const T* logits, const int32_t* labels, T* lse, T* loss, T* count, int64_t N, int64_t C,
                           int ignore_index) {
  double total = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < N; ++i) {
    const T* x = logits + i * C;
    if (!counted(labels[i], C, ignore_index)) {
      lse[i] = T(0);
      continue;
    }
    T m = x[0];
    for (int64_t c = 1; c < C; ++c) m = std::max(m, x[c]);
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(double(x[c] - m));
    double row_lse = double(m) + std::log(s);
    lse[i] = T(row_lse);
    total += row_lse - double(x[labels[i]]);
    ++n;
  }
  loss[0] = n ? T(total / double(n)) : T(0);
  count[0] = T(n);
}

template <class T>
void cross_entropy_backward(const T* logits, const int32_t* labels, const T* lse, const T* gy, const T* count,
                            T* dlogits, int64_t N, int64_t C, int ignore_index) {
  // With no counted row every row is ignored, so the scale is never used (no 0/0).
  double scale = count[0] > T(0) ? double(gy[0]) / double(count[0]) : 0.0;
  for (int64_t i = 0; i < N; ++i) {
    const T* x = logits + i * C;
    T* d = dlogits + i * C;
    bool on = counted(labels[i], C, ignore_index);
    for (int64_t c = 0; c < C; ++c)
      d[c] = on ? T((std::exp(double(x[c]) - double(lse[i])) - (c == labels[i] ? 1.0 : 0.0)) * scale) : T(0);
  }
}

template <class T>
void count_correct(const T* logits, const int32_t* labels, int32_t* correct, int64_t N, int64_t C, int ignore_index) {
  int32_t n = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (!counted(labels[i], C, ignore_index)) continue;
    const T* x = logits + i * C;
    int64_t best = 0;
    for (int64_t c = 1; c < C; ++c)
      if (x[c] > x[best]) best = c;  // strict: the first index wins ties
    n += best == labels[i];
  }
  correct[0] = n;
}

#define LRA_INSTANTIATE(T)                                                                                       \
  template void cross_entropy_forward<T>(const T*, const int32_t*, T*, T*, T*, int64_t, int64_t, int);          \
  template void cross_entropy_backward<T>(const T*, const int32_t*, const T*, const T*, const T*, T*, int64_t,  \
                                          int64_t, int);                                                        \
  template void count_correct<T>(const T*, const int32_t*, int32_t*, int64_t, int64_t, int);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
