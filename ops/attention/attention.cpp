// Glue for attention: checks, allocation, device dispatch, the autograd record.
#include "ops/attention/attention.h"
#include "ops/attention/attention_bf16.h"

#include <cmath>

#include "ops/common.h"

namespace lra::ops {

void check_attention_arguments(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& key_mask, const AttentionOptions& o) {
  LRA_CHECK(k.device() == q.device() && v.device() == q.device(), op, ": q, k and v must be on one device, got q ",
            q.describe(), ", k ", k.describe(), ", v ", v.describe());
  LRA_CHECK(q.ndim() == 4, op, ": q must be [B, H, L, D], got ", q.describe());
  LRA_CHECK(k.shape() == q.shape() && v.shape() == q.shape(), op, ": q, k and v must have the same shape [B, H, L, D], got q ",
            q.shape(), ", k ", k.shape(), ", v ", v.shape());
  const int64_t B = q.dim(0), H = q.dim(1), L = q.dim(2);
  if (key_mask.defined()) {
    LRA_CHECK(key_mask.dtype() == DType::I32, op, ": key_mask must be int32, got ", key_mask.describe());
    LRA_CHECK(key_mask.device() == q.device(), op, ": key_mask is on ", device_name(key_mask.device()),
              " but q is on ", device_name(q.device()));
    LRA_CHECK(key_mask.ndim() == 2 && key_mask.dim(0) == B && key_mask.dim(1) == L, op, ": key_mask has shape ",
              key_mask.shape(), " but q ", q.shape(), " needs [", B, ", ", L, "] ([B, L])");
  }
  LRA_CHECK(o.chunk >= 0, op, ": options.chunk must be >= 0 (0 = no chunking), got ", o.chunk);
  LRA_CHECK(o.window >= 0, op, ": options.window must be >= 0, got ", o.window);
  LRA_CHECK(o.window == 0 || o.chunk > 0, op, ": options.window = ", o.window,
            " counts neighbouring blocks and needs options.chunk > 0");
  LRA_CHECK(o.band || (o.band_left == 0 && o.band_right == 0), op, ": options.band_left = ", o.band_left,
            ", band_right = ", o.band_right, " need options.band = true");
  LRA_CHECK(o.band_left >= 0 && o.band_right >= 0, op, ": options.band_left and band_right must be >= 0, got ",
            o.band_left, " and ", o.band_right);
  LRA_CHECK(o.fixed_block >= 0, op, ": options.fixed_block must be >= 0 (0 = no fixed pattern), got ", o.fixed_block);
  LRA_CHECK(o.fixed_block > 0 || (o.fixed_summary == 0 && !o.fixed_global_first), op, ": options.fixed_summary = ",
            o.fixed_summary, " and fixed_global_first = ", o.fixed_global_first, " need options.fixed_block > 0");
  LRA_CHECK(o.fixed_summary >= 0 && o.fixed_summary <= o.fixed_block, op, ": options.fixed_summary = ",
            o.fixed_summary, " must be in [0, fixed_block = ", o.fixed_block, "]");
  LRA_CHECK(o.alpha.empty() || int64_t(o.alpha.size()) == H, op, ": options.alpha has ", o.alpha.size(),
            " values but q has ", H, " heads (give one α per head, or none)");
  for (float a : o.alpha) LRA_CHECK(std::isfinite(a), op, ": options.alpha holds a non-finite value ", a);
  LRA_CHECK(std::isfinite(o.scale), op, ": options.scale must be finite, got ", o.scale);
  LRA_CHECK(o.dropout >= 0.0 && o.dropout < 1.0, op, ": options.dropout must be in [0, 1) (0 = off), got ", o.dropout);
}

namespace {

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                  const AttentionOptions& o, const Tensor& bias) {
  check_float(q, "attention", "q");
  check_float(k, "attention", "k");
  check_float(v, "attention", "v");
  check_same(q, k, "attention", "k");
  check_same(q, v, "attention", "v");
  check_attention_arguments("attention", q, k, v, key_mask, o);
  const int64_t B = q.dim(0), H = q.dim(1), L = q.dim(2);
  if (bias.defined()) {
    check_float(bias, "attention", "bias");
    check_same(q, bias, "attention", "bias");
    bool shared = bias.ndim() == 3 && bias.dim(0) == H && bias.dim(1) == L && bias.dim(2) == L;
    bool per_batch = bias.ndim() == 4 && bias.dim(0) == B && bias.dim(1) == H && bias.dim(2) == L && bias.dim(3) == L;
    LRA_CHECK(shared || per_batch, "attention: bias has shape ", bias.shape(), " but q ", q.shape(), " needs [", H,
              ", ", L, ", ", L, "] or [", B, ", ", H, ", ", L, ", ", L, "]");
  }
}

const int32_t* mask_ptr(const Tensor& mask) { return mask.defined() ? mask.data<int32_t>() : nullptr; }
template <class T>
const T* bias_ptr(const Tensor& bias) {
  return bias.defined() ? bias.data<T>() : nullptr;
}

#if LRA_WITH_CUDA
void check_cuda_limits(const AttentionParams& p) {
  LRA_CHECK(cuda::attention_supports_head_dim(p.D), "attention: the CUDA kernels support head dims 32, 64 and 128, ",
            "got D = ", p.D, " (the CPU reference takes any D)");
  LRA_CHECK(!p.alpha || p.H <= kAttentionMaxAlphaHeads, "attention: the CUDA kernels take LaS α for at most ",
            kAttentionMaxAlphaHeads, " heads, got H = ", p.H);
}
#endif

}  // namespace

void set_attention_dropout(AttentionOptions& o, double p, Generator& gen, int64_t B, int64_t H, int64_t L) {
  LRA_CHECK(p >= 0.0 && p < 1.0, "attention: dropout must be in [0, 1) (0 = off), got ", p);
  LRA_CHECK(B >= 0 && H >= 0 && L >= 0, "attention: set_attention_dropout got a negative size B ", B, ", H ", H,
            ", L ", L);
  if (p == 0.0) return;
  o.dropout = p;
  o.dropout_seed = gen.seed();
  const BatchWindow& w = gen.window();
  LRA_CHECK(!w.active() || B % w.local_rows == 0, "attention: set_attention_dropout got B = ", B,
            " rows, not a multiple of the generator's batch window of ", w.local_rows, " local rows");
  const RowDraw draw = gen.reserve_uniform_rows(B * H * L * L, "attention dropout");
  o.dropout_offset = draw.base;
  o.dropout_first = uint64_t(draw.first);
}

AttentionCpuPath attention_cpu_path(DType dtype, const AttentionParams& p) {
  return dtype == DType::F32 && cpu::attention_fast_supports(p) ? AttentionCpuPath::Fast : AttentionCpuPath::Rows;
}

AttentionParams attention_params(const Tensor& q, const Tensor& key_mask, const AttentionOptions& o) {
  AttentionParams p;
  p.B = q.dim(0);
  p.H = q.dim(1);
  p.L = q.dim(2);
  p.D = q.dim(3);
  p.scale = o.scale != 0 ? o.scale : 1.0 / std::sqrt(double(std::max<int64_t>(p.D, 1)));
  p.causal = o.causal;
  p.chunk = o.chunk;
  p.window = o.window;
  p.band = o.band;
  p.band_left = o.band_left;
  p.band_right = o.band_right;
  p.fixed_block = o.fixed_block;
  p.fixed_summary = o.fixed_summary;
  p.fixed_global_first = o.fixed_global_first;
  p.alpha = o.alpha.empty() ? nullptr : o.alpha.data();
  p.key_mask = mask_ptr(key_mask);
  p.dropout = o.dropout;
  p.dropout_seed = o.dropout_seed;
  p.dropout_offset = o.dropout_offset;
  p.dropout_first = o.dropout_first;
  return p;
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                 const AttentionOptions& options, const Tensor& bias) {
  // bfloat16 goes to the tensor-core kernels (CUDA only; see attention_bf16.h).
  if (q.defined() && q.dtype() == DType::BF16) return attention_bf16(q, k, v, key_mask, options, bias);
  check_inputs(q, k, v, key_mask, options, bias);
  AttentionParams p = attention_params(q, key_mask, options);
  p.bias_batch_stride = bias.defined() && bias.ndim() == 4 ? p.H * p.L * p.L : 0;
  // An empty q (B, H, L or D of 0) has nothing to compute on either device: out, gq, gk, gv are empty and
  // the bias gradient is zeros (as the CPU reference gives). The CUDA kernels are not called, so their
  // head-dim limit does not apply to D = 0.
  const bool empty = q.numel() == 0;

  Tensor out = Tensor::empty(q.shape(), q.dtype(), q.device());
  Tensor lse;  // CUDA and the CPU fast path: the per-row logsumexp the backward recomputes P from
  // The CPU runs float32 on the fast path when it takes the options (no dropout), everything else row by
  // row (attention_cpu_rows.cpp); attention_cpu_path() names the choice for the tests.
  const bool cpu_fast = attention_cpu_path(q.dtype(), p) == AttentionCpuPath::Fast;
  switch (q.device()) {
    case Device::CPU:
      if (cpu_fast) {
        lse = Tensor::empty({p.B, p.H, p.L}, DType::F32, q.device());
        cpu::attention_forward_fast(p, q.data<float>(), k.data<float>(), v.data<float>(), bias_ptr<float>(bias),
                                    out.data<float>(), lse.data<float>());
        break;
      }
      dispatch_float(q, "attention", [&](auto t) {
        using T = decltype(t);
        cpu::attention_forward_rows<T>(p, q.data<T>(), k.data<T>(), v.data<T>(), bias_ptr<T>(bias), out.data<T>());
      });
      break;
    case Device::CUDA:
      if (empty) break;
      LRA_ON_CUDA(check_cuda_limits(p); lse = Tensor::empty({p.B, p.H, p.L}, DType::F32, q.device());
                  cuda::attention_forward(p, q.data<float>(), k.data<float>(), v.data<float>(), bias_ptr<float>(bias),
                                          out.data<float>(), lse.data<float>()));
      break;
  }

  // The backward owns copies of everything the raw pointers in p refer to.
  autograd::record(
      out, "attention", {q, k, v, bias},
      [p, alpha = options.alpha, mask = key_mask.defined() ? key_mask.detach() : Tensor(), qs = q.detach(),
       ks = k.detach(), vs = v.detach(), bs = bias.defined() ? bias.detach() : Tensor(), os = out.detach(),
       lse, empty, cpu_fast, want_gbias = bias.defined() && autograd::needs_grad({bias})](const Tensor& gout) {
        AttentionParams pb = p;
        pb.alpha = alpha.empty() ? nullptr : alpha.data();
        pb.key_mask = mask_ptr(mask);
        Tensor gq = Tensor::empty(qs.shape(), qs.dtype(), qs.device());
        Tensor gk = Tensor::empty(qs.shape(), qs.dtype(), qs.device());
        Tensor gv = Tensor::empty(qs.shape(), qs.dtype(), qs.device());
        // The bias gradient is dS for every (b, h, i, j); a shared [H, L, L] bias sums it over b. The CPU
        // fast path writes it in the bias's own shape (summing over b itself); the others write the full
        // [B, H, L, L], summed below.
        Tensor gfull, gbias;
        if (want_gbias && cpu_fast && qs.device() == Device::CPU) {
          gbias = empty ? Tensor::zeros(bs.shape(), bs.dtype(), bs.device()) : Tensor::empty(bs.shape(), bs.dtype(), bs.device());
        } else if (want_gbias) {
          const Shape full{pb.B, pb.H, pb.L, pb.L};
          gfull = empty ? Tensor::zeros(full, qs.dtype(), qs.device()) : Tensor::empty(full, qs.dtype(), qs.device());
        }
        switch (qs.device()) {
          case Device::CPU:
            if (cpu_fast) {
              cpu::attention_backward_fast(pb, qs.data<float>(), ks.data<float>(), vs.data<float>(),
                                           bias_ptr<float>(bs), os.data<float>(), lse.data<float>(),
                                           gout.data<float>(), gq.data<float>(), gk.data<float>(), gv.data<float>(),
                                           want_gbias ? gbias.data<float>() : nullptr);
              break;
            }
            dispatch_float(qs, "attention", [&](auto t) {
              using T = decltype(t);
              cpu::attention_backward_rows<T>(pb, qs.data<T>(), ks.data<T>(), vs.data<T>(), bias_ptr<T>(bs),
                                              gout.data<T>(), gq.data<T>(), gk.data<T>(), gv.data<T>(),
                                              want_gbias ? gfull.data<T>() : nullptr);
            });
            break;
          case Device::CUDA: {
            if (empty) break;
            Tensor delta = Tensor::empty({pb.B, pb.H, pb.L}, DType::F32, qs.device());
            LRA_ON_CUDA(cuda::attention_backward(pb, qs.data<float>(), ks.data<float>(), vs.data<float>(),
                                                 bias_ptr<float>(bs), os.data<float>(), lse.data<float>(),
                                                 gout.data<float>(), delta.data<float>(), gq.data<float>(),
                                                 gk.data<float>(), gv.data<float>(),
                                                 want_gbias ? gfull.data<float>() : nullptr));
            break;
          }
        }
        if (gbias.defined()) {
          // written by the CPU fast path
        } else if (want_gbias && bs.ndim() == 4) {
          gbias = gfull;
        } else if (want_gbias) {
          gbias = Tensor::empty(bs.shape(), bs.dtype(), bs.device());
          const int64_t n = pb.H * pb.L * pb.L;
          switch (qs.device()) {
            case Device::CPU:
              dispatch_float(qs, "attention", [&](auto t) {
                using T = decltype(t);
                const T* src = gfull.data<T>();
                T* dst = gbias.data<T>();
                for (int64_t e = 0; e < n; ++e) {
                  T acc = 0;
                  for (int64_t b = 0; b < pb.B; ++b) acc += src[b * n + e];
                  dst[e] = acc;
                }
              });
              break;
            case Device::CUDA:
              LRA_ON_CUDA(cuda::sum_over_batch(gfull.data<float>(), gbias.data<float>(), pb.B, n));
              break;
          }
        }
        return std::vector<Tensor>{gq, gk, gv, gbias};
      });
  return out;
}

}  // namespace lra::ops
