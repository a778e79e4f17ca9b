// Data-parallel processes: who am I (Launch), and the collectives between ranks (Comm).
//
// A data-parallel run is N processes started by a launcher (OpenMPI's mpirun, Slurm's srun, or anything
// that sets RANK / WORLD_SIZE / LOCAL_RANK). detect_launch() reads the rank, world size and local rank
// from the environment, in this order of precedence:
//   OpenMPI  OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK, OMPI_COMM_WORLD_LOCAL_SIZE
//   Slurm    SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE (first number; else 1)
//   generic  RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE (torchrun's names)
// A process with none of them is a single process (rank 0 of 1), today's run, unchanged. A malformed or
// inconsistent value (rank outside [0, world), a non-number) is an error naming the variable.
//
// Comm is the set of collectives the trainer needs. Every rank must call the same collectives in the
// same order (as in MPI and NCCL); a rank that stops calling them leaves the others waiting, which the
// trainer's watchdog turns into an error (tools/train, docs/distributed.md). Implementations:
//   SingleComm  world 1, every collective is the identity; MPI is never initialised.
//   MpiComm     engine/dist/mpi_comm.cpp (lra_dist): host buffers and CPU tensors through MPI; CUDA
//               tensors staged through the host.
//   NcclComm    engine/dist/nccl_comm.cpp (lra_dist, CUDA builds): CUDA tensors through NCCL, host
//               buffers through MPI; world 1 runs without MPI.
// dist::current() is the process's communicator (SingleComm until the trainer installs another with
// set_current); models use it only for synchronised BatchNorm (models/layers.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/tensor.h"

namespace lra::dist {

struct Launch {
  int rank = 0, world = 1;
  int local_rank = 0, local_world = 1;
  std::string by = "none";  // "OpenMPI", "Slurm", "env" (RANK/WORLD_SIZE), or "none"
};

// `getenv` is injectable for tests; the default reads the process environment.
using GetEnv = std::function<const char*(const char* name)>;
Launch detect_launch(const GetEnv& getenv = nullptr);

enum class ReduceOp { Sum, Max };

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;
  virtual int local_rank() const = 0;
  virtual const char* backend() const = 0;  // "single", "mpi", "nccl"

  // In place over ranks: a contiguous float32 or float64 tensor on any device. Sum only: averaging is
  // the caller's (the trainer weights each rank's loss by its share of the global batch).
  virtual void all_reduce_sum(Tensor& t) = 0;
  // In place over ranks, on host buffers (counts, losses, stop flags).
  virtual void all_reduce(double* values, int64_t n, ReduceOp op) = 0;
  virtual void all_reduce(int64_t* values, int64_t n, ReduceOp op) = 0;
  // Every rank's t (contiguous; same shape and dtype everywhere) becomes root's.
  virtual void broadcast(Tensor& t, int root) = 0;
  virtual void broadcast(std::string& s, int root) = 0;
  virtual void barrier() = 0;
  // all_reduce(values, n, Max) in which rank 0 waits at most timeout_s for every other rank's values and,
  // past that, ends the job with a message naming the ranks that did not arrive at `where` (dead or
  // hung). The trainer's per-step check-in. The default has no timeout.
  virtual void all_reduce_max_checked(int64_t* values, int64_t n, double timeout_s, const std::string& where) {
    (void)timeout_s;
    (void)where;
    all_reduce(values, n, ReduceOp::Max);
  }
  // Ends every rank of the job now (MPI_Abort); for the error path, where the other ranks may be
  // waiting inside a collective and would never return.
  [[noreturn]] virtual void abort(int code) = 0;

  // Overlapped reductions (GradReducer's gradient buckets; engine/dist/reducer.h). overlaps() says
  // whether all_reduce_sum_start returns before the reduction is done, so that starting buckets during
  // the backward buys anything (NcclComm: queued on its own stream). all_reduce_sum_start(t) starts an
  // in-place sum over ranks of a contiguous float tensor that must stay alive and untouched until
  // all_reduce_wait(); all_reduce_wait() orders the caller (on the GPU: the compute stream) after every
  // reduction started so far. Every rank must start the same reductions in the same order. The defaults
  // are the blocking all_reduce_sum and nothing to wait for.
  virtual bool overlaps() const { return false; }
  virtual void all_reduce_sum_start(Tensor& t) { all_reduce_sum(t); }
  virtual void all_reduce_wait() {}
  // A failure the communicator noticed on its own (NCCL's asynchronous errors: a peer that died, a
  // network error), as a readable message; empty when all is well. Cheap: for a watchdog to poll.
  virtual std::string async_error() { return ""; }
};

class SingleComm final : public Comm {
 public:
  int rank() const override { return 0; }
  int world() const override { return 1; }
  int local_rank() const override { return 0; }
  const char* backend() const override { return "single"; }
  void all_reduce_sum(Tensor&) override {}
  void all_reduce(double*, int64_t, ReduceOp) override {}
  void all_reduce(int64_t*, int64_t, ReduceOp) override {}
  void broadcast(Tensor&, int) override {}
  void broadcast(std::string&, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override;
};

// The process's communicator: a SingleComm until set_current installs another (the trainer does, once,
// before building the model). set_current(nullptr) restores the SingleComm.
Comm& current();
void set_current(std::unique_ptr<Comm> comm);

// Convenience on current().
inline bool is_root() { return current().rank() == 0; }

// Differentiable sum over ranks (current()): forward, the sum of every rank's x; backward, the sum over
// ranks of the incoming gradients (each rank's loss depends on every rank's x through the sum, and the
// total loss is the sum of the ranks' losses). The identity at world 1. Used by synchronised BatchNorm.
Tensor all_reduce_sum_grad(const Tensor& x);

// Synchronised BatchNorm in data-parallel runs (the trainer's `sync_bn` setting): when on and world > 1,
// BatchNorm's training statistics are those of the global batch. Process-global, set by the trainer.
bool sync_batch_norm();
void set_sync_batch_norm(bool on);

}  // namespace lra::dist
