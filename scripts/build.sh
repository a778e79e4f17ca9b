#!/usr/bin/env bash
# Configures (once) and builds lra-engine in ./build. CUDA is enabled automatically when nvcc is found.
# Extra arguments go to the first configure, e.g. scripts/build.sh -DLRA_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
cmake --build build -j "$(nproc)"
