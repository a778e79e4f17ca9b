#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite (CUDA tests skip themselves without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# One OpenMP thread per test process: ctest already runs one test per core.
OMP_NUM_THREADS=1 ctest --test-dir build --output-on-failure -j "$(nproc)"
