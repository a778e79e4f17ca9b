// The CUDA context (stream, device properties) and the checking macros every CUDA, cuBLAS and cuFFT
// call goes through. Include only from code built with LRA_WITH_CUDA. The core links only the CUDA
// runtime: loading libcublas costs about a second per process even on a machine without a GPU, so
// only the op families that call cuBLAS (matmul) or cuFFT link them, and own their handles.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cufft.h>

#include <cstdint>

#include "engine/base.h"

namespace lra::cuda {

// Throws lra::Error: "<statement> failed: <library's message> (file:line)".
[[noreturn]] void fail_call(const char* statement, const char* what, const char* file, int line);
const char* cufft_error_string(cufftResult r);

// All engine work runs on this one stream, in order; the caching allocator relies on that.
cudaStream_t stream();
const cudaDeviceProp& properties();

// Every launch gets its grid from one of these two, so that an empty extent can never reach a launch
// as a zero grid dimension (cudaErrorInvalidConfiguration, and only on a machine with a GPU).
// tests/engine/test_cuda_launches.cpp scans the sources and fails on a launch whose grid comes from
// anywhere else.
//
// blocks_for: the grid of a grid-stride loop over n elements (LRA_GRID_STRIDE). At least one block,
// so n == 0 launches one block that does nothing: harmless, but callers still return early.
inline unsigned blocks_for(int64_t n, int threads, int64_t max_blocks = 65535LL * 16) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  return unsigned(b < max_blocks ? b : max_blocks);
}

// grid_dims: a grid sized by the work itself (a block per row, per tile, per mode, ...). A dimension
// of 0 means an empty extent got past the glue, which must have returned its empty or zero result
// before launching; that is a bug, reported here on the host with the kernel's name instead of as an
// invalid configuration from the driver.
inline dim3 grid_dims(const char* kernel, int64_t x, int64_t y = 1, int64_t z = 1) {
  LRA_CHECK(x >= 1 && y >= 1 && z >= 1 && x <= INT32_MAX && y <= 65535 && z <= 65535, "CUDA launch of ", kernel,
            " with grid [", x, ", ", y, ", ", z, "]: every dimension must be in [1, 2^31 - 1] (x) or [1, 65535] ",
            "(y, z); a 0 means an empty extent reached the launch instead of returning early");
  return dim3(unsigned(x), unsigned(y), unsigned(z));
}

}  // namespace lra::cuda

#define LRA_CUDA_CHECK(stmt)                                                        \
  do {                                                                              \
    cudaError_t lra_err_ = (stmt);                                                  \
    if (lra_err_ != cudaSuccess)                                                    \
      ::lra::cuda::fail_call(#stmt, cudaGetErrorString(lra_err_), __FILE__, __LINE__); \
  } while (0)

#define LRA_CUBLAS_CHECK(stmt)                                                          \
  do {                                                                                  \
    cublasStatus_t lra_st_ = (stmt);                                                    \
    if (lra_st_ != CUBLAS_STATUS_SUCCESS)                                               \
      ::lra::cuda::fail_call(#stmt, cublasGetStatusString(lra_st_), __FILE__, __LINE__); \
  } while (0)

#define LRA_CUFFT_CHECK(stmt)                                                                   \
  do {                                                                                          \
    cufftResult lra_fr_ = (stmt);                                                               \
    if (lra_fr_ != CUFFT_SUCCESS)                                                               \
      ::lra::cuda::fail_call(#stmt, ::lra::cuda::cufft_error_string(lra_fr_), __FILE__, __LINE__); \
  } while (0)

// A grid-stride loop over [0, n) with 64-bit indices, for any grid size: LRA_GRID_STRIDE(i, n) { ... }
#define LRA_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// After every kernel launch: catches bad launch configurations at the launch site.
#define LRA_KERNEL_CHECK() LRA_CUDA_CHECK(cudaGetLastError())
