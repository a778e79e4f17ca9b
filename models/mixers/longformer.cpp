// longformer: Longformer's sliding-window attention (Beltagy et al. 2020, "Longformer: The
// Long-Document Transformer", arXiv:2004.05150) as the LRA code runs it. Reference:
// google-research/long-range-arena, lra_benchmarks/models/longformer/longformer_attention.py
// (_build_sliding_window_mask, LongformerAttention) and longformer.py (LongformerBlock: Xavier
// kernels, bias=False, broadcast_dropout=False; LongformerEncoder passes no global_mask).
//
//   window w (LRA's sliding_window_size, 512): right = ⌊w/2⌋, left = w − right, and query i attends to
//   key j when  i − (left − 1) <= j <= i + right   (w = 512: 255 keys before i, i itself, 256 after)
//   out = softmax over the allowed keys (and the key mask) of q_i·k_j/√d, then ·V and the projections
//   of masked_attention.h (separate q, k, v, out, Xavier, no biases, attention dropout).
//
// Symmetric (bidirectional) unless `causal` (LRA's causal_mask, off in every config). No global tokens:
// LRA's encoder never passes a global_mask, so its global branch (separate query_global, key_global,
// value_global projections) runs fully masked and its result is discarded by the jnp.where on the
// all-false mask; those parameters exist in LRA but never get a gradient. We do not create them. Not
// even the CLS token is global: with CLS pooling the pooled row sees positions 0..256 of each layer's
// input.
// Cost: O(L·w·d) per head on the CUDA kernels (only key tiles inside the band are visited), where LRA
// computes the dense L×L masked matrix; memory O(L·D).
#include "models/mixers/masked_attention.h"

namespace lra::models {
namespace {

struct LongformerOptions {
  int heads = 8;  // the LRA encoder's default num_heads
  int qkv_dim = 0;
  double attention_dropout = 0.1;
  int window = 512;  // sliding_window_size; no LRA config changes it
  bool causal = false;

  void visit(MixerOptions& o) {
    o.integer("heads", heads, "attention heads H");
    o.integer("qkv_dim", qkv_dim, "attention width Q, a multiple of heads (0: the model width)");
    o.number("attention_dropout", attention_dropout, "dropout on the attention weights (training only)");
    o.integer("window", window, "sliding window w: w - w/2 - 1 keys before, w/2 after, and self");
    o.flag("causal", causal, "causal attention (LRA's causal_mask)");
  }
};

std::shared_ptr<Mixer> make(const MixerConfig& c, const LongformerOptions& o, Generator& init) {
  LRA_CHECK(o.window >= 1, "longformer: window = ", o.window, " must be a positive integer (LRA's mask is empty at 0)");
  const int64_t right = o.window / 2, left = o.window - right;
  ops::AttentionOptions structure;
  structure.causal = o.causal;
  structure.band = true;
  structure.band_left = left - 1;  // left counts i itself
  structure.band_right = right;
  return std::make_shared<MaskedAttention>(c, o.heads, o.qkv_dim, o.attention_dropout, structure, "longformer", init);
}

}  // namespace

LRA_REGISTER_MIXER(longformer, LongformerOptions, "longformer",
                   "sliding-window attention (window 512: 255 keys before, self, 256 after; no global tokens, as LRA)",
                   "O(L w D)", make);

}  // namespace lra::models
