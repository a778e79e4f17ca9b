#!/usr/bin/env bash
# The main job: install what is missing, build, and train S4D on freshly generated ListOps (LRA task 1,
# 10 classes, chance 10%), end to end: data, training, validation, best/last checkpoints, test accuracy
# of both, curves.png, in runs/main-listops-s4d/.
#   with a GPU (nvidia-smi sees one): S4D 4 × 128 on 50,000 expressions of up to 1,000 tokens
#   without: a small CPU configuration, S4D 4 × 64 on 20,000 expressions of up to 200 tokens (about
#   6 minutes on 2 cores; README.md states what it reaches)
# Extra arguments go to lra-listops and override these (e.g. --steps 200, --device cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
common=(--generate --model s4d --ffn 0 --position none --prenorm false --norm batch --pooling masked_mean
        --dropout 0 --lr 0.01 --ssm-lr 0.001 --weight-decay 0.05 --clip 0 --out runs/main-listops-s4d)
if nvidia-smi -L >/dev/null 2>&1; then
  exec ./build/tools/lra-listops "${common[@]}" --device cuda --width 128 --depth 4 --batch 64 \
    --gen-train 50000 --gen-val 1000 --gen-min-length 100 --gen-max-length 1000 --gen-depth 10 --gen-args 10 \
    --steps 4000 --schedule cosine:warmup=10% --eval-every 500 --time-limit 9m "$@"
fi
exec ./build/tools/lra-listops "${common[@]}" --device cpu --width 64 --depth 4 --batch 32 \
  --gen-train 20000 --gen-val 500 --steps 1500 --schedule cosine:warmup=10% --eval-every 250 --log-every 50 \
  --time-limit 9m "$@"
