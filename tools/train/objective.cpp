// The training objective of one batch (see objective.h).
#include "tools/train/objective.h"

#include <vector>

#include "ops/elementwise/elementwise.h"
#include "ops/loss/loss.h"
#include "ops/shape/shape_ops.h"

namespace lra::train {

tasks::DenoiseOptions denoise_options(const TrainConfig& c) {
  tasks::DenoiseOptions o;
  o.rate = c.denoise_rate;
  o.targets = c.denoise_targets;
  return o;
}

CorruptedBatch corrupt_batch(const tasks::Batch& b, Generator& gen, const tasks::DenoiseOptions& options) {
  CorruptedBatch out{b, {}, {}};
  tasks::Denoised first = tasks::corrupt(b.ids, gen, options);
  out.batch.ids = first.ids;
  out.targets = first.targets;
  if (b.ids2.defined()) {
    tasks::Denoised second = tasks::corrupt(b.ids2, gen, options);
    out.batch.ids2 = second.ids;
    out.targets2 = second.targets;
  }
  return out;
}

StepLoss training_loss(models::LraModel& model, const Feed& feed, const tasks::Batch& b, const TrainConfig& c,
                       Generator& dropout, Generator& corrupt, dist::Comm* comm) {
  const Tensor labels = b.labels.to(feed.device);
  const bool shared = comm != nullptr && comm->world() > 1;
  // This rank's share of the global batch's classification loss.
  auto classification = [&](const Tensor& logits) {
    const Tensor ce = ops::cross_entropy(logits, labels);
    return shared ? ops::scale(ce, double(b.rows()) / double(b.global_rows)) : ce;
  };
  if (c.denoise <= 0) {
    Tensor logits = feed.logits(model, b, dropout);
    return {classification(logits), logits};
  }
  const CorruptedBatch d = corrupt_batch(b, corrupt, denoise_options(c));
  const bool single_pass = c.denoise_mode == DenoiseMode::SinglePass;
  Tensor logits;
  if (!single_pass) logits = feed.logits(model, b, dropout);  // the clean pass

  // The corrupted pass: every sequence of the batch (both documents of a pair) is encoded once.
  const Tensor mask = b.mask.to(feed.device);
  const Tensor mask2 = feed.pair ? b.mask2.to(feed.device) : Tensor();
  const Tensor enc = model.encode(feed.input(d.batch.ids), mask, dropout);
  const Tensor enc2 = feed.pair ? model.encode(feed.input(d.batch.ids2), mask2, dropout) : Tensor();
  if (single_pass) logits = feed.pair ? model.classify_pair(enc, mask, enc2, mask2) : model.classify(enc, mask);

  // One mean over the scored positions of every sequence.
  const int64_t V = tasks::kDenoiseVocabSize;
  std::vector<Tensor> token_logits = {ops::reshape(model.denoise_logits(enc), {-1, V})};
  std::vector<Tensor> targets = {ops::reshape(d.targets, {-1})};
  if (feed.pair) {
    token_logits.push_back(ops::reshape(model.denoise_logits(enc2), {-1, V}));
    targets.push_back(ops::reshape(d.targets2, {-1}));
  }
  const Tensor all_logits = token_logits.size() == 1 ? token_logits[0] : ops::concat(token_logits, 0);
  const Tensor all_targets = (targets.size() == 1 ? targets[0] : ops::concat(targets, 0)).to(feed.device);
  double weight = c.denoise;
  if (shared) {
    // The reconstruction is one mean over the scored positions of the whole global batch.
    int64_t counts[2] = {0, 0};
    for (const Tensor& t : targets)
      for (int32_t v : t.to_vector<int32_t>()) counts[0] += v != tasks::kDenoiseIgnore;
    counts[1] = counts[0];
    comm->all_reduce(counts + 1, 1, dist::ReduceOp::Sum);
    if (counts[0] == 0) return {classification(logits), logits};  // nothing scored here (a mean of none is NaN)
    weight *= double(counts[0]) / double(counts[1]);
  }
  const Tensor reconstruction = ops::cross_entropy(all_logits, all_targets, tasks::kDenoiseIgnore);
  return {ops::add(classification(logits), ops::scale(reconstruction, weight)), logits};
}

}  // namespace lra::train
