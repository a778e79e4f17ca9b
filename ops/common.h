// What every op family's glue uses: dtype dispatch for the CPU reference, argument checks with
// readable messages, and the CUDA branch that becomes a clear error in a CPU-only build.
//
// The pattern of an op (see ops/elementwise/elementwise.cpp for a small complete example):
//   1. check the arguments (shapes, dtypes, devices) and say exactly what is wrong;
//   2. allocate the output;
//   3. switch on the device: the CPU reference (float or double) or the CUDA kernel (float32);
//   4. autograd::record() a hand-written backward that calls the same raw entry points.
#pragma once

#include "engine/autograd.h"
#include "engine/tensor.h"

#if LRA_WITH_CUDA
#define LRA_ON_CUDA(...) __VA_ARGS__
#else
#define LRA_ON_CUDA(...)                                                                          \
  ::lra::fail("this op was called on a CUDA tensor, but the binary was built without the CUDA " \
              "backend (no nvcc at configure time, or -DLRA_CUDA=OFF)")
#endif

namespace lra::ops {

// Calls f(T{}) with T = float or double, the CPU reference's scalar type for t's dtype.
template <class F>
void dispatch_float(const Tensor& t, const char* op, F&& f) {
  switch (t.dtype()) {
    case DType::F32: f(float{}); return;
    case DType::F64: f(double{}); return;
    default: fail(str(op, ": expects a float32 or float64 tensor, got ", t.describe()));
  }
}

inline void check_float(const Tensor& t, const char* op, const char* arg = "input") {
  LRA_CHECK(t.defined(), op, ": ", arg, " is an undefined tensor");
  LRA_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, op, ": ", arg,
            " must be float32 or float64, got ", t.describe());
  LRA_CHECK(t.device() == Device::CPU || t.dtype() == DType::F32, op, ": ", arg,
            " on CUDA must be float32, got ", t.describe());
}

inline void check_same(const Tensor& a, const Tensor& b, const char* op, const char* what_b) {
  LRA_CHECK(a.device() == b.device(), op, ": ", what_b, " is on ", device_name(b.device()), " but the input is on ",
            device_name(a.device()));
  LRA_CHECK(a.dtype() == b.dtype() || !is_floating(b.dtype()), op, ": ", what_b, " is ", b.describe(),
            " but the input is ", a.describe());
}

}  // namespace lra::ops
