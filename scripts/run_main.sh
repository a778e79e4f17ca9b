#!/usr/bin/env bash
# The main job: install what is missing, build, and train the demo classifier on generated data
# (on the GPU when there is one, else a small CPU configuration). Arguments go to lra-demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec ./build/tools/lra-demo "$@"
