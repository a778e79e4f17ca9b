// Glue for LSH hashing and chunked look-one-back attention: checks, allocation, device dispatch and the
// autograd record (lsh.h). Float32 attention on the CPU runs the fast path (lsh_cpu_fast.cpp), float64 the
// reference (lsh_cpu.cpp).
#include "ops/lsh/lsh.h"

#include "ops/common.h"

namespace lra::ops {

namespace {

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

LshShape check_attention(const Tensor& q, const Tensor& k, const Tensor& v, const LshAttentionOptions& o,
                         const Tensor& perm, const Tensor& key_mask) {
  check_float(q, "lsh_chunk_attention", "q");
  check_float(k, "lsh_chunk_attention", "k");
  check_float(v, "lsh_chunk_attention", "v");
  check_same(q, k, "lsh_chunk_attention", "k");
  check_same(q, v, "lsh_chunk_attention", "v");
  LRA_CHECK(q.ndim() == 3 && k.shape() == q.shape() && v.ndim() == 3 && v.dim(0) == q.dim(0) &&
                v.dim(1) == q.dim(1),
            "lsh_chunk_attention: q and k must be [R, N, d] and v [R, N, dv], got q ", q.shape().to_string(),
            ", k ", k.shape().to_string(), ", v ", v.shape().to_string());
  LshShape s;
  s.R = q.dim(0);
  s.N = q.dim(1);
  s.d = q.dim(2);
  s.dv = v.dim(2);
  s.C = o.chunk;
  LRA_CHECK(s.C >= 1 && s.N % s.C == 0, "lsh_chunk_attention: the length N = ", s.N,
            " must be a multiple of the chunk ", s.C, " (>= 1)");
  if (q.device() == Device::CUDA)
    LRA_CHECK(s.d <= cuda::kLshMaxHeadDim && s.dv <= cuda::kLshMaxHeadDim, "lsh_chunk_attention: CUDA takes head ",
              "dims up to ", cuda::kLshMaxHeadDim, ", got d = ", s.d, ", dv = ", s.dv);
  s.scale = o.scale;
  s.self_mask = o.self_mask;
  if (perm.defined()) {
    LRA_CHECK(perm.dtype() == DType::I32 && perm.device() == q.device() && perm.ndim() == 2 && perm.dim(0) == s.R &&
                  perm.dim(1) == s.N,
              "lsh_chunk_attention: perm must be int32 [R, N] = [", s.R, ", ", s.N, "] on the device of q, got ",
              perm.describe());
    LRA_CHECK(o.period >= 1, "lsh_chunk_attention: perm needs a period >= 1, got ", o.period);
    s.period = o.period;
  } else {
    LRA_CHECK(!o.self_mask && !key_mask.defined(), "lsh_chunk_attention: the self mask and the key mask need the ",
              "positions (perm)");
  }
  if (key_mask.defined()) {
    LRA_CHECK(key_mask.dtype() == DType::I32 && key_mask.device() == q.device() && key_mask.ndim() == 2,
              "lsh_chunk_attention: key_mask must be int32 [Bm, Lm] on the device of q, got ", key_mask.describe());
    s.Bm = key_mask.dim(0);
    s.Lm = key_mask.dim(1);
    LRA_CHECK(s.R == 0 || (s.Bm >= 1 && s.R % s.Bm == 0), "lsh_chunk_attention: key_mask has ", s.Bm,
              " rows, which must divide R = ", s.R);
  }
  return s;
}

std::vector<Tensor> attention_backward(const LshShape& s, const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& perm, const Tensor& mask, const Tensor& y, const Tensor& gy) {
  Tensor gq = Tensor::zeros(q.shape(), q.dtype(), q.device());
  Tensor gk = Tensor::zeros(k.shape(), k.dtype(), k.device());
  Tensor gv = Tensor::zeros(v.shape(), v.dtype(), v.device());
  if (s.R * s.N == 0) return {gq, gk, gv};
  switch (q.device()) {
    case Device::CPU:
      if (q.dtype() == DType::F32) {  // the fast path; float64 keeps the reference
        cpu::lsh_attention_backward_fast(s, q.data<float>(), k.data<float>(), v.data<float>(), ptr<int32_t>(perm),
                                         ptr<int32_t>(mask), y.data<float>(), gy.data<float>(), gq.data<float>(),
                                         gk.data<float>(), gv.data<float>());
        break;
      }
      dispatch_float(q, "lsh_chunk_attention", [&](auto t) {
        using T = decltype(t);
        cpu::lsh_attention_backward<T>(s, q.data<T>(), k.data<T>(), v.data<T>(), ptr<int32_t>(perm),
                                       ptr<int32_t>(mask), y.data<T>(), gy.data<T>(), gq.data<T>(), gk.data<T>(),
                                       gv.data<T>());
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA({
        Tensor scratch = Tensor::empty({s.R * s.N}, DType::F32, Device::CUDA);
        cuda::lsh_attention_backward(s, q.data<float>(), k.data<float>(), v.data<float>(), ptr<int32_t>(perm),
                                     ptr<int32_t>(mask), y.data<float>(), gy.data<float>(), gq.data<float>(),
                                     gk.data<float>(), gv.data<float>(), scratch.data<float>());
      });
      break;
  }
  return {gq, gk, gv};
}

}  // namespace

Tensor lsh_buckets(const Tensor& rot, int64_t n_hashes) {
  check_float(rot, "lsh_buckets", "rot");
  LRA_CHECK(rot.ndim() == 3 && n_hashes >= 1 && rot.dim(2) % n_hashes == 0 && rot.dim(2) / n_hashes >= 1,
            "lsh_buckets: rot must be [R, L, n_hashes·n_buckets/2] with n_hashes = ", n_hashes,
            " >= 1 and n_buckets >= 2, got ", rot.describe());
  const int64_t R = rot.dim(0), L = rot.dim(1), h = rot.dim(2) / n_hashes;
  Tensor buckets = Tensor::empty({R, n_hashes * L}, DType::I32, rot.device());
  if (buckets.numel() == 0) return buckets;
  switch (rot.device()) {
    case Device::CPU:
      dispatch_float(rot, "lsh_buckets", [&](auto t) {
        using T = decltype(t);
        cpu::lsh_buckets<T>(rot.data<T>(), buckets.data<int32_t>(), R, L, n_hashes, h);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::lsh_buckets(rot.data<float>(), buckets.data<int32_t>(), R, L, n_hashes, h));
      break;
  }
  return buckets;
}

Tensor lsh_chunk_attention(const Tensor& q, const Tensor& k, const Tensor& v, const LshAttentionOptions& opts,
                           const Tensor& perm, const Tensor& key_mask) {
  const LshShape s = check_attention(q, k, v, opts, perm, key_mask);
  Tensor y = Tensor::empty({s.R, s.N, s.dv + 1}, q.dtype(), q.device());
  if (s.R * s.N > 0) {
    switch (q.device()) {
      case Device::CPU:
        if (q.dtype() == DType::F32) {  // the fast path; float64 keeps the reference
          cpu::lsh_attention_forward_fast(s, q.data<float>(), k.data<float>(), v.data<float>(), ptr<int32_t>(perm),
                                          ptr<int32_t>(key_mask), y.data<float>());
          break;
        }
        dispatch_float(q, "lsh_chunk_attention", [&](auto t) {
          using T = decltype(t);
          cpu::lsh_attention_forward<T>(s, q.data<T>(), k.data<T>(), v.data<T>(), ptr<int32_t>(perm),
                                        ptr<int32_t>(key_mask), y.data<T>());
        });
        break;
      case Device::CUDA:
        LRA_ON_CUDA(cuda::lsh_attention_forward(s, q.data<float>(), k.data<float>(), v.data<float>(),
                                                ptr<int32_t>(perm), ptr<int32_t>(key_mask), y.data<float>()));
        break;
    }
  }
  autograd::record(y, "lsh_chunk_attention", {q, k, v},
                   [s, qs = q.detach(), ks = k.detach(), vs = v.detach(), perm, key_mask, ys = y.detach()](
                       const Tensor& gy) { return attention_backward(s, qs, ks, vs, perm, key_mask, ys, gy); });
  return y;
}

}  // namespace lra::ops
