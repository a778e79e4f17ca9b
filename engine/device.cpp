#include "engine/device.h"

#include <mutex>

#include "engine/base.h"

#if LRA_WITH_CUDA
#include "engine/cuda.h"
#endif

namespace lra {

void fail(const std::string& message) { throw Error(message); }

#if LRA_WITH_CUDA
bool cuda_compiled() { return true; }
#else
bool cuda_compiled() { return false; }
#endif

#if LRA_WITH_CUDA
namespace {
// Probed once: cudaGetDeviceCount on a machine without a driver returns an error, which means "no GPU".
struct Probe {
  int count = 0;
  std::string why;
  Probe() {
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      why = cudaGetErrorString(e);
      count = 0;
      (void)cudaGetLastError();
    } else if (count == 0) {
      why = "no CUDA device found";
    }
  }
};
const Probe& probe() {
  static Probe p;
  return p;
}
bool g_tf32 = false;
}  // namespace

bool cuda_available() { return probe().count > 0; }

namespace cuda {

void fail_call(const char* statement, const char* what, const char* file, int line) {
  throw Error(str(statement, " failed: ", what, " (", file, ":", line, ")"));
}

const char* cufft_error_string(cufftResult r) {
  switch (r) {
    case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
    case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED (out of GPU memory)";
    case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
    case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
    case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
    case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
    case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
    default: return "cuFFT error";
  }
}

namespace {
// The device index and whether the context (which fixes it) exists, under one mutex so that
// set_device_index and the context's creation cannot interleave.
std::mutex g_device_mutex;
int g_device_index = 0;
bool g_context_made = false;

struct Context {
  cudaStream_t stream = nullptr;
  cudaDeviceProp props{};
  int index = 0;
  Context() {
    LRA_CHECK(cuda_available(), "the CUDA backend was used, but no GPU is usable: ", probe().why);
    {
      std::lock_guard<std::mutex> lock(g_device_mutex);
      index = g_device_index;
      g_context_made = true;
    }
    LRA_CUDA_CHECK(cudaSetDevice(index));
    LRA_CUDA_CHECK(cudaGetDeviceProperties(&props, index));
    LRA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  }
  // Deliberately never destroyed: handles torn down during static destruction race the driver's own
  // shutdown. The process exit releases them.
};
Context& context() {
  static Context* c = new Context();
  return *c;
}
}  // namespace

cudaStream_t stream() { return context().stream; }
const cudaDeviceProp& properties() { return context().props; }

void set_device_index(int index) {
  LRA_CHECK(index >= 0, "cuda::set_device_index(", index, "): the device index must be >= 0");
  std::lock_guard<std::mutex> lock(g_device_mutex);
  LRA_CHECK(!g_context_made || index == g_device_index, "cuda::set_device_index(", index,
            "): the CUDA context already exists on device ", g_device_index,
            "; choose the device before the first CUDA use (before building the model or any CUDA tensor)");
  LRA_CHECK(!cuda_available() || index < probe().count, "cuda::set_device_index(", index, "): this machine has ",
            probe().count, " GPU(s), indices 0..", probe().count - 1);
  g_device_index = index;
}

int device_index() {
  std::lock_guard<std::mutex> lock(g_device_mutex);
  return g_device_index;
}

}  // namespace cuda

void synchronize() {
  if (cuda_available()) LRA_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
}

std::string cuda_device_name() { return cuda_available() ? cuda::properties().name : "none"; }
int cuda_device_count() { return probe().count; }

void set_allow_tf32(bool on) { g_tf32 = on; }
bool allow_tf32() { return g_tf32; }

#else  // CPU-only build

bool cuda_available() { return false; }
std::string cuda_device_name() { return "none"; }
int cuda_device_count() { return 0; }
namespace cuda {
void set_device_index(int index) {
  LRA_CHECK(index >= 0, "cuda::set_device_index(", index, "): the device index must be >= 0");
}
int device_index() { return 0; }
}  // namespace cuda
void synchronize() {}
void set_allow_tf32(bool) {}
bool allow_tf32() { return false; }

#endif

Device parse_device(const std::string& name) {
  if (name == "auto") return default_device();
  if (name == "cpu") return Device::CPU;
  if (name == "cuda" || name == "gpu") {
    LRA_CHECK(cuda_compiled(), "--device cuda: this binary was built without the CUDA backend "
                               "(configured with -DLRA_CUDA=OFF or without nvcc); use --device cpu");
#if LRA_WITH_CUDA
    LRA_CHECK(cuda_available(), "--device cuda: no usable GPU on this machine (", probe().why,
              "); use --device cpu or --device auto");
#endif
    return Device::CUDA;
  }
  fail(str("--device: unknown device '", name, "' (expected auto, cpu or cuda)"));
}

}  // namespace lra
