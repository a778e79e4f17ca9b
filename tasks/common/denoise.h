// Masked-token denoising: the auxiliary objective for the byte-level tasks (text, retrieval). A batch's
// ids are corrupted and the model predicts the original byte, with cross_entropy(logits [B*L,
// kDenoiseVocabSize], targets [B*L]) (ops/loss: -100 is its ignore index), at the corrupted positions only
// (targets = corrupted) or at every non-pad position (targets = all: the locality-bias predecessor,
// long-transformers src/trainers/text_classification_trainer.py:110-115, scores the uncorrupted ones too).
//
// Which positions. Per sequence, exactly k = round(rate * n) of its n non-pad positions (round half away
// from zero; 30% by default), chosen uniformly among the k-subsets (a partial Fisher-Yates shuffle). An
// exact count, rather than an independent coin per position, keeps the loss weight of every sequence
// proportional to its length and makes the proportions testable exactly. Of the k, exactly
// round(random_fraction * k) (a third by default, chosen uniformly too) become a uniformly random byte id
// in [random_low, random_high] = [1, 256] (which may happen to equal the original, as in BERT); the rest
// become kMaskId. Pad positions (id == pad_id) are never touched and never targets.
//
// So a model trained with this objective needs an input vocabulary of kDenoiseVocabSize = 258
// (257 byte/pad ids + MASK); its output head predicts the same 258 ids (only 1..256 ever appear as targets).
//
// Determinism, keyed per row. A row of length L draws at most 2·L values with below() (one per chosen
// position for the shuffle, one more for each random id: 2k <= 2L), one counter each. So every row gets
// its own stretch of kDenoiseCountersPerPosition·L counters: a call on [B, L] reserves B·2L counters from
// gen (base = gen.reserve_rows(...)), and row i draws from Generator(gen.seed(), base + i·2L). Under a
// batch window (engine/rng.h: ids is the local slice, B = local_rows) the call reserves the global
// batch's global_rows·2L counters and row i is keyed by its global row first_row + i, so a row's
// corruption does not depend on how the batch is split across ranks. The result is a function of the
// generator's state (seed, offset, window) and the ids; gen is advanced past the reservation.
#pragma once

#include <cstdint>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace lra::tasks {

constexpr int32_t kMaskId = 257;           // one past the 257 ids of the byte vocabulary
constexpr int kDenoiseVocabSize = 258;     // byte vocab (257) + MASK
constexpr int32_t kDenoiseIgnore = -100;   // target at positions that are not predicted

// Which positions the reconstruction scores: the corrupted ones, or every non-pad one. The draws (which
// positions, which ids) are the same either way.
enum class DenoiseTargets { Corrupted, All };

constexpr int64_t kDenoiseCountersPerPosition = 2;  // the row stride is 2·L counters (see Determinism)

struct DenoiseOptions {
  double rate = 0.3;                   // fraction of non-pad positions corrupted
  double random_fraction = 1.0 / 3.0;  // of those, the fraction given a random id (the rest get mask_id)
  int32_t mask_id = kMaskId;
  int32_t random_low = 1, random_high = 256;  // random ids are uniform in [low, high]
  int32_t pad_id = 0;
  DenoiseTargets targets = DenoiseTargets::Corrupted;
};

struct Denoised {
  Tensor ids;      // [B, L] int32, corrupted copy of the input
  Tensor targets;  // [B, L] int32, the original id where scored (see targets), kDenoiseIgnore elsewhere
};

// ids: a host int32 tensor [B, L] with values in [0, mask_id) (a second corruption is refused). The input
// is not modified.
Denoised corrupt(const Tensor& ids, Generator& gen, const DenoiseOptions& options = {});

// The same for one row of length L (raw pointers, for tests and other callers), drawing from gen directly
// (at most 2·L below() values); returns the number of positions corrupted.
int64_t corrupt_row(const int32_t* ids, int64_t L, Generator& gen, const DenoiseOptions& options,
                    int32_t* out_ids, int32_t* targets);

}  // namespace lra::tasks
