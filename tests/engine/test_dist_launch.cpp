// engine/dist.h without MPI: reading the launcher's environment, the single-process communicator, and the
// differentiable all-reduce at world 1. (Collectives across processes are tested under mpirun in tests/dist.)
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine/autograd.h"
#include "engine/dist.h"
#include "tests/support/compare.h"

using namespace lra;
using lra::test::error_of;

namespace {

dist::GetEnv env(const std::map<std::string, std::string>& vars) {
  auto copy = std::make_shared<std::map<std::string, std::string>>(vars);
  return [copy](const char* name) -> const char* {
    auto it = copy->find(name);
    return it == copy->end() ? nullptr : it->second.c_str();
  };
}

}  // namespace

TEST(DistLaunch, NoLauncherIsOneProcess) {
  const dist::Launch l = dist::detect_launch(env({}));
  EXPECT_EQ(l.rank, 0);
  EXPECT_EQ(l.world, 1);
  EXPECT_EQ(l.local_rank, 0);
  EXPECT_EQ(l.by, "none");
}

TEST(DistLaunch, ReadsOpenMpiSlurmAndGenericVariables) {
  dist::Launch l = dist::detect_launch(env({{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "8"},
                                            {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}}));
  EXPECT_EQ(l.by, "OpenMPI");
  EXPECT_EQ(l.rank, 3);
  EXPECT_EQ(l.world, 8);
  EXPECT_EQ(l.local_rank, 1);
  EXPECT_EQ(l.local_world, 2);

  l = dist::detect_launch(env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "5"},
                               {"SLURM_NTASKS_PER_NODE", "8(x2)"}}));
  EXPECT_EQ(l.by, "Slurm");
  EXPECT_EQ(l.rank, 5);
  EXPECT_EQ(l.world, 16);
  EXPECT_EQ(l.local_rank, 5);
  EXPECT_EQ(l.local_world, 8);

  l = dist::detect_launch(env({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "1"}}));
  EXPECT_EQ(l.by, "env");
  EXPECT_EQ(l.rank, 1);
  EXPECT_EQ(l.world, 2);
  EXPECT_EQ(l.local_rank, 1);
  EXPECT_GE(l.local_world, 2);
}

TEST(DistLaunch, OpenMpiWinsOverTheOthers) {
  const dist::Launch l = dist::detect_launch(
      env({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"RANK", "0"}, {"WORLD_SIZE", "4"}}));
  EXPECT_EQ(l.by, "OpenMPI");
  EXPECT_EQ(l.world, 2);
}

TEST(DistLaunch, BadValuesNameTheVariable) {
  EXPECT_NE(error_of([] { dist::detect_launch(env({{"RANK", "2"}, {"WORLD_SIZE", "2"}})); }).find("RANK=2 is outside"),
            std::string::npos);
  EXPECT_NE(error_of([] { dist::detect_launch(env({{"RANK", "x"}, {"WORLD_SIZE", "2"}})); }).find("RANK='x'"),
            std::string::npos);
  EXPECT_NE(error_of([] { dist::detect_launch(env({{"RANK", "0"}})); }).find("WORLD_SIZE is not"), std::string::npos);
  EXPECT_NE(error_of([] { dist::detect_launch(env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "0"}})); })
                .find("SLURM_NTASKS=0"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              dist::detect_launch(env({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"}}));
            }).find("inconsistent"),
            std::string::npos);
}

TEST(DistComm, SingleProcessCollectivesAreTheIdentity) {
  dist::Comm& c = dist::current();
  EXPECT_EQ(c.world(), 1);
  EXPECT_STREQ(c.backend(), "single");
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  c.all_reduce_sum(t);
  c.broadcast(t, 0);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  int64_t v[2] = {4, 5};
  c.all_reduce_max_checked(v, 2, 1.0, "here");
  EXPECT_EQ(v[1], 5);
  // The differentiable all-reduce is the identity, gradient included.
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2}, {2});
  x.requires_grad_();
  Tensor y = dist::all_reduce_sum_grad(x);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 2}));
}

// A fake two-rank communicator in one process: every sum doubles (two ranks holding the same values), so
// the differentiable all-reduce's forward and backward can be checked without MPI.
class Doubling final : public dist::Comm {
 public:
  int rank() const override { return 0; }
  int world() const override { return 2; }
  int local_rank() const override { return 0; }
  const char* backend() const override { return "doubling"; }
  void all_reduce_sum(Tensor& t) override {
    std::vector<float> v = t.to_vector<float>();
    for (float& x : v) x *= 2;
    t.copy_from(Tensor::from_vector(v, t.shape()));
    ++calls;
  }
  void all_reduce(double* v, int64_t n, dist::ReduceOp) override {
    for (int64_t i = 0; i < n; ++i) v[i] *= 2;
  }
  void all_reduce(int64_t* v, int64_t n, dist::ReduceOp) override {
    for (int64_t i = 0; i < n; ++i) v[i] *= 2;
  }
  void broadcast(Tensor&, int) override {}
  void broadcast(std::string&, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
  int calls = 0;
};

TEST(DistComm, DifferentiableAllReduceSumsTheGradientsToo) {
  auto owned = std::make_unique<Doubling>();
  Doubling* fake = owned.get();
  dist::set_current(std::move(owned));
  Tensor x = Tensor::from_vector(std::vector<float>{1, -2, 3}, {3});
  x.requires_grad_();
  Tensor y = dist::all_reduce_sum_grad(x);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{2, -4, 6}));
  Tensor g = Tensor::from_vector(std::vector<float>{1, 10, 100}, {3});
  autograd::backward(y, g);
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 20, 200}));
  EXPECT_EQ(fake->calls, 2);  // one in the forward, one in the backward
  dist::set_current(nullptr);
  EXPECT_EQ(dist::current().world(), 1);
}
