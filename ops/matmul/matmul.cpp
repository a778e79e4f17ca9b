// Glue for matmul and linear: shape checks, the GEMM plan (which operands fold into rows, which share
// across the batch), device dispatch, and the backward GEMMs with their transposes folded into flags.
#include "ops/matmul/matmul.h"

#include <atomic>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "ops/common.h"

namespace lra::ops {

namespace {

// One GEMM call: c_s = op(a_s) · op(b_s) for s < batch, entries at the given element strides (0 shares
// an operand). Dimensions as in cpu::gemm.
struct Gemm {
  bool trans_a, trans_b;
  int64_t batch, m, n, k;
  int64_t stride_a, stride_b, stride_c;
};

void run_gemm(const char* op, const Gemm& g, const Tensor& a, const Tensor& b, Tensor& c) {
  switch (c.device()) {
    case Device::CPU:
      dispatch_float(c, op, [&](auto t) {
        using T = decltype(t);
        // float32 takes the fast path (cpu::gemm_f32); float64 (gradchecks, the spec) the reference.
        if constexpr (std::is_same_v<T, float>)
          cpu::gemm_f32(g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0f, a.data<float>(), g.stride_a, b.data<float>(),
                        g.stride_b, 0.0f, c.data<float>(), g.stride_c, g.batch);
        else
          cpu::gemm<T>(g.trans_a, g.trans_b, g.m, g.n, g.k, T(1), a.data<T>(), g.stride_a, b.data<T>(), g.stride_b,
                       T(0), c.data<T>(), g.stride_c, g.batch);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0f, a.data<float>(), g.stride_a, b.data<float>(),
                             g.stride_b, 0.0f, c.data<float>(), g.stride_c, g.batch));
      break;
  }
}

// Sums x, viewed as [rows, cols], over its rows into a new tensor of `shape` (cols elements).
Tensor column_sum(const char* op, const Tensor& x, int64_t rows, int64_t cols, const Shape& shape) {
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, op, [&](auto t) {
        using T = decltype(t);
        cpu::column_sum<T>(x.data<T>(), out.data<T>(), rows, cols);
      });
      break;
    case Device::CUDA:
      // The scratch goes back to the caching allocator when the call returns; every kernel runs on
      // one stream, so whatever reuses it next runs after the column sum.
      LRA_ON_CUDA(cuda::column_sum(x.data<float>(), out.data<float>(), rows, cols,
                                   Tensor::empty({cuda::column_sum_scratch(rows, cols)}, DType::F32, Device::CUDA)
                                       .data<float>()));
      break;
  }
  return out;
}

void add_bias(const char* op, Tensor& y, const Tensor& bias, int64_t rows, int64_t cols) {
  switch (y.device()) {
    case Device::CPU:
      dispatch_float(y, op, [&](auto t) {
        using T = decltype(t);
        cpu::add_bias<T>(y.data<T>(), bias.data<T>(), rows, cols);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::add_bias(y.data<float>(), bias.data<float>(), rows, cols));
      break;
  }
}

Shape leading_dims(const Shape& s, int count) {
  Shape lead;
  for (int i = 0; i < count; ++i) lead.push_back(s[i]);
  return lead;
}

}  // namespace

namespace cpu {

namespace {
GemmImpl impl_from_env() {
  const char* v = std::getenv("LRA_CPU_GEMM");
  if (v == nullptr || *v == '\0') return GemmImpl::Fast;
  const std::string s = v;
  if (s == "fast") return GemmImpl::Fast;
  if (s == "openblas") return GemmImpl::OpenBLAS;
  if (s == "reference") return GemmImpl::Reference;
  throw Error(str("LRA_CPU_GEMM=", s, ": expected fast, openblas or reference"));
}
std::atomic<GemmImpl>& selected_impl() {
  static std::atomic<GemmImpl> impl{impl_from_env()};
  return impl;
}
}  // namespace

GemmImpl gemm_f32_impl() { return selected_impl().load(); }
void set_gemm_f32_impl(GemmImpl impl) { selected_impl().store(impl); }
const char* gemm_impl_name(GemmImpl impl) {
  switch (impl) {
    case GemmImpl::Reference: return "reference";
    case GemmImpl::Fast: return "fast";
    case GemmImpl::OpenBLAS: return "openblas";
  }
  return "?";
}

void gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
              int64_t stride_a, const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c,
              int64_t batch) {
  switch (gemm_f32_impl()) {
    case GemmImpl::Fast:
      gemm_fast(trans_a, trans_b, m, n, k, alpha, a, stride_a, b, stride_b, beta, c, stride_c, batch);
      return;
    case GemmImpl::OpenBLAS:
      gemm_openblas(trans_a, trans_b, m, n, k, alpha, a, stride_a, b, stride_b, beta, c, stride_c, batch);
      return;
    case GemmImpl::Reference:
      gemm<float>(trans_a, trans_b, m, n, k, alpha, a, stride_a, b, stride_b, beta, c, stride_c, batch);
      return;
  }
}

}  // namespace cpu

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_float(a, "matmul", "a");
  check_float(b, "matmul", "b");
  check_same(a, b, "matmul", "b");
  const int rank = a.ndim();
  LRA_CHECK(rank >= 2, "matmul: a must have 2 to 5 dims, got ", a.shape());
  const Shape batch_dims = leading_dims(a.shape(), rank - 2);
  const bool shared = b.ndim() == 2;  // one b for every batch entry (also plain 2-D x 2-D)
  LRA_CHECK(shared || leading_dims(b.shape(), b.ndim() - 2) == batch_dims, "matmul: a is ", a.shape(),
            " and b is ", b.shape(), ": b must be 2-D (shared by every batch entry) or have a's batch dims ",
            batch_dims);
  const int64_t M = trans_a ? a.dim(-1) : a.dim(-2), K = trans_a ? a.dim(-2) : a.dim(-1);
  const int64_t Kb = trans_b ? b.dim(-1) : b.dim(-2), N = trans_b ? b.dim(-2) : b.dim(-1);
  LRA_CHECK(K == Kb, "matmul: a is ", a.shape(), " and b is ", b.shape(), ": inner dims ", K, " and ", Kb, " differ",
            trans_a || trans_b ? str(" (trans_a=", trans_a, ", trans_b=", trans_b, ")") : std::string());
  const int64_t batch = batch_dims.numel();

  // With a shared b and a non-transposed a, the batch is just more rows: a is a [batch*M, K] matrix and
  // every GEMM below (forward, da and db) becomes one call over all rows.
  const bool fold = shared && !trans_a;
  const int64_t gb = fold ? 1 : batch, gm = fold ? batch * M : M;
  const int64_t stride_b = shared ? 0 : K * N;

  Shape out_shape = batch_dims;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor c = Tensor::empty(out_shape, a.dtype(), a.device());
  run_gemm("matmul", {trans_a, trans_b, gb, gm, N, K, gm * K, stride_b, gm * N}, a, b, c);

  const bool need_a = autograd::needs_grad({a}), need_b = autograd::needs_grad({b});
  autograd::record(c, "matmul", {a, b}, [=, as = a.detach(), bs = b.detach()](const Tensor& g) {
    Tensor da, db;
    if (need_a) {
      da = Tensor::empty(as.shape(), as.dtype(), as.device());
      if (!trans_a)  // da = g · op(b)ᵀ  [M, K]
        run_gemm("matmul", {false, !trans_b, gb, gm, K, N, gm * N, stride_b, gm * K}, g, bs, da);
      else  // da = (g · op(b)ᵀ)ᵀ = op(b) · gᵀ  [K, M]
        run_gemm("matmul", {trans_b, true, gb, K, M, N, stride_b, M * N, K * M}, bs, g, da);
    }
    if (need_b) {
      // A shared b still left with a batch (transposed a) gets its per-entry gradients in scratch,
      // summed over the batch afterwards. An empty batch (gb == 0) goes that way too: its column sum
      // over no entries is what writes db = 0.
      const bool reduce = shared && gb != 1;
      Tensor dst = Tensor::empty(reduce ? Shape{gb, K * N} : bs.shape(), bs.dtype(), bs.device());
      if (!trans_b)  // db = op(a)ᵀ · g  [K, N]
        run_gemm("matmul", {!trans_a, false, gb, K, N, gm, gm * K, gm * N, K * N}, as, g, dst);
      else  // db = (op(a)ᵀ · g)ᵀ = gᵀ · op(a)  [N, K]
        run_gemm("matmul", {true, trans_a, gb, N, K, gm, gm * N, gm * K, K * N}, g, as, dst);
      db = reduce ? column_sum("matmul", dst, gb, K * N, bs.shape()) : dst;
    }
    return std::vector<Tensor>{da, db};
  });
  return c;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_float(x, "linear", "x");
  check_float(weight, "linear", "weight");
  check_same(x, weight, "linear", "weight");
  LRA_CHECK(x.ndim() >= 1, "linear: x must have at least 1 dim, got ", x.shape());
  LRA_CHECK(weight.ndim() == 2, "linear: weight must be 2-D [out, in], got ", weight.shape());
  const int64_t in = weight.dim(1), out = weight.dim(0);
  LRA_CHECK(x.dim(-1) == in, "linear: weight has shape ", weight.shape(), " but the last dim of x is ", x.dim(-1),
            " (x is ", x.shape(), ")");
  if (bias.defined()) {
    check_float(bias, "linear", "bias");
    check_same(x, bias, "linear", "bias");
    LRA_CHECK(bias.shape() == Shape{out}, "linear: bias has shape ", bias.shape(), " but weight ", weight.shape(),
              " has ", out, " output features");
  }
  const int64_t rows = x.shape().prod(0, x.ndim() - 1);
  Shape y_shape = x.shape();
  y_shape[y_shape.ndim() - 1] = out;
  Tensor y = Tensor::empty(y_shape, x.dtype(), x.device());
  // y = x · Wᵀ over all rows at once: x is [rows, in], W is stored [out, in].
  run_gemm("linear", {false, true, 1, rows, out, in, 0, 0, 0}, x, weight, y);
  if (bias.defined()) add_bias("linear", y, bias, rows, out);

  const bool need_x = autograd::needs_grad({x}), need_w = autograd::needs_grad({weight}),
             need_b = autograd::needs_grad({bias});
  autograd::record(y, "linear", {x, weight, bias},
                   [=, xs = x.detach(), ws = weight.detach()](const Tensor& g) {
                     Tensor dx, dw, db;
                     if (need_x) {  // dx = g · W  [rows, in]
                       dx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
                       run_gemm("linear", {false, false, 1, rows, in, out, 0, 0, 0}, g, ws, dx);
                     }
                     if (need_w) {  // dW = gᵀ · x  [out, in], one GEMM over all rows
                       dw = Tensor::empty(ws.shape(), ws.dtype(), ws.device());
                       run_gemm("linear", {true, false, 1, out, in, rows, 0, 0, 0}, g, xs, dw);
                     }
                     if (need_b) db = column_sum("linear", g, rows, out, Shape{out});
                     return std::vector<Tensor>{dx, dw, db};
                   });
  return y;
}

}  // namespace lra::ops
