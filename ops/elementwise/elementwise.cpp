// Glue for the unary ops, GLU and casts: checks, allocation, device dispatch, autograd records.
#include "ops/elementwise/elementwise.h"

#include <type_traits>

#include "ops/common.h"

namespace lra::ops {

namespace {
const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Relu: return "relu";
    case UnaryOp::GeluTanh: return "gelu_tanh";
    case UnaryOp::GeluErf: return "gelu";
    case UnaryOp::Silu: return "silu";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Scale: return "scale";
    case UnaryOp::Rsqrt: return "rsqrt";
    case UnaryOp::Elu: return "elu";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Guard: return "guard";
    case UnaryOp::Sin: return "sin";
    case UnaryOp::Cos: return "cos";
    case UnaryOp::Softplus: return "softplus";
    case UnaryOp::Laplace: return "laplace";
  }
  return "unary";
}

// Which tensor the derivative of each op reads (unary_math.h, unary_backward_scalar); ReLU's reads x > 0,
// which y > 0 answers as well.
enum class Reads { X, Y, Nothing };
Reads backward_reads(UnaryOp op) {
  switch (op) {
    case UnaryOp::Relu: return Reads::Y;
    case UnaryOp::Sigmoid: case UnaryOp::Tanh: case UnaryOp::Rsqrt: case UnaryOp::Exp: return Reads::Y;
    case UnaryOp::Scale: case UnaryOp::Guard: return Reads::Nothing;
    case UnaryOp::GeluTanh: case UnaryOp::GeluErf: case UnaryOp::Silu: case UnaryOp::Elu: case UnaryOp::Sin:
    case UnaryOp::Cos: case UnaryOp::Softplus: case UnaryOp::Laplace: return Reads::X;
  }
  return Reads::X;
}

void unary_backward_into(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, Tensor& gx, double alpha) {
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, unary_name(op), [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::unary_backward_fast(op, x.data<T>(), y.data<T>(), gy.data<T>(), gx.data<T>(), x.numel(), T(alpha));
        else
          cpu::unary_backward<T>(op, x.data<T>(), y.data<T>(), gy.data<T>(), gx.data<T>(), x.numel(), T(alpha));
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::unary_backward(op, x.data<float>(), y.data<float>(), gy.data<float>(), gx.data<float>(),
                                       x.numel(), float(alpha)));
      break;
  }
}
}  // namespace

Tensor unary(UnaryOp op, const Tensor& x, double alpha) {
  const char* name = unary_name(op);
  check_float(x, name);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, name, [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::unary_forward_fast(op, x.data<T>(), y.data<T>(), x.numel(), T(alpha));
        else
          cpu::unary_forward<T>(op, x.data<T>(), y.data<T>(), x.numel(), T(alpha));
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::unary_forward(op, x.data<float>(), y.data<float>(), x.numel(), float(alpha)));
      break;
  }
  // The tape keeps only the tensor the op's derivative reads (unary_backward_scalar), handed to the
  // backward in both the x and the y slot: the other slot is not read. ReLU keeps y, as 1[x > 0] =
  // 1[relu(x) > 0] and y is usually kept anyway as the next layer's input, so a ReLU adds nothing to a
  // step's saved memory where it used to add its input.
  Tensor saved;
  switch (backward_reads(op)) {
    case Reads::X: saved = x.detach(); break;
    case Reads::Y: saved = y.detach(); break;
    case Reads::Nothing: break;
  }
  autograd::record(y, name, {x}, [op, alpha, saved](const Tensor& gy) {
    Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
    const Tensor& in = saved.defined() ? saved : gy;  // Nothing: neither slot is read
    unary_backward_into(op, in, in, gy, gx, alpha);
    return std::vector<Tensor>{gx};
  });
  return y;
}

Tensor relu(const Tensor& x) { return unary(UnaryOp::Relu, x); }
Tensor gelu(const Tensor& x, bool tanh_approximation) {
  return unary(tanh_approximation ? UnaryOp::GeluTanh : UnaryOp::GeluErf, x);
}
Tensor silu(const Tensor& x) { return unary(UnaryOp::Silu, x); }
Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::Sigmoid, x); }
Tensor rsqrt(const Tensor& x, double shift) { return unary(UnaryOp::Rsqrt, x, shift); }
Tensor tanh(const Tensor& x) { return unary(UnaryOp::Tanh, x); }
Tensor scale(const Tensor& x, double alpha) { return unary(UnaryOp::Scale, x, alpha); }
Tensor elu(const Tensor& x, double shift) { return unary(UnaryOp::Elu, x, shift); }
Tensor exp_plus(const Tensor& x, double shift) { return unary(UnaryOp::Exp, x, shift); }
Tensor guard(const Tensor& x, double eps) { return unary(UnaryOp::Guard, x, eps); }
Tensor sine(const Tensor& x) { return unary(UnaryOp::Sin, x); }
Tensor cosine(const Tensor& x) { return unary(UnaryOp::Cos, x); }
Tensor softplus(const Tensor& x) { return unary(UnaryOp::Softplus, x); }
Tensor laplace(const Tensor& x) { return unary(UnaryOp::Laplace, x); }

Tensor glu(const Tensor& x, int dim) {
  check_float(x, "glu");
  int d = x.shape().wrap(dim);
  LRA_CHECK(x.dim(d) % 2 == 0, "glu: dim ", dim, " of ", x.describe(), " has odd size ", x.dim(d),
            " and cannot be split into two halves");
  int64_t outer = x.shape().prod(0, d), half = x.dim(d) / 2, inner = x.shape().prod(d + 1, x.ndim());
  Shape ys = x.shape();
  ys[d] = half;
  Tensor y = Tensor::empty(ys, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, "glu", [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::glu_forward_fast(x.data<T>(), y.data<T>(), outer, half, inner);
        else
          cpu::glu_forward<T>(x.data<T>(), y.data<T>(), outer, half, inner);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::glu_forward(x.data<float>(), y.data<float>(), outer, half, inner));
      break;
  }
  autograd::record(y, "glu", {x}, [xs = x.detach(), outer, half, inner](const Tensor& gy) {
    Tensor gx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
    switch (xs.device()) {
      case Device::CPU:
        dispatch_float(xs, "glu", [&](auto t) {
          using T = decltype(t);
          if constexpr (std::is_same_v<T, float>)
            cpu::glu_backward_fast(xs.data<T>(), gy.data<T>(), gx.data<T>(), outer, half, inner);
          else
            cpu::glu_backward<T>(xs.data<T>(), gy.data<T>(), gx.data<T>(), outer, half, inner);
        });
        break;
      case Device::CUDA:
        LRA_ON_CUDA(cuda::glu_backward(xs.data<float>(), gy.data<float>(), gx.data<float>(), outer, half, inner));
        break;
    }
    return std::vector<Tensor>{gx};
  });
  return y;
}

namespace {
// Raw conversion between any two of float32, float64 and bfloat16 (float64 on the CPU only).
Tensor convert(const Tensor& x, DType to) {
  Tensor y = Tensor::empty(x.shape(), to, x.device());
  int64_t n = x.numel();
  if (x.device() == Device::CUDA) {
    LRA_CHECK((x.dtype() == DType::F32 && to == DType::BF16) || (x.dtype() == DType::BF16 && to == DType::F32) ||
                  (x.dtype() == DType::I32 && to == DType::F32),
              "cast: CUDA converts float32 <-> bfloat16 and int32 -> float32 only, not ", x.describe(), " to ",
              dtype_name(to));
    if (x.dtype() == DType::I32)
      LRA_ON_CUDA(cuda::cast_i32_to_f32(x.data<int32_t>(), y.data<float>(), n));
    else if (to == DType::BF16)
      LRA_ON_CUDA(cuda::cast_f32_to_bf16(x.data<float>(), static_cast<uint16_t*>(y.raw_data()), n));
    else
      LRA_ON_CUDA(cuda::cast_bf16_to_f32(static_cast<const uint16_t*>(x.raw_data()), y.data<float>(), n));
    return y;
  }
  auto load = [&](int64_t i) -> double {
    switch (x.dtype()) {
      case DType::F32: return x.data<float>()[i];
      case DType::F64: return x.data<double>()[i];
      case DType::BF16: return x.data<bf16>()[i].to_float();
      case DType::I32: return x.data<int32_t>()[i];
    }
    return 0.0;
  };
  for (int64_t i = 0; i < n; ++i) {
    switch (to) {
      case DType::F32: y.data<float>()[i] = float(load(i)); break;
      case DType::F64: y.data<double>()[i] = load(i); break;
      case DType::BF16: y.data<bf16>()[i] = bf16::from_float(float(load(i))); break;
      default: break;
    }
  }
  return y;
}
}  // namespace

Tensor cast(const Tensor& x, DType dtype) {
  LRA_CHECK(is_floating(dtype), "cast: converts to float types only, not ", x.describe(), " to ", dtype_name(dtype));
  if (x.dtype() == dtype) return x;
  if (x.dtype() == DType::I32) return convert(x, dtype);  // masks and ids: no gradient to carry
  Tensor y = convert(x, dtype);
  DType from = x.dtype();
  autograd::record(y, "cast", {x}, [from](const Tensor& gy) { return std::vector<Tensor>{convert(gy, from)}; });
  return y;
}

}  // namespace lra::ops
