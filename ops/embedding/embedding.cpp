// Glue for the embedding lookup: checks (including the id range on the CPU), allocation, device
// dispatch, autograd record.
#include "ops/embedding/embedding.h"

#include "ops/common.h"

namespace lra::ops {

Tensor embedding(const Tensor& ids, const Tensor& table) {
  LRA_CHECK(ids.defined() && table.defined(), "embedding: ids and table must be defined tensors");
  LRA_CHECK(ids.dtype() == DType::I32, "embedding: ids must be int32, got ", ids.describe());
  check_float(table, "embedding", "table");
  LRA_CHECK(table.ndim() == 2, "embedding: table must be [V, D], got ", table.describe());
  LRA_CHECK(ids.device() == table.device(), "embedding: ids are on ", device_name(ids.device()),
            " but the table is on ", device_name(table.device()));
  LRA_CHECK(ids.ndim() < Shape::kMaxDims, "embedding: ids ", ids.shape(), " have ", ids.ndim(),
            " dims; the output adds one and a tensor has at most ", Shape::kMaxDims);
  int64_t n = ids.numel(), V = table.dim(0), D = table.dim(1);
  LRA_CHECK(V >= 1, "embedding: table ", table.shape(), " has no rows; there is nothing for an id to look up ",
            "(V must be >= 1)");
  Shape ys = ids.shape();
  ys.push_back(D);
  Tensor y = Tensor::empty(ys, table.dtype(), table.device());
  switch (table.device()) {
    case Device::CPU: {
      const int32_t* p = ids.data<int32_t>();
      for (int64_t i = 0; i < n; ++i)
        LRA_CHECK(p[i] >= 0 && p[i] < V, "embedding: id ", p[i], " at position ", i, " is outside the table's ", V,
                  " rows");
      dispatch_float(table, "embedding", [&](auto t) {
        using T = decltype(t);
        cpu::embedding_forward<T>(p, table.data<T>(), y.data<T>(), n, V, D);
      });
      break;
    }
    case Device::CUDA:
      LRA_ON_CUDA(cuda::embedding_forward(ids.data<int32_t>(), table.data<float>(), y.data<float>(), n, V, D));
      break;
  }
  DType dtype = table.dtype();
  Device device = table.device();
  autograd::record(y, "embedding", {Tensor(), table}, [=, ids_s = ids.detach()](const Tensor& gy) {
    Tensor dtable = Tensor::zeros({V, D}, dtype, device);
    switch (dtable.device()) {
      case Device::CPU:
        dispatch_float(dtable, "embedding", [&](auto t) {
          using T = decltype(t);
          cpu::embedding_backward<T>(ids_s.data<int32_t>(), gy.data<T>(), dtable.data<T>(), n, V, D);
        });
        break;
      case Device::CUDA:
        LRA_ON_CUDA(cuda::embedding_backward(ids_s.data<int32_t>(), gy.data<float>(), dtable.data<float>(), n, V, D));
        break;
    }
    return std::vector<Tensor>{Tensor(), dtable};
  });
  return y;
}

}  // namespace lra::ops
