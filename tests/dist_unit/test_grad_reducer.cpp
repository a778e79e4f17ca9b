// GradReducer's bookkeeping on the CPU, with a fake in-process communicator standing for 2 ranks that
// hold equal gradients: a sum over ranks doubles every element (exactly, in floating point), and the
// fake records the (offset, size) of every reduction it is asked for. Checked: buckets tile the flat
// buffer along slot boundaries within bucket_bytes (a larger parameter alone); the result equals the
// whole-buffer reduction bit for bit; every element is reduced exactly once; buckets start in index
// order; on a real backward they start before the backward ends; a bucket waits for its predecessors.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "engine/dist/reducer.h"
#include "engine/optim.h"
#include "tests/dist_unit/mlp.h"
#include "tests/support/compare.h"

namespace lra {
namespace {

struct Range {
  int64_t offset, size;
  bool operator==(const Range&) const = default;
};

class FakeComm final : public dist::Comm {
 public:
  FakeComm(bool overlap, int world = 2) : overlap_(overlap), world_(world) {}
  const Tensor* base = nullptr;  // the flat gradient buffer, for offsets
  std::vector<Range> starts;     // all_reduce_sum_start calls
  std::vector<Range> blocking;   // all_reduce_sum calls
  int waits = 0;
  std::function<void()> on_start;

  int rank() const override { return 0; }
  int world() const override { return world_; }
  int local_rank() const override { return 0; }
  const char* backend() const override { return "fake"; }
  bool overlaps() const override { return overlap_; }
  void all_reduce_sum(Tensor& t) override {
    blocking.push_back(range(t));
    twice(t);
  }
  void all_reduce_sum_start(Tensor& t) override {
    starts.push_back(range(t));
    if (on_start) on_start();
    twice(t);
  }
  void all_reduce_wait() override { ++waits; }
  void all_reduce(double*, int64_t, dist::ReduceOp) override {}
  void all_reduce(int64_t*, int64_t, dist::ReduceOp) override {}
  void broadcast(Tensor&, int) override {}
  void broadcast(std::string&, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int) override { std::abort(); }

 private:
  Range range(const Tensor& t) const {
    const int64_t bytes = static_cast<const char*>(t.raw_data()) - static_cast<const char*>(base->raw_data());
    return {bytes / int64_t(dtype_size(t.dtype())), t.numel()};
  }
  static void twice(Tensor& t) {
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] *= 2;
  }
  bool overlap_;
  int world_;
};

// A module with parameters of the given sizes, registered in order.
class Params : public nn::Module {
 public:
  explicit Params(const std::vector<int64_t>& sizes) {
    for (size_t i = 0; i < sizes.size(); ++i) register_parameter("p" + std::to_string(i), Tensor::zeros({sizes[i]}));
  }
};

// Fills the flat gradient buffer with i·0.25 (exact in float32) at element i.
void fill_grads(optim::Optimizer& opt) {
  Tensor g = opt.flat_grads();
  for (int64_t i = 0; i < g.numel(); ++i) g.data<float>()[i] = float(i % 4096) * 0.25f;
}

TEST(GradReducer, BucketsTileTheBufferAlongSlotsWithinTheirSize) {
  const std::vector<int64_t> sizes = {1000, 10, 3000, 7, 500, 20000, 64, 1, 900};
  Params m(sizes);
  optim::AdamW opt(m.named_parameters(), {});
  FakeComm comm(true);
  const int64_t bucket_bytes = 8192;  // 2048 floats
  dist::GradReducer r(opt, comm, bucket_bytes);
  const int64_t total = opt.flat_grads().numel();
  ASSERT_GT(r.bucket_count(), 3);
  EXPECT_EQ(r.bucket(0).end, total);  // bucket 0 holds the last slots
  EXPECT_EQ(r.bucket(r.bucket_count() - 1).begin, 0);
  std::vector<int> owner(sizes.size(), 0);
  for (int64_t k = 0; k < r.bucket_count(); ++k) {
    const auto& b = r.bucket(k);
    if (k > 0) EXPECT_EQ(b.end, r.bucket(k - 1).begin) << "bucket " << k;
    ASSERT_FALSE(b.params.empty());
    // Whole slots, contiguous, descending; the bucket starts where its first slot does (or at 0).
    for (size_t j = 0; j + 1 < b.params.size(); ++j) EXPECT_EQ(b.params[j + 1] + 1, b.params[j]);
    EXPECT_EQ(b.begin, b.params.back() == 0 ? 0 : opt.slot_begin(b.params.back()));
    for (size_t p : b.params) {
      ++owner[p];
      EXPECT_GE(opt.slot_begin(p), b.begin);
      EXPECT_LE(opt.slot_begin(p) + sizes[p], b.end);
    }
    if (b.params.size() > 1) EXPECT_LE((b.end - b.begin) * 4, bucket_bytes) << "bucket " << k;
  }
  for (size_t p = 0; p < sizes.size(); ++p) EXPECT_EQ(owner[p], 1) << "parameter " << p;
  // The 20000-element parameter (80 kB > 8 kB) is alone in its bucket.
  bool alone = false;
  for (int64_t k = 0; k < r.bucket_count(); ++k)
    if (r.bucket(k).params == std::vector<size_t>{5}) alone = (r.bucket(k).end - r.bucket(k).begin) * 4 > bucket_bytes;
  EXPECT_TRUE(alone);
}

TEST(GradReducer, BucketedSumEqualsTheWholeBufferSumAndReducesEachElementOnce) {
  const std::vector<int64_t> sizes = {1000, 10, 3000, 7, 500, 20000, 64, 1, 900};
  Params m(sizes);
  optim::AdamW opt(m.named_parameters(), {});
  const Tensor flat = opt.flat_grads();

  FakeComm whole(false);
  whole.base = &flat;
  dist::GradReducer rw(opt, whole, 8192);
  EXPECT_EQ(rw.bucket_count(), 1);
  fill_grads(opt);
  rw.begin();
  rw.finish();
  ASSERT_EQ(whole.blocking, (std::vector<Range>{{0, flat.numel()}}));
  EXPECT_TRUE(whole.starts.empty());
  const std::vector<float> want = flat.to_vector<float>();

  FakeComm comm(true);
  comm.base = &flat;
  dist::GradReducer r(opt, comm, 8192);
  fill_grads(opt);
  r.finish();  // no begin(): every bucket starts in finish()
  EXPECT_EQ(flat.to_vector<float>(), want);
  EXPECT_TRUE(comm.blocking.empty());
  EXPECT_EQ(comm.waits, 1);
  ASSERT_EQ(int64_t(comm.starts.size()), r.bucket_count());
  std::vector<int> times(size_t(flat.numel()), 0);
  for (int64_t k = 0; k < r.bucket_count(); ++k) {
    EXPECT_EQ(comm.starts[size_t(k)], (Range{r.bucket(k).begin, r.bucket(k).end - r.bucket(k).begin})) << k;
    for (int64_t i = 0; i < comm.starts[size_t(k)].size; ++i) ++times[size_t(comm.starts[size_t(k)].offset + i)];
  }
  EXPECT_EQ(times, std::vector<int>(times.size(), 1));
}

TEST(GradReducer, BucketsStartDuringTheBackwardInIndexOrder) {
  test::Mlp m(8, 16, 4, /*extra=*/3);  // the unused parameter is slot 0: the last bucket
  optim::AdamW opt(m.named_parameters(), {});
  const Tensor flat = opt.flat_grads();
  const Tensor x = test::mlp_input(5, 8);

  // Reference: the plain backward, then the whole-buffer sum.
  opt.zero_grad();
  m.loss(x).backward();
  FakeComm whole(false);
  whole.base = &flat;
  dist::GradReducer rw(opt, whole);
  rw.finish();
  const std::vector<float> want = flat.to_vector<float>();

  FakeComm comm(true);
  comm.base = &flat;
  dist::GradReducer r(opt, comm, /*bucket_bytes=*/1);  // one parameter per bucket
  ASSERT_EQ(r.bucket_count(), 5);
  EXPECT_EQ(r.bucket(0).params, std::vector<size_t>{4});  // b2
  std::vector<float> w1_at_first_start;
  comm.on_start = [&] {
    if (w1_at_first_start.empty()) w1_at_first_start = m.w1.grad().to_vector<float>();
  };
  opt.zero_grad();
  r.begin();
  m.loss(x).backward();
  // b2, w2, b1, w1 became final during the backward and started then; only the unused one waits.
  EXPECT_EQ(int64_t(comm.starts.size()), r.bucket_count() - 1);
  EXPECT_EQ(comm.waits, 0);
  // The first bucket started while w1's gradient was still to come: the start overlapped the backward.
  EXPECT_EQ(w1_at_first_start, std::vector<float>(size_t(m.w1.numel()), 0.0f));
  r.finish();
  EXPECT_EQ(int64_t(comm.starts.size()), r.bucket_count());
  for (int64_t k = 0; k < r.bucket_count(); ++k)
    EXPECT_EQ(comm.starts[size_t(k)], (Range{r.bucket(k).begin, r.bucket(k).end - r.bucket(k).begin})) << k;
  EXPECT_EQ(comm.waits, 1);
  EXPECT_EQ(flat.to_vector<float>(), want);
  EXPECT_NE(want, std::vector<float>(want.size(), 0.0f));
}

TEST(GradReducer, AReadyBucketWaitsForItsPredecessors) {
  test::Mlp m(8, 16, 4, /*extra=*/3, /*unused_last=*/true);  // the unused parameter is bucket 0
  optim::AdamW opt(m.named_parameters(), {});
  const Tensor flat = opt.flat_grads();
  FakeComm comm(true);
  comm.base = &flat;
  dist::GradReducer r(opt, comm, 1);
  ASSERT_EQ(r.bucket(0).params, std::vector<size_t>{4});
  opt.zero_grad();
  r.begin();
  m.loss(test::mlp_input(5, 8)).backward();
  EXPECT_TRUE(comm.starts.empty());  // every other bucket is ready, but bucket 0 never becomes so
  r.finish();
  ASSERT_EQ(int64_t(comm.starts.size()), r.bucket_count());
  for (size_t k = 1; k < comm.starts.size(); ++k) EXPECT_LT(comm.starts[k].offset, comm.starts[k - 1].offset);
}

TEST(GradReducer, RejectsASecondBackwardAndABadBucketSize) {
  test::Mlp m(8, 16, 4);
  optim::AdamW opt(m.named_parameters(), {});
  FakeComm comm(true);
  const Tensor flat = opt.flat_grads();
  comm.base = &flat;
  EXPECT_NE(test::error_of([&] { dist::GradReducer(opt, comm, 0); }).find("bucket size must be positive"),
            std::string::npos);
  dist::GradReducer r(opt, comm, 1 << 20);
  const Tensor x = test::mlp_input(5, 8);
  r.begin();
  m.loss(x).backward();
  EXPECT_NE(test::error_of([&] { m.loss(x).backward(); }).find("exactly one backward()"), std::string::npos);
}

TEST(GradReducer, WorldOneWithoutOverlapDoesNothing) {
  test::Mlp m(8, 16, 4);
  optim::AdamW opt(m.named_parameters(), {});
  FakeComm comm(false, /*world=*/1);
  dist::GradReducer r(opt, comm);
  r.begin();
  m.loss(test::mlp_input(5, 8)).backward();
  r.finish();
  EXPECT_TRUE(comm.blocking.empty());
  EXPECT_TRUE(comm.starts.empty());
}

}  // namespace
}  // namespace lra
