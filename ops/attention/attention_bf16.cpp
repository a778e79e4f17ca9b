// Glue for the bfloat16 attention path: checks, allocation, the CUDA call and the autograd record.
// There is no CPU branch: the bf16 path exists for tensor cores, and the CPU reference (float32 /
// float64, ops::attention) is what it is tested against.
#include "ops/attention/attention_bf16.h"

#include <cmath>

#include "ops/common.h"

namespace lra::ops {

namespace {

[[maybe_unused]] const uint16_t* bits(const Tensor& t) { return static_cast<const uint16_t*>(t.raw_data()); }
[[maybe_unused]] uint16_t* bits_mut(const Tensor& t) { return static_cast<uint16_t*>(t.raw_data()); }

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                  const AttentionOptions& o, const Tensor& bias) {
  const Tensor* inputs[] = {&q, &k, &v};
  const char* names[] = {"q", "k", "v"};
  for (int n = 0; n < 3; ++n) {
    LRA_CHECK(inputs[n]->defined(), "attention_bf16: ", names[n], " is an undefined tensor");
    LRA_CHECK(inputs[n]->dtype() == DType::BF16, "attention_bf16: ", names[n], " must be bfloat16, got ",
              inputs[n]->describe(), " (float32 / float64 inputs take ops::attention)");
  }
  check_attention_arguments("attention_bf16", q, k, v, key_mask, o);
  const int64_t H = q.dim(1);
  LRA_CHECK(o.alpha.empty() || H <= kAttentionMaxAlphaHeads, "attention_bf16: LaS α is supported for at most ",
            kAttentionMaxAlphaHeads, " heads, got H = ", H);
  // What the bf16 kernels do not implement: refuse rather than silently drop it.
  LRA_CHECK(o.dropout == 0.0, "attention_bf16: attention dropout is not supported on the bfloat16 path (options.dropout = ",
            o.dropout, "); use float32 inputs for attention dropout");
  LRA_CHECK(!o.band && o.fixed_block == 0, "attention_bf16: the token band and the fixed (Sparse Transformer) ",
            "pattern are not supported on the bfloat16 path (options.band = ", o.band, ", fixed_block = ",
            o.fixed_block, "); use float32 inputs for them");
  LRA_CHECK(!bias.defined(), "attention_bf16: an additive bias is not supported on the bfloat16 path (got bias ",
            bias.describe(), "); use float32 inputs for a bias");
  LRA_CHECK(q.device() == Device::CUDA, "attention_bf16: q is ", q.describe(),
            "; the bfloat16 path runs on CUDA tensor cores only (on the CPU use float32 or float64 with ops::attention)");
}

}  // namespace

Tensor attention_bf16(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                      const AttentionOptions& options, const Tensor& bias) {
  check_inputs(q, k, v, key_mask, options, bias);
  AttentionParams p = attention_params(q, key_mask, options);
  Tensor out = Tensor::empty(q.shape(), DType::BF16, q.device());
  Tensor lse = Tensor::empty({p.B, p.H, p.L}, DType::F32, q.device());  // what the backward recomputes P from
  LRA_ON_CUDA(cuda::attention_bf16_forward(p, bits(q), bits(k), bits(v), bits_mut(out), lse.data<float>()));

  // The backward owns copies of everything the raw pointers in p refer to.
  autograd::record(
      out, "attention_bf16", {q, k, v},
      [p, alpha = options.alpha, mask = key_mask.defined() ? key_mask.detach() : Tensor(), qs = q.detach(),
       ks = k.detach(), vs = v.detach(), os = out.detach(), lse](const Tensor& gout) {
        LRA_CHECK(gout.dtype() == DType::BF16 && gout.device() == qs.device() && gout.shape() == qs.shape(),
                  "attention_bf16: the gradient of the output must be bfloat16 ", qs.shape(), " on ",
                  device_name(qs.device()), ", got ", gout.describe());
        AttentionParams pb = p;
        pb.alpha = alpha.empty() ? nullptr : alpha.data();
        pb.key_mask = mask.defined() ? mask.data<int32_t>() : nullptr;
        Tensor gq = Tensor::empty(qs.shape(), DType::BF16, qs.device());
        Tensor gk = Tensor::empty(qs.shape(), DType::BF16, qs.device());
        Tensor gv = Tensor::empty(qs.shape(), DType::BF16, qs.device());
        // float32 scratch: delta_i = dout_i · out_i, and dq summed over key tiles before it is rounded.
        Tensor delta = Tensor::empty({pb.B, pb.H, pb.L}, DType::F32, qs.device());
        Tensor dq_accum = Tensor::empty(qs.shape(), DType::F32, qs.device());
        LRA_ON_CUDA(cuda::attention_bf16_backward(pb, bits(qs), bits(ks), bits(vs), bits(os), lse.data<float>(),
                                                  bits(gout), delta.data<float>(), dq_accum.data<float>(),
                                                  bits_mut(gq), bits_mut(gk), bits_mut(gv)));
        return std::vector<Tensor>{gq, gk, gv};
      });
  return out;
}

}  // namespace lra::ops
