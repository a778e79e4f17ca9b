#!/usr/bin/env bash
# Everything the GPU machine must check, in one call (the lent H100 has no apt and little time):
# configure against the carried .deps (../shared/device/pack-deps.sh fills it), build for sm_90, run the
# whole suite (CUDA tests included), compute-sanitizer memcheck and racecheck on the op tests, and the
# benchmark table. Logs and the table go to $OUT (default ./gpu-out).
#   device run, carry [".deps"]:  bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
# The GPU machine has no OpenMPI (no apt): without mpirun the data-parallel tests (tests/dist) would fail by
# design, so they are left out there; the NCCL path still runs at world 1 (ctest -R NcclComm, no MPI needed).
mpi=OFF
command -v mpirun >/dev/null && mpi=AUTO
cmake -S . -B build-gpu -G Ninja -DCMAKE_PREFIX_PATH="$PWD/.deps/usr" -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DLRA_CUDA=ON -DLRA_MPI=$mpi >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
grep "lra-engine:" "$out/configure.log"
cmake --build build-gpu -j 16 >"$out/build.log" 2>&1 || { grep -E "error|FAILED" "$out/build.log" | head -40; exit 1; }

status=0
ctest --test-dir build-gpu -j 8 --output-on-failure >"$out/ctest.log" 2>&1 || status=1
grep -E "tests passed|tests failed" "$out/ctest.log"
grep -E "\(Failed\)|\(SEGFAULT\)|\(Timeout\)" "$out/ctest.log" | head -40

# compute-sanitizer on the CUDA parity tests of every op family and the engine's CUDA tests.
for t in build-gpu/tests/test_ops_* build-gpu/tests/test_optim build-gpu/tests/test_tensor; do
  name=$(basename "$t")
  for tool in memcheck racecheck; do
    compute-sanitizer --tool "$tool" --error-exitcode 9 "$t" --gtest_filter='*Cuda*:*Gpu*:*GPU*' \
      >"$out/sanitizer-$tool-$name.log" 2>&1
    rc=$?
    summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$out/sanitizer-$tool-$name.log" | tail -1)
    echo "$tool $name: rc=$rc $summary" | tee -a "$out/sanitizer-summary.txt"
    [[ $rc -ne 0 ]] && status=1
  done
done

build-gpu/tools/bench_ops --markdown | tee "$out/bench_ops.md"
build-gpu/tools/lra-demo --device cuda --out "$out/demo" | tail -4
exit $status
