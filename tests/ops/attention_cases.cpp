// Cases for attention: full, causal, key padding (with a fully masked batch row), chunked with a
// last block shorter than the rest, block-local windows, LaS decay per head, additive bias (shared
// and per batch), an explicit scale, head dims 32, 64 and 128, and attention dropout combined with
// those variants. A dropout case fixes (p, seed, offset) in its options, so every call (the gradcheck
// probes, the CPU and the CUDA runs) applies the same mask: the op is then a fixed smooth function and
// the gradcheck and the CUDA parity are exact checks of the masked forward and backward.
//
// The token band (Longformer) and the fixed pattern (Sparse Transformer) are on odd shapes: L prime,
// a band wider than L, a band of 0 (self only), one-sided bands, blocks that do not divide L, blocks
// of 31/33 and 63/65 around the CUDA tiles of 32 and 64, block 1 and c = n (both degenerate to causal),
// the global first position with and without a key mask, combined with causal / chunk / dropout.
//
// Every case here runs through the float64 gradcheck, so L·D stays small (each case < 0.3 s); the
// longer sequences (L up to 130 with D = 128, and one realistic LRA shape) are checked CUDA-vs-CPU in
// attention_test_cuda.cpp, and head dims the CUDA kernels do not compile (D = 8) in
// attention_test_properties.cpp.
#include "ops/attention/attention.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

enum class Mask { None, Random, LastBatchFullyMasked };
enum class Bias { None, Shared, PerBatch };

struct Spec {
  std::string what;
  Shape shape;  // [B, H, L, D]
  ops::AttentionOptions options;
  Mask mask = Mask::None;
  Bias bias = Bias::None;
};

OpCase make_case(const Spec& s, Generator& gen) {
  const int64_t B = s.shape[0], H = s.shape[1], L = s.shape[2];
  OpCase c;
  c.name = s.what + " " + s.shape.to_string();
  // q and k in [-2, 2] give logits of order 1 after the 1/sqrt(D) scale: a softmax far from uniform.
  c.inputs = {random_input(s.shape, gen, -2, 2), random_input(s.shape, gen, -2, 2), random_input(s.shape, gen)};
  bool has_mask = s.mask != Mask::None;
  if (has_mask) c.inputs.push_back(padding_mask(B, L, gen, s.mask == Mask::LastBatchFullyMasked ? B - 1 : -1));
  if (s.bias == Bias::Shared) c.inputs.push_back(random_input({H, L, L}, gen));
  if (s.bias == Bias::PerBatch) c.inputs.push_back(random_input({B, H, L, L}, gen));
  bool has_bias = s.bias != Bias::None;
  ops::AttentionOptions o = s.options;
  c.fn = [o, has_mask, has_bias](const std::vector<Tensor>& in) {
    Tensor mask = has_mask ? in[3] : Tensor();
    Tensor bias = has_bias ? in[has_mask ? 4 : 3] : Tensor();
    return ops::attention(in[0], in[1], in[2], mask, o, bias);
  };
  // CUDA vs CPU in float32: the GPU sums the D products of q·k and the L terms of P·V, dS·K, ... in a
  // different order (tile by tile, with the online-softmax rescaling), and gradients of order L can
  // cancel to small values; 1e-3 relative / 1e-4 absolute covers that rounding with margin.
  c.rtol = 1e-3;
  c.atol = 1e-4;
  c.out_shape = s.shape;
  return c;
}

ops::AttentionOptions opts(bool causal, int64_t chunk = 0, int window = 0, std::vector<float> alpha = {},
                           double scale = 0) {
  ops::AttentionOptions o;
  o.causal = causal;
  o.chunk = chunk;
  o.window = window;
  o.alpha = std::move(alpha);
  o.scale = scale;
  return o;
}

// o with dropout p on a fixed mask stream; the seed and offset use the high words, so the 64-bit
// counter arithmetic is exercised too.
ops::AttentionOptions dropped(ops::AttentionOptions o, double p, uint64_t offset = (uint64_t(1) << 33) + 5) {
  o.dropout = p;
  o.dropout_seed = 0x9E3779B97F4A7C15ull;
  o.dropout_offset = offset;
  return o;
}

// A token band i − left <= j <= i + right, on top of o.
ops::AttentionOptions band(int64_t left, int64_t right, ops::AttentionOptions o = {}) {
  o.band = true;
  o.band_left = left;
  o.band_right = right;
  return o;
}

// The Sparse Transformer fixed pattern, blocks of n with c summary positions, on top of o.
ops::AttentionOptions fixed(int64_t n, int64_t c, bool global_first, ops::AttentionOptions o = {}) {
  o.fixed_block = n;
  o.fixed_summary = c;
  o.fixed_global_first = global_first;
  return o;
}

std::vector<OpCase> attention_cases(Generator& gen) {
  const std::vector<float> las3 = {0.0f, 0.05f, 0.6f};  // α_0 = 0, then exponentially spaced
  const std::vector<Spec> specs = {
      {"full L=1", {1, 1, 1, 32}, opts(false)},
      {"full", {2, 3, 7, 32}, opts(false)},
      {"full", {1, 1, 33, 32}, opts(false)},
      {"causal", {1, 3, 33, 32}, opts(true)},
      {"causal L=1", {2, 1, 1, 32}, opts(true)},
      {"full key mask, batch 1 fully masked", {2, 1, 33, 32}, opts(false), Mask::LastBatchFullyMasked},
      {"causal key mask", {2, 3, 17, 32}, opts(true), Mask::Random},
      {"chunk 16", {1, 2, 65, 32}, opts(false, 16)},
      {"chunk 16 causal", {1, 1, 65, 32}, opts(true, 16)},
      {"chunk 16 window 1", {1, 1, 65, 32}, opts(false, 16, 1)},
      {"chunk 16 window 1 causal, key mask", {2, 1, 50, 32}, opts(true, 16, 1), Mask::LastBatchFullyMasked},
      {"chunk 50", {1, 1, 130, 32}, opts(false, 50)},
      {"chunk 7 window 2 (tile of 32 spans blocks)", {1, 1, 70, 32}, opts(false, 7, 2)},
      {"LaS causal", {1, 3, 33, 32}, opts(true, 0, 0, las3)},
      {"LaS bidirectional", {1, 3, 20, 32}, opts(false, 0, 0, las3)},
      {"LaS-chunk 16 causal, key mask", {2, 3, 40, 32}, opts(true, 16, 0, las3), Mask::Random},
      {"bias [H, L, L]", {2, 3, 7, 32}, opts(false), Mask::None, Bias::Shared},
      {"bias [B, H, L, L], key mask", {2, 2, 9, 32}, opts(false), Mask::LastBatchFullyMasked, Bias::PerBatch},
      {"bias, LaS, causal", {1, 3, 12, 32}, opts(true, 0, 0, las3), Mask::None, Bias::Shared},
      {"scale 0.3", {1, 2, 11, 32}, opts(false, 0, 0, {}, 0.3)},
      {"D=64 causal", {1, 1, 64, 64}, opts(true)},
      {"D=128", {1, 1, 20, 128}, opts(false)},
      {"D=128 chunk 16 key mask", {2, 1, 33, 128}, opts(false, 16), Mask::Random},
      {"dropout 0.3", {2, 3, 7, 32}, dropped(opts(false), 0.3)},
      {"dropout 0.5 causal key mask, batch 1 fully masked", {2, 2, 33, 32}, dropped(opts(true), 0.5, 0),
       Mask::LastBatchFullyMasked},
      {"dropout 0.2 LaS-chunk 16 causal, key mask", {2, 3, 40, 32}, dropped(opts(true, 16, 0, las3), 0.2),
       Mask::Random},
      {"dropout 0.1 bias [B, H, L, L], key mask", {2, 2, 9, 32}, dropped(opts(false), 0.1), Mask::Random,
       Bias::PerBatch},
      {"dropout 0.3 chunk 7 window 2", {1, 1, 70, 32}, dropped(opts(false, 7, 2), 0.3)},
      {"dropout 0.4 D=64 causal", {1, 1, 64, 64}, dropped(opts(true), 0.4)},
      {"band 2/3, L prime", {1, 2, 37, 32}, band(2, 3)},
      {"band 0/0 (self only)", {2, 1, 13, 32}, band(0, 0)},
      {"band wider than L", {1, 1, 11, 32}, band(40, 100)},
      {"band L-1/L-1 (full)", {1, 1, 11, 32}, band(10, 10)},
      {"band 5/0, key mask, batch 1 fully masked", {2, 1, 29, 32}, band(5, 0), Mask::LastBatchFullyMasked},
      {"band 0/4, causal (self only)", {1, 1, 9, 32}, band(0, 4, opts(true))},
      {"band 31/33 (tile ±1), L prime", {1, 1, 97, 32}, band(31, 33)},
      {"band 3/3 chunk 8", {1, 2, 41, 32}, band(3, 3, opts(false, 8))},
      {"band 255/256 (LRA's window) L 67", {1, 1, 67, 32}, band(255, 256)},
      {"band 4/6 D=64, key mask", {2, 1, 19, 64}, band(4, 6), Mask::Random},
      {"fixed 5/2, L prime", {1, 2, 23, 32}, fixed(5, 2, false)},
      {"fixed 5/2 global first, key mask", {2, 1, 23, 32}, fixed(5, 2, true), Mask::Random},
      {"fixed 5/2 global first, batch 1 fully masked", {2, 1, 12, 32}, fixed(5, 2, true), Mask::LastBatchFullyMasked},
      {"fixed 50/10 global first (LRA)", {1, 1, 101, 32}, fixed(50, 10, true)},
      {"fixed 31/10 (tile - 1)", {1, 1, 67, 32}, fixed(31, 10, false)},
      {"fixed 33/0 global first (tile + 1)", {1, 1, 70, 32}, fixed(33, 0, true)},
      {"fixed 63/5 (tile - 1)", {1, 1, 130, 32}, fixed(63, 5, false)},
      {"fixed 65/7 global first (tile + 1)", {1, 1, 131, 32}, fixed(65, 7, true)},
      {"fixed 1/0 (= causal)", {1, 1, 9, 32}, fixed(1, 0, false)},
      {"fixed 4/4 (c = n: causal)", {1, 1, 11, 32}, fixed(4, 4, true)},
      {"fixed 3/1 global first, block longer than L = 2", {1, 1, 2, 32}, fixed(3, 1, true)},
      {"fixed 6/2 global first, chunk 8 window 1", {1, 1, 29, 32}, fixed(6, 2, true, opts(false, 8, 1))},
      {"fixed 5/2 global first L=1", {2, 1, 1, 32}, fixed(5, 2, true)},
      {"dropout 0.3 band 3/2", {2, 2, 23, 32}, dropped(band(3, 2), 0.3)},
      {"dropout 0.2 fixed 7/2 global first, key mask", {2, 2, 31, 32}, dropped(fixed(7, 2, true), 0.2),
       Mask::Random},
      {"bias [H, L, L] band 2/1 fixed 4/1", {1, 2, 13, 32}, fixed(4, 1, false, band(2, 1)), Mask::None, Bias::Shared},
      // Empty extents: out and the q, k, v gradients are empty; a bias still gets its (zero) gradient,
      // summed over no batch entries for a shared one. D = 0 skips the CUDA kernels' head-dim limit.
      {"empty batch, key mask, bias [H, L, L]", {0, 2, 7, 32}, opts(false), Mask::Random, Bias::Shared},
      {"no heads, causal", {2, 0, 5, 32}, opts(true)},
      {"empty length, key mask", {2, 1, 0, 32}, opts(false, 16), Mask::Random},
      {"D=0, key mask, bias [B, H, L, L]", {2, 2, 5, 0}, opts(false), Mask::Random, Bias::PerBatch},
      {"dropout 0.3 empty batch", {0, 3, 7, 32}, dropped(opts(true), 0.3)},
      {"band 2/2 empty length, key mask", {2, 1, 0, 32}, band(2, 2), Mask::Random},
      {"fixed 5/1 global first, empty batch", {0, 1, 7, 32}, fixed(5, 1, true)},
  };
  std::vector<OpCase> cases;
  for (const Spec& s : specs) cases.push_back(make_case(s, gen));
  return cases;
}

}  // namespace
LRA_OP_CASES(attention, attention_cases);
}  // namespace lra::test
