// Performer (Choromanski et al. 2021, "Rethinking Attention with Performers"), as the LRA code builds
// it: google-research/long-range-arena, lra_benchmarks/models/performer/performer_attention.py
// (FastAttentionviaLowRankDecomposition, make_fast_generalized_attention, make_fast_softmax_attention,
// GaussianOrthogonalRandomMatrix) inside performer.py (PerformerBlock, flax SelfAttention with the
// fast attention as attention_fn).
//
//   y_t = φ(q_t)ᵀ (sum_j φ(k_j) v_jᵀ) / guard(φ(q_t) · sum_j φ(k_j))      per head, head dim d
//   guard(R) = R + 2s where |R| <= s, else R                               (LRA's numerical_stabilizer s)
//
// Two feature maps, as LRA's two attention functions (kernel = relu | softmax):
//   relu (LRA's default, 'generalized': every task config but ListOps):
//     φ(x) = relu(x) + relu_eps                (features = none, LRA's 'deterministic': m = d, no matrix)
//     φ(x) = relu(x Wᵀ) + relu_eps             (features = ortho | iid: W [m, d] random, m = nb_features)
//     relu_eps = 0.001 (kernel_epsilon), s = 0 (numerical_stabilizer), data not rescaled.
//   softmax (FAVOR+, positive features; LRA's ListOps config: nb_features = 2, ortho_scaling = 0):
//     x̂ = x / d^(1/4),  z = x̂ Wᵀ [.., L, m],  h = |x̂|²/2
//     φ(q) = (exp(z − h − max_m z) + s) / sqrt(m)          the max over the features of each query
//     φ(k) = (exp(z − h − max_{L,m} z) + s) / sqrt(m)      the max over all keys and features of a head
//     s = softmax_eps = 1e-6, used both inside φ and in the guard. E[φ(q)·φ(k)] ∝ exp(q·k/sqrt(d)).
//     (The maxima cancel between numerator and normaliser up to s; gradients flow through them as
//     through jnp.max.)
// W (LRA's GaussianOrthogonalRandomMatrix): floor(m/d) blocks of d orthonormal rows, each the
// orthonormalised rows of a d×d standard Gaussian block (LRA: Q of a QR factorisation; here modified
// Gram-Schmidt in double, which fixes the signs so each block is Haar-distributed), plus the first
// m mod d rows of one more block; row i is then scaled by the norm of a fresh Gaussian d-vector
// (ortho_scaling = 0: the rows get the lengths of Gaussian rows) or by sqrt(d) (ortho_scaling = 1).
// features = iid: W is a plain Gaussian [m, d]. W is shared by all heads and the batch, one per layer.
//
// Redraw (redraw = auto | yes | no; auto = LRA: yes for softmax, no for relu): LRA redraws W at every
// call, seeded by ceil(1e7 · sum(q)), in training and evaluation alike; otherwise W is drawn once
// (PRNGKey(0), the same matrix in every layer). Here W is drawn at construction from the init
// generator (a different matrix per layer), and with redraw on, again at every training-mode forward
// from the forward's generator (the dropout stream; no data-dependent seed, which would need a host
// sync); evaluation uses the last matrix drawn. W is the module buffer "projection", so checkpoints and
// the parity dump carry the matrix in use. A redraw is a host draw of m·d normals and one copy of
// [m, d] to the device per layer.
//
// Padding: the fast attention function ignores the attention bias flax passes it, so LRA's Performer
// attends to padded keys; mask_keys = false (default) reproduces that, mask_keys = true zeroes the
// padded keys' features. No attention dropout (LRA's fast attention discards dropout_rate). q, k, v come
// from three Xavier-uniform DenseGeneral(D -> (H, d)) layers without bias, the output likewise
// (PerformerBlock passes bias=False); no 1/sqrt(d) on q (flax applies it in its own dot_product_attention
// only). causal = true uses LRA's unidirectional form, prefix sums over j <= t (ops/linear_attention).
//
// Cost per head, L positions, feature count m: features 2·L·d·m FLOPs for q and k (none for relu without
// a matrix), then 4·L·m·d (non-causal) or 4·L·m·(d + 1) (causal); memory O(L·(m + d)): linear in L.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "models/mixer.h"
#include "models/mixers/kernel_attention.h"

namespace lra::models {
namespace {

struct PerformerOptions {
  int heads = 4;
  int qkv_dim = 0;  // 0: the model width
  bool causal = false;
  std::string kernel = "relu";
  std::string features = "auto";
  int nb_features = 256;
  int ortho_scaling = 0;
  std::string redraw = "auto";
  double relu_eps = 0.001;
  double softmax_eps = 1e-6;
  bool mask_keys = false;

  void visit(MixerOptions& o) {
    o.integer("heads", heads, "attention heads H");
    o.integer("qkv_dim", qkv_dim, "attention width Q, a multiple of heads (0: the model width)");
    o.flag("causal", causal, "unidirectional attention (prefix sums)");
    o.choice("kernel", kernel, {"relu", "softmax"},
             "relu: LRA's generalized attention (its default); softmax: FAVOR+ positive random features");
    o.choice("features", features, {"auto", "none", "ortho", "iid"},
             "projection W: auto = none for relu (LRA's deterministic), ortho for softmax");
    o.integer("nb_features", nb_features, "random features m (LRA: 256; its ListOps config: 2)");
    o.integer("ortho_scaling", ortho_scaling, "row norms of W: 0 = Gaussian row lengths, 1 = sqrt(head dim)");
    o.choice("redraw", redraw, {"auto", "yes", "no"},
             "a new W at every training forward: auto = LRA (yes for softmax, no for relu)");
    o.number("relu_eps", relu_eps, "added to the relu features (LRA kernel_epsilon 0.001)");
    o.number("softmax_eps", softmax_eps, "softmax features' and normaliser's stabiliser (LRA 1e-6)");
    o.flag("mask_keys", mask_keys, "zero the features of padded keys (LRA does not mask them)");
  }
};

// W [m, d] as the file header describes (LRA's GaussianOrthogonalRandomMatrix or
// GaussianUnstructuredRandomMatrix), row-major, drawn on the host in double from `gen`.
std::vector<double> draw_projection(int64_t m, int64_t d, bool ortho, int scaling, Generator& gen) {
  auto normals = [&](int64_t n) {
    std::vector<double> g(static_cast<size_t>(n));
    const uint64_t base = gen.reserve(normal_counters(n));
    for (int64_t i = 0; i < n; ++i) g[size_t(i)] = philox_normal(gen.seed(), base, i);
    return g;
  };
  if (!ortho) return normals(m * d);
  std::vector<double> W(size_t(m * d));
  for (int64_t r0 = 0; r0 < m; r0 += d) {
    std::vector<double> G = normals(d * d);  // d Gaussian rows, orthonormalised in order
    for (int64_t i = 0; i < d; ++i) {
      double* gi = &G[size_t(i * d)];
      for (int pass = 0; pass < 2; ++pass)  // modified Gram-Schmidt, twice for orthogonality to rounding
        for (int64_t j = 0; j < i; ++j) {
          const double* gj = &G[size_t(j * d)];
          double dot = 0;
          for (int64_t c = 0; c < d; ++c) dot += gi[c] * gj[c];
          for (int64_t c = 0; c < d; ++c) gi[c] -= dot * gj[c];
        }
      double norm = 0;
      for (int64_t c = 0; c < d; ++c) norm += gi[c] * gi[c];
      norm = std::sqrt(norm);
      for (int64_t c = 0; c < d; ++c) gi[c] /= norm;
    }
    const int64_t rows = std::min(d, m - r0);
    std::copy(G.begin(), G.begin() + rows * d, W.begin() + r0 * d);
  }
  std::vector<double> length(size_t(m), std::sqrt(double(d)));
  if (scaling == 0) {
    std::vector<double> g = normals(m * d);
    for (int64_t i = 0; i < m; ++i) {
      double s = 0;
      for (int64_t c = 0; c < d; ++c) s += g[size_t(i * d + c)] * g[size_t(i * d + c)];
      length[size_t(i)] = std::sqrt(s);
    }
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < d; ++c) W[size_t(i * d + c)] *= length[size_t(i)];
  return W;
}

class PerformerMixer : public Mixer {
 public:
  PerformerMixer(const MixerConfig& c, const PerformerOptions& o, Generator& init) : o_(o), D_(c.width) {
    softmax_ = o.kernel == "softmax";
    const std::string features = o.features == "auto" ? (softmax_ ? "ortho" : "none") : o.features;
    LRA_CHECK(!softmax_ || features != "none", "performer: kernel = softmax needs random features (features = ",
              "ortho or iid), got features = none");
    LRA_CHECK(features == "none" || o.nb_features >= 1, "performer: nb_features = ", o.nb_features,
              " must be >= 1");
    LRA_CHECK(o.ortho_scaling == 0 || o.ortho_scaling == 1, "performer: ortho_scaling = ", o.ortho_scaling,
              " must be 0 (Gaussian row lengths) or 1 (sqrt of the head dim)");
    LRA_CHECK(o.relu_eps >= 0 && o.softmax_eps >= 0, "performer: relu_eps and softmax_eps must be >= 0");
    p_ = make_head_projections(c.width, o.heads, o.qkv_dim, init, "performer");
    register_module("query", p_.query);
    register_module("key", p_.key);
    register_module("value", p_.value);
    register_module("out", p_.out);
    ortho_ = features == "ortho";
    if (features != "none") {
      m_ = o.nb_features;
      d_ = p_.Q / p_.H;
      projection_ = register_buffer("projection", draw(init, DType::F32));
      current_ = projection_;
      redraw_ = o.redraw == "auto" ? softmax_ : o.redraw == "yes";
    }
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) override {
    LRA_CHECK(x.ndim() == 3 && x.dim(2) == D_, "performer: x must be [B, L, ", D_, "], got ", x.describe());
    if (!projection_.defined()) {
      // nothing to draw
    } else if (redraw_ && training()) {
      // A fresh tensor, not an in-place overwrite: a graph still holding the previous matrix (the other
      // tower of a dual model) keeps it. The buffer gets a copy, for evaluation and checkpoints.
      current_ = draw(gen, projection_.dtype()).to(projection_.device());
      projection_.copy_from(current_);
    } else {
      current_ = projection_;
    }
    Tensor fq = feature_map(p_.heads(p_.query->forward(x)), true);  // [B, H, L, m]
    Tensor fk = feature_map(p_.heads(p_.key->forward(x)), false);
    Tensor v = p_.heads(p_.value->forward(x));
    if (o_.mask_keys) fk = mask_key_features(fk, key_mask);
    KernelAttention a = kernel_attention(fq, fk, v, o_.causal);
    return p_.merge(ops::div(a.numerator, ops::guard(a.normaliser, softmax_ ? o_.softmax_eps : 0.0)));
  }

 private:
  Tensor draw(Generator& gen, DType dtype) const {
    std::vector<double> w = draw_projection(m_, d_, ortho_, o_.ortho_scaling, gen);
    if (dtype == DType::F64) return Tensor::from_vector(w, {m_, d_});
    return Tensor::from_vector(std::vector<float>(w.begin(), w.end()), {m_, d_});
  }

  // x [B, H, L, d] -> features [B, H, L, m] (see the file header).
  Tensor feature_map(const Tensor& x, bool is_query) const {
    if (!softmax_) {
      Tensor z = projection_.defined() ? ops::matmul(x, current_, false, true) : x;
      return ops::add(ops::relu(z), Tensor::full({1}, o_.relu_eps, x.dtype(), x.device()));
    }
    const int64_t B = x.dim(0), H = x.dim(1), L = x.dim(2);
    const double c = std::pow(double(x.dim(3)), -0.25);
    Tensor z = ops::matmul(ops::scale(x, c), current_, false, true);                // [B, H, L, m]
    Tensor h = ops::scale(ops::sum(ops::mul(x, x), 3, true), 0.5 * c * c);          // [B, H, L, 1]
    Tensor top = is_query ? ops::max(z, 3, true)                                     // [B, H, L, 1]
                          : ops::reshape(ops::max(ops::reshape(z, {B, H, L * m_}), 2, true), {B, H, 1, 1});
    return ops::scale(ops::exp_plus(ops::sub(ops::sub(z, h), top), o_.softmax_eps), 1.0 / std::sqrt(double(m_)));
  }

  PerformerOptions o_;
  int64_t D_;
  HeadProjections p_;
  bool softmax_ = false, ortho_ = false, redraw_ = false;
  int64_t m_ = 0, d_ = 0;
  Tensor projection_, current_;
};

}  // namespace

LRA_REGISTER_MIXER(performer, PerformerOptions, "performer",
                   "FAVOR attention: relu (LRA default) or positive orthogonal random softmax features, "
                   "phi(q) (phi(k)^T v) / phi(q) . sum phi(k)",
                   "O(L m d)", [](const MixerConfig& c, const PerformerOptions& o, Generator& g) {
                     return std::make_shared<PerformerMixer>(c, o, g);
                   });

}  // namespace lra::models
