// The sgconv mixer (models/mixers/sgconv.cpp) on its own: the fixed kernel norm it stores at construction
// against the kernel written out here in double precision from the initial parameters (gconv.py measures
// it at the first forward, before any update), the number and shapes of the sub-kernels, the buffers of
// each mode, the parameter groups, and a forward at a length shorter than max_len.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "models/mixer.h"
#include "tests/models/mixer_fixtures.h"

namespace lra::models {
namespace {

struct Named {
  std::map<std::string, Tensor> params, buffers;
  std::map<std::string, std::string> groups;
};
Named named(const Mixer& m) {
  Named n;
  for (const auto& p : m.named_parameters()) {
    n.params[p.name] = p.tensor;
    n.groups[p.name] = p.group;
  }
  for (const auto& b : m.named_buffers()) n.buffers[b.name] = b.tensor;
  return n;
}

// F.interpolate(row, scale_factor=f, mode="linear"), align_corners False, written out.
std::vector<double> stretch(const std::vector<double>& x, int64_t f) {
  const int64_t n = int64_t(x.size());
  std::vector<double> y;
  for (int64_t d = 0; d < n * f; ++d) {
    double src = std::max(0.0, (double(d) + 0.5) / double(f) - 0.5);
    int64_t i0 = std::min<int64_t>(int64_t(std::floor(src)), n - 1), i1 = std::min<int64_t>(i0 + 1, n - 1);
    double lam = src - double(i0);
    y.push_back((1 - lam) * x[size_t(i0)] + lam * x[size_t(i1)]);
  }
  return y;
}

std::vector<double> as_doubles(const Tensor& t) {
  std::vector<float> v = t.to_vector<float>();
  return std::vector<double>(v.begin(), v.end());
}

// Builds sgconv with `options` at width H and max_len, and checks the stored norm against the kernel
// assembled here: S scales, scale i stretched 2^(max(0, i-1) + init_scale), weighted m^(S-1-i) (or the
// learnable decay), concatenated, its full (untruncated) norm per (direction, channel).
void check_norm(const std::map<std::string, std::string>& options, int H, int max_len, int64_t want_scales,
                int64_t want_taps) {
  MixerConfig c = test_fixtures::mixer_config(H, options);
  c.max_len = max_len;
  Generator init(3);
  std::shared_ptr<Mixer> m = find_mixer("sgconv").make(c, init);
  Named n = named(*m);
  int64_t S = 0;
  while (n.params.count("kernel_" + std::to_string(S))) ++S;
  ASSERT_EQ(S, want_scales);
  const bool learnable = options.count("mode") && options.at("mode") == "cat_randn_learnable_fixed";
  ASSERT_EQ(n.buffers.count("decay"), learnable ? 1u : 0u);
  ASSERT_EQ(n.buffers.count("multiplier"), learnable ? 0u : 1u);
  const int64_t init_scale = options.count("init_scale") ? std::stoll(options.at("init_scale")) : 0;
  const std::vector<double> norm = as_doubles(n.buffers.at("kernel_norm"));
  const int64_t C = n.buffers.at("kernel_norm").dim(0), dk = n.params.at("kernel_0").dim(2);
  ASSERT_EQ(C, options.count("bidirectional") ? 2 : 1);
  std::vector<double> mult = learnable ? std::vector<double>(size_t(H), 1.0) : as_doubles(n.buffers.at("multiplier"));
  std::vector<double> decay = learnable ? as_doubles(n.buffers.at("decay")) : std::vector<double>(size_t(H), 0.0);
  for (int64_t cc = 0; cc < C; ++cc)
    for (int64_t h = 0; h < H; ++h) {
      std::vector<double> k;
      for (int64_t i = 0; i < S; ++i) {
        const Tensor& w = n.params.at("kernel_" + std::to_string(i));
        ASSERT_EQ(w.shape(), Shape({C, H, dk}));
        std::vector<double> all = as_doubles(w), row(all.begin() + (cc * H + h) * dk, all.begin() + (cc * H + h + 1) * dk);
        for (double v : stretch(row, int64_t(1) << (std::max<int64_t>(0, i - 1) + init_scale)))
          k.push_back(v * std::pow(mult[size_t(h)], double(S - 1 - i)));
      }
      ASSERT_EQ(int64_t(k.size()), want_taps);
      double s = 0;
      for (size_t l = 0; l < k.size(); ++l) {
        double v = k[l] * std::pow(double(l + 1), -decay[size_t(h)]);
        s += v * v;
      }
      EXPECT_NEAR(norm[size_t(cc * H + h)], std::sqrt(s), 1e-5 * std::sqrt(s)) << "direction " << cc << " channel " << h;
    }
  // Sub-kernels: the ssm lr with weight decay (ssm_decay) unless kernel_decay = false.
  const std::string want_group = options.count("kernel_decay") ? "ssm" : "ssm_decay";
  EXPECT_EQ(n.groups.at("kernel_0"), want_group);
  EXPECT_EQ(n.groups.at("D"), "default");
  // A forward shorter than max_len (the kernel is cut to L; later scales are skipped).
  Generator gen(4);
  Tensor x = test_fixtures::random_x(2, std::max(1, max_len / 3), H, 5);
  Tensor y = m->forward(x, Tensor(), gen);
  EXPECT_EQ(y.shape(), x.shape());
  for (float v : y.to_vector<float>()) ASSERT_TRUE(std::isfinite(v));
}

TEST(SGConv, StoredNormIsTheInitialKernelsNorm) {
  // ListOps-like: d_k 1, decay 2/2, 2048 -> 12 scales, 2048 taps.
  check_norm({{"kernel_dim", "1"}, {"mode", "cat_randn"}, {"decay_min", "2"}, {"decay_max", "2"},
              {"bidirectional", "true"}},
             4, 2048, 12, 2048);
  // AAN-like length 4000 with d_k 1: 13 scales, 4096 taps.
  check_norm({{"kernel_dim", "1"}, {"decay_min", "2"}, {"decay_max", "2"}}, 3, 4000, 13, 4096);
  // CIFAR: d_k 32, learnable fixed decay, 1024 -> 6 scales.
  check_norm({{"kernel_dim", "32"}, {"mode", "cat_randn_learnable_fixed"}, {"decay_min", "0.5"},
              {"decay_max", "1.5"}, {"bidirectional", "true"}, {"kernel_decay", "false"}},
             5, 1024, 6, 1024);
  // Path-X-like: cos init, init_scale 1, decay 1..3; 1024 / 16 -> 1 + 6 - 1 = 6 scales of 16·2^(.+1) taps.
  check_norm({{"kernel_dim", "16"}, {"init_scale", "1"}, {"mode", "cat_cos"}, {"decay_min", "1"},
              {"decay_max", "3"}, {"bidirectional", "true"}},
             6, 1024, 6, 1024);
  // kernel_dim longer than max_len: one scale (gconv.py would build none).
  check_norm({{"kernel_dim", "64"}}, 2, 20, 1, 64);
}

TEST(SGConv, CosInitRowsArePermutedCosines) {
  // Width 3, d_k 8: frequencies p in 0..2 give three distinct rows (p and 7 - p would alias).
  MixerConfig c = test_fixtures::mixer_config(3, {{"kernel_dim", "8"}, {"mode", "cat_cos"}, {"bidirectional", "true"}});
  Generator init(7);
  std::shared_ptr<Mixer> m = find_mixer("sgconv").make(c, init);
  Named n = named(*m);
  std::vector<double> w = as_doubles(n.params.at("kernel_1"));  // [2, 3, 8]
  std::vector<bool> seen(3, false);
  for (int64_t h = 0; h < 3; ++h) {
    int found = -1;  // row h is cos(linspace(0, 2π p, 8)) for one p, the same in both directions
    for (int p = 0; p < 3 && found < 0; ++p) {
      bool ok = true;
      for (int t = 0; t < 8; ++t)
        ok = ok && std::abs(w[size_t(h * 8 + t)] - std::cos(2 * M_PI * p * t / 7.0)) < 1e-5 &&
             w[size_t((3 + h) * 8 + t)] == w[size_t(h * 8 + t)];
      if (ok) found = p;
    }
    ASSERT_GE(found, 0) << "row " << h << " is no cosine row";
    EXPECT_FALSE(seen[size_t(found)]) << "frequency " << found << " twice: not a permutation";
    seen[size_t(found)] = true;
  }
}

}  // namespace
}  // namespace lra::models
