// The receptive-field probe (tools/probe/receptive_field.h) and the backbone split it relies on
// (LraModel::embed / encode_embedded).
//
// (a) A depth-1 local-attention model without a cls token, mean pooling: every real position reaches the
//     prediction (its own row at least, through the residual), so the curve is nonzero at every real
//     position, and exactly 0 where every example is padding. Mean pooling averages the padded rows too,
//     so the raw gradient there is not 0 (padded_mean > 0): the zeros come from the probe's masking.
//     The batch's curve is the mean of one-example curves (the batched backward does not mix examples),
//     encode_embedded(embed(x)) is encode(x), and the gradient matches central differences of the logit.
// (b) A 3-step lra-pathfinder checkpoint (16 × 16 scalar pixels): the map has side × side entries and is the
//     curve in row-major order; the picture with its heat map is drawn.
// (c) A 3-step lra-listops checkpoint, end to end through `lra-probe receptive-field`: JSON with L finite,
//     non-negative entries and a PNG.
// (d) Readable errors: a missing checkpoint, a checkpoint of another task, an unknown task.
// Pair tasks: a two-tower model and a 3-step lra-retrieval checkpoint probe the first document.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/backbone/backbone.h"
#include "tasks/common/dataset.h"
#include "tests/support/process.h"
#include "tools/probe/receptive_field.h"

namespace {

namespace fs = std::filesystem;
using lra::Generator;
using lra::Tensor;

lra::models::ModelConfig local_model() {
  lra::models::ModelConfig c;
  c.model = "local";
  c.mixer = {{"block", "4"}, {"heads", "2"}};
  c.width = 8;
  c.depth = 1;
  c.ffn = 16;
  c.max_len = 16;
  c.vocab_size = 10;
  c.num_classes = 3;
  c.cls_token = false;
  c.pooling = lra::models::Pooling::Mean;
  return c;
}

// Three examples of lengths 5, 11 and 9 (ids 1..9): positions 11..15 are padding in all of them.
lra::tasks::Batch local_batch() {
  lra::tasks::TaskInfo info;
  info.vocab_size = 10;
  info.max_len = 16;
  info.num_classes = 3;
  std::vector<lra::tasks::Example> ex;
  for (int n : {5, 11, 9}) {
    lra::tasks::Example e;
    for (int i = 0; i < n; ++i) e.tokens.push_back(1 + (i * 7 + n) % 9);
    ex.push_back(e);
  }
  return lra::tasks::collate(info, ex);
}

TEST(ProbeReceptiveField, LocalModelReachesEveryRealPositionAndNoPaddedOne) {
  Generator g(3);
  lra::models::LraModel model(local_model(), g);
  const lra::tasks::Batch b = local_batch();
  const lra::train::Feed feed;
  const lra::probe::ReceptiveField f = lra::probe::receptive_field(model, feed, {b});
  ASSERT_EQ(f.L, 16);
  EXPECT_EQ(f.examples, 3);
  EXPECT_EQ(f.side, 0);
  EXPECT_TRUE(f.map.empty());
  for (int64_t s = 0; s < 11; ++s) {
    EXPECT_GT(f.mean[size_t(s)], 0.0) << "real position " << s;
    EXPECT_GT(f.mean_real[size_t(s)], 0.0) << "real position " << s;
  }
  for (int64_t s = 11; s < 16; ++s) {
    EXPECT_EQ(f.mean[size_t(s)], 0.0) << "padded position " << s;
    EXPECT_EQ(f.coverage[size_t(s)], 0.0) << s;
    EXPECT_TRUE(std::isnan(f.mean_real[size_t(s)])) << s;
  }
  EXPECT_NEAR(f.coverage[7], 2.0 / 3.0, 1e-12);  // real in the examples of length 11 and 9
  EXPECT_GT(f.padded_mean, 0.0);  // mean pooling reads the padded rows: only the masking zeroes them above

  // The batched backward does not mix examples: the mean of one-example probes is the batch's curve.
  std::vector<double> sum(16, 0.0);
  const std::vector<int32_t> ids = b.ids.to_vector<int32_t>(), mask = b.mask.to_vector<int32_t>();
  for (int64_t i = 0; i < 3; ++i) {
    lra::tasks::Batch one;
    one.ids = Tensor::from_vector(std::vector<int32_t>(ids.begin() + i * 16, ids.begin() + (i + 1) * 16), {1, 16});
    one.mask = Tensor::from_vector(std::vector<int32_t>(mask.begin() + i * 16, mask.begin() + (i + 1) * 16), {1, 16});
    const lra::probe::ReceptiveField fi = lra::probe::receptive_field(model, feed, {one});
    for (size_t s = 0; s < 16; ++s) sum[s] += fi.mean[s] / 3.0;
  }
  for (size_t s = 0; s < 16; ++s) EXPECT_NEAR(f.mean[s], sum[s], 1e-6 * (1 + sum[s])) << "position " << s;

  // encode_embedded(embed(x)) is encode(x): the split changed nothing.
  Generator g1(1), g2(1);
  const Tensor direct = model.encode(b.ids, b.mask, g1);
  const Tensor split = model.encode_embedded(model.embed(b.ids), b.mask, g2);
  EXPECT_EQ(direct.to_vector<float>(), split.to_vector<float>());
  // The parameters keep requires_grad (the probe freezes them only while it runs).
  for (const auto& p : model.named_parameters()) EXPECT_TRUE(p.tensor.requires_grad()) << p.name;
}

// The gradient itself, against central differences in the embedded input of one example.
TEST(ProbeReceptiveField, GradientMatchesFiniteDifferences) {
  Generator g(5);
  lra::models::LraModel model(local_model(), g);
  model.eval();
  lra::tasks::Batch b = local_batch();
  const std::vector<int32_t> ids = b.ids.to_vector<int32_t>(), mask = b.mask.to_vector<int32_t>();
  lra::tasks::Batch one;
  one.ids = Tensor::from_vector(std::vector<int32_t>(ids.begin() + 16, ids.begin() + 32), {1, 16});
  one.mask = Tensor::from_vector(std::vector<int32_t>(mask.begin() + 16, mask.begin() + 32), {1, 16});
  const lra::probe::ReceptiveField f = lra::probe::receptive_field(model, lra::train::Feed(), {one});
  Generator gen(1);
  const Tensor e0 = model.embed(one.ids).detach();
  const Tensor logits = model.classify(model.encode_embedded(e0, one.mask, gen), one.mask);
  const std::vector<float> lv = logits.to_vector<float>();
  int64_t pred = 0;
  for (int64_t k = 1; k < 3; ++k)
    if (lv[size_t(k)] > lv[size_t(pred)]) pred = k;
  const std::vector<float> base = e0.to_vector<float>();
  const float h = 1e-2f;
  for (int64_t s : {0, 4, 10}) {
    double l1 = 0;
    for (int64_t c = 0; c < 8; ++c) {
      auto logit_at = [&](float delta) {
        std::vector<float> v = base;
        v[size_t(s * 8 + c)] += delta;
        const Tensor out = model.classify(model.encode_embedded(Tensor::from_vector(v, {1, 16, 8}), one.mask, gen), one.mask);
        return double(out.to_vector<float>()[size_t(pred)]);
      };
      l1 += std::fabs((logit_at(h) - logit_at(-h)) / (2 * h));
    }
    EXPECT_NEAR(f.mean[size_t(s)], l1, 2e-3 * (1 + l1)) << "position " << s;
  }
}

// A two-tower model: the first document is probed, with its own padding masked; the second document
// still matters (the nli features mix u and v), so changing it changes the curve.
TEST(ProbeReceptiveField, PairModelProbesTheFirstDocument) {
  lra::models::ModelConfig c = local_model();
  c.dual = true;
  c.interaction = lra::models::Interaction::Nli;
  Generator g(9);
  lra::models::LraModel model(c, g);
  lra::tasks::Batch b = local_batch();
  const lra::tasks::Batch other = local_batch();
  std::vector<int32_t> ids2 = other.ids.to_vector<int32_t>();
  std::reverse(ids2.begin(), ids2.end());  // second documents: other contents, padding in front
  b.ids2 = Tensor::from_vector(ids2, {3, 16});
  std::vector<int32_t> mask2 = other.mask.to_vector<int32_t>();
  std::reverse(mask2.begin(), mask2.end());
  b.mask2 = Tensor::from_vector(mask2, {3, 16});
  lra::train::Feed feed;
  feed.pair = true;
  const lra::probe::ReceptiveField f = lra::probe::receptive_field(model, feed, {b});
  for (size_t s = 0; s < 11; ++s) EXPECT_GT(f.mean[s], 0.0) << "real position " << s;
  for (size_t s = 11; s < 16; ++s) EXPECT_EQ(f.mean[s], 0.0) << "padded position " << s;
  for (int32_t& id : ids2) id = id == 0 ? 0 : 1 + id % 9;
  b.ids2 = Tensor::from_vector(ids2, {3, 16});
  const lra::probe::ReceptiveField f2 = lra::probe::receptive_field(model, feed, {b});
  EXPECT_NE(f.mean, f2.mean);
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  EXPECT_TRUE(f.good()) << p;
  return f.good() ? nlohmann::json::parse(f) : nlohmann::json();
}

bool is_png(const fs::path& p) {
  std::ifstream png(p, std::ios::binary);
  char magic[4] = {};
  png.read(magic, 4);
  return std::string(magic + 1, 3) == "PNG";
}

const std::string kBin = std::string(LRA_BINARY_DIR) + "/tools/";

TEST(ProbeReceptiveField, ImageMapIsTheCurveReshaped) {
  const fs::path dir = lra::test::scratch_dir() / "probe_receptive_field_image";
  fs::remove_all(dir);
  const auto train = lra::test::run_command(
      kBin + "lra-pathfinder --generate --gen-count 20 --max-len 256 --input scalars --model local --mixer block=16 " +
      "--mixer heads=2 --width 8 --depth 1 --ffn 16 --batch 4 --device cpu --steps 3 --eval-every 3 " +
      "--eval-batches 1 --test-batches 1 --plot false --out " + (dir / "run").string());
  ASSERT_EQ(train.status, 0) << train.output;
  const auto probe = lra::test::run_command(kBin + "lra-probe receptive-field --task pathfinder --checkpoint " +
                                            (dir / "run" / "last.safetensors").string() + " --batches 1 --out " +
                                            (dir / "probe").string());
  ASSERT_EQ(probe.status, 0) << probe.output;
  const nlohmann::json j = read_json(dir / "probe" / "receptive_field.json");
  ASSERT_EQ(j["length"], 256);
  ASSERT_EQ(j["side"], 16);
  ASSERT_EQ(j["map"].size(), 16u);
  for (size_t r = 0; r < 16; ++r) {
    ASSERT_EQ(j["map"][r].size(), 16u);
    for (size_t c = 0; c < 16; ++c) EXPECT_EQ(j["map"][r][c], j["mean"][r * 16 + c]) << r << ", " << c;
  }
  EXPECT_TRUE(is_png(dir / "probe" / "receptive_field.png")) << probe.output;
}

TEST(ProbeReceptiveField, RetrievalCheckpointProbesTheFirstDocument) {
  const fs::path dir = lra::test::scratch_dir() / "probe_receptive_field_retrieval";
  fs::remove_all(dir);
  const auto train = lra::test::run_command(
      kBin + "lra-retrieval --generate --text-len 64 --gen-train 8 --interaction nli --model local --mixer block=8 " +
      "--mixer heads=2 --width 8 --depth 1 --ffn 16 --batch 2 --device cpu --steps 3 --eval-every 3 " +
      "--eval-batches 1 --test-batches 1 --plot false --out " + (dir / "run").string());
  ASSERT_EQ(train.status, 0) << train.output;
  const auto probe = lra::test::run_command(kBin + "lra-probe receptive-field --task retrieval --checkpoint " +
                                            (dir / "run" / "last.safetensors").string() + " --batches 1 --no-plot --out " +
                                            (dir / "probe").string());
  ASSERT_EQ(probe.status, 0) << probe.output;
  EXPECT_NE(probe.output.find("first document"), std::string::npos) << probe.output;
  const nlohmann::json j = read_json(dir / "probe" / "receptive_field.json");
  EXPECT_EQ(j["pair_first_document"], true);
  EXPECT_EQ(j["examples"], 2);
  EXPECT_EQ(j["mean"].size(), j["length"].get<size_t>());
  EXPECT_FALSE(fs::exists(dir / "probe" / "receptive_field.png"));  // --no-plot
}

TEST(ProbeReceptiveField, EndToEndOnAListopsCheckpoint) {
  const fs::path dir = lra::test::scratch_dir() / "probe_receptive_field";
  fs::remove_all(dir);
  const auto train = lra::test::run_command(
      kBin + "lra-listops --generate --gen-train 64 --gen-val 16 --gen-min-length 8 --gen-max-length 32 " +
      "--gen-depth 3 --gen-args 3 --model s4d --width 8 --depth 2 --mixer ssm_n=4 --ffn 16 --batch 8 " +
      "--device cpu --steps 3 --eval-every 3 --plot false --out " + (dir / "run").string());
  ASSERT_EQ(train.status, 0) << train.output;
  const std::string checkpoint = (dir / "run" / "last.safetensors").string();
  const auto probe = lra::test::run_command(kBin + "lra-probe receptive-field --task listops --checkpoint " +
                                            checkpoint + " --out " + (dir / "probe").string());
  ASSERT_EQ(probe.status, 0) << probe.output;
  const nlohmann::json j = read_json(dir / "probe" / "receptive_field.json");
  const size_t L = j["length"].get<size_t>();
  EXPECT_GE(L, 32u);
  EXPECT_EQ(j["model"], "s4d");
  EXPECT_EQ(j["examples"], 16);  // two batches of 8 from the 16 validation examples
  EXPECT_EQ(j["side"], 0);
  EXPECT_FALSE(j.contains("map"));
  ASSERT_EQ(j["mean"].size(), L);
  ASSERT_EQ(j["coverage"].size(), L);
  bool some_positive = false;
  for (const auto& v : j["mean"]) {
    ASSERT_TRUE(v.is_number()) << v;  // null would be a non-finite value
    EXPECT_GE(v.get<double>(), 0.0);
    some_positive |= v.get<double>() > 0;
  }
  EXPECT_TRUE(some_positive);
  EXPECT_GT(j["coverage"][0].get<double>(), 0.0);
  EXPECT_TRUE(is_png(dir / "probe" / "receptive_field.png")) << probe.output;

  // (d) readable errors.
  const auto missing = lra::test::run_command(kBin + "lra-probe receptive-field --task listops --checkpoint " +
                                              (dir / "none").string() + " --out " + (dir / "x").string());
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("no file"), std::string::npos) << missing.output;
  const auto other = lra::test::run_command(kBin + "lra-probe receptive-field --task image --checkpoint " + checkpoint +
                                            " --out " + (dir / "x").string() + " --no-plot");
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.output.find("checkpoint of lra-listops"), std::string::npos) << other.output;
  EXPECT_NE(other.output.find("--task image"), std::string::npos) << other.output;
  const auto unknown = lra::test::run_command(kBin + "lra-probe receptive-field --task nosuch --checkpoint " +
                                              checkpoint + " --out " + (dir / "x").string() + " --no-plot");
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.output.find("nosuch"), std::string::npos) << unknown.output;
}

}  // namespace
