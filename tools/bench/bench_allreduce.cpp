// bench_allreduce: what one data-parallel step's gradient all-reduce costs, per model size, on this machine.
// Run it under the launcher, like training:
//
//   mpirun -np 2 --oversubscribe --bind-to none build/tools/bench_allreduce [--sizes 0.1,0.5,1,4,16] [--json FILE]
//
// For each size P (millions of float32 parameters) it times the trainer's own path: GradReducer::finish() on a
// flat gradient buffer of P floats through the communicator the trainer would choose (MpiComm on CPU ranks,
// NcclComm with --device cuda when built with NCCL); 3 warm-ups, then the median of --iters calls, each
// after a barrier so the ranks start together. Rank 0 prints one line per size: the time, the algorithm
// bandwidth (4P bytes / time) and the bus bandwidth a ring moves per rank (2 (N-1)/N x 4P / time), the
// figure to hold against the link (docs/distributed.md). Run alone (no launcher) it says what to type.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/bench.h"
#include "engine/device.h"
#include "engine/dist.h"
#include "engine/dist/init.h"
#include "engine/dist/reducer.h"
#include "engine/optim.h"

using namespace lra;

int main(int argc, char** argv) {
  CLI::App app{"bench_allreduce: the gradient all-reduce of one data-parallel step, per model size (run under mpirun)"};
  std::string sizes_text = "0.05,0.1,0.25,0.5,1,2,4,8,16", json_path, device_text = "cpu";
  int iters = 20;
  app.add_option("--sizes", sizes_text, "millions of float32 parameters, comma-separated")->capture_default_str();
  app.add_option("--iters", iters, "timed all-reduces per size (median reported)")->capture_default_str();
  app.add_option("--device", device_text, "cpu or cuda")->capture_default_str();
  app.add_option("--json", json_path, "also write one JSON line per size to this file (rank 0)");
  CLI11_PARSE(app, argc, argv);
  try {
    const dist::Launch launch = dist::detect_launch();
    if (launch.world == 1) {
      std::fprintf(stderr, "bench_allreduce: one process has nothing to reduce; run it under a launcher, e.g.\n"
                           "  mpirun -np 2 --oversubscribe --bind-to none %s\n", argv[0]);
      return 2;
    }
    const Device device = parse_device(device_text);
    dist::InitOptions io;
    io.cuda = device == Device::CUDA;
    dist::set_current(dist::init(launch, io));
    dist::Comm& comm = dist::current();
    if (comm.rank() != 0) std::freopen("/dev/null", "w", stdout);
    std::printf("bench_allreduce: %d ranks over %s, device %s, median of %d\n", comm.world(), comm.backend(),
                device_name(device), iters);
    std::printf("%12s %12s %14s %14s\n", "parameters", "ms", "algo GB/s", "bus GB/s");
    std::ofstream json;
    if (!json_path.empty() && comm.rank() == 0) json.open(json_path);
    std::stringstream list(sizes_text);
    for (std::string item; std::getline(list, item, ',');) {
      const int64_t P = std::llround(std::stod(item) * 1e6);
      LRA_CHECK(P > 0, "--sizes: '", item, "' is not a positive number of millions");
      // A one-parameter "model" of P floats: the flat buffers the trainer reduces.
      Tensor w = Tensor::zeros({P}, DType::F32, device);
      w.requires_grad_();
      optim::AdamW opt({nn::NamedParameter{"w", w, nn::ParamKind::Weight, ""}}, optim::AdamWConfig{});
      opt.zero_grad();
      dist::GradReducer reducer(opt, comm);
      std::vector<double> ms;
      for (int i = 0; i < iters + 3; ++i) {
        comm.barrier();
        const auto t0 = std::chrono::steady_clock::now();
        reducer.begin();
        reducer.finish();
        if (device == Device::CUDA) synchronize();
        const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (i >= 3) ms.push_back(t);
      }
      // Every rank's median, the slowest reported: the step waits for the last rank.
      double med = bench::median(ms);
      comm.all_reduce(&med, 1, dist::ReduceOp::Max);
      const double bytes = 4.0 * double(P);
      const double bus = 2.0 * double(comm.world() - 1) / double(comm.world()) * bytes;
      std::printf("%12lld %12.3f %14.2f %14.2f\n", (long long)P, med, bytes / med / 1e6, bus / med / 1e6);
      if (json.is_open())
        json << nlohmann::json{{"ranks", comm.world()}, {"backend", comm.backend()}, {"device", device_name(device)},
                               {"parameters", P}, {"ms", med}, {"algo_gb_s", bytes / med / 1e6},
                               {"bus_gb_s", bus / med / 1e6}}
                    .dump()
             << "\n";
    }
    std::fflush(stdout);
    dist::set_current(nullptr);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_allreduce: error: %s\n", e.what());
    dist::current().abort(1);
  }
}
