// The frequency response of S4's DPLR (diagonal plus low-rank) kernel: Cauchy sums over the modes, the
// rank-1 Woodbury correction and the bilinear factor, at the n/2 + 1 non-negative frequencies of a
// length-n DFT, in O(N + n) memory per channel (the [H, N, n] Cauchy matrix is never formed).
// Reference: state-spaces/s4 src/models/sequence/kernels/ssm.py, SSMKernelDPLR.forward (ssm.py 779–880,
// rank 1) and the Cauchy kernel (src/models/functional/cauchy.py cauchy_naive, extensions/kernels/cauchy.py).
//
//   Channel h uses SSM copy s = h mod S (S = n_ssm divides H; ssm.py 559–560 repeats 't n -> (v t) n').
//   Λ[s,m] = −exp(log_A_real[s,m]) − i·A_imag[s,m]     (A_imag ≥ 0 stored, so Im Λ ≤ 0, as the reference)
//   w = dt[h]·Λ[s,m];   Q = conj(P) (tied)
//   v_BC[c] = dt·B·C[c,h],  v_PC[c] = dt·P·C[c,h],  v_BQ = dt·B·conj(P),  v_PQ = dt·|P|²
//   node k = 0..n/2,  τ_k = tan(πk/n):  z_k = 2(1−ω)/(1+ω) = 2i·τ_k,  2/(1+ω) = 1 + i·τ_k   (ω = e^{−2πik/n})
//   r_xy(k) = Σ_m v_xy[m]/(z_k − w[m]) + conj(v_xy[m])/(z_k − conj(w[m]))    (the conjugate half of the modes)
//   k̂[c,h,k] = (1 + iτ_k)·( r_BC[c] − r_BQ·r_PC[c]/(1 + r_PQ) )
//   Nyquist (n even, k = n/2): z = ∞; the exact limit is k̂ = Σ_m Re(v_BC[c,m]) (r·z/2 → Σ Re v, and the
//   Woodbury term is O(1/z)). The reference evaluates ω^k in float32 there and gets 1 + ω ≈ 1e-7 instead
//   of 0; the limit is what that approximates (models-and-recipes.md §4.9).
//   The half-angle form (z = 2iτ, factor 1 + iτ) is the reference's expression rewritten exactly; τ is
//   computed as 1/tan(π(n−2k)/(2n)) above k = n/4 so it keeps full relative precision near the Nyquist.
//
//   dt [H] (positive: the caller applies softplus or exp); log_A_real, A_imag [S, M]; P, B [S, M, 2];
//   C [Cc, H, M, 2]; k̂ [Cc, H, n/2 + 1, 2]. Complex numbers are interleaved (re, im) pairs.
//   M = N/2 stored modes (N the state size); n ≥ 1; Cc ≤ kMaxChannels (1, or 2 bidirectional).
//   Empty extents: H = 0 gives an empty k̂; M = 0 gives k̂ = 0 (sums over no modes) with zero gradients.
//
// Backward (complex gradients packed as g = ∂/∂re + i·∂/∂im; holomorphic y = f(x): g_x = conj(f')·g_y;
// y = a·conj(x): g_x = a·conj(g_y)):
//   G[c] = conj(1 + iτ)·g_k̂[c],  s = 1/(1 + r_PQ)
//   g_rBC[c] = G[c];  g_rPC[c] = −conj(r_BQ·s)·G[c];  g_rBQ = −Σ_c conj(r_PC[c]·s)·G[c];
//   g_rPQ = Σ_c conj(r_BQ·r_PC[c]·s²)·G[c]       (Nyquist: only g_rBC, with d1 = d2 = ½ below)
//   per mode m, with d1 = 1/(z − w), d2 = 1/(z − conj w), summed over the nodes k:
//   g_v_xy = Σ_k conj(d1)·g_rxy + d2·conj(g_rxy);   g_w = Σ_xy conj(v_xy)·Σ_k (conj(d1)²·g_rxy + d2²·conj(g_rxy))
//   then v_xy = dt·(products of B, P, C) and w = dt·Λ by the product rule; g_Λ = dt·g_w;
//   g_log_A_real = Re(g_Λ)·Re(Λ); g_A_imag = −Im(g_Λ); g_dt = Σ_m [Re(conj(Λ)·g_w) + Σ_xy Re(conj(v_xy/dt)·g_v_xy)].
//   The per-(h, m) shares of the S-shaped parameters are summed over h ≡ s in a fixed order.
// Saved for backward: the six inputs (the sums are recomputed). Cost: forward H·(n/2+1)·M·(Cc+1)·2 complex
// divisions and multiply-adds (≈ 40·H·n·M flops for Cc = 2); backward twice that plus a scratch of
// H·(n/2+1)·(2Cc+2) complex (the per-node gradients of the sums) and H·M·7 floats.
//
// Why a fused op and not composed ops: the [H, M, n] Cauchy matrix would be 256·32·16K complex = 1 GiB per
// layer at Path-X; here each output keeps its M-term sums in registers.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/tensor.h"

#if defined(__CUDACC__)
#define LRA_CAUCHY_HD __host__ __device__ inline
#else
#define LRA_CAUCHY_HD inline
#endif

namespace lra::ops {

constexpr int kMaxDPLRChannels = 4;

// k̂ [Cc, H, n/2 + 1, 2]: see the formula above. Differentiable in all six tensor inputs.
Tensor dplr_response(const Tensor& dt, const Tensor& log_A_real, const Tensor& A_imag, const Tensor& P,
                     const Tensor& B, const Tensor& C, int64_t n);

struct DPLRShape {
  int64_t Cc = 1, H = 1, S = 1, M = 1, n = 1;
  LRA_CAUCHY_HD int64_t nodes() const { return n / 2 + 1; }
  LRA_CAUCHY_HD int64_t streams() const { return 2 * Cc + 2; }  // r_BC[0..Cc), r_PC[0..Cc), r_BQ, r_PQ
};

// A minimal complex number usable on host and device.
template <class T>
struct Cx {
  T re, im;
};
template <class T> LRA_CAUCHY_HD Cx<T> operator+(Cx<T> a, Cx<T> b) { return {a.re + b.re, a.im + b.im}; }
template <class T> LRA_CAUCHY_HD Cx<T> operator-(Cx<T> a, Cx<T> b) { return {a.re - b.re, a.im - b.im}; }
template <class T> LRA_CAUCHY_HD Cx<T> operator*(Cx<T> a, Cx<T> b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
template <class T> LRA_CAUCHY_HD Cx<T> operator*(T a, Cx<T> b) { return {a * b.re, a * b.im}; }
template <class T> LRA_CAUCHY_HD Cx<T> conj(Cx<T> a) { return {a.re, -a.im}; }
template <class T> LRA_CAUCHY_HD Cx<T> inv(Cx<T> a) {
  T d = a.re * a.re + a.im * a.im;
  return {a.re / d, -a.im / d};
}

LRA_CAUCHY_HD float cauchy_tan(float x) { return tanf(x); }
LRA_CAUCHY_HD double cauchy_tan(double x) { return tan(x); }
LRA_CAUCHY_HD float cauchy_exp(float x) { return expf(x); }
LRA_CAUCHY_HD double cauchy_exp(double x) { return exp(x); }

// Node k of a length-n DFT: z = 2iτ, the bilinear factor F = 1 + iτ, τ = tan(πk/n); at the Nyquist node
// (2k == n) the limit form: d1 = d2 = ½ in place of 1/(z − w), F = 1 and no Woodbury term.
template <class T>
struct DPLRNode {
  bool nyquist;
  T tau;
};
template <class T>
LRA_CAUCHY_HD DPLRNode<T> dplr_node(int64_t k, int64_t n) {
  const T pi = T(3.14159265358979323846);
  if (2 * k == n) return {true, T(0)};
  if (4 * k <= n) return {false, cauchy_tan(pi * T(k) / T(n))};
  return {false, T(1) / cauchy_tan(pi * T(n - 2 * k) / T(2 * n))};  // tan(π/2 − x) = 1/tan(x)
}
// The two Cauchy factors of mode w at a node.
template <class T>
LRA_CAUCHY_HD void dplr_factors(const DPLRNode<T>& nd, Cx<T> w, Cx<T>& d1, Cx<T>& d2) {
  if (nd.nyquist) {
    d1 = d2 = Cx<T>{T(0.5), T(0)};
    return;
  }
  const Cx<T> z{T(0), T(2) * nd.tau};
  d1 = inv(z - w);
  d2 = inv(z - conj(w));
}

// One mode of channel h: w = dt·Λ and the products v_xy (without dt: x_xy = v_xy/dt) for every stream.
// The stream order: BC[0..Cc), PC[0..Cc), BQ, PQ.
template <class T>
struct DPLRMode {
  T dt;
  Cx<T> lam, w, B, P, C[kMaxDPLRChannels], x[2 * kMaxDPLRChannels + 2];
};
template <class T>
LRA_CAUCHY_HD DPLRMode<T> dplr_mode(const DPLRShape& s, int64_t h, int64_t m, const T* dt, const T* log_A_real,
                                    const T* A_imag, const T* P, const T* B, const T* C) {
  DPLRMode<T> md;
  const int64_t sm = (h % s.S) * s.M + m;
  md.dt = dt[h];
  md.lam = {-cauchy_exp(log_A_real[sm]), -A_imag[sm]};
  md.w = md.dt * md.lam;
  md.B = {B[2 * sm], B[2 * sm + 1]};
  md.P = {P[2 * sm], P[2 * sm + 1]};
  for (int64_t c = 0; c < s.Cc; ++c) {
    const int64_t i = (c * s.H + h) * s.M + m;
    md.C[c] = {C[2 * i], C[2 * i + 1]};
    md.x[c] = md.B * md.C[c];
    md.x[s.Cc + c] = md.P * md.C[c];
  }
  md.x[2 * s.Cc] = md.B * conj(md.P);
  md.x[2 * s.Cc + 1] = {md.P.re * md.P.re + md.P.im * md.P.im, T(0)};
  return md;
}

// The node's k̂ for every channel from the stream sums r (see the top of the file).
template <class T>
LRA_CAUCHY_HD void dplr_combine(const DPLRShape& s, const DPLRNode<T>& nd, const Cx<T>* r, Cx<T>* khat) {
  if (nd.nyquist) {
    for (int64_t c = 0; c < s.Cc; ++c) khat[c] = r[c];
    return;
  }
  const Cx<T> F{T(1), nd.tau};
  const Cx<T> inv1 = inv(Cx<T>{T(1), T(0)} + r[2 * s.Cc + 1]);
  const Cx<T> rbq = r[2 * s.Cc];
  for (int64_t c = 0; c < s.Cc; ++c) khat[c] = F * (r[c] - rbq * r[s.Cc + c] * inv1);
}

// The gradients of the stream sums from ∂k̂ at one node (see the top of the file).
template <class T>
LRA_CAUCHY_HD void dplr_combine_backward(const DPLRShape& s, const DPLRNode<T>& nd, const Cx<T>* r, const Cx<T>* gk,
                                         Cx<T>* gr) {
  for (int64_t i = 0; i < s.streams(); ++i) gr[i] = {T(0), T(0)};
  if (nd.nyquist) {
    for (int64_t c = 0; c < s.Cc; ++c) gr[c] = gk[c];
    return;
  }
  const Cx<T> Fc{T(1), -nd.tau};
  const Cx<T> sv = inv(Cx<T>{T(1), T(0)} + r[2 * s.Cc + 1]);
  const Cx<T> rbq = r[2 * s.Cc];
  for (int64_t c = 0; c < s.Cc; ++c) {
    const Cx<T> G = Fc * gk[c];
    const Cx<T> rpc = r[s.Cc + c];
    gr[c] = G;
    gr[s.Cc + c] = T(-1) * (conj(rbq * sv) * G);
    gr[2 * s.Cc] = gr[2 * s.Cc] - conj(rpc * sv) * G;
    gr[2 * s.Cc + 1] = gr[2 * s.Cc + 1] + conj(rbq * rpc * sv * sv) * G;
  }
}

// One mode's parameter gradients from its node sums gv[i] = Σ_k conj(d1)·g_r + d2·conj(g_r) and
// gw_part[i] = Σ_k conj(d1)²·g_r + d2²·conj(g_r) per stream.
template <class T>
struct DPLRModeGrad {
  Cx<T> gB, gP, gC[kMaxDPLRChannels];
  T g_log_A_real, g_A_imag, g_dt;
};
template <class T>
LRA_CAUCHY_HD DPLRModeGrad<T> dplr_mode_backward(const DPLRShape& s, const DPLRMode<T>& md, const Cx<T>* gv,
                                                 const Cx<T>* gw_part) {
  DPLRModeGrad<T> g{};
  const T dt = md.dt;
  Cx<T> gw{T(0), T(0)};
  T g_dt = T(0);
  for (int64_t i = 0; i < s.streams(); ++i) {
    gw = gw + conj(dt * md.x[i]) * gw_part[i];  // ∂(v/(z − w))/∂w = v/(z − w)²
    g_dt += (conj(md.x[i]) * gv[i]).re;         // v = dt·x
  }
  Cx<T> gB = conj(dt * conj(md.P)) * gv[2 * s.Cc];          // v_BQ = dt·B·conj(P), w.r.t. B
  Cx<T> gP = (dt * md.B) * conj(gv[2 * s.Cc]);              // ... w.r.t. P, through the conjugate
  gP = gP + (T(2) * dt * gv[2 * s.Cc + 1].re) * md.P;       // v_PQ = dt·|P|²
  for (int64_t c = 0; c < s.Cc; ++c) {
    const Cx<T> gbc = gv[c], gpc = gv[s.Cc + c];             // v_BC = dt·B·C, v_PC = dt·P·C
    g.gC[c] = conj(dt * md.B) * gbc + conj(dt * md.P) * gpc;
    gB = gB + conj(dt * md.C[c]) * gbc;
    gP = gP + conj(dt * md.C[c]) * gpc;
  }
  g.gB = gB;
  g.gP = gP;
  g.g_dt = g_dt + (conj(md.lam) * gw).re;
  const Cx<T> g_lam = dt * gw;
  g.g_log_A_real = g_lam.re * md.lam.re;  // Re Λ = −exp(log_A_real)
  g.g_A_imag = -g_lam.im;                 // Im Λ = −A_imag
  return g;
}

// Raw entry points. Backward writes every gradient (fresh, not accumulated).
namespace cpu {
template <class T>
void dplr_response_forward(const DPLRShape& s, const T* dt, const T* log_A_real, const T* A_imag, const T* P,
                           const T* B, const T* C, T* khat);
template <class T>
void dplr_response_backward(const DPLRShape& s, const T* dt, const T* log_A_real, const T* A_imag, const T* P,
                            const T* B, const T* C, const T* gkhat, T* g_dt, T* g_log_A_real, T* g_A_imag, T* gP,
                            T* gB, T* gC);
}  // namespace cpu

namespace cuda {
// Scratch floats for the backward: the per-node stream gradients [H, n/2+1, 2Cc+2, 2] and the per-mode
// shares [H, M, 7].
inline int64_t dplr_response_backward_scratch(const DPLRShape& s) {
  return s.H * s.nodes() * s.streams() * 2 + s.H * s.M * 7;
}
void dplr_response_forward(const DPLRShape& s, const float* dt, const float* log_A_real, const float* A_imag,
                           const float* P, const float* B, const float* C, float* khat);
void dplr_response_backward(const DPLRShape& s, const float* dt, const float* log_A_real, const float* A_imag,
                            const float* P, const float* B, const float* C, const float* gkhat, float* g_dt,
                            float* g_log_A_real, float* g_A_imag, float* gP, float* gB, float* gC, float* scratch);
}  // namespace cuda

}  // namespace lra::ops
