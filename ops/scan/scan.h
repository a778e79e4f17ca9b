// Diagonal linear recurrence (the state update of S5, LRU, and MEGA's EMA written as a recurrence):
//
//   forward:  x_t = lambda ⊙ x_{t-1} + b_t,   t = 0..L-1,   x_{-1} = 0   (so x_0 = b_0)
//   reverse:  x_t = lambda ⊙ x_{t+1} + b_t,   t = L-1..0,   x_L = 0      (so x_{L-1} = b_{L-1})
//
// b is the already-projected input (B u)_t: the op is only the recurrence. Shapes:
//   real:    lambda [N],    b [..., L, N]      -> x [..., L, N]
//   complex: lambda [N, 2], b [..., L, N, 2]   -> x [..., L, N, 2]   (last dim = (re, im), interleaved)
// The interleaved complex layout lets a plain real GEMM produce b (weights [H, 2N]) and consume x
// (S5's y = 2 Re(C x) is a real GEMM on x viewed as [..., L, 2N] with interleaved (C_re, -C_im)).
// MEGA's EMA with per-channel, per-dimension lambda [D, N]: view b as [B, L, D*N], lambda as [D*N].
// Any of batch, L, N may be 0: x is then empty, and so is grad b; grad lambda is zeros (no steps).
// Stability is the caller's business (|lambda| <= 1 for bounded states); the op does not clamp.
//
// Gradients. Complex numbers are treated as pairs of independent real parameters: the gradient of a
// complex value z is G_z = dLoss/dRe z + i dLoss/dIm z, stored in the same interleaved layout. For
// z = lambda * w this gives G_w = conj(lambda) G_z and G_lambda = conj(w) G_z (the real case is the
// same with conj a no-op). With g_t the upstream gradient of x_t and a_t the total gradient of x_t:
//   forward:  a_t = g_t + conj(lambda) a_{t+1}  (a_{L-1} = g_{L-1}): the REVERSE recurrence with conj(lambda)
//             grad b_t = a_t,   grad lambda = sum over batch and t >= 1 of conj(x_{t-1}) a_t
//   reverse:  a_t = g_t + conj(lambda) a_{t-1}: the forward recurrence, and
//             grad lambda = sum over batch and t <= L-2 of conj(x_{t+1}) a_t
// So the backward reuses the forward kernel (flipped, conj(lambda)) plus one reduction over (batch, t).
//
// Saved for backward: lambda and x. Cost (float32, per element of b): forward reads b twice and
// writes x (12 bytes), backward 12 bytes for the scan plus 8 for the lambda reduction; 2 FLOPs per
// step real, 8 complex.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace lra::ops {

Tensor scan_real(const Tensor& lambda, const Tensor& b, bool reverse = false);
Tensor scan_complex(const Tensor& lambda, const Tensor& b, bool reverse = false);

// Raw entry points. b, x, a are [batch, L, N] (complex: [batch, L, N, 2]); lambda, glambda are [N]
// ([N, 2]). conj_lambda runs the recurrence with conj(lambda) (the backward). x must not alias b.
// scan_lambda_grad writes glambda = sum over (batch, t) of conj(x_prev(t)) a_t (see above).
namespace cpu {
template <class T>
void scan(const T* lambda, const T* b, T* x, int64_t batch, int64_t L, int64_t N, bool complex, bool reverse,
          bool conj_lambda);
template <class T>
void scan_lambda_grad(const T* x, const T* a, T* glambda, int64_t batch, int64_t L, int64_t N, bool complex,
                      bool reverse);
// The float32 path the op runs (scan_cpu_fast.cpp): the same recurrence in double, blocks of consecutive
// states advanced a step at a time (contiguous, vectorised), (batch, block) in parallel; the templates above
// are the reference it is tested against (float64 runs them).
void scan_fast(const float* lambda, const float* b, float* x, int64_t batch, int64_t L, int64_t N, bool complex,
               bool reverse, bool conj_lambda);
void scan_lambda_grad_fast(const float* x, const float* a, float* glambda, int64_t batch, int64_t L, int64_t N,
                           bool complex, bool reverse);
}  // namespace cpu

namespace cuda {
void scan(const float* lambda, const float* b, float* x, int64_t batch, int64_t L, int64_t N, bool complex,
          bool reverse, bool conj_lambda);
// The lambda reduction works in two deterministic passes through `partial`, a scratch buffer of
// scan_grad_parts(batch, L) * N * (complex ? 2 : 1) floats.
inline int64_t scan_grad_parts(int64_t batch, int64_t L) {
  int64_t parts = (batch * L + 1023) / 1024;
  return parts < 1 ? 1 : parts > 65535 ? 65535 : parts;
}
void scan_lambda_grad(const float* x, const float* a, float* partial, float* glambda, int64_t batch, int64_t L,
                      int64_t N, bool complex, bool reverse);
}  // namespace cuda

}  // namespace lra::ops
