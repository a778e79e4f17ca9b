// MpiComm: the collectives of CPU ranks over MPI (OpenMPI here); see engine/dist.h.
//
// MPI is initialised with MPI_THREAD_FUNNELED: only the thread that created the MpiComm calls MPI (the
// trainer's main thread; OpenMP workers never do). Tensors: float32/float64 CPU tensors reduce in place
// (MPI_IN_PLACE, chunked below 2^31 elements); a CUDA tensor is staged through a host copy (correct but
// slow: GPU runs use NcclComm). Host reductions are MPI_Allreduce on doubles or int64s. abort() is
// MPI_Abort on MPI_COMM_WORLD, which mpirun turns into the end of every rank. The destructor finalises
// MPI (the normal exit path); the error path aborts instead, since other ranks may sit in a collective.
#pragma once

#include <memory>

#include "engine/dist.h"

namespace lra::dist {

#ifdef LRA_WITH_MPI
// Initialises MPI (once per process) and checks that its world matches the launcher's.
std::unique_ptr<Comm> make_mpi_comm(const Launch& launch);
#endif

}  // namespace lra::dist
