// Glue for the rotary embedding: checks, the cos/sin table cache, device dispatch, autograd records.
#include "ops/rope/rope.h"

#include <map>
#include <mutex>
#include <tuple>

#include "ops/common.h"

namespace lra::ops {

namespace {

using TableKey = std::tuple<int64_t, int64_t, double, bool, int, int>;  // L, D, base, disable_half, dtype, device

// Never destroyed, like the CUDA caching allocator, so no cached tensor outlives it at exit.
std::mutex& cache_mutex() {
  static auto* m = new std::mutex();
  return *m;
}
std::map<TableKey, std::pair<Tensor, Tensor>>& cache() {
  static auto* c = new std::map<TableKey, std::pair<Tensor, Tensor>>();
  return *c;
}

// x viewed as [rows, L, D]: checks the shape and returns rows.
int64_t rope_rows(const Tensor& x, const char* op, const char* arg) {
  check_float(x, op, arg);
  LRA_CHECK(x.ndim() >= 2, op, ": ", arg, " must be [..., L, D], got ", x.describe());
  LRA_CHECK(x.dim(-1) % 2 == 0, op, ": ", arg, " has shape ", x.shape(), " whose last dim D = ", x.dim(-1),
            " is odd; rotary embedding rotates channel pairs (2i, 2i+1) and needs an even D");
  return x.shape().prod(0, x.ndim() - 2);
}

void apply(const Tensor& x, Tensor& y, const Tensor* u, Tensor* v, const std::pair<Tensor, Tensor>& table, int sign) {
  int64_t L = x.dim(-2), D = x.dim(-1);
  int64_t rows_x = x.shape().prod(0, x.ndim() - 2), rows_u = u ? u->shape().prod(0, u->ndim() - 2) : 0;
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, "rope", [&](auto t) {
        using T = decltype(t);
        cpu::rope_apply<T>(x.data<T>(), y.data<T>(), rows_x, u ? u->data<T>() : nullptr, v ? v->data<T>() : nullptr,
                           rows_u, table.first.data<T>(), table.second.data<T>(), L, D, sign);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::rope_apply(x.data<float>(), y.data<float>(), rows_x, u ? u->data<float>() : nullptr,
                                   v ? v->data<float>() : nullptr, rows_u, table.first.data<float>(),
                                   table.second.data<float>(), L, D, sign));
      break;
  }
}

// Records the backward of y = rope(x): the inverse rotation of the upstream gradient.
void record_rope(const Tensor& y, const Tensor& x, const std::pair<Tensor, Tensor>& table) {
  autograd::record(y, "rope", {x}, [table](const Tensor& gy) {
    Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
    apply(gy, gx, nullptr, nullptr, table, -1);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

std::pair<Tensor, Tensor> rope_tables(int64_t L, int64_t D, const RopeOptions& opts, DType dtype, Device device) {
  LRA_CHECK(D % 2 == 0 && D >= 0 && L >= 0, "rope: table for L = ", L, ", D = ", D, " needs L >= 0 and an even D");
  LRA_CHECK(opts.base > 0, "rope: base must be > 0, got ", opts.base);
  TableKey key{L, D, opts.base, opts.disable_half, int(dtype), int(device)};
  std::lock_guard<std::mutex> lock(cache_mutex());
  auto it = cache().find(key);
  if (it != cache().end()) return it->second;
  Tensor c = Tensor::empty({L, D / 2}, dtype, device), s = Tensor::empty({L, D / 2}, dtype, device);
  switch (device) {
    case Device::CPU:
      dispatch_float(c, "rope", [&](auto t) {
        using T = decltype(t);
        cpu::rope_table<T>(c.data<T>(), s.data<T>(), L, D, opts.base, opts.disable_half);
      });
      break;
    case Device::CUDA:
      LRA_CHECK(dtype == DType::F32, "rope: CUDA tables are float32, not ", dtype_name(dtype));
      LRA_ON_CUDA(cuda::rope_table(c.data<float>(), s.data<float>(), L, D, opts.base, opts.disable_half));
      break;
  }
  return cache()[key] = {c, s};
}

void rope_clear_cache() {
  std::lock_guard<std::mutex> lock(cache_mutex());
  cache().clear();
}

Tensor rope(const Tensor& x, const RopeOptions& opts) {
  rope_rows(x, "rope", "x");
  auto table = rope_tables(x.dim(-2), x.dim(-1), opts, x.dtype(), x.device());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  apply(x, y, nullptr, nullptr, table, +1);
  record_rope(y, x, table);
  return y;
}

std::pair<Tensor, Tensor> rope_qk(const Tensor& q, const Tensor& k, const RopeOptions& opts) {
  rope_rows(q, "rope_qk", "q");
  rope_rows(k, "rope_qk", "k");
  check_same(q, k, "rope_qk", "k");
  LRA_CHECK(q.dim(-2) == k.dim(-2) && q.dim(-1) == k.dim(-1), "rope_qk: q has shape ", q.shape(), " and k has shape ",
            k.shape(), "; their last two dims [L, D] must agree");
  auto table = rope_tables(q.dim(-2), q.dim(-1), opts, q.dtype(), q.device());
  Tensor yq = Tensor::empty(q.shape(), q.dtype(), q.device());
  Tensor yk = Tensor::empty(k.shape(), k.dtype(), k.device());
  apply(q, yq, &k, &yk, table, +1);
  record_rope(yq, q, table);
  record_rope(yk, k, table);
  return {yq, yk};
}

}  // namespace lra::ops
