// sparse_transformer: the Sparse Transformer (Child et al. 2019, "Generating Long Sequences with Sparse
// Transformers", arXiv:1904.10509) as the LRA code runs it: softmax attention under the union of the
// two "fixed" patterns, shared by every head. Reference: google-research/long-range-arena,
// lra_benchmarks/models/sparse_transformer/sparse_attention.py (build_mask, Fixed1Pattern,
// Fixed2Pattern, SparseAttention with use_cls_token) and sparse_transformer.py (SparseTransformerBlock:
// Xavier kernels, bias=False, broadcast_dropout=False; the encoder sets use_cls_token when
// classifier_pool == 'CLS'); the block sizes come from utils/train_utils.py get_model (50 and c = 10).
//
//   fixed(i, j) = j <= i  and  ( ⌊i/n⌋ = ⌊j/n⌋  or  j mod n = 0  or  j mod n >= n − c )
//     (Fixed1: the causal part of the own block; Fixed2: the causal summary keys, the first and the
//     last c positions of every block)
//   global_first: (i, j) allowed ⟺ i = 0 or j = 0 or fixed(i − 1, j − 1)
//     (LRA builds the mask for L − 1 positions and pads an all-true first row and column: position 0
//     attends to everything and everything attends to it, and the blocks count from position 1)
//   out = softmax over the allowed keys (and the key mask) of q_i·k_j/√d, then ·V and the projections
//   of masked_attention.h (separate q, k, v, out, Xavier, no biases, attention dropout).
//
// global_first is LRA's use_cls_token, which its encoder keys on the pooling *setting*
// (classifier_pool == 'CLS', the default), not on a CLS token being there: with CLS pooling and a CLS
// token (ListOps, Text, Image) the CLS row is the global position; in the Retrieval dual encoder there
// is no CLS token but the encoder's pooling default is still 'CLS', so the first byte is global;
// Pathfinder pools MEAN and gets the plain causal pattern. Our configs set it per task.
// Cost: O(L²·d) per head as in LRA (about half of full attention: every 32-key tile holds summary keys
// at n = 50, c = 10, so only the causal half is skipped), memory O(L·D) (nothing L×L is stored).
#include "models/mixers/masked_attention.h"

namespace lra::models {
namespace {

struct SparseTransformerOptions {
  int heads = 8;  // the LRA encoder's default num_heads
  int qkv_dim = 0;
  double attention_dropout = 0.1;
  int block = 50;  // LRA hard-wires 50 and c = 10 in get_model
  int summary = 10;
  bool global_first = true;  // LRA's default classifier_pool 'CLS' sets use_cls_token

  void visit(MixerOptions& o) {
    o.integer("heads", heads, "attention heads H");
    o.integer("qkv_dim", qkv_dim, "attention width Q, a multiple of heads (0: the model width)");
    o.number("attention_dropout", attention_dropout, "dropout on the attention weights (training only)");
    o.integer("block", block, "block length n of the fixed pattern");
    o.integer("summary", summary, "summary positions c at the end of each block (0..block)");
    o.flag("global_first", global_first,
           "position 0 attends to and is attended by every position, the pattern shifted by one "
           "(LRA's use_cls_token, on with CLS pooling)");
  }
};

std::shared_ptr<Mixer> make(const MixerConfig& c, const SparseTransformerOptions& o, Generator& init) {
  LRA_CHECK(o.block >= 1, "sparse_transformer: block = ", o.block, " must be a positive integer");
  LRA_CHECK(o.summary >= 0 && o.summary <= o.block, "sparse_transformer: summary = ", o.summary,
            " must be in [0, block = ", o.block, "]");
  ops::AttentionOptions structure;
  structure.fixed_block = o.block;
  structure.fixed_summary = o.summary;
  structure.fixed_global_first = o.global_first;
  return std::make_shared<MaskedAttention>(c, o.heads, o.qkv_dim, o.attention_dropout, structure,
                                           "sparse_transformer", init);
}

}  // namespace

LRA_REGISTER_MIXER(sparse_transformer, SparseTransformerOptions, "sparse_transformer",
                   "Sparse Transformer fixed pattern (own block + summary keys, causal; block 50, summary 10; "
                   "global_first: LRA's CLS row/column)",
                   "O(L^2 D)", make);

}  // namespace lra::models
