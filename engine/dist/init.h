// Choosing and starting the communicator of a (possibly) data-parallel process (see engine/dist.h).
#pragma once

#include <memory>
#include <string>

#include "engine/dist.h"

namespace lra::dist {

bool built_with_mpi();
bool built_with_nccl();

struct InitOptions {
  std::string backend = "auto";  // auto | mpi | nccl: auto is nccl for a CUDA run when built with NCCL
  bool cuda = false;             // the run's tensors live on the GPU
};

// World 1 with no launcher: a SingleComm (MPI is never initialised). World > 1: MpiComm or NcclComm;
// errors, each naming what to do: a multi-rank launch of a binary built without MPI; MPI reporting a
// world size other than the launcher's (e.g. srun without --mpi=pmix starts N singletons); nccl asked
// for a CPU run or a build without NCCL. World 1 is a SingleComm unless nccl is asked for by name: then NCCL
// runs against itself, without MPI (how a single-GPU machine tests that path).
std::unique_ptr<Comm> init(const Launch& launch, const InitOptions& options);

}  // namespace lra::dist
