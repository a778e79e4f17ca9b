// CPU reference of the DPLR frequency response (cauchy.h): plain loops over (h, node, mode) forward and
// (h, node) then (h, mode) backward (channels in OpenMP threads), templated on the scalar type (float for
// parity with CUDA, double for the gradient check). The per-node and per-mode formulas are cauchy.h's,
// shared with the CUDA kernels.
#include <vector>

#include "ops/cauchy/cauchy.h"

namespace lra::ops::cpu {

namespace {

// The stream sums r_xy at node k of channel h (modes precomputed).
template <class T>
void node_sums(const DPLRShape& s, const std::vector<DPLRMode<T>>& modes, const DPLRNode<T>& nd, Cx<T>* r) {
  for (int64_t i = 0; i < s.streams(); ++i) r[i] = {T(0), T(0)};
  for (int64_t m = 0; m < s.M; ++m) {
    const DPLRMode<T>& md = modes[size_t(m)];
    Cx<T> d1, d2;
    dplr_factors(nd, md.w, d1, d2);
    for (int64_t i = 0; i < s.streams(); ++i) {
      const Cx<T> v = md.dt * md.x[i];
      r[i] = r[i] + v * d1 + conj(v) * d2;
    }
  }
}

template <class T>
std::vector<DPLRMode<T>> channel_modes(const DPLRShape& s, int64_t h, const T* dt, const T* ar, const T* ai,
                                       const T* P, const T* B, const T* C) {
  std::vector<DPLRMode<T>> modes(size_t(s.M));
  for (int64_t m = 0; m < s.M; ++m) modes[size_t(m)] = dplr_mode<T>(s, h, m, dt, ar, ai, P, B, C);
  return modes;
}

}  // namespace

template <class T>
void dplr_response_forward(const DPLRShape& s, const T* dt, const T* log_A_real, const T* A_imag, const T* P,
                           const T* B, const T* C, T* khat) {
  const int64_t K = s.nodes();
#pragma omp parallel for schedule(static) if (s.H * K * s.M >= (int64_t(1) << 16))
  for (int64_t h = 0; h < s.H; ++h) {
    Cx<T> r[2 * kMaxDPLRChannels + 2], kh[kMaxDPLRChannels];
    const auto modes = channel_modes(s, h, dt, log_A_real, A_imag, P, B, C);
    for (int64_t k = 0; k < K; ++k) {
      const DPLRNode<T> nd = dplr_node<T>(k, s.n);
      node_sums(s, modes, nd, r);
      dplr_combine(s, nd, r, kh);
      for (int64_t c = 0; c < s.Cc; ++c) {
        T* out = khat + 2 * ((c * s.H + h) * K + k);
        out[0] = kh[c].re;
        out[1] = kh[c].im;
      }
    }
  }
}

template <class T>
void dplr_response_backward(const DPLRShape& s, const T* dt, const T* log_A_real, const T* A_imag, const T* P,
                            const T* B, const T* C, const T* gkhat, T* g_dt, T* g_log_A_real, T* g_A_imag, T* gP,
                            T* gB, T* gC) {
  const int64_t K = s.nodes(), R = s.streams();
  // Channels run in parallel; each writes its modes' shares of the S-shaped gradients to shares [H, M, 6],
  // summed over h ≡ s afterwards in increasing h (the CUDA kernels' order: deterministic).
  std::vector<T> shares(size_t(s.H * s.M * 6));
#pragma omp parallel for schedule(static) if (s.H * K * s.M >= (int64_t(1) << 14))
  for (int64_t h = 0; h < s.H; ++h) {
    std::vector<Cx<T>> gr(size_t(K * R));
    Cx<T> r[2 * kMaxDPLRChannels + 2], gk[kMaxDPLRChannels];
    const auto modes = channel_modes(s, h, dt, log_A_real, A_imag, P, B, C);
    // Pass 1: each node's gradient of the stream sums.
    for (int64_t k = 0; k < K; ++k) {
      const DPLRNode<T> nd = dplr_node<T>(k, s.n);
      node_sums(s, modes, nd, r);
      for (int64_t c = 0; c < s.Cc; ++c) {
        const T* g = gkhat + 2 * ((c * s.H + h) * K + k);
        gk[c] = {g[0], g[1]};
      }
      dplr_combine_backward(s, nd, r, gk, gr.data() + k * R);
    }
    // Pass 2: each mode sums its factors over the nodes, then the chain rule to the parameters.
    T dt_acc = T(0);
    for (int64_t m = 0; m < s.M; ++m) {
      const DPLRMode<T>& md = modes[size_t(m)];
      Cx<T> gv[2 * kMaxDPLRChannels + 2] = {}, gw[2 * kMaxDPLRChannels + 2] = {};
      for (int64_t k = 0; k < K; ++k) {
        const DPLRNode<T> nd = dplr_node<T>(k, s.n);
        Cx<T> d1, d2;
        dplr_factors(nd, md.w, d1, d2);
        for (int64_t i = 0; i < R; ++i) {
          const Cx<T> g = gr[size_t(k * R + i)];
          gv[i] = gv[i] + conj(d1) * g + d2 * conj(g);
          if (!nd.nyquist) gw[i] = gw[i] + conj(d1) * conj(d1) * g + d2 * d2 * conj(g);
        }
      }
      const DPLRModeGrad<T> g = dplr_mode_backward(s, md, gv, gw);
      T* out = shares.data() + 6 * (h * s.M + m);
      out[0] = g.g_log_A_real;
      out[1] = g.g_A_imag;
      out[2] = g.gB.re;
      out[3] = g.gB.im;
      out[4] = g.gP.re;
      out[5] = g.gP.im;
      for (int64_t c = 0; c < s.Cc; ++c) {
        const int64_t i = (c * s.H + h) * s.M + m;
        gC[2 * i] = g.gC[c].re;
        gC[2 * i + 1] = g.gC[c].im;
      }
      dt_acc += g.g_dt;
    }
    g_dt[h] = dt_acc;
  }
  for (int64_t sm = 0; sm < s.S * s.M; ++sm) {
    const int64_t copy = sm / s.M, m = sm % s.M;
    T acc[6] = {};
    for (int64_t h = copy; h < s.H; h += s.S)
      for (int j = 0; j < 6; ++j) acc[j] += shares[size_t(6 * (h * s.M + m) + j)];
    g_log_A_real[sm] = acc[0];
    g_A_imag[sm] = acc[1];
    gB[2 * sm] = acc[2];
    gB[2 * sm + 1] = acc[3];
    gP[2 * sm] = acc[4];
    gP[2 * sm + 1] = acc[5];
  }
}

#define LRA_INSTANTIATE(T)                                                                                         \
  template void dplr_response_forward<T>(const DPLRShape&, const T*, const T*, const T*, const T*, const T*,     \
                                         const T*, T*);                                                          \
  template void dplr_response_backward<T>(const DPLRShape&, const T*, const T*, const T*, const T*, const T*,    \
                                          const T*, const T*, T*, T*, T*, T*, T*, T*);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
