#!/usr/bin/env bash
# The learning runs on the GPU machine, one per device call (a call may last 10 minutes): each trains for
# at most about 6 minutes (--time-limit) and copies its metrics.jsonl, curves.png, config.toml and log to
# $OUT/runs/<name>/ (default ./gpu-out), ready to commit under docs/runs/<name>/.
#
#   device run, carry [".deps", ".data"]:  bash scripts/gpu_runs.sh build            (all three trainers)
#                                          bash scripts/gpu_runs.sh listops-s4d      (then one call per run)
#
#   run                 data                                                   target (test accuracy)
#   listops-s4d         generated ListOps, LRA's distribution (lengths 500..2000,   > 40%
#                       depth ≤ 10, ≤ 10 operands), 96,000 / 2,000 / 2,000
#   fmnist-s4d          Fashion-MNIST as 1024 pixels (28×28 on a 32×32 canvas)       > 85%
#   fmnist-transformer  the same, rotary Transformer on pixel tokens                 > 75%
#   pathfinder-s4d      generated Pathfinder-32 hard, 200,000 images (80/10/10)      > 60%
#
# Fashion-MNIST comes from Debian's dataset-fashion-mnist, which the GPU machine (no apt) lacks: copy it
# into the checkout before the call and carry it,
#   mkdir -p .data && cp -a /usr/share/datasets/fashion-mnist .data/      (≈ 30 MB; .data/ is git-ignored)
# or point FASHION_MNIST at a folder holding the four IDX files.
#
# How long to train: the engine's speed on this GPU is not known in advance, and a cosine schedule must
# know its length. So each run first trains 80 steps of the same model on a small copy of its data
# (a probe), reads the steady rate from the probe's metrics.jsonl (steps 40→80), and sets --steps to
# what fits in the training time, with --time-limit as the hard stop:
#   train_s = min(TRAIN_S, BUDGET_S − seconds already used − the run's reserve for data and testing)
#   steps   = 0.9 · rate · train_s   (10% left for the validation passes and log syncs)
# Environment: TRAIN_S (default 360), BUDGET_S (the whole call, default 560), FASHION_MNIST,
# PATHFINDER_COUNT (images generated, default 200000); for a smoke
# test of this script on the CPU: BUILD_DIR (default build-gpu), DEVICE (default cuda) and EXTRA (trainer
# flags appended to the run's, e.g. "--width 16 --depth 1 --batch 4").
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${OUT:-gpu-out}
name=${1:-}
train_cap=${TRAIN_S:-360}
budget=${BUDGET_S:-560}
build_dir=${BUILD_DIR:-build-gpu}
device=${DEVICE:-cuda}
read -r -a extra <<<"${EXTRA:-}"
usage="usage: bash scripts/gpu_runs.sh build | listops-s4d | fmnist-s4d | fmnist-transformer | pathfinder-s4d"

build() {  # build TARGET... into build-gpu (configured once, as scripts/gpu_check.sh does)
  mkdir -p "$out"
  if [[ ! -f $build_dir/build.ninja ]]; then
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_PREFIX_PATH="$PWD/.deps/usr" -DCMAKE_CUDA_ARCHITECTURES=90 \
      -DLRA_CUDA=ON >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
  fi
  cmake --build "$build_dir" -j 16 --target "$@" >"$out/build.log" 2>&1 ||
    { grep -E "error|FAILED" "$out/build.log" | head -40; tail -5 "$out/build.log"; exit 1; }
  echo "built $* at ${SECONDS}s"
}

fashion_mnist() {  # the first folder holding Fashion-MNIST's training images
  local d
  for d in "${FASHION_MNIST:-}" .data/fashion-mnist .deps/usr/share/datasets/fashion-mnist \
    /usr/share/datasets/fashion-mnist; do
    if [[ -n $d && ( -f $d/train-images-idx3-ubyte.gz || -f $d/train-images-idx3-ubyte ) ]]; then
      echo "$d"
      return 0
    fi
  done
  echo "gpu_runs: Fashion-MNIST not found (FASHION_MNIST, .data/fashion-mnist," \
    ".deps/usr/share/datasets/fashion-mnist); carry it: mkdir -p .data && cp -a /usr/share/datasets/fashion-mnist .data/" >&2
  return 1
}

# Steps per second over the second half of a probe's training log lines (the first steps include
# start-up: cudaMalloc while the cache warms, cuFFT plans).
rate() {
  python3 - "$1" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
a, b = rows[len(rows) // 2 - 1], rows[-1]
print(f"{(b['step'] - a['step']) / (b['elapsed_s'] - a['elapsed_s']):.3f}")
EOF
}

case $name in
  build)
    build lra-listops lra-image lra-pathfinder
    exit 0 ;;
  listops-s4d)
    # S4's ListOps recipe with the diagonal kernel (models-and-recipes.md §4.3; configs/listops/s4d.toml):
    # 6 post-norm BatchNorm blocks of width 256, N = 4, bidirectional, no FFN, masked mean, batch 32,
    # lr 0.01, SSM lr 1e-3, wd 0.05. At L = 2000 the GPU should manage tens of steps per second, i.e.
    # several epochs of 96,000 in 6 minutes: S4-type models leave the Transformers' ~37% level early.
    bin=lra-listops target=0.40 reserve=40 eval_batches=0
    gen=(--generate --gen-min-length 500 --gen-max-length 2000 --gen-depth 10 --gen-args 10)
    data=("${gen[@]}" --gen-train 96000 --gen-val 2000)
    probe_data=("${gen[@]}" --gen-train 1000 --gen-val 100)
    settings=(--model s4d --mixer ssm_n=4 --mixer init=lin --mixer bidirectional=1 --width 256 --depth 6 --ffn 0
              --position none --prenorm false --norm batch --pooling masked_mean --dropout 0 --batch 32 --lr 0.01
              --ssm-lr 0.001 --weight-decay 0.05 --clip 0 --tf32 true) ;;
  fmnist-s4d)
    # S4's sequential-CIFAR recipe (§4.3; configs/image/s4d.toml: pixels as normalised scalars, post-norm
    # BatchNorm, N = 64, bidirectional, dropout 0.1 tied over the sequence, lr 0.01, SSM lr 1e-3, wd 0.05)
    # narrowed from 6 × 512 to 4 × 256 for a 6-minute budget: Fashion-MNIST is far easier than CIFAR, and
    # this size runs many epochs of 55,000 images in 6 minutes.
    fm=$(fashion_mnist) || exit 1
    bin=lra-image target=0.85 reserve=30 eval_batches=0
    data=(--generate --fashion-mnist "$fm")
    probe_data=("${data[@]}")
    settings=(--model s4d --mixer ssm_n=64 --mixer init=lin --mixer bidirectional=1 --input scalars --width 256
              --depth 4 --ffn 0 --position none --prenorm false --norm batch --pooling mean --dropout 0.1
              --tied-dropout true --batch 64 --lr 0.01 --ssm-lr 0.001 --weight-decay 0.05 --clip 0 --tf32 true) ;;
  fmnist-transformer)
    # The rotary Transformer of the speed comparison (pre-norm, rotary per head, ReLU FFN, mean pooling) on
    # pixel tokens (LRA's image input: an embedding of the 256 grey levels), trained with the
    # locality-bias paper's recipe (configs/image/rotary_transformer.toml: AdamW lr 1e-3, betas 0.9/0.98,
    # wd 0.05) scaled from 10 × 160 to 4 × 128 (4 heads, FFN 256) for the budget, dropout 0.1 since
    # 55,000 images are seen many times, batch 64, clip 1. Full attention over 1024 positions is the
    # costly part.
    fm=$(fashion_mnist) || exit 1
    bin=lra-image target=0.75 reserve=30 eval_batches=0
    data=(--generate --fashion-mnist "$fm")
    probe_data=("${data[@]}")
    settings=(--model rotary_transformer --position none --width 128 --depth 4 --mixer heads=4 --ffn 256
              --activation relu --prenorm true --norm layer --pooling mean --dropout 0.1 --mixer attention_dropout=0
              --batch 64 --lr 0.001 --beta2 0.98 --weight-decay 0.05 --clip 1 --tf32 true) ;;
  pathfinder-s4d)
    # S4's Pathfinder recipe (§4.3; configs/pathfinder/s4d.toml): 6 pre-norm BatchNorm blocks of width
    # 256, N = 64, bidirectional, pixels as scalars in [-1, 1], batch 64, lr 0.004, SSM lr 1e-3, wd 0.05.
    # 160,000 training images generated on the machine's cores (about 1,500 images/s per 2 cores here:
    # well under a minute on 16). Validation on 100 batches (6,400 images) per evaluation.
    bin=lra-pathfinder target=0.60 reserve=75 eval_batches=100
    gen=(--generate --size 32 --difficulty hard)
    data=("${gen[@]}" --gen-count "${PATHFINDER_COUNT:-200000}")
    probe_data=("${gen[@]}" --gen-count 2000)
    settings=(--model s4d --mixer ssm_n=64 --mixer init=lin --mixer bidirectional=1 --input scalars --width 256
              --depth 6 --ffn 0 --position none --prenorm true --norm batch --pooling mean --dropout 0 --batch 64
              --lr 0.004 --ssm-lr 0.001 --weight-decay 0.05 --clip 0 --tf32 true) ;;
  *)
    echo "$usage"
    exit 2 ;;
esac

mkdir -p "$out/runs/$name"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$out/runs/$name/gpu.txt" 2>&1
build "$bin"
dir=runs/gpu/$name
rm -rf "$dir" "$dir-probe"

# --- probe: 80 steps on a small copy of the data, same model ---
timeout 150 "$build_dir/tools/$bin" "${probe_data[@]}" "${settings[@]}" "${extra[@]}" --device "$device" --steps 80 \
  --log-every 20 --schedule constant --eval-every 1000000 --eval-batches 1 --test-batches 1 --out "$dir-probe" \
  >"$out/runs/$name/probe.log" 2>&1 ||
  { echo "gpu_runs: the probe failed:"; tail -20 "$out/runs/$name/probe.log"; exit 1; }
sps=$(rate "$dir-probe/metrics.jsonl") || { echo "gpu_runs: no rate in $dir-probe/metrics.jsonl"; exit 1; }
train_s=$((budget - SECONDS - reserve))
((train_s > train_cap)) && train_s=$train_cap
((train_s >= 60)) || { echo "gpu_runs: only ${train_s}s left for training (build took too long?); run again"; exit 1; }
steps=$(python3 -c "print(max(100, int(0.9 * $sps * $train_s)))")
eval_every=$((steps / 8 > 50 ? steps / 8 : 50))
warmup=$((steps / 10))
echo "probe: $sps steps/s -> $steps steps in ${train_s}s (eval every $eval_every, warmup $warmup) at ${SECONDS}s"

# --- the run --- (the outer timeout only guards the call's 10 minutes should the final tests run long)
kill_after=$((budget + 25 - SECONDS))
timeout "$kill_after" "$build_dir/tools/$bin" "${data[@]}" "${settings[@]}" "${extra[@]}" --device "$device" \
  --steps "$steps" --time-limit "${train_s}s" --schedule "cosine:warmup=$warmup" --eval-every "$eval_every" \
  --eval-batches "$eval_batches" --log-every 50 --out "$dir" >"$out/runs/$name/train.log" 2>&1
rc=$?
((rc == 124)) && echo "gpu_runs: killed after ${kill_after}s (the call's budget); metrics so far are kept"
grep -E "^(lra-|device|parameter group)|val acc|test accuracy|time limit|error" "$out/runs/$name/train.log" | tail -25
for f in metrics.jsonl curves.png config.toml; do
  [[ -f $dir/$f ]] && cp "$dir/$f" "$out/runs/$name/"
done
python3 - "$dir/metrics.jsonl" "$target" "$name" "$sps" "$steps" "$train_s" <<'EOF' | tee "$out/runs/$name/summary.txt"
import json, sys
path, target, name, sps, steps, train_s = sys.argv[1], float(sys.argv[2]), *sys.argv[3:]
try:
    rows = [json.loads(l) for l in open(path)]
except OSError:
    sys.exit(f"{name}: no metrics.jsonl")
test = {r["checkpoint"]: r["acc"] for r in rows if r.get("type") == "test"}
train = [r for r in rows if r.get("type") == "train"]
done = train[-1]["step"] if train else 0
best = test.get("best")
verdict = "no test accuracy" if best is None else ("MET" if best > target else "MISSED")
print(f"{name}: test accuracy best-val checkpoint {best}, last {test.get('last')}; target > {target}: {verdict}; "
      f"{done}/{steps} steps planned for {train_s}s at a probed {sps} steps/s")
EOF
echo "total ${SECONDS}s"
exit $rc
