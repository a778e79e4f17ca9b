#!/usr/bin/env bash
# Regenerates the pictures of docs/probes.md from the running code: the token-mixing map of one
# representative mixer per family (lra-probe pattern, random initialisation), the learned kernels of a
# briefly trained S4D (lra-probe kernels) and how far it looks (lra-probe receptive-field). A test runs it
# with --tiny (tests/tools/test_probe_figures.cpp), so it cannot silently break.
# With --experiments it also runs the locality-bias paper's two experiments on ListOps at the CPU scale
# (lra-probe locality / positional --small, about 30 + 20 minutes on two cores; their runs are kept in
# runs/probe-*-listops, so a second call reuses them) and copies their tables and plots beside the rest.
#   bash scripts/make_probe_figures.sh                  # docs/probes/*.png at the documented sizes (~2 min)
#   bash scripts/make_probe_figures.sh --experiments    # and the two experiments (~50 min)
#   bash scripts/make_probe_figures.sh --tiny --experiments --out DIR  # all of it at a tiny size (seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
[[ -x $build/tools/lra-probe ]] || build=build-cpu
out=docs/probes
tiny=0
experiments=0
while (($#)); do
  case $1 in
    --tiny) tiny=1 ;;
    --experiments) experiments=1 ;;
    --out) out=$2; shift ;;
    *) echo "make_probe_figures.sh: unknown argument '$1' (--tiny, --experiments, --out DIR)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
probe=$build/tools/lra-probe
if ((tiny)); then
  shape=(--length 32 --width 16)
  inputs=(--inputs 1)
  small=(--mixer block=8)
  bigbird=(--mixer block=4 --mixer random_blocks=2 --mixer random_span=32 --mixer padding=masked --mixer heads=1)
  window=(--mixer window=8)
  train=(--gen-train 64 --gen-val 16 --gen-min-length 8 --gen-max-length 32 --width 16 --depth 1 --steps 3
         --batch 8 --mixer ssm_n=8)
else
  shape=(--length 128 --width 32)
  inputs=(--inputs 4)
  small=(--mixer block=32)
  bigbird=(--mixer block=8 --mixer random_blocks=2 --mixer random_span=128 --mixer padding=masked --mixer heads=1)
  window=(--mixer window=16)
  # The main job's CPU recipe (scripts/run_main.sh), shortened: it learns, which the receptive field needs.
  train=(--gen-train 3000 --gen-val 200 --gen-min-length 32 --gen-max-length 256 --width 64 --depth 4
         --ffn 0 --position none --prenorm false --norm batch --pooling masked_mean --dropout 0 --lr 0.01
         --ssm-lr 0.001 --weight-decay 0.05 --clip 0 --batch 32 --steps 600 --schedule cosine:warmup=10%)
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# One representative per family of docs/probes.md's tour, with its structure-revealing settings.
"$probe" pattern --model transformer "${shape[@]}" "${inputs[@]}" --out "$out"                     # dense
"$probe" pattern --model local "${shape[@]}" "${inputs[@]}" "${small[@]}" --out "$out"             # fixed pattern
"$probe" pattern --model longformer "${shape[@]}" "${inputs[@]}" "${window[@]}" --out "$out"       # fixed pattern
"$probe" pattern --model bigbird "${shape[@]}" "${inputs[@]}" "${bigbird[@]}" --out "$out"         # fixed pattern
"$probe" pattern --model sparse_transformer "${shape[@]}" "${inputs[@]}" --out "$out"              # fixed pattern
# learned pattern: one input shows Reformer's buckets (more inputs average them away)
"$probe" pattern --model reformer "${shape[@]}" --inputs 1 --mixer heads=1 --mixer head_merge=transpose --out "$out"
"$probe" pattern --model sinkhorn "${shape[@]}" "${inputs[@]}" --out "$out"                        # learned pattern
"$probe" pattern --model linformer "${shape[@]}" "${inputs[@]}" --out "$out"                       # low rank
"$probe" pattern --model performer "${shape[@]}" "${inputs[@]}" --out "$out"                       # kernel
"$probe" pattern --model las "${shape[@]}" "${inputs[@]}" --out "$out"                             # decaying attention
"$probe" pattern --model s4d "${shape[@]}" "${inputs[@]}" --out "$out"                             # state space
"$probe" pattern --model residual_conv "${shape[@]}" "${inputs[@]}" --out "$out"                   # convolution
# Learned kernels: a short S4D run on generated ListOps, then the kernels probe on its checkpoint.
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
"$build/tools/lra-listops" --generate --model s4d --device cpu --plot false --log-every 50 --eval-every 150 \
  "${train[@]}" --out "$run/s4d" >/dev/null
"$probe" kernels --checkpoint "$run/s4d/last.safetensors" --out "$run/kernels"
cp "$run/kernels/kernels.png" "$out/kernels-s4d-listops.png"
cp "$run/kernels/kernels.json" "$out/kernels-s4d-listops.json"
# How far the trained model looks: |d logit / d embedding| against the input position.
"$probe" receptive-field --checkpoint "$run/s4d/last.safetensors" --task listops --out "$run/rf"
cp "$run/rf/receptive_field.png" "$out/receptive-field-s4d-listops.png"
cp "$run/rf/receptive_field.json" "$out/receptive-field-s4d-listops.json"
# The locality-bias paper's Tables 1 and 4 on ListOps at the CPU scale (docs/probes.md, "lra-probe locality").
if ((experiments)); then
  if ((tiny)); then
    runs=$run
    lists=(--kernels 3,5)
    variants=(--variants rotary,none)
    extra=(-- --gen-train 64 --gen-val 16 --set steps=2 eval_every=1 plot=false)
  else
    runs=runs
    lists=()
    variants=()
    extra=()
  fi
  "$probe" locality --task listops --small --device cpu "${lists[@]}" --out "$runs/probe-locality-listops" \
    "${extra[@]}"
  "$probe" positional --task listops --small --device cpu "${variants[@]}" --out "$runs/probe-positional-listops" \
    "${extra[@]}"
  for e in locality positional; do
    for ext in json md png; do cp "$runs/probe-$e-listops/$e.$ext" "$out/$e-listops.$ext"; done
  done
fi
echo "make_probe_figures.sh: pictures in $out"
