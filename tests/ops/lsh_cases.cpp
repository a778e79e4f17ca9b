// Cases for the LSH kernels.
//   lsh_buckets: n_hashes 1..3, n_buckets 2..32, zero rows (ties: bucket 0), an empty batch and length.
//   lsh_chunk_attention: one chunk (the chunk looks back at itself), two and many chunks, chunk 1,
//   head dims 1, 31/32/33, 63/65 and 256 (the CUDA limit: one to eight values per lane), dv ≠ d, dv 0
//   (lse only), q and k the same tensor (the shared-QK use: both gradients land on it), LRA's scale
//   √d and the paper's 1/√d, the self mask and the key mask (through perm with period < N: n_hashes
//   rounds of one sequence), the LRA image layout (N = 1030, 10 chunks) and
//   empty extents. CUDA tolerances: the online softmax and the reordered sums of a 2C-long row differ
//   from the CPU's two-pass loops by a few ulps of the largest term.
#include <cmath>

#include "ops/lsh/lsh.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

// perm [R, N]: each row a permutation of 0..N-1 (positions are perm mod period).
Tensor perm_rows(int64_t R, int64_t N, Generator& gen) {
  Tensor t = Tensor::empty({R, N}, DType::I32);
  for (int64_t r = 0; r < R; ++r) {
    std::vector<int64_t> p = gen.permutation(N);
    for (int64_t i = 0; i < N; ++i) t.data<int32_t>()[r * N + i] = int32_t(p[size_t(i)]);
  }
  return t;
}

std::vector<OpCase> lsh_cases(Generator& gen) {
  std::vector<OpCase> cases;
  struct Hash {
    int64_t R, L, n_hashes, n_buckets;
    bool zeros;
  };
  for (const Hash& h : std::vector<Hash>{{1, 1, 1, 2, false},
                                         {3, 13, 1, 10, false},
                                         {2, 17, 2, 4, false},
                                         {4, 33, 3, 8, true},
                                         {2, 257, 2, 32, false},
                                         {0, 5, 1, 4, false},
                                         {2, 0, 2, 6, false}}) {
    OpCase c;
    c.name = "lsh_buckets R " + std::to_string(h.R) + " L " + std::to_string(h.L) + " hashes " +
             std::to_string(h.n_hashes) + " buckets " + std::to_string(h.n_buckets) + (h.zeros ? " zero rows" : "");
    Tensor rot = random_input({h.R, h.L, h.n_hashes * h.n_buckets / 2}, gen);
    if (h.zeros && h.R > 0)
      for (int64_t i = 0; i < h.L * h.n_hashes * h.n_buckets / 2; ++i) rot.data<double>()[i] = 0.0;  // row 0: bucket 0
    c.inputs = {rot};
    const int64_t nh = h.n_hashes;
    c.fn = [nh](const std::vector<Tensor>& in) { return ops::lsh_buckets(in[0], nh); };
    c.gradcheck = false;
    c.rtol = c.atol = 0;
    c.out_shape = Shape{h.R, h.n_hashes * h.L};
    cases.push_back(c);
  }

  struct Attn {
    int64_t R, N, C, d, dv;
    bool tied, self_mask, key_mask;
    int64_t period;  // 0: no perm
    bool lra_scale;
  };
  const std::vector<Attn> setups = {
      {1, 1, 1, 1, 1, false, false, false, 0, true},      // one row, one chunk
      {2, 5, 5, 3, 4, false, false, false, 0, true},      // one chunk: it looks back at itself
      {2, 6, 3, 4, 4, true, false, false, 0, true},       // two chunks, shared qk
      {3, 14, 2, 5, 3, true, true, false, 7, false},      // self mask, 2 rounds of 7 positions
      {2, 21, 3, 31, 33, false, true, true, 7, true},     // key mask (3 rounds of 7), tile edges
      {2, 12, 4, 32, 32, true, true, true, 12, false},
      {1, 10, 5, 63, 65, false, false, false, 0, false},
      {1, 8, 2, 256, 256, true, true, false, 4, false},   // the CUDA head-dim limit
      {2, 9, 3, 6, 0, false, false, false, 0, true},      // dv 0: lse only
      {1, 1030, 103, 8, 8, true, false, false, 0, true},  // LRA image: 10 chunks of 103, head dim 8
      {1, 1030, 103, 8, 8, true, true, true, 515, false},
      // Empty extents.
      {0, 6, 3, 4, 4, false, false, false, 0, true},
      {2, 0, 3, 4, 4, false, false, false, 0, true},
      {2, 6, 2, 0, 3, false, false, false, 0, true},
  };
  for (const Attn& a : setups) {
    OpCase c;
    c.name = "lsh_chunk_attention R " + std::to_string(a.R) + " N " + std::to_string(a.N) + " C " +
             std::to_string(a.C) + " d " + std::to_string(a.d) + " dv " + std::to_string(a.dv) +
             (a.tied ? " shared qk" : "") + (a.self_mask ? " self mask" : "") + (a.key_mask ? " key mask" : "") +
             (a.lra_scale ? " scale sqrt d" : " scale 1/sqrt d");
    ops::LshAttentionOptions o;
    o.chunk = a.C;
    o.scale = a.d == 0 ? 1.0 : a.lra_scale ? std::sqrt(double(a.d)) : 1.0 / std::sqrt(double(a.d));
    o.self_mask = a.self_mask;
    o.period = a.period;
    // Scaled so that √d-scaled scores stay a few units wide (a softmax that is not one-hot).
    const double amp = a.lra_scale && a.d > 0 ? 1.0 / std::sqrt(double(a.d)) : 1.0;
    c.inputs = {random_input({a.R, a.N, a.d}, gen, -amp, amp), random_input({a.R, a.N, a.d}, gen, -amp, amp),
                random_input({a.R, a.N, a.dv}, gen)};
    c.differentiable = {true, !a.tied, true};
    bool with_perm = a.period > 0;
    if (with_perm) {
      Tensor perm = perm_rows(a.R, a.N, gen);
      c.inputs.push_back(perm);
      c.differentiable.push_back(false);
      // Positions run over 0..period-1; the mask is [R, period - 1]: the last position is always a
      // pad key (beyond the mask). No row is fully masked: its lse would be about −1e9, whose float64
      // rounding (1e-7) swamps a central difference of step 1e-6.
      Tensor mask = a.key_mask ? padding_mask(a.R, a.period - 1, gen) : Tensor();
      c.inputs.push_back(mask.defined() ? mask : Tensor::empty({0}, DType::I32));
      c.differentiable.push_back(false);
    }
    const bool tied = a.tied, key_mask = a.key_mask;
    c.fn = [o, tied, with_perm, key_mask](const std::vector<Tensor>& in) {
      const Tensor& k = tied ? in[0] : in[1];
      if (!with_perm) return ops::lsh_chunk_attention(in[0], k, in[2], o);
      return ops::lsh_chunk_attention(in[0], k, in[2], o, in[3], key_mask ? in[4] : Tensor());
    };
    c.out_shape = Shape{a.R, a.N, a.dv + 1};
    c.rtol = 1e-4;
    c.atol = 1e-5 * double(a.C);  // sums over 2C terms in another order (online vs two-pass softmax)
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(lsh, lsh_cases);
}  // namespace lra::test
