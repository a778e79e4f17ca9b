// Launch detection, the single-process communicator, and the differentiable all-reduce (see dist.h).
#include "engine/dist.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "engine/autograd.h"

namespace lra::dist {

namespace {

// A non-negative decimal integer, or an error naming the variable. Slurm's per-node counts look like
// "4(x2),3": the first number is this node's when the nodes are listed in order, which is what
// SLURM_NTASKS_PER_NODE holds for a uniform allocation.
int parse_count(const char* name, const char* value, bool first_number) {
  std::string s(value);
  size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  LRA_CHECK(n > 0 && n <= 9 && (first_number || n == s.size()), "distributed launch: environment variable ",
            name, "='", s, "' is not a non-negative integer");
  return std::stoi(s.substr(0, n));
}

struct Names {
  const char* by;
  const char *rank, *world, *local_rank, *local_world;
};
constexpr Names kLaunchers[] = {
    {"OpenMPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"Slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
    {"env", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
};

}  // namespace

Launch detect_launch(const GetEnv& getenv_fn) {
  auto get = [&](const char* name) -> const char* {
    const char* v = getenv_fn ? getenv_fn(name) : std::getenv(name);
    return v && *v ? v : nullptr;
  };
  for (const Names& n : kLaunchers) {
    const char* rank = get(n.rank);
    const char* world = get(n.world);
    if (!rank && !world) continue;
    LRA_CHECK(rank && world, "distributed launch (", n.by, "): ", rank ? n.rank : n.world, " is set but ",
              rank ? n.world : n.rank, " is not");
    Launch l;
    l.by = n.by;
    l.rank = parse_count(n.rank, rank, false);
    l.world = parse_count(n.world, world, false);
    LRA_CHECK(l.world >= 1, "distributed launch: ", n.world, "=", l.world, " must be at least 1");
    LRA_CHECK(l.rank < l.world, "distributed launch: ", n.rank, "=", l.rank, " is outside [0, ", n.world, "=",
              l.world, ")");
    const char* local_rank = get(n.local_rank);
    const char* local_world = get(n.local_world);
    l.local_rank = local_rank ? parse_count(n.local_rank, local_rank, false) : (l.world == 1 ? 0 : l.rank);
    l.local_world = local_world ? parse_count(n.local_world, local_world, true) : (local_rank ? 0 : l.world);
    if (l.local_world == 0) l.local_world = l.local_rank + 1;  // unknown: at least this many on the node
    LRA_CHECK(l.local_rank < l.local_world && l.local_world <= l.world, "distributed launch: ", n.local_rank,
              "=", l.local_rank, " and ", n.local_world, "=", l.local_world, " are inconsistent with ", n.world,
              "=", l.world);
    return l;
  }
  return Launch{};
}

void SingleComm::abort(int code) { std::exit(code); }

namespace {
std::unique_ptr<Comm>& installed() {
  static std::unique_ptr<Comm> c;
  return c;
}
bool g_sync_bn = true;
}  // namespace

Comm& current() {
  static SingleComm single;
  Comm* c = installed().get();
  return c ? *c : single;
}

void set_current(std::unique_ptr<Comm> comm) { installed() = std::move(comm); }

bool sync_batch_norm() { return g_sync_bn; }
void set_sync_batch_norm(bool on) { g_sync_bn = on; }

Tensor all_reduce_sum_grad(const Tensor& x) {
  Comm& comm = current();
  if (comm.world() == 1) return x;
  Tensor y = x.clone();
  comm.all_reduce_sum(y);
  autograd::record(y, "all_reduce_sum", {x}, [&comm](const Tensor& gy) {
    Tensor gx = gy.clone();
    comm.all_reduce_sum(gx);
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace lra::dist
