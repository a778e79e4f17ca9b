// Choosing the communicator (see init.h).
#include "engine/dist/init.h"

#include "engine/dist/mpi_comm.h"
#include "engine/dist/nccl_comm.h"

namespace lra::dist {

bool built_with_mpi() {
#ifdef LRA_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool built_with_nccl() {
#ifdef LRA_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Comm> init(const Launch& l, const InitOptions& o) {
  LRA_CHECK(o.backend == "auto" || o.backend == "mpi" || o.backend == "nccl",
            "--dist-backend must be auto, mpi or nccl, got '", o.backend, "'");
  const bool nccl = o.backend == "nccl" || (o.backend == "auto" && o.cuda && built_with_nccl());
  LRA_CHECK(!nccl || o.cuda, "--dist-backend nccl carries GPU tensors; this run's device is the CPU (use mpi)");
  LRA_CHECK(!nccl || built_with_nccl(), "--dist-backend nccl: this binary was built without NCCL (a CUDA build "
                                        "finds it beside the toolkit; -DLRA_NCCL=ON makes it required)");
  // One process needs no collective: only an explicit --dist-backend nccl runs NCCL against itself (the
  // single-GPU test of that path).
  if (l.world == 1 && o.backend != "nccl") return std::make_unique<SingleComm>();
  std::unique_ptr<Comm> host;
#ifdef LRA_WITH_MPI
  if (l.world > 1) host = make_mpi_comm(l);
#endif
  LRA_CHECK(l.world == 1 || host, "this process was launched as rank ", l.rank, " of ", l.world, " (by ", l.by,
            "), but this binary was built without MPI, which a multi-rank run needs: install openmpi-bin "
            "libopenmpi-dev (scripts/setup.sh) and rebuild (-DLRA_MPI=ON), or run one process");
  if (!host) host = std::make_unique<SingleComm>();
#ifdef LRA_WITH_NCCL
  if (nccl) return make_nccl_comm(l, std::move(host));
#endif
  return host;
}

}  // namespace lra::dist
