// WatchedComm: a communicator whose every collective has a deadline (data-parallel runs).
//
// A rank that dies makes the launcher end the job (mpirun kills the others and names the dead rank; under
// Slurm, srun --kill-on-bad-exit=1). A rank that HANGS does not: the others would wait in their next
// collective forever. Two guards turn that into an error within the timeout:
//   * the trainer's per-step check-in (Comm::all_reduce_max_checked): rank 0 waits at most `timeout_s` for
//     every other rank and, past it, ends the job naming the missing ranks and the step;
//   * this wrapper's watchdog thread, the backstop for every other collective (and for a hang of rank 0
//     itself): when one call has waited longer than 2 x timeout_s + 5 s (so the check-in's message comes
//     first when it can), it prints which collective this rank was in, where (set_context: "step 12"), and
//     for how long, then ends this process with exit status 3 (_exit: no MPI call from a second thread);
//     the launcher then ends the rest.
#pragma once

#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/dist.h"

namespace lra::dist {

class WatchedComm final : public Comm {
 public:
  WatchedComm(std::unique_ptr<Comm> inner, double timeout_s);
  ~WatchedComm() override;

  // Where the run is, for the messages ("step 12", "evaluation of val").
  void set_context(const std::string& where);
  Comm& inner() { return *inner_; }
  double timeout_s() const { return timeout_s_; }

  int rank() const override { return inner_->rank(); }
  int world() const override { return inner_->world(); }
  int local_rank() const override { return inner_->local_rank(); }
  const char* backend() const override { return inner_->backend(); }
  void all_reduce_sum(Tensor& t) override;
  void all_reduce(double* values, int64_t n, ReduceOp op) override;
  void all_reduce(int64_t* values, int64_t n, ReduceOp op) override;
  void broadcast(Tensor& t, int root) override;
  void broadcast(std::string& s, int root) override;
  void barrier() override;
  void all_reduce_max_checked(int64_t* values, int64_t n, double timeout_s, const std::string& where) override;
  bool overlaps() const override { return inner_->overlaps(); }
  void all_reduce_sum_start(Tensor& t) override;
  void all_reduce_wait() override;
  std::string async_error() override { return inner_->async_error(); }
  [[noreturn]] void abort(int code) override {
    inner_->abort(code);
    std::_Exit(code);  // not reached: every communicator's abort ends the process
  }

 private:
  class Armed;  // arms the deadline for one collective
  void watch();

  std::unique_ptr<Comm> inner_;
  double timeout_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  const char* what_ = nullptr;  // the collective in progress, or nullptr
  std::string context_;
  std::chrono::steady_clock::time_point since_;
  std::thread thread_;
};

}  // namespace lra::dist
