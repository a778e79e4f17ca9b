// The training objective with masked-token denoising (tools/train/objective.h), on a tiny model on the
// CPU: a retrieval batch has both documents corrupted and reconstructed; separate mode classifies the clean
// batch and reconstructs from a second pass; single_pass classifies and reconstructs from one pass on the
// corrupted batch, and with targets = all scores every non-pad position. Each loss is compared with the
// same computation spelled out with the model's own calls and copies of the step's generators (dropout is
// on, so a missing or extra pass shifts the dropout draws and changes the values). Then lra-retrieval with
// the predecessor's denoising end to end: a resumed run logs the uninterrupted losses and --eval of a
// checkpoint reports the test accuracy the run reported.
#include <gtest/gtest.h>

#include "tests/support/process.h"

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "models/backbone/backbone.h"
#include "ops/elementwise/elementwise.h"
#include "ops/loss/loss.h"
#include "ops/shape/shape_ops.h"
#include "tasks/common/denoise.h"
#include "tools/train/objective.h"
#include "tools/train/run_log.h"

namespace lra::train {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kV = tasks::kDenoiseVocabSize;

// ids [B, L] of bytes 1..256; row b has L - 5b real tokens, the rest padding (id 0, mask 0).
void fill(Tensor& ids, Tensor& mask, int64_t B, int64_t L, uint64_t seed) {
  Generator g(seed);
  std::vector<int32_t> id(size_t(B * L), 0), m(size_t(B * L), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L - 5 * b; ++t) {
      id[size_t(b * L + t)] = 1 + int32_t(g.below(256));
      m[size_t(b * L + t)] = 1;
    }
  ids = Tensor::from_vector(id, {B, L});
  mask = Tensor::from_vector(m, {B, L});
}

tasks::Batch make_batch(bool pair) {
  tasks::Batch b;
  fill(b.ids, b.mask, 3, 20, 1);
  if (pair) fill(b.ids2, b.mask2, 3, 20, 2);
  b.labels = Tensor::from_vector(std::vector<int32_t>{0, 1, 1}, {3});
  return b;
}

models::ModelConfig tiny(bool pair) {
  models::ModelConfig c;
  c.model = "transformer";
  c.width = 16;
  c.depth = 1;
  c.ffn = 16;
  c.dropout = 0.2;  // on: each pass draws from the dropout generator
  c.pooling = models::Pooling::MaskedMean;
  c.mixer = {{"heads", "2"}};
  c.vocab_size = c.denoise_vocab = tasks::kDenoiseVocabSize;
  c.num_classes = 2;
  c.max_len = 20;
  c.dual = pair;
  if (pair) c.interaction = models::Interaction::Nli;
  return c;
}

TrainConfig denoising(DenoiseMode mode, tasks::DenoiseTargets targets) {
  TrainConfig c;
  c.denoise = 0.7;
  c.denoise_mode = mode;
  c.denoise_targets = targets;
  return c;
}

std::vector<int32_t> values(const Tensor& t) { return t.to_vector<int32_t>(); }

// The reconstruction loss over the given encodings and targets: one mean over all their scored positions.
Tensor reconstruction(models::LraModel& model, const std::vector<Tensor>& encoded, const std::vector<Tensor>& targets) {
  std::vector<Tensor> logits, flat;
  for (const Tensor& e : encoded) logits.push_back(ops::reshape(model.denoise_logits(e), {-1, kV}));
  for (const Tensor& t : targets) flat.push_back(ops::reshape(t, {-1}));
  return ops::cross_entropy(ops::concat(logits, 0), ops::concat(flat, 0), tasks::kDenoiseIgnore);
}

// Every document of a pair batch is corrupted: ids and ids2 each at round(0.3 n) of the n non-pad positions
// of every row, with the original byte as the target there; pads untouched.
TEST(TrainerDenoise, CorruptBatchCorruptsBothDocumentsOfAPair) {
  const tasks::Batch b = make_batch(true);
  Generator gen(3);
  const CorruptedBatch d = corrupt_batch(b, gen, tasks::DenoiseOptions{});
  ASSERT_TRUE(d.batch.ids2.defined() && d.targets2.defined());
  EXPECT_EQ(values(d.batch.mask2), values(b.mask2));
  EXPECT_EQ(values(d.batch.labels), values(b.labels));
  struct Doc {
    Tensor clean, corrupted, targets;
  };
  for (const Doc& doc : {Doc{b.ids, d.batch.ids, d.targets}, Doc{b.ids2, d.batch.ids2, d.targets2}}) {
    const std::vector<int32_t> in = values(doc.clean), out = values(doc.corrupted), tg = values(doc.targets);
    for (int64_t row = 0; row < 3; ++row) {
      int64_t n = 0, changed_or_scored = 0;
      for (int64_t t = 0; t < 20; ++t) {
        const size_t i = size_t(row * 20 + t);
        if (in[i] == 0) {
          EXPECT_EQ(out[i], 0);
          EXPECT_EQ(tg[i], tasks::kDenoiseIgnore);
          continue;
        }
        ++n;
        if (tg[i] != tasks::kDenoiseIgnore) {
          EXPECT_EQ(tg[i], in[i]);
          ++changed_or_scored;
        } else {
          EXPECT_EQ(out[i], in[i]);
        }
      }
      EXPECT_EQ(changed_or_scored, std::llround(0.3 * double(n))) << "row " << row;
    }
  }
  EXPECT_NE(values(d.batch.ids2), values(b.ids2));
  // A single-sequence batch has no second document.
  Generator again(3);
  const CorruptedBatch single = corrupt_batch(make_batch(false), again, tasks::DenoiseOptions{});
  EXPECT_FALSE(single.batch.ids2.defined() || single.targets2.defined());
  EXPECT_EQ(values(single.batch.ids), values(d.batch.ids));  // ids first, from the same draws
}

// separate (the default) on a pair: the clean pair is classified, then both corrupted documents are encoded
// and reconstructed; the reconstruction is one mean over both documents' corrupted positions.
TEST(TrainerDenoise, SeparateModeReconstructsBothRetrievalDocuments) {
  Generator init(1);
  models::LraModel model(tiny(true), init);
  Feed feed;
  feed.pair = true;
  const tasks::Batch b = make_batch(true);
  const TrainConfig c = denoising(DenoiseMode::Separate, tasks::DenoiseTargets::Corrupted);
  Generator dropout(5, 64), corrupt(6, 128);
  const StepLoss got = training_loss(model, feed, b, c, dropout, corrupt);

  Generator drop(5, 64), corr(6, 128);
  const CorruptedBatch d = corrupt_batch(b, corr, denoise_options(c));
  Tensor logits = model.forward_pair(b.ids, b.mask, b.ids2, b.mask2, drop);
  Tensor e1 = model.encode(d.batch.ids, b.mask, drop), e2 = model.encode(d.batch.ids2, b.mask2, drop);
  const double both = reconstruction(model, {e1, e2}, {d.targets, d.targets2}).item();
  const double first_only = reconstruction(model, {e1}, {d.targets}).item();
  const double expected = ops::cross_entropy(logits, b.labels).item() + 0.7 * both;
  EXPECT_EQ(got.logits.to_vector<float>(), logits.to_vector<float>()) << "the clean pair is classified";
  EXPECT_NEAR(got.loss.item(), expected, 1e-5 * std::abs(expected));
  EXPECT_GT(std::abs(both - first_only), 1e-3) << "the test must tell the second document's share apart";
  EXPECT_EQ(dropout.offset(), drop.offset()) << "three passes: clean pair, corrupted ids, corrupted ids2";
}

// single_pass with targets = all (the predecessor's form), on a single-sequence batch and on a pair: the class
// logits are those of the corrupted batch, from the same pass that feeds the reconstruction (the dropout
// generator advances by one pass per sequence), and every non-pad position is a target.
TEST(TrainerDenoise, SinglePassClassifiesTheCorruptedInputAndScoresEveryPosition) {
  for (bool pair : {false, true}) {
    Generator init(1);
    models::LraModel model(tiny(pair), init);
    Feed feed;
    feed.pair = pair;
    const tasks::Batch b = make_batch(pair);
    const TrainConfig c = denoising(DenoiseMode::SinglePass, tasks::DenoiseTargets::All);
    Generator dropout(5, 64), corrupt(6, 128);
    const StepLoss got = training_loss(model, feed, b, c, dropout, corrupt);

    Generator drop(5, 64), corr(6, 128);
    const CorruptedBatch d = corrupt_batch(b, corr, denoise_options(c));
    std::vector<Tensor> clean = {b.ids}, targets = {d.targets};
    if (pair) {
      clean.push_back(b.ids2);
      targets.push_back(d.targets2);
    }
    for (size_t k = 0; k < clean.size(); ++k) {  // every non-pad position is a target, the original byte
      const std::vector<int32_t> in = values(clean[k]), tg = values(targets[k]);
      for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(tg[i], in[i] == 0 ? tasks::kDenoiseIgnore : in[i]);
    }
    const Generator before = drop;
    Tensor e1 = model.encode(d.batch.ids, b.mask, drop);
    Tensor e2 = pair ? model.encode(d.batch.ids2, b.mask2, drop) : Tensor();
    Tensor logits = pair ? model.classify_pair(e1, b.mask, e2, b.mask2) : model.classify(e1, b.mask);
    std::vector<Tensor> encoded = {e1};
    if (pair) encoded.push_back(e2);
    const double expected =
        ops::cross_entropy(logits, b.labels).item() + 0.7 * reconstruction(model, encoded, targets).item();
    EXPECT_EQ(got.logits.to_vector<float>(), logits.to_vector<float>()) << "pair " << pair;
    EXPECT_NEAR(got.loss.item(), expected, 1e-5 * std::abs(expected)) << "pair " << pair;
    EXPECT_EQ(dropout.offset(), drop.offset()) << "one pass per sequence, pair " << pair;

    // The clean batch would have given other logits: the classifier saw the corruption.
    Generator same = before;
    Tensor clean_logits = pair ? model.forward_pair(b.ids, b.mask, b.ids2, b.mask2, same)
                               : model.forward(b.ids, b.mask, same);
    EXPECT_NE(got.logits.to_vector<float>(), clean_logits.to_vector<float>()) << "pair " << pair;
  }
}

// Without denoising the loss is the classification loss alone and the corruption generator is not drawn.
TEST(TrainerDenoise, OffIsTheClassificationLossAlone) {
  Generator init(1);
  models::ModelConfig mc = tiny(false);
  mc.denoise_vocab = 0;
  models::LraModel model(mc, init);
  Feed feed;
  const tasks::Batch b = make_batch(false);
  Generator dropout(5, 64), corrupt(6, 128), drop(5, 64);
  const StepLoss got = training_loss(model, feed, b, TrainConfig{}, dropout, corrupt);
  Tensor logits = model.forward(b.ids, b.mask, drop);
  EXPECT_EQ(got.logits.to_vector<float>(), logits.to_vector<float>());
  EXPECT_EQ(got.loss.item(), ops::cross_entropy(logits, b.labels).item());
  EXPECT_EQ(corrupt.offset(), 128u);
}

// lra-retrieval with the predecessor's denoising: an interrupted and resumed run logs the losses of an
// uninterrupted one, and --eval of its best checkpoint (clean input) reports the run's test accuracy.
TEST(TrainerDenoise, RetrievalSinglePassResumesAndEvaluates) {
  const std::string bin = std::string(LRA_BINARY_DIR) + "/tools/lra-retrieval";
  const std::string args =
      " --generate --device cpu --text-len 48 --gen-train 16 --width 16 --depth 1 --mixer heads=2 --ffn 16"
      " --batch 4 --steps 6 --eval-every 3 --log-every 1 --plot false --seed 3 --denoise 1"
      " --denoise-mode single_pass --denoise-targets all";
  const fs::path a = lra::test::scratch_dir() / "lra_denoise_full", r = lra::test::scratch_dir() / "lra_denoise_resumed";
  fs::remove_all(a);
  fs::remove_all(r);
  test::CommandResult full = test::run_command(bin + args + " --out " + a.string());
  ASSERT_EQ(full.status, 0) << full.output;
  EXPECT_NE(full.output.find("(both documents), one pass on the corrupted input, reconstructing the non-pad"),
            std::string::npos)
      << full.output;
  test::CommandResult first = test::run_command(bin + args + " --stop-after 4 --out " + r.string());
  ASSERT_EQ(first.status, 130) << first.output;
  test::CommandResult second = test::run_command(bin + args + " --resume --out " + r.string());
  ASSERT_EQ(second.status, 0) << second.output;
  std::vector<double> la, lr;
  for (const auto& rec : RunLog(a.string()).read())
    if (rec.at("type") == "train") la.push_back(rec.at("loss"));
  for (const auto& rec : RunLog(r.string()).read())
    if (rec.at("type") == "train") lr.push_back(rec.at("loss"));
  ASSERT_EQ(la.size(), 6u);
  EXPECT_EQ(la, lr);

  double best_acc = -1;
  for (const auto& rec : RunLog(a.string()).read())
    if (rec.at("type") == "test" && rec.at("checkpoint") == "best") best_acc = rec.at("acc");
  test::CommandResult e = test::run_command(bin + " --generate --device cpu --text-len 48 --gen-train 16 --seed 3"
                                            " --batch 4 --split test --eval " + (a / "best.safetensors").string());
  ASSERT_EQ(e.status, 0) << e.output;
  char printed[32];
  std::snprintf(printed, sizeof printed, "accuracy %.2f%%", 100 * best_acc);
  EXPECT_NE(e.output.find(printed), std::string::npos) << printed << " not in\n" << e.output;
  fs::remove_all(a);
  fs::remove_all(r);
}

}  // namespace
}  // namespace lra::train
