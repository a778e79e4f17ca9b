// NcclComm: the collectives of GPU ranks over NCCL; see engine/dist.h.
//
// CUDA tensors reduce and broadcast through NCCL; host buffers (counts, losses, stop flags, strings) go
// through `host`, the MPI communicator that also carries NCCL's bootstrap (rank 0's ncclUniqueId is
// broadcast over it). At world 1 `host` is a SingleComm and NCCL runs against itself: the path a
// single-GPU machine can test.
#pragma once

#include <memory>

#include "engine/dist.h"

namespace lra::dist {

#ifdef LRA_WITH_NCCL
std::unique_ptr<Comm> make_nccl_comm(const Launch& launch, std::unique_ptr<Comm> host);
#endif

}  // namespace lra::dist
