// The task-independent data path: Dataset::split, collate, and the background BatchLoader
// (determinism by seed, epochs as permutations, drop_last, bounded queue, early shutdown, errors).
#include <gtest/gtest.h>

#include "tests/support/compare.h"

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "tasks/common/dataset.h"

using namespace lra::tasks;

namespace {

// Example i: tokens {i + 1, then i % 4 copies of 1}, label i % 3. The first id names the example.
std::shared_ptr<MemorySplit> numbered(int64_t n) {
  std::vector<Example> ex;
  for (int64_t i = 0; i < n; ++i) {
    Example e;
    e.tokens.push_back(int32_t(i + 1));
    e.tokens.insert(e.tokens.end(), size_t(i % 4), 1);
    e.label = int32_t(i % 3);
    ex.push_back(e);
  }
  return std::make_shared<MemorySplit>(ex);
}

TaskInfo numbered_info() { return TaskInfo{"numbered", 1000, 6, 3, false}; }

// The example indices of a batch (first token of each row, minus one).
std::vector<int64_t> indices(const Batch& b) {
  std::vector<int32_t> ids = b.ids.to_vector<int32_t>();
  std::vector<int64_t> out;
  const int64_t L = b.ids.dim(1);
  for (int64_t r = 0; r < b.ids.dim(0); ++r) out.push_back(ids[size_t(r * L)] - 1);
  return out;
}

// All batches of a finite loader, as index lists.
std::vector<std::vector<int64_t>> drain(BatchLoader& loader) {
  std::vector<std::vector<int64_t>> out;
  while (auto b = loader.next()) out.push_back(indices(*b));
  return out;
}

LoaderOptions opts(uint64_t seed, int64_t batch, int64_t epochs, bool drop_last) {
  LoaderOptions o;
  o.seed = seed;
  o.batch_size = batch;
  o.epochs = epochs;
  o.drop_last = drop_last;
  return o;
}

using lra::test::error_of;

// A split that counts get() calls, can be slowed down, and fails at one index.
class ProbeSplit : public Split {
 public:
  ProbeSplit(int64_t n, int64_t fail_at = -1, int sleep_ms = 0) : n_(n), fail_at_(fail_at), sleep_ms_(sleep_ms) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    ++calls;
    if (sleep_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    if (i == fail_at_) lra::fail(lra::str("probe.tsv:", i + 2, ": bad record"));
    Example e;
    e.tokens = {int32_t(i % 500 + 1)};
    return e;
  }
  mutable std::atomic<int64_t> calls{0};

 private:
  int64_t n_, fail_at_;
  int sleep_ms_;
};

}  // namespace

TEST(Dataset, SplitLookupListsTheSplits) {
  Dataset d;
  d.info.name = "toy";
  d.splits["train"] = numbered(3);
  d.splits["test"] = numbered(2);
  EXPECT_EQ(d.split("test")->size(), 2);
  const std::string msg = error_of([&] { d.split("val"); });
  EXPECT_NE(msg.find("no split 'val' (it has: test, train)"), std::string::npos) << msg;
}

TEST(Collate, PadsTruncatesAndMasks) {
  TaskInfo info{"t", 50, 4, 3, false};
  std::vector<Example> ex(3);
  ex[0].tokens = {5, 6};
  ex[0].label = 2;
  ex[1].tokens = {1, 2, 3, 4, 5, 6};  // truncated to 4
  ex[2].tokens = {};                   // all padding
  ex[2].label = 1;
  Batch b = collate(info, ex);
  EXPECT_EQ(b.ids.dtype(), lra::DType::I32);
  EXPECT_EQ(b.ids.to_vector<int32_t>(), (std::vector<int32_t>{5, 6, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0}));
  EXPECT_EQ(b.mask.to_vector<int32_t>(), (std::vector<int32_t>{1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(b.lengths.to_vector<int32_t>(), (std::vector<int32_t>{2, 4, 0}));
  EXPECT_EQ(b.labels.to_vector<int32_t>(), (std::vector<int32_t>{2, 0, 1}));
  EXPECT_FALSE(b.ids2.defined());

  info.pair = true;
  ex[0].tokens2 = {9};
  ex[1].tokens2 = {7, 7, 7, 7, 7};
  b = collate(info, ex);
  EXPECT_EQ(b.ids2.to_vector<int32_t>(), (std::vector<int32_t>{9, 0, 0, 0, 7, 7, 7, 7, 0, 0, 0, 0}));
  EXPECT_EQ(b.mask2.to_vector<int32_t>(), (std::vector<int32_t>{1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(b.lengths2.to_vector<int32_t>(), (std::vector<int32_t>{1, 4, 0}));

  EXPECT_NE(error_of([&] { collate(info, {}); }).find("empty batch"), std::string::npos);
  ex[1].tokens[2] = 50;
  EXPECT_NE(error_of([&] { collate(info, ex); }).find("token id 50 at position 2, outside [0, 50)"),
            std::string::npos);
  ex[1].tokens[2] = 3;
  ex[1].label = 3;
  EXPECT_NE(error_of([&] { collate(info, ex); }).find("label 3 outside [0, 3)"), std::string::npos);
}

TEST(BatchLoader, SameSeedSameBatchesOtherSeedOthers) {
  auto split = numbered(40);
  BatchLoader a(split, numbered_info(), opts(5, 8, 2, true));
  BatchLoader b(split, numbered_info(), opts(5, 8, 2, true));
  BatchLoader c(split, numbered_info(), opts(6, 8, 2, true));
  auto ba = drain(a), bb = drain(b), bc = drain(c);
  ASSERT_EQ(ba.size(), 10u);
  EXPECT_EQ(ba, bb);
  EXPECT_NE(ba, bc);
  EXPECT_NE(ba[0], bc[0]);
  // Labels and padding travel with the examples.
  BatchLoader d(split, numbered_info(), opts(5, 8, 1, true));
  auto batch = d.next();
  ASSERT_TRUE(batch);
  std::vector<int32_t> labels = batch->labels.to_vector<int32_t>(), lengths = batch->lengths.to_vector<int32_t>();
  for (size_t r = 0; r < 8; ++r) {
    EXPECT_EQ(labels[r], int32_t(ba[0][r] % 3));
    EXPECT_EQ(lengths[r], int32_t(1 + ba[0][r] % 4));
  }
}

TEST(BatchLoader, EachEpochIsAPermutation) {
  auto split = numbered(50);
  BatchLoader loader(split, numbered_info(), opts(1, 7, 3, false));
  EXPECT_EQ(loader.batches_per_epoch(), 8);
  auto batches = drain(loader);
  ASSERT_EQ(batches.size(), 24u);
  std::vector<std::vector<int64_t>> epochs(3);
  for (size_t i = 0; i < batches.size(); ++i) {
    EXPECT_EQ(batches[i].size(), i % 8 == 7 ? 1u : 7u);  // the last batch of an epoch is partial
    epochs[i / 8].insert(epochs[i / 8].end(), batches[i].begin(), batches[i].end());
  }
  for (const auto& e : epochs) {
    std::vector<int64_t> sorted = e;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[size_t(i)], i);  // every example exactly once
  }
  EXPECT_NE(epochs[0], epochs[1]);
  EXPECT_NE(epochs[1], epochs[2]);
  EXPECT_FALSE(loader.next());  // and it stays finished
  EXPECT_FALSE(loader.next());
}

TEST(BatchLoader, DropLastAndNoShuffle) {
  auto split = numbered(50);
  LoaderOptions o = opts(1, 7, 2, true);
  BatchLoader loader(split, numbered_info(), o);
  EXPECT_EQ(loader.batches_per_epoch(), 7);
  auto batches = drain(loader);
  ASSERT_EQ(batches.size(), 14u);
  std::set<int64_t> first_epoch;
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(batches[i].size(), 7u);
    first_epoch.insert(batches[i].begin(), batches[i].end());
  }
  EXPECT_EQ(first_epoch.size(), 49u);  // distinct: one example sits out

  o.shuffle = false;
  o.epochs = 1;
  BatchLoader ordered(split, numbered_info(), o);
  auto in_order = drain(ordered);
  for (size_t b = 0; b < in_order.size(); ++b)
    for (size_t r = 0; r < 7; ++r) EXPECT_EQ(in_order[b][r], int64_t(b * 7 + r));

  EXPECT_NE(error_of([&] { BatchLoader{numbered(5), numbered_info(), opts(1, 8, -1, true)}; })
                .find("a split of 5 examples gives no batch of 8 with drop_last"),
            std::string::npos);
  EXPECT_NE(error_of([&] { BatchLoader{split, numbered_info(), opts(1, 0, 1, true)}; }).find("batch_size"),
            std::string::npos);
  BatchLoader none(split, numbered_info(), opts(1, 8, 0, true));
  EXPECT_FALSE(none.next());
}

TEST(BatchLoader, QueueIsBoundedAndEarlyStopDoesNotHang) {
  auto split = std::make_shared<ProbeSplit>(1000);
  LoaderOptions o = opts(3, 2, -1, true);
  o.queue_depth = 3;
  {
    BatchLoader loader(split, numbered_info(), o);
    ASSERT_TRUE(loader.next());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // One batch taken, three queued, one being built and waiting for room: at most 5 batches read.
    EXPECT_LE(split->calls.load(), 5 * 2);
    EXPECT_GE(split->calls.load(), 4 * 2);
  }  // destroyed while the producer waits on a full queue
  {
    BatchLoader never_read(split, numbered_info(), o);
  }  // destroyed before any next()
  auto slow = std::make_shared<ProbeSplit>(1000, -1, 5);
  auto start = std::chrono::steady_clock::now();
  {
    BatchLoader loader(slow, numbered_info(), opts(3, 4, -1, true));
    ASSERT_TRUE(loader.next());
  }  // destroyed mid-batch: leaves after the batch in hand, not after the epoch
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(BatchLoader, ProducerErrorsReachTheConsumer) {
  auto split = std::make_shared<ProbeSplit>(30, 13);
  LoaderOptions o = opts(0, 5, 1, true);
  o.shuffle = false;
  BatchLoader loader(split, numbered_info(), o);
  ASSERT_TRUE(loader.next());  // 0..4
  ASSERT_TRUE(loader.next());  // 5..9
  const std::string msg = error_of([&] { loader.next(); });
  EXPECT_NE(msg.find("probe.tsv:15: bad record"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { loader.next(); }), "(no error)");  // and again, not a silent end

  // A collate error (token outside the vocabulary) travels the same way.
  TaskInfo tiny = numbered_info();
  tiny.vocab_size = 3;
  BatchLoader bad(numbered(10), tiny, opts(0, 2, 1, true));
  EXPECT_NE(error_of([&] { bad.next(); }).find("outside [0, 3)"), std::string::npos);
}

TEST(BatchLoader, AugmentationKeyedBySeedEpochAndPosition) {
  auto split = numbered(24);
  auto run = [&](uint64_t seed, int queue_depth) {
    LoaderOptions o = opts(seed, 6, 2, true);
    o.queue_depth = queue_depth;
    // Appends one random id in [100, 1000) to each example.
    o.augment = [](Example& e, lra::Generator& gen) { e.tokens.push_back(100 + int32_t(gen.below(900))); };
    BatchLoader loader(split, TaskInfo{"numbered", 1000, 8, 3, false}, o);
    std::vector<std::vector<int32_t>> out;
    while (auto b = loader.next()) out.push_back(b->ids.to_vector<int32_t>());
    return out;
  };
  auto a = run(9, 1), b = run(9, 4), c = run(10, 4);
  ASSERT_EQ(a.size(), 8u);
  EXPECT_EQ(a, b);  // independent of queue depth / thread timing
  EXPECT_NE(a, c);
  // The augmentation actually ran, after the example's own tokens.
  std::set<int32_t> drawn;
  for (const auto& batch : a)
    for (size_t r = 0; r < 6; ++r) {
      const int32_t* row = batch.data() + r * 8;
      const int32_t own = 1 + (row[0] - 1) % 4;  // the numbered example's length
      EXPECT_GE(row[own], 100);
      drawn.insert(row[own]);
    }
  EXPECT_GT(drawn.size(), 40u);  // 48 draws from 900 values: nearly all distinct, epochs differ
}

// --- data-parallel shards -----------------------------------------------------------------------

TEST(ShardRange, ConsecutiveSlicesCoverEveryRowOnce) {
  for (int64_t rows : {0, 1, 2, 7, 15, 16}) {
    for (int count : {1, 2, 3, 4}) {
      int64_t next = 0;
      for (int r = 0; r < count; ++r) {
        const auto [lo, hi] = shard_range(rows, r, count);
        EXPECT_EQ(lo, next) << rows << " rows, shard " << r << " of " << count;
        EXPECT_LE(hi - lo, rows / count + 1);
        EXPECT_GE(hi - lo, rows / count);
        next = hi;
      }
      EXPECT_EQ(next, rows);
    }
  }
  EXPECT_EQ(shard_range(15, 0, 2).second, 7);
  EXPECT_EQ(shard_range(15, 1, 2).first, 7);
  EXPECT_NE(error_of([] { shard_range(4, 2, 2); }).find("shard 2 of 2"), std::string::npos);
}

// N shards of a loader deliver, batch by batch, exactly the rows one loader does, in the same order,
// with their place in the global batch; the final partial batch and an evaluation's tiny last batch too.
TEST(BatchLoader, ShardsPartitionEveryGlobalBatch) {
  for (bool drop_last : {true, false}) {
    for (int count : {2, 3}) {
      SCOPED_TRACE(testing::Message() << "drop_last " << drop_last << ", " << count << " shards");
      const auto split = numbered(23);
      BatchLoader whole(split, numbered_info(), opts(5, 10, 2, drop_last));
      std::vector<std::unique_ptr<BatchLoader>> shards;
      for (int r = 0; r < count; ++r) {
        LoaderOptions o = opts(5, 10, 2, drop_last);
        o.shard_index = r;
        o.shard_count = count;
        shards.push_back(std::make_unique<BatchLoader>(split, numbered_info(), o));
        EXPECT_EQ(shards.back()->batches_per_epoch(), whole.batches_per_epoch());
      }
      int64_t batches = 0;
      while (auto g = whole.next()) {
        const std::vector<int64_t> want = indices(*g);
        EXPECT_EQ(g->first_row, 0);
        EXPECT_EQ(g->global_rows, int64_t(want.size()));
        std::vector<int64_t> got;
        for (int r = 0; r < count; ++r) {
          auto b = shards[size_t(r)]->next();
          ASSERT_TRUE(b.has_value());
          EXPECT_EQ(b->global_rows, int64_t(want.size()));
          EXPECT_EQ(b->first_row, int64_t(got.size()));
          if (b->rows() > 0) {
            const std::vector<int64_t> part = indices(*b);
            got.insert(got.end(), part.begin(), part.end());
          }
        }
        EXPECT_EQ(got, want);
        ++batches;
      }
      EXPECT_EQ(batches, 2 * whole.batches_per_epoch());
      for (auto& s : shards) EXPECT_FALSE(s->next().has_value());
    }
  }
}

TEST(BatchLoader, ShardsOfATinyLastBatchMayBeEmpty) {
  LoaderOptions o = opts(1, 4, 1, false);
  o.shard_count = 3;
  o.shard_index = 0;
  BatchLoader loader(numbered(5), numbered_info(), o);  // batches of 4 and 1: shard 0 of 3 gets 1 and 0 rows
  auto first = loader.next(), last = loader.next();
  ASSERT_TRUE(first && last);
  EXPECT_EQ(first->rows(), 1);
  EXPECT_EQ(last->rows(), 0);
  EXPECT_FALSE(last->ids.defined());
  EXPECT_EQ(last->global_rows, 1);
  o.shard_index = 3;
  EXPECT_NE(error_of([&] { BatchLoader bad(numbered(5), numbered_info(), o); }).find("shard 3 of 3"),
            std::string::npos);
}
