// The contract every LRA task meets: what a task is (TaskInfo), what a split yields (Examples, produced
// on demand so large image sets decode lazily in the loader thread), and how examples become batches
// (int32 ids padded with 0, as in the LRA code, plus a padding mask and int32 labels).
//
// Determinism: an epoch is a permutation of the split drawn from the run seed and the epoch number,
// and per-example augmentation draws from a generator keyed by (seed, epoch, position) — so the same
// seed gives the same batches on any machine, whatever the thread timing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace lra::tasks {

struct TaskInfo {
  std::string name;     // "listops", "text", "retrieval", "image", "pathfinder32", ...
  int vocab_size = 0;   // ids lie in [0, vocab_size); 0 is padding
  int max_len = 0;      // sequences are truncated/padded to this
  int num_classes = 0;
  bool pair = false;    // retrieval: two documents per example (tokens and tokens2)
};

struct Example {
  std::vector<int32_t> tokens;   // unpadded ids
  std::vector<int32_t> tokens2;  // second document of a pair task, else empty
  int32_t label = 0;
};

// A split produces examples by index. get() must be safe to call from the loader thread.
class Split {
 public:
  virtual ~Split() = default;
  virtual int64_t size() const = 0;
  virtual Example get(int64_t index) const = 0;
  // Records the loader skipped (e.g. the release's known empty Pathfinder PNG), for `inspect`.
  int64_t skipped() const { return skipped_; }
  void set_skipped(int64_t n) { skipped_ = n; }

 private:
  int64_t skipped_ = 0;
};

// Examples held in memory.
class MemorySplit : public Split {
 public:
  explicit MemorySplit(std::vector<Example> examples) : examples_(std::move(examples)) {}
  int64_t size() const override { return int64_t(examples_.size()); }
  Example get(int64_t index) const override { return examples_.at(size_t(index)); }
  const std::vector<Example>& examples() const { return examples_; }

 private:
  std::vector<Example> examples_;
};

struct Dataset {
  TaskInfo info;
  std::map<std::string, std::shared_ptr<const Split>> splits;  // "train", "val", "test"
  // The named split, or an error listing the ones that exist.
  const std::shared_ptr<const Split>& split(const std::string& name) const;
};

struct Batch {
  Tensor ids;      // [B, L] int32, 0 = padding
  Tensor mask;     // [B, L] int32, 1 at real tokens
  Tensor lengths;  // [B] int32, unpadded lengths (after truncation)
  Tensor ids2, mask2, lengths2;  // pair tasks only
  Tensor labels;   // [B] int32
  // Data-parallel runs: this batch is rows [first_row, first_row + rows()) of a global batch of global_rows
  // (LoaderOptions::shard_*). A shard can be empty (an evaluation's last batch smaller than the number of
  // ranks): then no tensor is defined and rows() is 0. Unsharded: first_row 0, global_rows = rows().
  int64_t first_row = 0, global_rows = 0;
  int64_t rows() const { return labels.defined() ? labels.dim(0) : 0; }
};

// The rows [begin, end) of a global batch of `rows` that shard `index` of `count` takes: consecutive
// slices, begin = floor(rows * index / count), so their sizes differ by at most one and cover every row once.
std::pair<int64_t, int64_t> shard_range(int64_t rows, int index, int count);

// Pads/truncates each example to info.max_len and stacks them (host tensors).
Batch collate(const TaskInfo& info, const std::vector<Example>& examples);

// Changes an example in place (training-time augmentation), drawing from gen.
using Augment = std::function<void(Example&, Generator&)>;

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = true;  // a partial final batch is dropped (the LRA retrieval pipeline does this)
  uint64_t seed = 0;
  int64_t epochs = -1;    // -1: repeat forever
  int queue_depth = 4;    // batches prepared ahead
  Augment augment;        // none when empty
  // Data-parallel: every shard walks the same seeded order of global batches of batch_size and takes its
  // slice of each (shard_range); only its own examples are read and augmented. batches_per_epoch() counts
  // global batches, so every shard delivers the same number of batches.
  int shard_index = 0, shard_count = 1;
};

// Prepares batches on a background thread into a bounded queue, so the trainer never waits on parsing
// or decoding. next() returns nullopt after the last epoch; an exception in the producer (a malformed
// file found lazily) is rethrown from next().
class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const Split> split, TaskInfo info, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;
  std::optional<Batch> next();
  int64_t batches_per_epoch() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lra::tasks
