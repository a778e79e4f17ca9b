// Devices. One process uses the CPU and at most one GPU (device 0 unless cuda::set_device_index chose
// another before the first CUDA use: a data-parallel rank takes local_rank % cuda_device_count()). The default picks the GPU when one
// is present and this build has the CUDA backend, else the CPU; asking for CUDA where there is none is
// an error that says which of the two is missing.
#pragma once

#include <string>

namespace lra {

enum class Device : uint8_t { CPU, CUDA };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// True when this binary was built with the CUDA backend.
bool cuda_compiled();
// True when the CUDA backend is built in and a GPU is visible.
bool cuda_available();
// "auto" (GPU if available, else CPU), "cpu" or "cuda". Throws lra::Error naming the flag's value and
// the reason when CUDA is asked for and cannot be used.
Device parse_device(const std::string& name);
// Visible GPUs (0 without a driver, a GPU, or the CUDA backend).
int cuda_device_count();
// The GPU's name ("NVIDIA H100 80GB HBM3"), or "none".
std::string cuda_device_name();
inline Device default_device() { return cuda_available() ? Device::CUDA : Device::CPU; }

// Waits for all queued GPU work. One of the few named host-device sync points (the others are
// Tensor::to(Device::CPU), Tensor::item() and Tensor::to_vector()).
void synchronize();

// TF32 tensor-core math for float32 matmuls (cuBLAS). Off by default, as in PyTorch.
void set_allow_tf32(bool on);
bool allow_tf32();

namespace cuda {
// The GPU this process uses (default 0). set_device_index must come before the first CUDA use (the
// CUDA context, its stream and every allocation live on one device): calling it afterwards with another
// index is an error, as is an index outside [0, cuda_device_count()) on a machine with GPUs. In a build
// without the CUDA backend any index >= 0 is accepted and ignored.
void set_device_index(int index);
int device_index();
}  // namespace cuda

}  // namespace lra
