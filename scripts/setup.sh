#!/usr/bin/env bash
# Installs the Debian packages that the build, the main job (scripts/run_main.sh) and the test suite use,
# when any is missing (with sudo when not root). The CUDA toolkit is optional and not installed here:
# with nvcc in /usr/local/cuda or on PATH the CUDA backend is built too.
#
# `packages` is the one list. README.md quotes it verbatim (tests/tools/test_setup_list.cpp fails when the
# two differ), and scripts/check_fresh_machine.sh proves on a bare Debian 12 that nothing else is needed:
# a package the tests use but this list lacks passes on a developer's machine that happens to have it
# and fails only on a fresh one (fortunes was such a package). Recommends are not installed: nothing
# here needs them (python3-torch's are for building C++ extensions, python3-matplotlib's is Tk).
set -euo pipefail
packages=(
  cmake ninja-build g++                                                # the build
  libgtest-dev libcli11-dev libstb-dev nlohmann-json3-dev zlib1g-dev   # libraries (third_party/dependencies.cmake)
  libtomlplusplus-dev          # toml++, the TOML run configurations
  liblapacke-dev               # LAPACK's eigensolver for the HiPPO (S4, S5) initialisation (models/hippo/)
  libopenblas-openmp-dev       # OpenBLAS, the float32 CPU GEMM measured beside ours (ops/matmul/)
  fortunes fortunes-min        # the text and retrieval stand-in data the tests read (/usr/share/games/fortunes)
  dataset-fashion-mnist        # Fashion-MNIST, read by a test (/usr/share/datasets/fashion-mnist)
  python3-torch python3-numpy  # the PyTorch 1.13 CPU oracle of the parity tests, run with /usr/bin/python3
  python3-matplotlib           # training-curve plots drawn from metrics.jsonl
  python3-venv python3-dev     # lra-speed's newest-PyTorch venv (tools/bench/setup_torch.sh); torch.compile needs Python.h
  openmpi-bin libopenmpi-dev   # MPI: launches data-parallel ranks and carries CPU ranks' collectives (docs/distributed.md)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
