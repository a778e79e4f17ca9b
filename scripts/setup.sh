#!/usr/bin/env bash
# Installs the Debian packages lra-engine builds with, when any is missing (with sudo when not root).
# The CUDA toolkit is optional: with nvcc in /usr/local/cuda or on PATH the CUDA backend is built too.
set -euo pipefail
packages=(cmake ninja-build g++ libgtest-dev libcli11-dev libstb-dev nlohmann-json3-dev zlib1g-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
