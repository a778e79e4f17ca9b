// NcclComm at world 1 (its host communicator a SingleComm): the path one GPU can test. A one-rank sum or
// broadcast is the identity, so these tests check that every call goes through NCCL and the stream
// plumbing without disturbing data: all_reduce_sum/broadcast on CUDA tensors and host buffers, the
// bucketed GradReducer leaving a model's gradients bit-identical, and start/wait ordering a kernel
// after the reductions. NCCL's in-place one-rank sum moves no data, so a missing stream wait shows
// only with two or more ranks (the lead's mpirun tests on a multi-GPU machine), not here.
// CUDA builds with NCCL; skipped without a GPU.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "engine/dist/init.h"
#include "engine/dist/reducer.h"
#include "engine/optim.h"
#include "tests/dist_unit/mlp.h"
#include "tests/support/compare.h"

#ifdef LRA_WITH_NCCL
#include "engine/dist/nccl_comm.h"
#endif

namespace lra {
namespace {

#ifdef LRA_WITH_NCCL
#define LRA_REQUIRE_NCCL() LRA_REQUIRE_CUDA()
std::unique_ptr<dist::Comm> world_one() { return dist::make_nccl_comm(dist::Launch{}, std::make_unique<dist::SingleComm>()); }
#else
#define LRA_REQUIRE_NCCL() GTEST_SKIP() << "built without NCCL (a CUDA build finds it beside the toolkit)"
std::unique_ptr<dist::Comm> world_one() { return nullptr; }
#endif

// Forwards to a real communicator and counts the overlapped starts, so a test can tell that the
// reducer took the bucket path.
class Counting final : public dist::Comm {
 public:
  explicit Counting(dist::Comm& inner) : inner_(inner) {}
  int starts = 0, waits = 0;
  int rank() const override { return inner_.rank(); }
  int world() const override { return inner_.world(); }
  int local_rank() const override { return inner_.local_rank(); }
  const char* backend() const override { return inner_.backend(); }
  void all_reduce_sum(Tensor& t) override { inner_.all_reduce_sum(t); }
  void all_reduce(double* v, int64_t n, dist::ReduceOp op) override { inner_.all_reduce(v, n, op); }
  void all_reduce(int64_t* v, int64_t n, dist::ReduceOp op) override { inner_.all_reduce(v, n, op); }
  void broadcast(Tensor& t, int root) override { inner_.broadcast(t, root); }
  void broadcast(std::string& s, int root) override { inner_.broadcast(s, root); }
  void barrier() override { inner_.barrier(); }
  [[noreturn]] void abort(int code) override {
    inner_.abort(code);
    std::abort();  // not reached: inner_.abort does not return
  }
  bool overlaps() const override { return inner_.overlaps(); }
  void all_reduce_sum_start(Tensor& t) override {
    ++starts;
    inner_.all_reduce_sum_start(t);
  }
  void all_reduce_wait() override {
    ++waits;
    inner_.all_reduce_wait();
  }

 private:
  dist::Comm& inner_;
};

template <class T>
std::vector<T> ramp(int64_t n) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = T(i % 1000) * T(0.125) - T(60);
  return v;
}

TEST(NcclComm, WorldOneCollectivesAreTheIdentity) {
  LRA_REQUIRE_NCCL();
  std::unique_ptr<dist::Comm> comm = world_one();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->world(), 1);
  EXPECT_STREQ(comm->backend(), "nccl");
  EXPECT_TRUE(comm->overlaps());

  const int64_t n = 1000003;  // odd, not a multiple of any NCCL chunk
  Tensor f = Tensor::from_vector(ramp<float>(n), {n}, Device::CUDA);
  comm->all_reduce_sum(f);
  EXPECT_EQ(f.to_vector<float>(), ramp<float>(n));
  Tensor d = Tensor::from_vector(ramp<double>(777), {777}, Device::CUDA);
  comm->all_reduce_sum(d);
  EXPECT_EQ(d.to_vector<double>(), ramp<double>(777));
  comm->broadcast(f, 0);
  EXPECT_EQ(f.to_vector<float>(), ramp<float>(n));
  Tensor ints = Tensor::from_vector(std::vector<int32_t>{3, -1, 7}, {3}, Device::CUDA);
  comm->broadcast(ints, 0);  // bytes: any dtype
  EXPECT_EQ(ints.to_vector<int32_t>(), (std::vector<int32_t>{3, -1, 7}));

  Tensor host = Tensor::from_vector(ramp<float>(100), {100});  // CPU tensors go through the host comm
  comm->all_reduce_sum(host);
  EXPECT_EQ(host.to_vector<float>(), ramp<float>(100));
  double dv[2] = {1.5, -2.0};
  int64_t iv[2] = {4, 9};
  comm->all_reduce(dv, 2, dist::ReduceOp::Sum);
  comm->all_reduce(iv, 2, dist::ReduceOp::Max);
  EXPECT_EQ(dv[0], 1.5);
  EXPECT_EQ(iv[1], 9);
  std::string s = "settings";
  comm->broadcast(s, 0);
  EXPECT_EQ(s, "settings");
  comm->barrier();
  EXPECT_EQ(comm->async_error(), "");

  Tensor bad = Tensor::from_vector(std::vector<int32_t>{1, 2}, {2}, Device::CUDA);
  const std::string e = test::error_of([&] { comm->all_reduce_sum(bad); });
  EXPECT_NE(e.find("float32 or float64 tensors only"), std::string::npos) << e;
  EXPECT_NE(test::error_of([&] { comm->broadcast(f, 1); }).find("root 1 outside [0, 1)"), std::string::npos);
}

TEST(NcclComm, InitChoosesItForACudaRunAndTheReducerOverlaps) {
  LRA_REQUIRE_NCCL();
  dist::InitOptions o;
  o.cuda = true;  // backend "auto": one process needs no communicator
  EXPECT_STREQ(dist::init(dist::Launch{}, o)->backend(), "single");
  o.backend = "nccl";  // asked for by name, NCCL runs against itself
  std::unique_ptr<dist::Comm> comm = dist::init(dist::Launch{}, o);
  EXPECT_STREQ(comm->backend(), "nccl");
  test::Mlp m(4, 8, 2);
  m.to(Device::CUDA);
  optim::AdamW opt(m.named_parameters(), {});
  dist::GradReducer r(opt, *comm, 64);
  EXPECT_TRUE(r.overlapped());
  EXPECT_EQ(r.bucket_count(), 4);  // w1 (128 B), b1, w2 (64 B), b2: w2 and b2 would exceed 64 B together
}

TEST(NcclComm, BucketedReductionLeavesGradientsBitIdentical) {
  LRA_REQUIRE_NCCL();
  std::unique_ptr<dist::Comm> nccl = world_one();
  Counting comm(*nccl);
  test::Mlp m(32, 64, 10, /*extra=*/5);
  m.to(Device::CUDA);
  optim::AdamW opt(m.named_parameters(), {});
  const Tensor x = test::mlp_input(7, 32, Device::CUDA);

  opt.zero_grad();
  m.loss(x).backward();
  const std::vector<float> want = opt.flat_grads().to_vector<float>();
  ASSERT_NE(want, std::vector<float>(want.size(), 0.0f));

  dist::GradReducer r(opt, comm, /*bucket_bytes=*/1024);  // several buckets; w1 (8 kB) alone
  ASSERT_GE(r.bucket_count(), 3);
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    r.begin();
    m.loss(x).backward();
    r.finish();
    EXPECT_EQ(opt.flat_grads().to_vector<float>(), want) << "step " << step;
  }
  EXPECT_EQ(comm.starts, 3 * r.bucket_count());
  EXPECT_EQ(comm.waits, 3);
  EXPECT_EQ(nccl->async_error(), "");
}

TEST(NcclComm, WaitOrdersLaterKernelsAfterTheStartedReductions) {
  LRA_REQUIRE_NCCL();
  std::unique_ptr<dist::Comm> comm = world_one();
  const int64_t n = 1 << 22;  // 16 MiB: the kernels around the reductions take measurable time
  Tensor buf = Tensor::zeros({n}, DType::F32, Device::CUDA);
  for (int round = 1; round <= 5; ++round) {
    // Written by compute-stream kernels right before the starts, read by one right after the wait,
    // with no host synchronisation in between.
    Tensor fresh = ops::scale(Tensor::ones({n}, DType::F32, Device::CUDA), double(round));
    buf.copy_from(fresh);
    for (int64_t b = 0; b < 8; ++b) {
      Tensor view = buf.narrow0(b * (n / 8), n / 8);
      comm->all_reduce_sum_start(view);
    }
    comm->all_reduce_wait();
    const double total = ops::sum_all(buf).item();
    EXPECT_EQ(total, double(round) * double(n)) << "round " << round;
  }
  comm->all_reduce_wait();  // nothing pending: a no-op
}

}  // namespace
}  // namespace lra
