// MpiComm (see mpi_comm.h).
#include "engine/dist/mpi_comm.h"

#ifdef LRA_WITH_MPI
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <thread>
#include <vector>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace lra::dist {

namespace {

void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  fail(str("MPI: ", what, " failed: ", std::string(text, size_t(len))));
}

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::F32: return MPI_FLOAT;
    case DType::F64: return MPI_DOUBLE;
    case DType::I32: return MPI_INT;
    default: fail(str("MPI: no MPI type for dtype ", dtype_name(t)));
  }
}

// MPI counts are ints: large buffers go in chunks.
template <class F>
void chunked(char* data, int64_t n, size_t elem, F f) {
  constexpr int64_t kChunk = INT_MAX / 2;
  for (int64_t i = 0; i < n; i += kChunk) f(data + size_t(i) * elem, int(std::min(kChunk, n - i)));
}

class MpiComm final : public Comm {
 public:
  explicit MpiComm(const Launch& l) : local_rank_(l.local_rank) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &world_);
    if (world_ != l.world || rank_ != l.rank) {
      std::fprintf(stderr,
                   "error: the launcher (%s) says rank %d of %d but MPI says rank %d of %d: the processes did "
                   "not join one MPI job (under Slurm, run srun --mpi=pmix, or launch with mpirun)\n",
                   l.by.c_str(), l.rank, l.world, rank_, world_);
      MPI_Abort(MPI_COMM_WORLD, 2);
    }
  }
  ~MpiComm() override {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int world() const override { return world_; }
  int local_rank() const override { return local_rank_; }
  const char* backend() const override { return "mpi"; }

  void all_reduce_sum(Tensor& t) override {
    LRA_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, "MPI all_reduce_sum: float tensors only, got ",
              t.describe());
    if (t.is_cuda()) {
      Tensor host = t.to(Device::CPU);
      all_reduce_sum(host);
      t.copy_from(host);
      return;
    }
    const MPI_Datatype type = mpi_type(t.dtype());
    chunked(static_cast<char*>(t.raw_data()), t.numel(), dtype_size(t.dtype()), [&](char* p, int n) {
      mpi_check(MPI_Allreduce(MPI_IN_PLACE, p, n, type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    });
  }
  void all_reduce(double* v, int64_t n, ReduceOp op) override { host_all_reduce(v, n, MPI_DOUBLE, op); }
  void all_reduce(int64_t* v, int64_t n, ReduceOp op) override { host_all_reduce(v, n, MPI_INT64_T, op); }
  void broadcast(Tensor& t, int root) override {
    if (t.is_cuda()) {
      Tensor host = t.to(Device::CPU);
      broadcast(host, root);
      t.copy_from(host);
      return;
    }
    chunked(static_cast<char*>(t.raw_data()), int64_t(t.nbytes()), 1, [&](char* p, int n) {
      mpi_check(MPI_Bcast(p, n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    });
  }
  void broadcast(std::string& s, int root) override {
    int64_t n = int64_t(s.size());
    mpi_check(MPI_Bcast(&n, 1, MPI_INT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
    s.resize(size_t(n));
    chunked(s.data(), n, 1, [&](char* p, int k) {
      mpi_check(MPI_Bcast(p, k, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    });
  }
  void barrier() override { mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  // Non-root ranks send their values to rank 0 (a few bytes: MPI's eager protocol returns at once); rank 0
  // polls the receives until the deadline, then broadcasts the maximum.
  void all_reduce_max_checked(int64_t* v, int64_t n, double timeout_s, const std::string& where) override {
    LRA_CHECK(n >= 1 && n <= 64, "MPI all_reduce_max_checked: 1..64 values, got ", n);
    constexpr int kTag = 1717;
    if (rank_ != 0) {
      mpi_check(MPI_Send(v, int(n), MPI_INT64_T, 0, kTag, MPI_COMM_WORLD), "MPI_Send");
    } else {
      std::vector<int64_t> got(size_t(n) * size_t(world_));
      std::vector<MPI_Request> req(size_t(world_), MPI_REQUEST_NULL);
      for (int r = 1; r < world_; ++r)
        mpi_check(MPI_Irecv(got.data() + size_t(r) * size_t(n), int(n), MPI_INT64_T, r, kTag, MPI_COMM_WORLD,
                            &req[size_t(r)]),
                  "MPI_Irecv");
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
      std::vector<int> arrived(size_t(world_), 0);
      arrived[0] = 1;
      for (int pending = world_ - 1; pending > 0;) {
        for (int r = 1; r < world_; ++r) {
          if (arrived[size_t(r)]) continue;
          int flag = 0;
          mpi_check(MPI_Test(&req[size_t(r)], &flag, MPI_STATUS_IGNORE), "MPI_Test");
          if (flag) {
            arrived[size_t(r)] = 1;
            --pending;
          }
        }
        if (pending == 0) break;
        if (std::chrono::steady_clock::now() > deadline) {
          std::string missing;
          for (int r = 1; r < world_; ++r)
            if (!arrived[size_t(r)]) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
          std::fprintf(stderr,
                       "error: rank 0: rank%s %s did not reach %s within %g s (dead or hung); ending the job\n",
                       pending > 1 ? "s" : "", missing.c_str(), where.c_str(), timeout_s);
          abort(3);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      for (int r = 1; r < world_; ++r)
        for (int64_t i = 0; i < n; ++i) v[i] = std::max(v[i], got[size_t(r) * size_t(n) + size_t(i)]);
    }
    mpi_check(MPI_Bcast(v, int(n), MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  template <class T>
  void host_all_reduce(T* v, int64_t n, MPI_Datatype type, ReduceOp op) {
    chunked(reinterpret_cast<char*>(v), n, sizeof(T), [&](char* p, int k) {
      mpi_check(MPI_Allreduce(MPI_IN_PLACE, p, k, type, op == ReduceOp::Sum ? MPI_SUM : MPI_MAX, MPI_COMM_WORLD),
                "MPI_Allreduce");
    });
  }

  int rank_ = 0, world_ = 1, local_rank_ = 0;
};

}  // namespace

std::unique_ptr<Comm> make_mpi_comm(const Launch& launch) { return std::make_unique<MpiComm>(launch); }

}  // namespace lra::dist
#endif  // LRA_WITH_MPI
