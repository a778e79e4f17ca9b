// NcclComm (see nccl_comm.h): CUDA tensors through NCCL on a stream of its own, everything else
// through the host communicator.
//
// Streams and events. All engine work runs in order on the compute stream (cuda::stream()); NCCL runs
// on `comm_stream_` (non-blocking, so it never waits for the legacy default stream). A reduction of a
// tensor the compute stream just wrote:
//   compute stream:  ... backward kernels ... [record ready_]
//   comm stream:     [wait ready_] ncclAllReduce(in place) [record done_]
//   compute stream:  [wait done_] ... clip, optimizer step ...     (all_reduce_sum: at once;
//                                                                   all_reduce_sum_start: at all_reduce_wait)
// Re-recording one event is enough for each role: a stream wait captures the event's latest record at
// the time of the wait call, and the comm stream runs its reductions in order, so waiting on the
// latest `done_` waits for all of them. The tensors NCCL touches are the caller's (the optimizer's
// persistent flat gradient buffer, or a tensor the synchronous calls order before any reuse), so the
// caching allocator's single-stream assumption (engine/memory.h) holds: nothing the comm stream reads
// is freed and handed out again before the compute stream has waited for it.
//
// Bootstrap: rank 0 makes an ncclUniqueId; its 128 bytes travel as a std::string over the host
// communicator; every rank calls ncclCommInitRank on its GPU (cuda::device_index()). At world 1 the
// host communicator is a SingleComm and NCCL runs against itself.
#include "engine/dist/nccl_comm.h"

#ifdef LRA_WITH_NCCL
#include <nccl.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/cuda.h"
#include "engine/device.h"

namespace lra::dist {

namespace {

[[noreturn]] void nccl_fail(const char* statement, ncclResult_t r, const char* file, int line) {
  const char* detail = ncclGetLastError(nullptr);
  fail(str("NCCL: ", statement, " failed: ", ncclGetErrorString(r),
           detail && *detail ? str(" (", detail, ")") : std::string(), " (", file, ":", line, ")"));
}

#define LRA_NCCL_CHECK(stmt)                                                   \
  do {                                                                         \
    ncclResult_t lra_nr_ = (stmt);                                             \
    if (lra_nr_ != ncclSuccess) nccl_fail(#stmt, lra_nr_, __FILE__, __LINE__); \
  } while (0)

ncclDataType_t nccl_type(const Tensor& t, const char* what) {
  switch (t.dtype()) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    default: fail(str("NcclComm ", what, ": float32 or float64 tensors only, got ", t.describe()));
  }
}

class NcclComm final : public Comm {
 public:
  NcclComm(const Launch& l, std::unique_ptr<Comm> host) : host_(std::move(host)) {
    LRA_CHECK(host_, "NcclComm: no host communicator");
    LRA_CHECK(host_->world() == l.world && host_->rank() == l.rank, "NcclComm: the launcher says rank ", l.rank,
              " of ", l.world, " but the host communicator (", host_->backend(), ") is rank ", host_->rank(), " of ",
              host_->world());
    cuda::stream();  // the CUDA context, on the device chosen by cuda::set_device_index
    LRA_CUDA_CHECK(cudaSetDevice(cuda::device_index()));
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    std::string bytes;
    if (host_->rank() == 0) {
      LRA_NCCL_CHECK(ncclGetUniqueId(&id));
      bytes.assign(reinterpret_cast<const char*>(&id), sizeof id);
    }
    host_->broadcast(bytes, 0);
    LRA_CHECK(bytes.size() == sizeof id, "NcclComm: rank ", host_->rank(), " received a ", bytes.size(),
              "-byte NCCL id from rank 0, expected ", sizeof id);
    std::memcpy(&id, bytes.data(), sizeof id);
    LRA_NCCL_CHECK(ncclCommInitRank(&comm_, host_->world(), id, host_->rank()));
    LRA_CUDA_CHECK(cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking));
    LRA_CUDA_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
    LRA_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
  }

  ~NcclComm() override {
    // No throwing here: a failure on the way out is reported and otherwise ignored.
    if (comm_stream_) (void)cudaStreamSynchronize(comm_stream_);
    if (comm_) {
      ncclResult_t r = ncclCommDestroy(comm_);
      if (r != ncclSuccess) std::fprintf(stderr, "warning: ncclCommDestroy: %s\n", ncclGetErrorString(r));
    }
    if (ready_) (void)cudaEventDestroy(ready_);
    if (done_) (void)cudaEventDestroy(done_);
    if (comm_stream_) (void)cudaStreamDestroy(comm_stream_);
  }

  int rank() const override { return host_->rank(); }
  int world() const override { return host_->world(); }
  int local_rank() const override { return host_->local_rank(); }
  const char* backend() const override { return "nccl"; }

  void all_reduce_sum(Tensor& t) override {
    if (!t.is_cuda()) return host_->all_reduce_sum(t);
    all_reduce_sum_start(t);
    all_reduce_wait();
  }
  void all_reduce(double* v, int64_t n, ReduceOp op) override { host_->all_reduce(v, n, op); }
  void all_reduce(int64_t* v, int64_t n, ReduceOp op) override { host_->all_reduce(v, n, op); }

  void broadcast(Tensor& t, int root) override {
    if (!t.is_cuda()) return host_->broadcast(t, root);
    LRA_CHECK(root >= 0 && root < world(), "NcclComm broadcast: root ", root, " outside [0, ", world(), ")");
    if (t.numel() == 0) return;
    after_compute();
    // Bytes: any dtype broadcasts (int tensors too).
    LRA_NCCL_CHECK(ncclBroadcast(t.raw_data(), t.raw_data(), t.nbytes(), ncclChar, root, comm_, comm_stream_));
    LRA_CUDA_CHECK(cudaEventRecord(done_, comm_stream_));
    LRA_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), done_, 0));
  }
  void broadcast(std::string& s, int root) override { host_->broadcast(s, root); }
  void barrier() override { host_->barrier(); }
  // The per-step check-in goes through MPI, which names a rank that does not arrive.
  void all_reduce_max_checked(int64_t* v, int64_t n, double timeout_s, const std::string& where) override {
    host_->all_reduce_max_checked(v, n, timeout_s, where);
  }

  [[noreturn]] void abort(int code) override {
    if (comm_) {
      (void)ncclCommAbort(comm_);  // frees a rank stuck in a collective; errors no longer matter here
      comm_ = nullptr;
    }
    host_->abort(code);
    std::_Exit(code);  // not reached: the host communicator's abort does not return
  }

  bool overlaps() const override { return true; }
  void all_reduce_sum_start(Tensor& t) override {
    if (!t.is_cuda()) return host_->all_reduce_sum(t);
    const ncclDataType_t type = nccl_type(t, "all_reduce_sum");
    if (t.numel() == 0) return;
    after_compute();
    LRA_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), size_t(t.numel()), type, ncclSum, comm_, comm_stream_));
    LRA_CUDA_CHECK(cudaEventRecord(done_, comm_stream_));
    pending_ = true;
  }
  void all_reduce_wait() override {
    if (!pending_) return;
    LRA_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), done_, 0));
    pending_ = false;
  }

  std::string async_error() override {
    if (!comm_) return "";
    ncclResult_t state = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError(comm_, &state);
    if (r != ncclSuccess) state = r;
    if (state == ncclSuccess || state == ncclInProgress) return "";
    const char* detail = ncclGetLastError(comm_);
    return str("NCCL on rank ", rank(), ": ", ncclGetErrorString(state),
               detail && *detail ? str(" (", detail, ")") : std::string());
  }

 private:
  // The comm stream waits for everything queued on the compute stream so far.
  void after_compute() {
    LRA_CHECK(comm_, "NcclComm: the communicator was aborted");
    LRA_CUDA_CHECK(cudaEventRecord(ready_, cuda::stream()));
    LRA_CUDA_CHECK(cudaStreamWaitEvent(comm_stream_, ready_, 0));
  }

  std::unique_ptr<Comm> host_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t comm_stream_ = nullptr;
  cudaEvent_t ready_ = nullptr, done_ = nullptr;
  bool pending_ = false;  // a started reduction the compute stream has not waited for
};

}  // namespace

std::unique_ptr<Comm> make_nccl_comm(const Launch& launch, std::unique_ptr<Comm> host) {
  return std::make_unique<NcclComm>(launch, std::move(host));
}

}  // namespace lra::dist
#endif  // LRA_WITH_NCCL
