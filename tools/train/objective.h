// The training objective of one batch (loop.cpp's step): the classification cross-entropy, plus, when
// denoise > 0, denoise × the masked-token reconstruction loss (the byte tasks; tasks/common/denoise.h).
//
//   denoise_mode = separate (our default): the class logits come from the clean batch; a second pass on the
//       corrupted batch feeds only the reconstruction head. The classifier never sees a MASK id in training,
//       as it never does in evaluation.
//   denoise_mode = single_pass (the locality-bias predecessor, pablomiralles22/long-transformers
//       src/trainers/text_classification_trainer.py:96-119): one pass on the corrupted batch gives both the
//       class logits and the reconstruction; the logits logged for the training accuracy are those.
//   denoise_targets = corrupted (our default) | all: the reconstruction scores the corrupted positions, or
//       every non-pad position (the predecessor's loss_2, lines 110-115, masks padding only).
//
// Retrieval (a pair batch): both documents of every pair are corrupted and reconstructed, in every mode
// (the predecessor's collator corrupts text1 and text2 alike, src/data_loaders/text_retrieval.py:65-97), and
// the reconstruction loss is one mean over the scored positions of both documents (the predecessor runs the
// 2B documents as one batch and divides by their total count of non-pad tokens).
//
// The corruption draws from its own generator (ids first, then ids2, row after row), so the dropout draws
// of a step are the same with or without denoising. Evaluation never corrupts (evaluate.h): the
// predecessor's validation and test loaders set mask_ratio = 0 too.
#pragma once

#include "engine/dist.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "models/backbone/backbone.h"
#include "tasks/common/dataset.h"
#include "tasks/common/denoise.h"
#include "tools/train/evaluate.h"
#include "tools/train/settings.h"

namespace lra::train {

// The corruption settings of a run: rate denoise_rate, targets denoise_targets, the rest denoise.h's defaults.
tasks::DenoiseOptions denoise_options(const TrainConfig& c);

struct CorruptedBatch {
  tasks::Batch batch;        // ids (and, for a pair, ids2) corrupted; masks, lengths and labels as given
  Tensor targets, targets2;  // [B, L] int32 host tensors (targets2: pair batches only)
};

// Corrupts every sequence of a host batch: ids, then ids2 when the batch is a pair.
CorruptedBatch corrupt_batch(const tasks::Batch& b, Generator& gen, const tasks::DenoiseOptions& options);

struct StepLoss {
  Tensor loss;    // scalar on the feed's device, the one backward() runs from
  Tensor logits;  // [B, classes] the class logits in the loss (of the corrupted batch in single_pass)
};

// Data-parallel runs: `b` is one rank's slice of the global batch, and the loss returned is this rank's
// share of the global batch's loss, so that the sum over ranks (of losses and of gradients) is what one
// process computes on the whole batch: the classification mean is weighted by rows / global rows, the
// reconstruction mean by this rank's scored positions / the global batch's (one host all-reduce of a
// count through `comm`). With no comm (or world 1) the loss is the plain mean, unchanged.
// The loss of one training step on host batch `b` (see the header comment).
StepLoss training_loss(models::LraModel& model, const Feed& feed, const tasks::Batch& b, const TrainConfig& c,
                       Generator& dropout, Generator& corrupt, dist::Comm* comm = nullptr);

}  // namespace lra::train
