// The scalar math of the unary ops and their derivatives, written once and used by both the CPU
// reference loops and the CUDA kernels (LRA_HD = __host__ __device__ under nvcc).
#pragma once

#include <cmath>

#include "engine/rng.h"  // LRA_HD

namespace lra::ops {

// Rsqrt is 1/sqrt(x + alpha): alpha is the epsilon of a normalisation (BatchNorm's running variance).
// Elu and Exp add alpha to the result: elu(x) + 1 is the Linear Transformer's feature map, exp(x) + eps
// the Performer's positive random features. Guard is x + 2·alpha where |x| <= alpha (x elsewhere), with
// derivative 1: the LRA Performer's guard on its normaliser before taking the reciprocal.
// Sin and Cos build complex state-space parameters from phases (LRU's λ, S5's exp(ΛΔ)); Softplus is
// log(1 + eˣ) (S4's dt transform), computed as max(x, 0) + log1p(e^−|x|) so it never overflows; Laplace is
// MEGA's element-wise attention function ½·(1 + erf((x − μ)/(σ√2))) with μ = √½, σ = √(1/(4π))
// (fairseq/modules/moving_average_gated_attention.py, `laplace`).
enum class UnaryOp : int { Relu, GeluTanh, GeluErf, Silu, Sigmoid, Tanh, Scale, Rsqrt, Elu, Exp, Guard, Sin, Cos,
                           Softplus, Laplace };

// MEGA's laplace constants: μ = √½ and σ = √(1/(4π)), so 1/(σ√2) = √(2π) and the density's factor
// 1/(σ√(2π)) = √2.
constexpr double kLaplaceMu = 0.7071067811865476;
constexpr double kLaplaceInvSigmaSqrt2 = 2.5066282746310002;
constexpr double kLaplaceDensity = 1.4142135623730951;

template <class T>
LRA_HD T sigmoid_of(T x) {
  return T(1) / (T(1) + exp(-x));
}

// y = f(x); alpha is the factor of Scale, the shift of Rsqrt, and unused otherwise.
template <class T>
LRA_HD T unary_forward_scalar(UnaryOp op, T x, T alpha) {
  const T k = T(0.7978845608028654);  // sqrt(2/pi)
  switch (op) {
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::GeluTanh: return T(0.5) * x * (T(1) + tanh(k * (x + T(0.044715) * x * x * x)));
    case UnaryOp::GeluErf: return T(0.5) * x * (T(1) + erf(x * T(0.7071067811865476)));
    case UnaryOp::Silu: return x * sigmoid_of(x);
    case UnaryOp::Sigmoid: return sigmoid_of(x);
    case UnaryOp::Tanh: return tanh(x);
    case UnaryOp::Scale: return alpha * x;
    case UnaryOp::Rsqrt: return T(1) / sqrt(x + alpha);
    case UnaryOp::Elu: return (x > T(0) ? x : exp(x) - T(1)) + alpha;
    case UnaryOp::Exp: return exp(x) + alpha;
    case UnaryOp::Guard: return fabs(x) <= alpha ? x + T(2) * alpha : x;
    case UnaryOp::Sin: return sin(x);
    case UnaryOp::Cos: return cos(x);
    case UnaryOp::Softplus: return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
    case UnaryOp::Laplace: return T(0.5) * (T(1) + erf((x - T(kLaplaceMu)) * T(kLaplaceInvSigmaSqrt2)));
  }
  return T(0);
}

// dL/dx given x, y = f(x) and g = dL/dy.
template <class T>
LRA_HD T unary_backward_scalar(UnaryOp op, T x, T y, T g, T alpha) {
  const T k = T(0.7978845608028654);
  switch (op) {
    case UnaryOp::Relu: return x > T(0) ? g : T(0);
    case UnaryOp::GeluTanh: {
      T t = tanh(k * (x + T(0.044715) * x * x * x));
      return g * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3 * 0.044715) * x * x));
    }
    case UnaryOp::GeluErf: {
      T cdf = T(0.5) * (T(1) + erf(x * T(0.7071067811865476)));
      T pdf = exp(T(-0.5) * x * x) * T(0.3989422804014327);  // 1/sqrt(2 pi)
      return g * (cdf + x * pdf);
    }
    case UnaryOp::Silu: {
      T s = sigmoid_of(x);
      return g * s * (T(1) + x * (T(1) - s));
    }
    case UnaryOp::Sigmoid: return g * y * (T(1) - y);
    case UnaryOp::Tanh: return g * (T(1) - y * y);
    case UnaryOp::Scale: return g * alpha;
    case UnaryOp::Rsqrt: return T(-0.5) * g * y * y * y;  // d/dx (x+a)^(-1/2) = -(x+a)^(-3/2)/2
    case UnaryOp::Elu: return x > T(0) ? g : g * exp(x);
    case UnaryOp::Exp: return g * (y - alpha);  // y - alpha = exp(x)
    case UnaryOp::Guard: return g;              // a step of the value, not of the slope
    case UnaryOp::Sin: return g * cos(x);
    case UnaryOp::Cos: return -g * sin(x);
    case UnaryOp::Softplus: return g * sigmoid_of(x);
    case UnaryOp::Laplace: {
      T d = (x - T(kLaplaceMu)) * T(kLaplaceInvSigmaSqrt2);
      return g * T(kLaplaceDensity) * exp(-d * d);
    }
  }
  return T(0);
}

}  // namespace lra::ops
