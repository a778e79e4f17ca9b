#include "engine/tensor.h"

#include <cstring>

#include "engine/autograd.h"

#if LRA_WITH_CUDA
#include "engine/cuda.h"
#endif

namespace lra {

namespace {

uint64_t value_bits(double v, DType t) {
  switch (t) {
    case DType::F32: { float f = float(v); uint32_t u; std::memcpy(&u, &f, 4); return u; }
    case DType::F64: { uint64_t u; std::memcpy(&u, &v, 8); return u; }
    case DType::BF16: return bf16::from_float(float(v)).bits;
    case DType::I32: { int32_t i = int32_t(v); uint32_t u; std::memcpy(&u, &i, 4); return u; }
  }
  return 0;
}

#if LRA_WITH_CUDA
cudaMemcpyKind copy_kind(Device from, Device to) {
  if (from == Device::CPU) return to == Device::CPU ? cudaMemcpyHostToHost : cudaMemcpyHostToDevice;
  return to == Device::CPU ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
}
#endif

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t n) {
  if (n == 0) return;
  if (dst_dev == Device::CPU && src_dev == Device::CPU) {
    std::memcpy(dst, src, n);
    return;
  }
#if LRA_WITH_CUDA
  LRA_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, copy_kind(src_dev, dst_dev), cuda::stream()));
  if (dst_dev == Device::CPU) LRA_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
#else
  fail("copy to or from a CUDA tensor in a build without the CUDA backend");
#endif
}

}  // namespace

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  static const char* names[] = {"float32", "float64", "bfloat16", "int32"};
  return str(names[int(dtype())], shape().to_string(), " on ", device_name(device()));
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  LRA_CHECK(!(device == Device::CUDA && dtype == DType::F64),
            "float64 tensors live on the CPU only (they exist for gradient checks)");
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->device = device;
  impl->storage = std::make_shared<Storage>(size_t(shape.numel()) * dtype_size(dtype), device);
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  LRA_CHECK(int64_t(values.size()) == shape.numel(), "from_vector: ", values.size(),
            " values do not fill shape ", shape.to_string());
  Tensor t = empty(shape, dtype_of<T>(), device);
  copy_bytes(t.raw_data(), device, values.data(), Device::CPU, t.nbytes());
  return t;
}
template Tensor Tensor::from_vector(const std::vector<float>&, const Shape&, Device);
template Tensor Tensor::from_vector(const std::vector<double>&, const Shape&, Device);
template Tensor Tensor::from_vector(const std::vector<int32_t>&, const Shape&, Device);
template Tensor Tensor::from_vector(const std::vector<bf16>&, const Shape&, Device);

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = to(Device::CPU);
  std::vector<T> out(static_cast<size_t>(numel()));
  const void* p = host.raw_data();
  auto convert = [&](auto* src) {
    for (size_t i = 0; i < out.size(); ++i) {
      if constexpr (std::is_same_v<std::remove_const_t<std::remove_pointer_t<decltype(src)>>, bf16>)
        out[i] = T(src[i].to_float());
      else
        out[i] = T(src[i]);
    }
  };
  switch (dtype()) {
    case DType::F32: convert(static_cast<const float*>(p)); break;
    case DType::F64: convert(static_cast<const double*>(p)); break;
    case DType::BF16: convert(static_cast<const bf16*>(p)); break;
    case DType::I32: convert(static_cast<const int32_t*>(p)); break;
  }
  return out;
}
template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<int32_t> Tensor::to_vector() const;

double Tensor::item() const {
  LRA_CHECK(numel() == 1, "item() on ", describe(), ", which does not hold exactly one element");
  return to_vector<double>()[0];
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor t = empty(shape(), dtype(), device);
  copy_bytes(t.raw_data(), device, raw_data(), this->device(), nbytes());
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype(), device());
  copy_bytes(t.raw_data(), device(), raw_data(), device(), nbytes());
  return t;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  impl->device = impl_->device;
  return Tensor(std::move(impl));
}

Tensor Tensor::view(const Shape& shape) const {
  LRA_CHECK(shape.numel() == numel(), "view: cannot view ", describe(), " as ", shape.to_string(),
            " (", numel(), " vs ", shape.numel(), " elements)");
  Tensor t = detach();
  t.impl_->shape = shape;
  return t;
}

Tensor Tensor::narrow0(int64_t begin, int64_t length) const {
  LRA_CHECK(ndim() >= 1 && begin >= 0 && length >= 0 && begin + length <= dim(0), "narrow0: rows [", begin,
            ", ", begin + length, ") are outside ", describe());
  Tensor t = detach();
  t.impl_->shape[0] = length;
  t.impl_->offset += size_t(begin * shape().prod(1, ndim())) * dtype_size(dtype());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  LRA_CHECK(src.shape() == shape() && src.dtype() == dtype(), "copy_from: ", src.describe(), " into ", describe());
  copy_bytes(raw_data(), device(), src.raw_data(), src.device(), nbytes());
}

void Tensor::zero_() {
  if (device() == Device::CPU) {
    std::memset(raw_data(), 0, nbytes());
    return;
  }
#if LRA_WITH_CUDA
  LRA_CUDA_CHECK(cudaMemsetAsync(raw_data(), 0, nbytes(), cuda::stream()));
#endif
}

void Tensor::fill_(double value) {
  uint64_t bits = value_bits(value, dtype());
  size_t es = dtype_size(dtype());
  if (device() == Device::CPU) {
    char* p = static_cast<char*>(raw_data());
    for (int64_t i = 0; i < numel(); ++i) std::memcpy(p + size_t(i) * es, &bits, es);
    return;
  }
  cuda::fill_bits(raw_data(), numel(), es, bits);
}

void Tensor::add_(const Tensor& src) {
  LRA_CHECK(src.shape() == shape() && src.dtype() == dtype() && src.device() == device(),
            "add_: cannot add ", src.describe(), " into ", describe());
  int64_t n = numel();
  if (device() == Device::CPU) {
    switch (dtype()) {
      case DType::F32: { float* d = data<float>(); const float* s = src.data<float>(); for (int64_t i = 0; i < n; ++i) d[i] += s[i]; break; }
      case DType::F64: { double* d = data<double>(); const double* s = src.data<double>(); for (int64_t i = 0; i < n; ++i) d[i] += s[i]; break; }
      default: fail(str("add_: unsupported dtype for ", describe()));
    }
    return;
  }
  LRA_CHECK(dtype() == DType::F32, "add_: CUDA gradients are float32, got ", describe());
  cuda::add_inplace_f32(data<float>(), src.data<float>(), n);
}

Tensor& Tensor::requires_grad_(bool on) {
  LRA_CHECK(!on || is_floating(dtype()), "requires_grad on ", describe(), ": only floating tensors have gradients");
  impl_->requires_grad = on;
  return *this;
}

void Tensor::backward(const Tensor& grad_output) const {
  Tensor g = grad_output;
  if (!g.defined()) {
    LRA_CHECK(numel() == 1, "backward() without a gradient needs a one-element tensor, got ", describe());
    g = Tensor::ones(shape(), dtype(), device());
  }
  autograd::backward(*this, g);
}

#if !LRA_WITH_CUDA
namespace cuda {
void fill_bits(void*, int64_t, size_t, uint64_t) { fail("fill_ on a CUDA tensor in a CPU-only build"); }
void add_inplace_f32(float*, const float*, int64_t) { fail("add_ on a CUDA tensor in a CPU-only build"); }
}  // namespace cuda
#endif

}  // namespace lra
