// WatchedComm (see watchdog.h).
#include "engine/dist/watchdog.h"

#include <cstdio>
#include <unistd.h>

namespace lra::dist {

class WatchedComm::Armed {
 public:
  Armed(WatchedComm& w, const char* what) : w_(w) {
    std::lock_guard<std::mutex> lock(w_.mu_);
    w_.what_ = what;
    w_.since_ = std::chrono::steady_clock::now();
    w_.cv_.notify_all();
  }
  ~Armed() {
    std::lock_guard<std::mutex> lock(w_.mu_);
    w_.what_ = nullptr;
  }

 private:
  WatchedComm& w_;
};

WatchedComm::WatchedComm(std::unique_ptr<Comm> inner, double timeout_s) : inner_(std::move(inner)), timeout_s_(timeout_s) {
  LRA_CHECK(inner_ != nullptr, "WatchedComm: no communicator to watch");
  LRA_CHECK(timeout_s > 0, "dist_timeout must be positive (seconds), got ", timeout_s);
  if (inner_->world() > 1) thread_ = std::thread([this] { watch(); });
}

WatchedComm::~WatchedComm() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WatchedComm::set_context(const std::string& where) {
  std::lock_guard<std::mutex> lock(mu_);
  context_ = where;
}

void WatchedComm::watch() {
  const auto limit = std::chrono::duration<double>(2 * timeout_s_ + 5);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (!what_) {
      cv_.wait(lock, [&] { return stop_ || what_ != nullptr; });
      continue;
    }
    const auto since = since_;
    if (cv_.wait_until(lock, since + limit, [&] { return stop_ || what_ == nullptr || since_ != since; })) continue;
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
    std::fprintf(stderr,
                 "error: rank %d: waited %.0f s in %s (%s) for the other ranks: one of them died or hangs "
                 "(dist_timeout %g s); ending the job\n",
                 inner_->rank(), waited, what_, context_.empty() ? "start-up" : context_.c_str(), timeout_s_);
    std::fflush(stderr);
    _exit(3);
  }
}

void WatchedComm::all_reduce_sum(Tensor& t) {
  Armed a(*this, "the all-reduce of a tensor");
  inner_->all_reduce_sum(t);
}
void WatchedComm::all_reduce(double* values, int64_t n, ReduceOp op) {
  Armed a(*this, "an all-reduce of numbers");
  inner_->all_reduce(values, n, op);
}
void WatchedComm::all_reduce(int64_t* values, int64_t n, ReduceOp op) {
  Armed a(*this, "an all-reduce of counts");
  inner_->all_reduce(values, n, op);
}
void WatchedComm::broadcast(Tensor& t, int root) {
  Armed a(*this, "a broadcast from rank 0");
  inner_->broadcast(t, root);
}
void WatchedComm::broadcast(std::string& s, int root) {
  Armed a(*this, "a broadcast from rank 0");
  inner_->broadcast(s, root);
}
void WatchedComm::barrier() {
  Armed a(*this, "a barrier");
  inner_->barrier();
}
void WatchedComm::all_reduce_max_checked(int64_t* values, int64_t n, double timeout_s, const std::string& where) {
  Armed a(*this, "the per-step check-in");
  inner_->all_reduce_max_checked(values, n, timeout_s, where);
}

void WatchedComm::all_reduce_sum_start(Tensor& t) {
  Armed a(*this, "starting a gradient bucket's all-reduce");
  inner_->all_reduce_sum_start(t);
}
void WatchedComm::all_reduce_wait() {
  Armed a(*this, "waiting for the gradient buckets");
  inner_->all_reduce_wait();
}

}  // namespace lra::dist
