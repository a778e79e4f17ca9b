// CUDA kernels for the DPLR frequency response k̂ (formula and conventions in cauchy.h), float32.
//   Forward: response_kernel, grid (⌈(n/2+1)/128⌉, H), a thread per (h, node): it loops over the M modes of
//            channel h (the same parameter addresses for the whole block: broadcast loads), keeps the
//            2Cc + 2 Cauchy sums in registers, applies the Woodbury combination and writes the Cc outputs.
//            Nothing of size [H, M, n] exists. Reads the parameters, writes 8·Cc·H·(n/2+1) bytes.
//   Backward: (1) node_grad_kernel, the same grid: recomputes the sums and writes the gradients of the
//            2Cc + 2 sums into scratch [H, n/2+1, 2Cc+2] complex; (2) mode_grad_kernel, a block per
//            (h, mode): threads stride over the nodes accumulating Σ conj(d1)·g + d2·conj(g) and
//            Σ conj(d1)²·g + d2²·conj(g) per stream, one block reduction per float, then thread 0 applies
//            the chain rule (cauchy.h dplr_mode_backward), writes ∂C and the mode's shares of the shared
//            parameters into scratch [H, M, 7]; (3) share_sum_kernel, a thread per (s, m), sums the
//            shares over h ≡ s in increasing h, and dt_sum_kernel, a thread per h, over m (fixed orders:
//            deterministic, and the same order as the CPU reference).
//   Empty extents (H or M of 0) never reach here: the glue returns zeros first.
// Version log: v1 direct port of cauchy_cpu.cpp (thread per output forward, block per mode backward).
#include "engine/cuda.h"
#include "ops/cauchy/cauchy.h"
#include "ops/cuda_reduce.cuh"

namespace lra::ops::cuda {

using lra::cuda::stream;

namespace {

constexpr int kNodeThreads = 128;
constexpr int kModeThreads = 128;
constexpr int kMaxStreams = 2 * kMaxDPLRChannels + 2;

__device__ void node_sums(const DPLRShape& s, int64_t h, const DPLRNode<float>& nd, const float* dt,
                          const float* ar, const float* ai, const float* P, const float* B, const float* C,
                          Cx<float>* r) {
  for (int i = 0; i < kMaxStreams; ++i) r[i] = {0.f, 0.f};
  for (int64_t m = 0; m < s.M; ++m) {
    const DPLRMode<float> md = dplr_mode<float>(s, h, m, dt, ar, ai, P, B, C);
    Cx<float> d1, d2;
    dplr_factors(nd, md.w, d1, d2);
    for (int64_t i = 0; i < s.streams(); ++i) {
      const Cx<float> v = md.dt * md.x[i];
      r[i] = r[i] + v * d1 + conj(v) * d2;
    }
  }
}

__global__ void response_kernel(DPLRShape s, const float* dt, const float* ar, const float* ai, const float* P,
                                const float* B, const float* C, float* khat) {
  const int64_t h = blockIdx.y, K = s.nodes();
  const int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (k >= K) return;
  const DPLRNode<float> nd = dplr_node<float>(k, s.n);
  Cx<float> r[kMaxStreams], kh[kMaxDPLRChannels];
  node_sums(s, h, nd, dt, ar, ai, P, B, C, r);
  dplr_combine(s, nd, r, kh);
  for (int64_t c = 0; c < s.Cc; ++c) {
    float* out = khat + 2 * ((c * s.H + h) * K + k);
    out[0] = kh[c].re;
    out[1] = kh[c].im;
  }
}

__global__ void node_grad_kernel(DPLRShape s, const float* dt, const float* ar, const float* ai, const float* P,
                                 const float* B, const float* C, const float* gkhat, float* gr) {
  const int64_t h = blockIdx.y, K = s.nodes(), R = s.streams();
  const int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (k >= K) return;
  const DPLRNode<float> nd = dplr_node<float>(k, s.n);
  Cx<float> r[kMaxStreams], gk[kMaxDPLRChannels], g[kMaxStreams];
  node_sums(s, h, nd, dt, ar, ai, P, B, C, r);
  for (int64_t c = 0; c < s.Cc; ++c) {
    const float* src = gkhat + 2 * ((c * s.H + h) * K + k);
    gk[c] = {src[0], src[1]};
  }
  dplr_combine_backward(s, nd, r, gk, g);
  float* dst = gr + 2 * (h * K + k) * R;
  for (int64_t i = 0; i < R; ++i) {
    dst[2 * i] = g[i].re;
    dst[2 * i + 1] = g[i].im;
  }
}

__global__ void mode_grad_kernel(DPLRShape s, const float* dt, const float* ar, const float* ai, const float* P,
                                 const float* B, const float* C, const float* gr, float* gC, float* shares) {
  __shared__ float partials[32];
  const int64_t hm = blockIdx.x, h = hm / s.M, m = hm % s.M, K = s.nodes(), R = s.streams();
  const DPLRMode<float> md = dplr_mode<float>(s, h, m, dt, ar, ai, P, B, C);
  Cx<float> gv[kMaxStreams], gw[kMaxStreams];
  for (int i = 0; i < kMaxStreams; ++i) gv[i] = gw[i] = {0.f, 0.f};
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
    const DPLRNode<float> nd = dplr_node<float>(k, s.n);
    Cx<float> d1, d2;
    dplr_factors(nd, md.w, d1, d2);
    const float* src = gr + 2 * (h * K + k) * R;
    for (int64_t i = 0; i < R; ++i) {
      const Cx<float> g{src[2 * i], src[2 * i + 1]};
      gv[i] = gv[i] + conj(d1) * g + d2 * conj(g);
      if (!nd.nyquist) gw[i] = gw[i] + conj(d1) * conj(d1) * g + d2 * d2 * conj(g);
    }
  }
  for (int64_t i = 0; i < R; ++i) {
    gv[i].re = group_reduce<false>(gv[i].re, Sum{}, 0.f, partials);
    gv[i].im = group_reduce<false>(gv[i].im, Sum{}, 0.f, partials);
    gw[i].re = group_reduce<false>(gw[i].re, Sum{}, 0.f, partials);
    gw[i].im = group_reduce<false>(gw[i].im, Sum{}, 0.f, partials);
  }
  if (threadIdx.x != 0) return;
  const DPLRModeGrad<float> g = dplr_mode_backward(s, md, gv, gw);
  for (int64_t c = 0; c < s.Cc; ++c) {
    const int64_t i = (c * s.H + h) * s.M + m;
    gC[2 * i] = g.gC[c].re;
    gC[2 * i + 1] = g.gC[c].im;
  }
  float* out = shares + 7 * hm;
  out[0] = g.g_log_A_real;
  out[1] = g.g_A_imag;
  out[2] = g.gB.re;
  out[3] = g.gB.im;
  out[4] = g.gP.re;
  out[5] = g.gP.im;
  out[6] = g.g_dt;
}

__global__ void share_sum_kernel(DPLRShape s, const float* shares, float* g_ar, float* g_ai, float* gB, float* gP) {
  const int64_t sm = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (sm >= s.S * s.M) return;
  const int64_t copy = sm / s.M, m = sm % s.M;
  float acc[6] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  for (int64_t h = copy; h < s.H; h += s.S) {
    const float* src = shares + 7 * (h * s.M + m);
    for (int j = 0; j < 6; ++j) acc[j] += src[j];
  }
  g_ar[sm] = acc[0];
  g_ai[sm] = acc[1];
  gB[2 * sm] = acc[2];
  gB[2 * sm + 1] = acc[3];
  gP[2 * sm] = acc[4];
  gP[2 * sm + 1] = acc[5];
}

__global__ void dt_sum_kernel(DPLRShape s, const float* shares, float* g_dt) {
  const int64_t h = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (h >= s.H) return;
  float acc = 0.f;
  for (int64_t m = 0; m < s.M; ++m) acc += shares[7 * (h * s.M + m) + 6];
  g_dt[h] = acc;
}

dim3 blocks(const char* kernel, int64_t n, int threads) {
  return lra::cuda::grid_dims(kernel, (n + threads - 1) / threads);
}

}  // namespace

void dplr_response_forward(const DPLRShape& s, const float* dt, const float* log_A_real, const float* A_imag,
                           const float* P, const float* B, const float* C, float* khat) {
  LRA_CHECK(s.H * s.M > 0, "dplr_response_forward: empty extents must be handled by the glue");
  const dim3 grid = lra::cuda::grid_dims("response_kernel", (s.nodes() + kNodeThreads - 1) / kNodeThreads, s.H);
  response_kernel<<<grid, kNodeThreads, 0, stream()>>>(s, dt, log_A_real, A_imag, P, B, C, khat);
  LRA_KERNEL_CHECK();
}

void dplr_response_backward(const DPLRShape& s, const float* dt, const float* log_A_real, const float* A_imag,
                            const float* P, const float* B, const float* C, const float* gkhat, float* g_dt,
                            float* g_log_A_real, float* g_A_imag, float* gP, float* gB, float* gC, float* scratch) {
  LRA_CHECK(s.H * s.M > 0, "dplr_response_backward: empty extents must be handled by the glue");
  float* gr = scratch;
  float* shares = scratch + s.H * s.nodes() * s.streams() * 2;
  const dim3 grid = lra::cuda::grid_dims("node_grad_kernel", (s.nodes() + kNodeThreads - 1) / kNodeThreads, s.H);
  node_grad_kernel<<<grid, kNodeThreads, 0, stream()>>>(s, dt, log_A_real, A_imag, P, B, C, gkhat, gr);
  LRA_KERNEL_CHECK();
  mode_grad_kernel<<<lra::cuda::grid_dims("mode_grad_kernel", s.H * s.M), kModeThreads, 0, stream()>>>(
      s, dt, log_A_real, A_imag, P, B, C, gr, gC, shares);
  LRA_KERNEL_CHECK();
  share_sum_kernel<<<blocks("share_sum_kernel", s.S * s.M, 128), 128, 0, stream()>>>(s, shares, g_log_A_real,
                                                                                       g_A_imag, gB, gP);
  LRA_KERNEL_CHECK();
  dt_sum_kernel<<<blocks("dt_sum_kernel", s.H, 128), 128, 0, stream()>>>(s, shares, g_dt);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
