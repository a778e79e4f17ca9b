#!/usr/bin/env bash
# Issue 3's kernel comparison in one device call: configure and build for sm_90 (as scripts/gpu_check.sh
# does, against the carried .deps), run bench_kernels and the PyTorch side in the same call on the same
# GPU, and print the ratio table (docs/kernels.md). Everything goes to $OUT (default ./gpu-out).
#   device run, carry [".deps"]:  bash scripts/bench_kernels_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
if [[ ! -x build-gpu/tools/bench_kernels ]]; then
  cmake -S . -B build-gpu -G Ninja -DCMAKE_PREFIX_PATH="$PWD/.deps/usr" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLRA_CUDA=ON >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
fi
cmake --build build-gpu -j 16 --target bench_kernels >"$out/build.log" 2>&1 ||
  { grep -E "error|FAILED" "$out/build.log" | head -40; exit 1; }

status=0
build-gpu/tools/bench_kernels --device cuda --json >"$out/lra.jsonl" 2>"$out/lra.err" ||
  { status=1; cat "$out/lra.err"; }
python3 tools/bench/torch_kernels.py >"$out/torch.jsonl" 2>"$out/torch.err" ||
  { status=1; tail -20 "$out/torch.err"; }
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" >>"$out/gpu.txt" 2>&1
python3 tools/bench/compare_kernels.py "$out/lra.jsonl" "$out/torch.jsonl" | tee "$out/compare.md" || status=1
exit $status
