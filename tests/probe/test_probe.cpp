// lra-probe pattern: the structural properties of each mixer family, checked numerically on the token-mixing
// map (tools/probe/pattern.h), and the binary end to end for every registered mixer.
//
// Thresholds. An entry is "zero" when M[i][j] <= kZero · max M and "nonzero" above it, kZero = 1e-6:
// structural zeros of the attention mixers are exact (a masked key is skipped by the kernel or gets weight
// exp(−1e10) = 0 or a −1e30 logit, so it never enters the sum), while an entry on a real path is a sum of
// D products of O(1) random numbers: at these sizes the smallest measured is 1.2e-3 of the maximum
// (sinkhorn; s4d 5e-3, the attention mixers about 1e-2), and no entry was found in (0, 1e-6·max]. float32
// rounding of the maximum is ~6e-8 of it. The convolutional and SSM mixers convolve by FFT: on the CPU
// their zeros above the diagonal measured exactly 0, but FFT round-off may leave ~1e-7-relative noise
// where the exact result is 0, so their causality check uses kFftZero = 1e-5 (100× that round-off, still
// 500× below the smallest real entry).
//
// Every property check is also run on a map that must violate it (the band check on the transformer's
// dense map, ...), so each test can fail.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "engine/io.h"
#include "models/backbone/backbone.h"
#include "models/mixer.h"
#include "models/mixers/bigbird.h"
#include "tests/support/process.h"
#include "tools/probe/pattern.h"

namespace lra::probe {
namespace {

constexpr double kZero = 1e-6;
constexpr double kFftZero = 1e-5;

PatternMap probe(const std::string& model, std::map<std::string, std::string> mixer, int L = 64, int width = 16,
                 int inputs = 2) {
  PatternSettings s;
  s.model = model;
  s.mixer = std::move(mixer);
  s.length = L;
  s.width = width;
  s.inputs = inputs;
  s.seed = 5;
  return token_mixing_map(s);
}

// How a map disagrees with a predicted support: entries outside it that are nonzero, entries inside it that
// are zero (both relative to the map's max, at `zero`), with the first offender of each kind.
struct SupportCheck {
  int64_t outside_nonzero = 0, inside_zero = 0;
  std::string first;
  bool exact() const { return outside_nonzero == 0 && inside_zero == 0; }
};

SupportCheck check_support(const PatternMap& m, const std::function<bool(int64_t, int64_t)>& allowed,
                           double zero = kZero) {
  SupportCheck c;
  const double floor = zero * m.max();
  for (int64_t i = 0; i < m.L; ++i)
    for (int64_t j = 0; j < m.L; ++j) {
      const bool nz = m.at(i, j) > floor;
      const bool in = allowed(i, j);
      if (nz && !in) ++c.outside_nonzero;
      if (!nz && in) ++c.inside_zero;
      if (nz != in && c.first.empty())
        c.first = str("M[", i, "][", j, "] = ", m.at(i, j), " (max ", m.max(), ") is ", nz ? "nonzero" : "zero",
                      " but the pattern says ", in ? "allowed" : "not allowed");
    }
  return c;
}

std::string describe(const SupportCheck& c) {
  return str(c.outside_nonzero, " nonzero outside, ", c.inside_zero, " zero inside; first: ", c.first);
}

// The mean of M over the entries at lag i − j in [lo, hi) (rows i >= lag).
double lag_mean(const PatternMap& m, int64_t lo, int64_t hi) {
  double s = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < m.L; ++i)
    for (int64_t j = 0; j <= i; ++j)
      if (i - j >= lo && i - j < hi) s += m.at(i, j), ++n;
  return n ? s / double(n) : 0.0;
}

const PatternMap& transformer_map() {
  static const PatternMap m = probe("transformer", {{"heads", "2"}});
  return m;
}

TEST(ProbePattern, MapIsTheJacobianRowSum) {
  // The batched backward (one output position per batch row) gives the same map as one position per call.
  PatternSettings s;
  s.model = "transformer";
  s.length = 12;
  s.width = 8;
  s.inputs = 2;
  PatternMap batched = token_mixing_map(s);
  s.rows_per_backward = 1;
  PatternMap single = token_mixing_map(s);
  ASSERT_EQ(batched.map.size(), size_t(144));
  for (size_t k = 0; k < batched.map.size(); ++k)
    EXPECT_NEAR(batched.map[k], single.map[k], 1e-6 * batched.max()) << "entry " << k;
  EXPECT_GT(batched.max(), 0.0);
}

TEST(ProbePattern, LocalIsZeroOutsideItsBlocks) {
  const int C = 16;
  auto blocks = [&](int64_t i, int64_t j) { return i / C == j / C; };
  PatternMap m = probe("local", {{"block", std::to_string(C)}, {"heads", "2"}});
  SupportCheck c = check_support(m, blocks);
  EXPECT_TRUE(c.exact()) << describe(c);
  EXPECT_FALSE(check_support(transformer_map(), blocks).exact()) << "the block check passes a dense map";
}

TEST(ProbePattern, LongformerIsItsWindowWithoutGlobalTokens) {
  // window 16: 7 keys before i, i, 8 after. LRA's Longformer (which the mixer follows) passes no global
  // mask, so there is no global row or column: the band alone, first row and column included.
  const int w = 16, right = w / 2, left = w - right - 1;
  auto band = [&](int64_t i, int64_t j) { return j >= i - left && j <= i + right; };
  PatternMap m = probe("longformer", {{"window", std::to_string(w)}, {"heads", "2"}});
  SupportCheck c = check_support(m, band);
  EXPECT_TRUE(c.exact()) << describe(c);
  EXPECT_LE(m.at(m.L - 1, 0), kZero * m.max()) << "a global first column";
  EXPECT_LE(m.at(0, m.L - 1), kZero * m.max()) << "a global first row";
  EXPECT_FALSE(check_support(transformer_map(), band).exact()) << "the band check passes a dense map";
}

TEST(ProbePattern, SparseTransformerIsTheFixedPattern) {
  const int n = 16, c = 4;
  auto fixed = [&](int64_t i, int64_t j) {
    return j <= i && (i / n == j / n || j % n == 0 || j % n >= n - c);
  };
  for (bool global_first : {false, true}) {
    SCOPED_TRACE(global_first ? "global_first" : "plain");
    auto allowed = [&](int64_t i, int64_t j) {
      return global_first ? (i == 0 || j == 0 || fixed(i - 1, j - 1)) : fixed(i, j);
    };
    PatternMap m = probe("sparse_transformer", {{"block", std::to_string(n)},
                                                {"summary", std::to_string(c)},
                                                {"heads", "2"},
                                                {"global_first", global_first ? "true" : "false"}});
    SupportCheck check = check_support(m, allowed);
    EXPECT_TRUE(check.exact()) << describe(check);
    EXPECT_FALSE(check_support(transformer_map(), allowed).exact()) << "the pattern check passes a dense map";
  }
}

TEST(ProbePattern, BigBirdIsBandGlobalAndRandomBlocks) {
  // L 128, block 8 (padding = masked: no extra block), one head, 2 random blocks drawn from all 16 blocks.
  const int L = 128, C = 8, r = 2, nb = L / C;
  PatternMap m = probe("bigbird", {{"block", std::to_string(C)}, {"heads", "1"}, {"random_blocks", std::to_string(r)},
                                   {"random_span", std::to_string(L)}, {"padding", "masked"}},
                       L);
  const auto rnd = models::bigbird::random_blocks(nb, C, r, L, 1, /*seed = layer*/ 0);
  auto block_allowed = [&](int64_t qb, int64_t kb) {
    if (qb == 0 || qb == nb - 1 || kb == 0 || kb == nb - 1 || std::abs(qb - kb) <= 1) return true;
    for (int b : rnd[0][size_t(qb - 1)])
      if (b == kb) return true;
    return false;
  };
  auto allowed = [&](int64_t i, int64_t j) { return block_allowed(i / C, j / C); };
  SupportCheck c = check_support(m, allowed);
  EXPECT_TRUE(c.exact()) << describe(c);
  // The random blocks show: some off-band, non-global blocks are nonzero, most are zero.
  int off_band = 0, off_band_nonzero = 0;
  for (int qb = 1; qb < nb - 1; ++qb)
    for (int kb = 1; kb < nb - 1; ++kb) {
      if (std::abs(qb - kb) <= 1) continue;
      ++off_band;
      off_band_nonzero += m.at(int64_t(qb) * C, int64_t(kb) * C) > kZero * m.max();
    }
  EXPECT_GT(off_band_nonzero, 0) << "no random block off the band";
  EXPECT_LT(off_band_nonzero, off_band / 4) << "most off-band blocks should be zero";
  EXPECT_FALSE(check_support(transformer_map(), allowed).exact()) << "the block check passes a dense map";
}

// Causal kernels: zero above the diagonal, and mean |M| at lags 1..7 above `factor` times that at lags >= L/2.
void expect_causal_decaying(const PatternMap& m, double factor, const std::string& what) {
  auto lower = [](int64_t i, int64_t j) { return j <= i; };
  SupportCheck c = check_support(m, lower, kFftZero);
  EXPECT_EQ(c.outside_nonzero, 0) << what << ": " << describe(c);
  const double near = lag_mean(m, 1, 8), far = lag_mean(m, m.L / 2, m.L);
  EXPECT_GT(near, factor * far) << what << ": mean |M| at lags 1..7 " << near << ", at lags >= L/2 " << far;
}

TEST(ProbePattern, S4DAndS4AreCausalAndDecay) {
  // Both are causal by default (bidirectional = false). S4D-Lin's modes decay as exp(−dt·l/2): with dt in
  // [0.05, 0.2] (default [0.001, 0.1]) that shows within L = 64 (measured near/far 4.6). S4's HiPPO-LegS
  // kernel at initialisation decays slowly (polynomially: LegS remembers the whole history), so it gets
  // larger steps, dt in [0.5, 1], and a smaller factor (measured near/far 2.5).
  expect_causal_decaying(probe("s4d", {{"dt_min", "0.05"}, {"dt_max", "0.2"}}), 3.0, "s4d");
  expect_causal_decaying(probe("s4", {{"dt_min", "0.5"}, {"dt_max", "1.0"}}), 1.5, "s4");
  // Bidirectional: the anti-causal kernel fills the upper triangle, which the causality check sees; the
  // full transformer's map does not thin with the lag, which the decay check sees.
  PatternMap bi = probe("s4d", {{"dt_min", "0.05"}, {"dt_max", "0.2"}, {"bidirectional", "true"}});
  EXPECT_GT(check_support(bi, [](int64_t i, int64_t j) { return j <= i; }, kFftZero).outside_nonzero, 0)
      << "the causality check passes a bidirectional kernel";
  const PatternMap& t = transformer_map();
  EXPECT_LT(lag_mean(t, 1, 8), 1.5 * lag_mean(t, t.L / 2, t.L)) << "the decay check passes the transformer";
}

TEST(ProbePattern, LasIsCausalAndThinsWithDistance) {
  // LaS: causal logits times exp(−α_h|i − j|) and values box-smoothed over P = 5, which lets output i see
  // x[i + 2]: the support is j <= i + 2. The decay multiplies the logits, so it pulls far logits towards 0,
  // not towards −∞: at random initialisation (logits O(1)) far keys keep about the weight they would have,
  // and the map thins with the lag about as causal attention does (row i spreads over i + 1 keys; measured
  // near/far 2.3 for las with las_B 1, 2.1 for the causal transformer). The decay towards small logits
  // shows in trained checkpoints, whose logits are large.
  PatternMap m = probe("las", {{"las_B", "1.0"}, {"heads", "4"}});
  auto causal2 = [](int64_t i, int64_t j) { return j <= i + 2; };
  SupportCheck c = check_support(m, causal2);
  EXPECT_EQ(c.outside_nonzero, 0) << describe(c);
  EXPECT_EQ(c.inside_zero, 0) << describe(c);
  const double near = lag_mean(m, 1, 8), far = lag_mean(m, m.L / 2, m.L);
  EXPECT_GT(near, 1.5 * far) << "las: mean |M| at lags 1..7 " << near << ", at lags >= L/2 " << far;
  EXPECT_FALSE(check_support(transformer_map(), causal2).outside_nonzero == 0) << "the causal check passes a dense map";
}

TEST(ProbePattern, DenseMixersHaveNoZeros) {
  auto all = [](int64_t, int64_t) { return true; };
  for (const char* model : {"transformer", "linformer", "sinkhorn"}) {
    std::map<std::string, std::string> o;
    if (std::string(model) == "linformer") o = {{"k", "8"}};
    if (std::string(model) == "sinkhorn") o = {{"block", "8"}};
    SupportCheck c = check_support(probe(model, o), all);
    EXPECT_TRUE(c.exact()) << model << ": " << describe(c);
  }
  EXPECT_FALSE(check_support(probe("local", {{"block", "16"}}), all).exact()) << "the density check passes local";
}

TEST(ProbePattern, SinkhornStridedGroupsAddTheirLocalPath) {
  // variant = lra: output i reaches every input through the sorted branch (sums of contiguous blocks, seen
  // by every query: the map is dense, DenseMixersHaveNoZeros), and the inputs of its own strided group
  // (j ≡ i mod nb) once more through the local branch, so those entries are larger on average (measured
  // 1.37× at L 64, block 8, nb 8; the transformer's, with no such path, about 1×).
  const int L = 64, C = 8, nb = L / C;
  auto group_ratio = [&](const PatternMap& m) {
    double same = 0, other = 0;
    int64_t ns = 0, no = 0;
    for (int64_t i = 0; i < m.L; ++i)
      for (int64_t j = 0; j < m.L; ++j) {
        if (i == j) continue;
        if (i % nb == j % nb) same += m.at(i, j), ++ns;
        else other += m.at(i, j), ++no;
      }
    return (same / double(ns)) / (other / double(no));
  };
  const double ratio = group_ratio(probe("sinkhorn", {{"block", std::to_string(C)}}, L));
  EXPECT_GT(ratio, 1.15) << "sinkhorn: own strided group / other entries";
  const double t = group_ratio(transformer_map());
  EXPECT_LT(t, 1.15) << "the group check passes the transformer";
}

TEST(ProbePattern, ReformerRowsSeeTwoChunksOfTheirSortedBuckets) {
  // What holds exactly in the engine's LSH attention: for one input, each query attends to its chunk and
  // the previous one of the bucket-sorted sequence, C = Lp / n_buckets rows each, so with one head, one
  // hash round and the usual head concatenation, each output row has at most 2·C nonzero entries (the
  // hashes are piecewise constant, so the map of one input is exactly that support). Averaged over
  // several inputs the buckets move and the map fills in: the test uses one input.
  const int L = 64, buckets = 8, chunk_len = 8, Lp = L + chunk_len - L % chunk_len, C = Lp / buckets;
  PatternMap m = probe("reformer", {{"heads", "1"}, {"n_buckets", std::to_string(buckets)},
                                    {"chunk_len", std::to_string(chunk_len)}, {"head_merge", "transpose"}},
                       L, 16, 1);
  auto max_row_count = [](const PatternMap& p) {
    int64_t worst = 0;
    for (int64_t i = 0; i < p.L; ++i) {
      int64_t n = 0;
      for (int64_t j = 0; j < p.L; ++j) n += p.at(i, j) > kZero * p.max();
      worst = std::max(worst, n);
    }
    return worst;
  };
  EXPECT_LE(max_row_count(m), 2 * C);
  EXPECT_GT(max_row_count(m), 0);
  EXPECT_GT(max_row_count(transformer_map()), 2 * C) << "the row-count check passes a dense map";
}

// A depth-2 local-attention model (width 16, block 8, L 32) saved as an lra-<task> checkpoint would be, with
// the run configuration in its metadata and layer 1's output projection zeroed (so layer 1's map is 0).
std::string local_checkpoint() {
  models::ModelConfig c;
  c.model = "local";
  c.width = 16;
  c.depth = 2;
  c.ffn = 16;
  c.vocab_size = 10;
  c.max_len = 32;
  c.mixer = {{"block", "8"}};
  Generator init(3);
  models::LraModel model(c, init);
  bool zeroed = false;
  for (auto& p : model.named_parameters())
    if (p.name == "blocks.1.mixer.out.weight") p.tensor.fill_(0.0), zeroed = true;
  EXPECT_TRUE(zeroed) << "no blocks.1.mixer.out.weight in the model";
  const std::string path = (test::scratch_dir() / "local.safetensors").string();
  io::save_checkpoint(path, model, nullptr, 0, init, "model = \"local\"\nwidth = 16\n[mixer]\nblock = 8\n");
  return path;
}

TEST(ProbePattern, CheckpointWeightsAreTheLayers) {
  const std::string path = local_checkpoint();
  PatternSettings s;
  apply_config_toml(s, checkpoint_config(path), path);
  EXPECT_EQ(s.model, "local");
  EXPECT_EQ(s.width, 16);
  EXPECT_EQ(s.mixer.at("block"), "8");
  s.length = 32;
  s.inputs = 1;
  s.checkpoint = path;
  s.layer = 1;
  PatternMap zero = token_mixing_map(s);
  EXPECT_EQ(zero.max(), 0.0) << "layer 1's zeroed output projection was not loaded";
  s.layer = 0;
  PatternMap m = token_mixing_map(s);
  SupportCheck c = check_support(m, [](int64_t i, int64_t j) { return i / 8 == j / 8; });
  EXPECT_TRUE(c.exact()) << describe(c);
  s.width = 32;
  try {
    token_mixing_map(s);
    FAIL() << "a width-32 mixer loaded a width-16 checkpoint";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blocks.0.mixer.qkv.weight"), std::string::npos) << e.what();
  }
}

// --- the binary ---------------------------------------------------------------------------------------

std::string probe_binary() { return std::string(LRA_BINARY_DIR) + "/tools/lra-probe"; }

TEST(ProbeBinary, PatternRunsForEveryMixer) {
  const auto dir = test::scratch_dir() / "pattern_all";
  for (const auto& e : models::mixers()) {
    SCOPED_TRACE(e.name);
    const std::string cmd = str("'", probe_binary(), "' pattern --model ", e.name,
                                " --length 32 --width 16 --inputs 1 --no-plot --out '", dir.string(), "'");
    test::CommandResult r = test::run_command(cmd);
    ASSERT_EQ(r.status, 0) << cmd << "\n" << r.output;
    std::ifstream f(dir / ("pattern-" + e.name + ".json"));
    ASSERT_TRUE(f.good()) << "no JSON for " << e.name;
    nlohmann::json j = nlohmann::json::parse(f);
    EXPECT_EQ(j["model"], e.name);
    ASSERT_EQ(j["length"], 32);
    ASSERT_EQ(j["map"].size(), 32u);
    double top = 0;
    for (const auto& row : j["map"]) {
      ASSERT_EQ(row.size(), 32u);
      for (const auto& v : row) {
        const double x = v.get<double>();
        ASSERT_TRUE(std::isfinite(x) && x >= 0) << x;
        top = std::max(top, x);
      }
    }
    EXPECT_GT(top, 0.0) << "an all-zero map";
  }
}

TEST(ProbeBinary, PatternDrawsAPng) {
  const auto dir = test::scratch_dir() / "pattern_png";
  const std::string cmd = str("'", probe_binary(), "' pattern --model local --mixer block=8 --length 32 --width 16 ",
                              "--inputs 1 --out '", dir.string(), "'");
  test::CommandResult r = test::run_command(cmd);
  ASSERT_EQ(r.status, 0) << cmd << "\n" << r.output;
  std::ifstream png(dir / "pattern-local.png", std::ios::binary);
  ASSERT_TRUE(png.good()) << "no PNG; output:\n" << r.output;
  char sig[8] = {};
  png.read(sig, 8);
  EXPECT_EQ(std::string(sig + 1, 3), "PNG");
}

TEST(ProbeBinary, PatternReadsTheModelFromACheckpoint) {
  const std::string path = local_checkpoint();
  const auto dir = test::scratch_dir() / "pattern_ckpt";
  const std::string cmd = str("'", probe_binary(), "' pattern --checkpoint '", path,
                              "' --length 32 --inputs 1 --no-plot --out '", dir.string(), "'");
  test::CommandResult r = test::run_command(cmd);
  ASSERT_EQ(r.status, 0) << cmd << "\n" << r.output;
  std::ifstream f(dir / "pattern-local.json");
  ASSERT_TRUE(f.good()) << r.output;
  nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["settings"]["width"], 16);
  EXPECT_EQ(j["settings"]["mixer"]["block"], "8");
  EXPECT_NE(j["weights"].get<std::string>().find("blocks.0.mixer"), std::string::npos);
}

TEST(ProbeBinary, UnknownModelIsAReadableError) {
  const auto dir = test::scratch_dir() / "pattern_err";
  test::CommandResult r = test::run_command(str("'", probe_binary(), "' pattern --model nosuch --out '", dir.string(), "'"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("nosuch"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace lra::probe
