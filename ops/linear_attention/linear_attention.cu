// CUDA running-state product of causal linear attention (linear_attention.h for the math and the
// backward, which calls this same kernel three times):
//   M_t = sum_{j <= t} u_j w_jᵀ (reverse: j >= t) [P, R],   out_t = M_tᵀ x_t,   u, x [N, L, P], w, out [N, L, R].
//
// Tiling: one block per (sequence n, chunk of kThreads = 128 output columns r); thread r owns column
// M[:, r] of the state, kept in the scratch buffer state [N, P, R] (element (n, p, r), so a warp's
// 32 columns are 32 consecutive floats: coalesced). Per step t the block stages u_t and x_t (P floats
// each) in shared memory, then each thread updates its column and contracts it with x_t:
//   m = M[p, r] + u_t[p] w_t[r];  M[p, r] = m;  acc += x_t[p] m.
// The steps are sequential (span L·P); parallelism is N · ceil(R / 128) blocks. Bytes moved per step
// and sequence: 8·P·R for the state (L2-resident at LRA sizes: N·P·R·4 = 4 MB for 128 sequences of a
// 64×128 state) plus the inputs once. FLOPs: 4·P·R per step, as the CPU reference.
// Empty extents: N, L or R of 0 launch nothing (the glue returns the empty output first); P = 0 writes
// zeros.
//
// Version log: v1 state in global scratch, one thread per state column (the direct port of the CPU
// loop with the inputs of a step shared through shared memory). Unmeasured (no GPU yet). The next step
// is the state in shared memory or registers for P <= 128, and chunking L (the chunked form of
// linear attention: intra-chunk products as small matmuls, the state passed between chunks).
#include "engine/cuda.h"
#include "ops/linear_attention/linear_attention.h"

namespace lra::ops::cuda {

using lra::cuda::stream;

namespace {

constexpr int kThreads = 128;

__global__ void __launch_bounds__(kThreads)
    prefix_contract_kernel(const float* u, const float* w, const float* x, float* out, float* state, int64_t L,
                           int64_t P, int64_t R, int64_t chunks, bool reverse) {
  extern __shared__ float s_ux[];  // u_t [P] then x_t [P]
  const int64_t n = blockIdx.x / chunks, chunk = blockIdx.x % chunks;
  const int64_t r = chunk * kThreads + threadIdx.x;
  const bool active = r < R;  // inactive threads still stage inputs and reach every barrier
  float* M = state + n * P * R;
  if (active)
    for (int64_t p = 0; p < P; ++p) M[p * R + r] = 0.0f;
  for (int64_t s = 0; s < L; ++s) {
    const int64_t t = reverse ? L - 1 - s : s;
    const int64_t row = n * L + t;
    __syncthreads();  // the previous step is done with s_ux
    for (int64_t p = threadIdx.x; p < P; p += kThreads) {
      s_ux[p] = u[row * P + p];
      s_ux[P + p] = x[row * P + p];
    }
    __syncthreads();
    if (active) {
      const float wr = w[row * R + r];
      float acc = 0.0f;
      for (int64_t p = 0; p < P; ++p) {
        const float m = M[p * R + r] + s_ux[p] * wr;
        M[p * R + r] = m;
        acc += s_ux[P + p] * m;
      }
      out[row * R + r] = acc;
    }
  }
}

}  // namespace

void prefix_contract(const float* u, const float* w, const float* x, float* out, float* state, int64_t N, int64_t L,
                     int64_t P, int64_t R, bool reverse) {
  if (N * L * R == 0) return;
  if (P == 0) {  // a sum over no features
    LRA_CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(float) * size_t(N * L * R), stream()));
    return;
  }
  const int64_t chunks = (R + kThreads - 1) / kThreads;
  const size_t smem = sizeof(float) * size_t(2 * P);
  LRA_CHECK(smem <= 48 * 1024, "causal_linear_attention: feature size P = ", P,
            " needs more than 48 KiB of shared memory for one step's inputs (P <= 6144)");
  const dim3 grid = lra::cuda::grid_dims("prefix_contract_kernel", N * chunks);
  prefix_contract_kernel<<<grid, kThreads, smem, stream()>>>(u, w, x, out, state, L, P, R, chunks, reverse);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
