// Tensor: a shape, a dtype and a device over shared, row-major contiguous storage.
//
// Views (view(), narrow0()) share storage with their source; every other producer allocates. There
// are no strides: ops that reorder data (transpose, permute) are real copies with their own kernel,
// which keeps every kernel free of stride juggling. Tensors are cheap handles (one shared_ptr);
// copying a Tensor copies the handle, not the data.
//
// Host<->device transfers happen only in to(), to_vector(), item() and copy_from(), and only those
// wait for the GPU.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "engine/memory.h"
#include "engine/shape.h"

namespace lra {

namespace autograd {
struct Node;
}

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes from storage->ptr
  Shape shape;
  DType dtype = DType::F32;
  Device device = Device::CPU;
  // Autograd state (see engine/autograd.h).
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // --- creation (none of these record autograd history) ---
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = Device::CPU);
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::CPU);
  static Tensor scalar(double value, DType dtype = DType::F32, Device device = Device::CPU) {
    return full(Shape{}, value, dtype, device);
  }

  // --- metadata ---
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  int ndim() const { return impl_->shape.ndim(); }
  int64_t dim(int i) const { return impl_->shape.at(i); }
  int64_t numel() const { return impl_->shape.numel(); }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->device; }
  bool is_cuda() const { return impl_->device == Device::CUDA; }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype()); }
  // "float32[2, 3] on cuda"
  std::string describe() const;

  // --- data access ---
  void* raw_data() const { return static_cast<char*>(impl_->storage->ptr) + impl_->offset; }
  template <class T>
  T* data() const {
    LRA_CHECK(dtype_of<T>() == dtype(), "data<", dtype_name(dtype_of<T>()), ">() on a ", describe());
    return static_cast<T*>(raw_data());
  }
  // Copies to the host (waiting for the GPU when needed) and converts to T.
  template <class T>
  std::vector<T> to_vector() const;
  // The single element of a one-element tensor, as a double.
  double item() const;

  // --- copies and views (not recorded by autograd; ops/shape has the differentiable versions) ---
  Tensor to(Device device) const;  // a copy on `device`, or *this when already there
  Tensor clone() const;            // a deep copy on the same device
  Tensor detach() const;           // shares storage, no history, no requires_grad
  Tensor view(const Shape& shape) const;              // same storage, same numel
  Tensor narrow0(int64_t begin, int64_t length) const;  // rows [begin, begin+length) of dim 0
  void copy_from(const Tensor& src);  // same shape and dtype; devices may differ
  void fill_(double value);
  void zero_();
  // this += src (same shape, dtype and device). Used for gradient accumulation.
  void add_(const Tensor& src);

  // --- autograd ---
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& requires_grad_(bool on = true);
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl_->grad_fn; }
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  // Runs backpropagation from this tensor. grad_output defaults to ones for a one-element tensor.
  void backward(const Tensor& grad_output = Tensor()) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Raw element-wise kernels behind the Tensor methods (engine/tensor_kernels.cu on the GPU).
namespace cuda {
void fill_bits(void* dst, int64_t n, size_t elem_size, uint64_t bits);
void add_inplace_f32(float* dst, const float* src, int64_t n);
}  // namespace cuda

}  // namespace lra
