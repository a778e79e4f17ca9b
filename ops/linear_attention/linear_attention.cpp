// Glue for causal linear attention: checks, allocation, device dispatch, autograd record.
#include "ops/linear_attention/linear_attention.h"

#include "ops/common.h"

namespace lra::ops {

namespace {

struct Dims {
  int64_t N, L, P, R;
};

// out [N, L, R] = prefix_contract(u [N, L, P], w [N, L, R], x [N, L, P]); `like` gives dtype and device.
Tensor run(const Tensor& u, const Tensor& w, const Tensor& x, const Shape& out_shape, Dims d, bool reverse) {
  Tensor out = Tensor::empty(out_shape, u.dtype(), u.device());
  if (out.numel() == 0) return out;
  switch (u.device()) {
    case Device::CPU:
      dispatch_float(u, "causal_linear_attention", [&](auto t) {
        using T = decltype(t);
        cpu::prefix_contract<T>(u.data<T>(), w.data<T>(), x.data<T>(), out.data<T>(), d.N, d.L, d.P, d.R, reverse);
      });
      break;
    case Device::CUDA: {
      Tensor state = Tensor::empty({d.N, d.P, d.R}, u.dtype(), u.device());
      LRA_ON_CUDA(cuda::prefix_contract(u.data<float>(), w.data<float>(), x.data<float>(), out.data<float>(),
                                        state.data<float>(), d.N, d.L, d.P, d.R, reverse));
      break;
    }
  }
  return out;
}

}  // namespace

Tensor causal_linear_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  const char* op = "causal_linear_attention";
  check_float(q, op, "q");
  check_float(k, op, "k");
  check_float(v, op, "v");
  check_same(q, k, op, "k");
  check_same(q, v, op, "v");
  LRA_CHECK(q.ndim() >= 2, op, ": q must be [..., L, P], got ", q.describe());
  LRA_CHECK(k.shape() == q.shape(), op, ": k has shape ", k.shape(), " but q has shape ", q.shape(),
            " (both [..., L, P])");
  bool same_lead = v.ndim() == q.ndim();
  for (int i = 0; same_lead && i + 1 < q.ndim(); ++i) same_lead = v.dim(i) == q.dim(i);
  LRA_CHECK(same_lead, op, ": v has shape ", v.shape(), " but q has shape ", q.shape(),
            ": v must be [..., L, R] with q's leading dims");
  const int64_t L = q.dim(-2), P = q.dim(-1), R = v.dim(-1);
  const Dims d{q.shape().prod(0, q.ndim() - 2), L, P, R};
  const Dims dt{d.N, L, R, P};  // the transposed problem of the dq call: state sum v kᵀ
  Tensor y = run(k, v, q, v.shape(), d, false);
  autograd::record(y, op, {q, k, v}, [qs = q.detach(), ks = k.detach(), vs = v.detach(), d, dt](const Tensor& g) {
    Tensor gq = run(vs, ks, g, qs.shape(), dt, false);
    Tensor gk = run(g, qs, vs, ks.shape(), dt, true);
    Tensor gv = run(qs, g, ks, vs.shape(), d, true);
    return std::vector<Tensor>{gq, gk, gv};
  });
  return y;
}

}  // namespace lra::ops
