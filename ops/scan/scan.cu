// CUDA diagonal linear recurrence x_t = lambda ⊙ x_{t-1} + b_t (or reversed in time), real or complex
// (interleaved re/im), over b [batch, L, N]; see scan.h for the math and the backward.
//
// Tiling (scan_kernel): one block per (batch, chunk of kLanes = 32 channels); threadIdx.x is the
// channel, so a warp reads 32 consecutive channels of one time step (coalesced). threadIdx.y splits
// the L steps into kSegs = 16 contiguous segments. Three phases, the classic chunked scan:
//   1. each thread runs the recurrence over its segment from a zero state, keeping only the summary
//      (h_end, lambda^len): the composition of the segment's affine maps h -> lambda^len h + h_end;
//   2. one thread per channel composes the 16 summaries in order (16 steps, negligible next to the
//      L/16 steps of phase 1), giving each segment its incoming state;
//   3. each thread re-runs its segment from that state and writes x (recomputing from b costs one more
//      read of b but no extra write-then-read of x).
// Work O(L) per channel (work-efficient), span O(L/16 + 16). Any L works (16384 gives segments of
// 1024 steps); parallelism is batch * ceil(N/32) blocks of 512 threads. Arithmetic is float32;
// lambda^len comes from repeated multiplication, so its relative error grows like len * 2^-24.
// Bytes moved per element of b: 12 (real) / 24 (complex): b read twice, x written once.
//
// scan_lambda_grad: sum over (batch, t) of conj(x_prev) * a_t per channel, in two deterministic passes:
// blocks of (32 channels x 16 rows) each reduce a contiguous range of rows into `partial`, then one
// thread per channel sums the partials in order. Reads x and a once (8 / 16 bytes per element).
// Saved for backward (by the glue): lambda and x.
// Empty extents: batch, L or N of 0 launch nothing; the lambda gradient is then zeros (no steps).
//
// Version log: v1 segmented three-phase scan (sequential segments, sequential combine of 16 summaries).
#include "engine/cuda.h"
#include "ops/scan/scan.h"

namespace lra::ops::cuda {

using lra::cuda::stream;

namespace {

constexpr int kLanes = 32;  // channels per block (threadIdx.x)
constexpr int kSegs = 16;   // segments of L per channel (threadIdx.y)

struct cfloat {
  float re, im;
};
__device__ inline cfloat operator*(cfloat a, cfloat b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
__device__ inline cfloat operator+(cfloat a, cfloat b) { return {a.re + b.re, a.im + b.im}; }
__device__ inline cfloat conj_of(cfloat a) { return {a.re, -a.im}; }
__device__ inline float conj_of(float a) { return a; }

template <class V> __device__ inline V zero_of();
template <> __device__ inline float zero_of<float>() { return 0.0f; }
template <> __device__ inline cfloat zero_of<cfloat>() { return {0.0f, 0.0f}; }
template <class V> __device__ inline V one_of();
template <> __device__ inline float one_of<float>() { return 1.0f; }
template <> __device__ inline cfloat one_of<cfloat>() { return {1.0f, 0.0f}; }

// Element k of an array of V stored as floats (complex: interleaved pairs).
template <class V> __device__ inline V load(const float* p, int64_t k);
template <> __device__ inline float load<float>(const float* p, int64_t k) { return p[k]; }
template <> __device__ inline cfloat load<cfloat>(const float* p, int64_t k) { return {p[2 * k], p[2 * k + 1]}; }
__device__ inline void store(float* p, int64_t k, float v) { p[k] = v; }
__device__ inline void store(float* p, int64_t k, cfloat v) {
  p[2 * k] = v.re;
  p[2 * k + 1] = v.im;
}

template <class V>
__global__ void __launch_bounds__(kLanes * kSegs)
    scan_kernel(const float* lambda, const float* b, float* x, int64_t L, int64_t N, int64_t chunks, bool reverse,
                bool conj_lambda) {
  __shared__ V s_h[kSegs][kLanes];   // phase 1: segment end states; phase 2: incoming states
  __shared__ V s_pw[kSegs][kLanes];  // lambda^(segment length)
  int lane = threadIdx.x, seg = threadIdx.y;
  int64_t chunk = blockIdx.x % chunks, bt = blockIdx.x / chunks;
  int64_t n = chunk * kLanes + lane;
  bool active = n < N;  // inactive lanes still reach every barrier
  V lam = active ? load<V>(lambda, n) : zero_of<V>();
  if (conj_lambda) lam = conj_of(lam);
  int64_t seg_len = (L + kSegs - 1) / kSegs;
  int64_t k0 = min(int64_t(seg) * seg_len, L), k1 = min(k0 + seg_len, L);  // scan-order steps [k0, k1)
  // Element index of scan-order step k: time t = k (forward) or L-1-k (reverse), channel n.
  auto at = [&](int64_t k) { return (bt * L + (reverse ? L - 1 - k : k)) * N + n; };

  // Phase 1: segment summary from a zero state.
  V h = zero_of<V>(), pw = one_of<V>();
  if (active)
    for (int64_t k = k0; k < k1; ++k) {
      h = lam * h + load<V>(b, at(k));
      pw = lam * pw;
    }
  s_h[seg][lane] = h;
  s_pw[seg][lane] = pw;
  __syncthreads();

  // Phase 2: compose the summaries in order; s_h[s] becomes the state entering segment s.
  if (seg == 0) {
    V carry = zero_of<V>();
    for (int s = 0; s < kSegs; ++s) {
      V end = s_h[s][lane];
      s_h[s][lane] = carry;
      carry = s_pw[s][lane] * carry + end;
    }
  }
  __syncthreads();

  // Phase 3: re-run the segment from its incoming state and write x.
  if (active) {
    h = s_h[seg][lane];
    for (int64_t k = k0; k < k1; ++k) {
      int64_t i = at(k);
      h = lam * h + load<V>(b, i);
      store(x, i, h);
    }
  }
}

// Block (part, chunk): rows [part * rows_per_part, ...) of the flattened (batch, t) axis, 32 channels.
template <class V>
__global__ void __launch_bounds__(kLanes * kSegs)
    lambda_grad_partial_kernel(const float* x, const float* a, float* partial, int64_t rows, int64_t rows_per_part,
                               int64_t L, int64_t N, bool reverse) {
  __shared__ V s_acc[kSegs][kLanes];
  int lane = threadIdx.x, ty = threadIdx.y;
  int64_t n = blockIdx.x * int64_t(kLanes) + lane, part = blockIdx.y;
  int64_t r0 = part * rows_per_part, r1 = min(r0 + rows_per_part, rows);
  V acc = zero_of<V>();
  if (n < N)
    for (int64_t r = r0 + ty; r < r1; r += kSegs) {
      int64_t t = r % L;
      if (reverse ? t == L - 1 : t == 0) continue;  // no previous state: lambda multiplied zero
      int64_t prev = reverse ? r + 1 : r - 1;
      acc = acc + conj_of(load<V>(x, prev * N + n)) * load<V>(a, r * N + n);
    }
  s_acc[ty][lane] = acc;
  __syncthreads();
  if (ty == 0 && n < N) {
    V s = zero_of<V>();
    for (int j = 0; j < kSegs; ++j) s = s + s_acc[j][lane];
    store(partial, part * N + n, s);
  }
}

template <class V>
__global__ void lambda_grad_final_kernel(const float* partial, float* glambda, int64_t parts, int64_t N) {
  int64_t n = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (n >= N) return;
  V s = zero_of<V>();
  for (int64_t p = 0; p < parts; ++p) s = s + load<V>(partial, p * N + n);
  store(glambda, n, s);
}

}  // namespace

void scan(const float* lambda, const float* b, float* x, int64_t batch, int64_t L, int64_t N, bool complex,
          bool reverse, bool conj_lambda) {
  if (batch * L * N == 0) return;
  int64_t chunks = (N + kLanes - 1) / kLanes;
  dim3 block(kLanes, kSegs);
  LRA_CHECK(batch * chunks <= 0x7fffffffLL, "scan: batch ", batch, " x ", chunks, " channel chunks is too many blocks");
  const dim3 grid = lra::cuda::grid_dims("scan_kernel", batch * chunks);
  if (complex) scan_kernel<cfloat><<<grid, block, 0, stream()>>>(lambda, b, x, L, N, chunks, reverse, conj_lambda);
  else scan_kernel<float><<<grid, block, 0, stream()>>>(lambda, b, x, L, N, chunks, reverse, conj_lambda);
  LRA_KERNEL_CHECK();
}

void scan_lambda_grad(const float* x, const float* a, float* partial, float* glambda, int64_t batch, int64_t L,
                      int64_t N, bool complex, bool reverse) {
  if (N == 0) return;
  const int64_t floats = N * (complex ? 2 : 1);
  if (batch * L == 0) {  // no steps: a sum over nothing
    LRA_CUDA_CHECK(cudaMemsetAsync(glambda, 0, sizeof(float) * size_t(floats), stream()));
    return;
  }
  int64_t rows = batch * L, parts = scan_grad_parts(batch, L), rows_per_part = (rows + parts - 1) / parts;
  const dim3 grid = lra::cuda::grid_dims("lambda_grad_partial_kernel", (N + kLanes - 1) / kLanes, parts);
  const dim3 block(kLanes, kSegs);
  const dim3 final_blocks = lra::cuda::grid_dims("lambda_grad_final_kernel", (N + 255) / 256);
  if (complex) {
    lambda_grad_partial_kernel<cfloat><<<grid, block, 0, stream()>>>(x, a, partial, rows, rows_per_part, L, N, reverse);
    LRA_KERNEL_CHECK();
    lambda_grad_final_kernel<cfloat><<<final_blocks, 256, 0, stream()>>>(partial, glambda, parts, N);
  } else {
    lambda_grad_partial_kernel<float><<<grid, block, 0, stream()>>>(x, a, partial, rows, rows_per_part, L, N, reverse);
    LRA_KERNEL_CHECK();
    lambda_grad_final_kernel<float><<<final_blocks, 256, 0, stream()>>>(partial, glambda, parts, N);
  }
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
