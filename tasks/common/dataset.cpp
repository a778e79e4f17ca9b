// Splits, collation and the background batch loader (see dataset.h for the contract).
//
// Random streams. The loader never shares a Generator between threads; every draw comes from a
// generator rebuilt from fixed keys, so batches depend only on (seed, epoch, position):
//   epoch order:   Generator(mix(seed, kShuffleSalt), epoch << 40).permutation(n)
//   augmentation:  Generator(mix(mix(seed, kAugmentSalt), epoch), position << 24) for the example at
//                  `position` of the epoch order (2^24 counters per example, 2^40 positions).
// The salts keep these streams apart from a model initialised with Generator(seed).
#include "tasks/common/dataset.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

namespace lra::tasks {

namespace {

// SplitMix64 finaliser: a cheap bijective mix so that nearby seeds give unrelated Philox keys.
uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

constexpr uint64_t kShuffleSalt = 0x53485546464C45ull;  // "SHUFFLE"
constexpr uint64_t kAugmentSalt = 0x4155474D454E54ull;  // "AUGMENT"

std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch) {
  if (shuffle) return Generator(mix(seed, kShuffleSalt), uint64_t(epoch) << 40).permutation(n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

Generator augment_generator(uint64_t seed, int64_t epoch, int64_t position) {
  return Generator(mix(mix(seed, kAugmentSalt), uint64_t(epoch)), uint64_t(position) << 24);
}

// Pads one document per example into [B, L] ids/mask and [B] lengths. `second` picks tokens2.
void pad_documents(const TaskInfo& info, const std::vector<Example>& examples, bool second, Tensor* ids,
                   Tensor* mask, Tensor* lengths) {
  const int64_t B = int64_t(examples.size()), L = info.max_len;
  std::vector<int32_t> id(static_cast<size_t>(B * L), 0), m(id.size(), 0), len(static_cast<size_t>(B), 0);
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int32_t>& doc = second ? examples[size_t(b)].tokens2 : examples[size_t(b)].tokens;
    const int64_t n = std::min<int64_t>(int64_t(doc.size()), L);
    for (int64_t t = 0; t < n; ++t) {
      const int32_t tok = doc[size_t(t)];
      LRA_CHECK(tok >= 0 && (info.vocab_size <= 0 || tok < info.vocab_size), "collate (", info.name,
                "): example ", b, " of the batch has token id ", tok, " at position ", t, ", outside [0, ",
                info.vocab_size, ")");
      id[size_t(b * L + t)] = tok;
      m[size_t(b * L + t)] = 1;
    }
    len[size_t(b)] = int32_t(n);
  }
  *ids = Tensor::from_vector(id, {B, L});
  *mask = Tensor::from_vector(m, {B, L});
  *lengths = Tensor::from_vector(len, {B});
}

}  // namespace

const std::shared_ptr<const Split>& Dataset::split(const std::string& name) const {
  auto it = splits.find(name);
  if (it == splits.end()) {
    std::string names;
    for (const auto& [n, s] : splits) names += (names.empty() ? "" : ", ") + n;
    fail(str("dataset ", info.name, " has no split '", name, "' (it has: ", names.empty() ? "none" : names, ")"));
  }
  return it->second;
}

// The mask is 1 at the positions an example fills (after truncation), whatever their ids: an
// image pixel of value 0 is a real token here. LRA's own mask is `ids > 0`; a model that wants that
// quirk can compute it from ids.
Batch collate(const TaskInfo& info, const std::vector<Example>& examples) {
  LRA_CHECK(!examples.empty(), "collate (", info.name, "): empty batch");
  LRA_CHECK(info.max_len > 0, "collate (", info.name, "): max_len must be positive, got ", info.max_len);
  Batch batch;
  pad_documents(info, examples, false, &batch.ids, &batch.mask, &batch.lengths);
  if (info.pair) pad_documents(info, examples, true, &batch.ids2, &batch.mask2, &batch.lengths2);
  std::vector<int32_t> labels;
  labels.reserve(examples.size());
  for (const Example& e : examples) {
    LRA_CHECK(info.num_classes <= 0 || (e.label >= 0 && e.label < info.num_classes), "collate (", info.name,
              "): label ", e.label, " outside [0, ", info.num_classes, ")");
    labels.push_back(e.label);
  }
  batch.labels = Tensor::from_vector(labels, {int64_t(examples.size())});
  return batch;
}

std::pair<int64_t, int64_t> shard_range(int64_t rows, int index, int count) {
  LRA_CHECK(count >= 1 && index >= 0 && index < count, "shard ", index, " of ", count, " does not exist");
  LRA_CHECK(rows >= 0, "shard_range: negative row count ", rows);
  return {rows * index / count, rows * (index + 1) / count};
}

// --- BatchLoader ----------------------------------------------------------------------------------
// One producer thread fills a deque of at most queue_depth batches; next() takes from the front.
// Shutdown: the destructor raises `stop` and wakes the producer, which leaves at its next check, so a
// consumer that stops early (early stopping, an exception in the trainer) never hangs.

struct BatchLoader::State {
  std::shared_ptr<const Split> split;
  TaskInfo info;
  LoaderOptions options;

  std::mutex mu;
  std::condition_variable not_full, not_empty;
  std::deque<Batch> queue;
  bool stop = false;  // set by the destructor
  bool done = false;  // the producer has finished (all epochs, stopped, or failed)
  std::exception_ptr error;
  std::thread producer;

  int64_t batches_per_epoch() const {
    const int64_t n = split->size(), B = options.batch_size;
    return options.drop_last ? n / B : (n + B - 1) / B;
  }

  bool stopping() {
    std::lock_guard<std::mutex> lock(mu);
    return stop;
  }

  void run() {
    try {
      const int64_t n = split->size(), B = options.batch_size, per_epoch = batches_per_epoch();
      for (int64_t epoch = 0; options.epochs < 0 || epoch < options.epochs; ++epoch) {
        if (stopping()) break;
        const std::vector<int64_t> order = epoch_order(n, options.shuffle, options.seed, epoch);
        for (int64_t b = 0; b < per_epoch && !stopping(); ++b) {
          const int64_t first = b * B, rows = std::min(n, (b + 1) * B) - first;
          const auto [lo, hi] = shard_range(rows, options.shard_index, options.shard_count);
          std::vector<Example> examples;
          for (int64_t pos = first + lo; pos < first + hi; ++pos) {
            examples.push_back(split->get(order[size_t(pos)]));
            if (options.augment) {
              Generator gen = augment_generator(options.seed, epoch, pos);
              options.augment(examples.back(), gen);
            }
          }
          Batch batch = examples.empty() ? Batch{} : collate(info, examples);
          batch.first_row = lo;
          batch.global_rows = rows;
          std::unique_lock<std::mutex> lock(mu);
          not_full.wait(lock, [&] { return stop || int64_t(queue.size()) < options.queue_depth; });
          if (stop) break;  // the destructor is waiting; finish() below ends the run
          queue.push_back(std::move(batch));
          not_empty.notify_one();
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      error = std::current_exception();
    }
    finish();
  }

  void finish() {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    not_empty.notify_all();
  }
};

BatchLoader::BatchLoader(std::shared_ptr<const Split> split, TaskInfo info, LoaderOptions options)
    : state_(std::make_unique<State>()) {
  LRA_CHECK(split != nullptr, "BatchLoader (", info.name, "): no split given");
  LRA_CHECK(options.batch_size > 0, "BatchLoader (", info.name, "): batch_size must be positive, got ",
            options.batch_size);
  LRA_CHECK(options.queue_depth > 0, "BatchLoader (", info.name, "): queue_depth must be positive, got ",
            options.queue_depth);
  LRA_CHECK(options.epochs >= -1, "BatchLoader (", info.name, "): epochs must be -1 (forever) or >= 0, got ",
            options.epochs);
  LRA_CHECK(options.shard_count >= 1 && options.shard_index >= 0 && options.shard_index < options.shard_count,
            "BatchLoader (", info.name, "): shard ", options.shard_index, " of ", options.shard_count,
            " does not exist");
  state_->split = std::move(split);
  state_->info = std::move(info);
  state_->options = std::move(options);
  LRA_CHECK(state_->options.epochs == 0 || state_->batches_per_epoch() > 0, "BatchLoader (", state_->info.name,
            "): a split of ", state_->split->size(), " examples gives no batch of ", state_->options.batch_size,
            state_->options.drop_last ? " with drop_last" : "");
  State* s = state_.get();
  s->producer = std::thread([s] { s->run(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
  }
  state_->not_full.notify_all();
  if (state_->producer.joinable()) state_->producer.join();
}

std::optional<Batch> BatchLoader::next() {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mu);
  s.not_empty.wait(lock, [&] { return !s.queue.empty() || s.done; });
  if (!s.queue.empty()) {
    Batch batch = std::move(s.queue.front());
    s.queue.pop_front();
    s.not_full.notify_one();
    return batch;
  }
  // Batches made before a failure are delivered first; then the failure, on every later call too.
  if (s.error) std::rethrow_exception(s.error);
  return std::nullopt;
}

int64_t BatchLoader::batches_per_epoch() const { return state_->batches_per_epoch(); }

}  // namespace lra::tasks
