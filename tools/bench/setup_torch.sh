#!/usr/bin/env bash
# Installs the newest PyTorch from PyPI into a git-ignored virtual environment, .venv-torch/ at the
# repository root, for the speed comparisons (tools/bench/torch_speed.py, lra-speed --with-torch).
# The test oracle stays Debian's python3-torch 1.13 under /usr/bin/python3: this environment is the
# peer a user would pick, not the specification.
#
#   tools/bench/setup_torch.sh            # the pinned version below
#   TORCH_VERSION=2.14.1 tools/bench/setup_torch.sh
#
# The venv is built on Debian's /usr/bin/python3 (python3-venv and python3-dev, in scripts/setup.sh's list,
# installed here too when missing). PyPI's
# Linux wheel of torch pulls its CUDA runtime packages too (a few GiB): the same wheel then runs on the
# CPU here and on the GPU machine. Re-running is cheap when the version is already there.
set -euo pipefail
version="${TORCH_VERSION:-2.15.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv-torch"
# python3-dev: torch.compile's CPU backend (inductor) compiles C++ against Python.h.
if ! /usr/bin/python3 -c "import venv, ensurepip" 2>/dev/null || [[ ! -f /usr/include/python3.11/Python.h && \
  -z "$(/usr/bin/python3 -c 'import sysconfig, os; p = sysconfig.get_paths()["include"]; print(p if os.path.exists(p + "/Python.h") else "")')" ]]; then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv python3-dev g++ >/dev/null
fi
if [[ ! -x "$venv/bin/python" ]]; then
  /usr/bin/python3 -m venv "$venv"
fi
have="$("$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)"
if [[ "$have" != "$version" ]]; then
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "torch==$version" numpy
fi
"$venv/bin/python" -c 'import torch; print(f"setup_torch: torch {torch.__version__} in '"$venv"'")'
