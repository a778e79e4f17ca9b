#!/usr/bin/env bash
# The training-step comparison with PyTorch in one device call (docs/benchmarks.md): configure and build
# bench_train for sm_90 against the carried .deps (as scripts/gpu_check.sh does), then on the same GPU, in
# the same call, time the engine (tools/bench/bench_train) and ../shared/bench/torch_reference.py on the
# issue's three configurations, in float32 with TF32 off and with TF32 on, and join them into one markdown
# table (tools/bench/compare_train.py). The engine also writes a per-phase / per-op (backward) profile of
# every configuration, and, when nsys is installed and time is left, a per-kernel summary of one step of
# each model. Everything goes to $OUT (default ./gpu-out):
#   lra-{fp32,tf32}.jsonl  torch-{fp32,tf32}.jsonl  compare.md  profile-{fp32,tf32}.md
#   nsys-<config>-kernels.csv  gpu.txt  *.log
#   device run, carry [".deps"]:  bash scripts/bench_train_gpu.sh
#   STEPS=20 CONFIGS="s4d_listops" bash scripts/bench_train_gpu.sh      (timed steps; a subset)
# About 2-4 minutes of building on a fresh machine, then about a minute per precision and side; every
# stage has its own timeout, and no engine run starts after 8 minutes, so the call ends before 10.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${OUT:-gpu-out}
mkdir -p "$out"
steps=${STEPS:-10}
read -r -a configs <<<"${CONFIGS:-rotary_transformer_listops s4d_listops rotary_transformer_text4k}"

# The shared folder sits beside the repository root on the device machine (../shared), as here.
torch_ref=""
for p in ../shared/bench/torch_reference.py shared/bench/torch_reference.py /work/shared/bench/torch_reference.py; do
  [[ -f $p ]] && { torch_ref=$p; break; }
done
[[ -n $torch_ref ]] ||
  { echo "bench_train_gpu: torch_reference.py not found (looked in ../shared/bench and shared/bench)"; exit 1; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" >>"$out/gpu.txt" 2>&1
if [[ ! -f build-gpu/build.ninja ]]; then
  cmake -S . -B build-gpu -G Ninja -DCMAKE_PREFIX_PATH="$PWD/.deps/usr" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLRA_CUDA=ON >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
fi
timeout 330 cmake --build build-gpu -j 16 --target bench_train >"$out/build.log" 2>&1 ||
  { grep -E "error|FAILED" "$out/build.log" | head -40; tail -5 "$out/build.log"; exit 1; }
echo "built in ${SECONDS}s"

torch_args=()
for c in "${configs[@]}"; do torch_args+=(--only "$c"); done

status=0
for prec in fp32 tf32; do
  flag=()
  [[ $prec == tf32 ]] && flag=(--tf32)
  # The engine one process per configuration (a slow or failing one cannot take the others' lines with it),
  # then PyTorch; never both at once, so neither sees the other's cached GPU memory.
  : >"$out/lra-$prec.jsonl"
  : >"$out/profile-$prec.md"
  for c in "${configs[@]}"; do
    ((SECONDS < 480)) || { echo "bench_train $prec $c: skipped (the call's time is nearly spent)"; status=1; continue; }
    timeout 90 build-gpu/tools/bench_train --device cuda "${flag[@]}" --steps "$steps" --config "$c" \
      --profile "$out/profile-$prec-$c.md" >>"$out/lra-$prec.jsonl" 2>>"$out/lra-$prec.log"
    rc=$?
    ((rc == 0)) || { status=1; echo "bench_train $prec $c: exit $rc"; tail -3 "$out/lra-$prec.log"; }
    [[ -f $out/profile-$prec-$c.md ]] && cat "$out/profile-$prec-$c.md" >>"$out/profile-$prec.md" &&
      rm "$out/profile-$prec-$c.md"
  done
  timeout 150 python3 "$torch_ref" "${flag[@]}" --steps "$steps" "${torch_args[@]}" \
    >"$out/torch-$prec.jsonl" 2>"$out/torch-$prec.log"
  rc=$?
  ((rc == 0)) || { status=1; echo "torch_reference $prec: exit $rc"; tail -5 "$out/torch-$prec.log"; }
  echo "$prec done at ${SECONDS}s"
done
python3 tools/bench/compare_train.py "$out"/lra-fp32.jsonl "$out"/lra-tf32.jsonl "$out"/torch-fp32.jsonl \
  "$out"/torch-tf32.jsonl | tee "$out/compare.md" || status=1

# Per-kernel GPU time of a few steps (forward included, which the engine's own profile cannot split), one
# configuration per model, when Nsight Systems is present and the call has time left. The report file
# stays outside $OUT (it is large); the summaries come back.
if command -v nsys >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  for c in s4d_listops rotary_transformer_listops; do
    ((SECONDS < 400)) || { echo "nsys: skipped $c (time)"; continue; }
    timeout 90 nsys profile --force-overwrite true -o "$tmp/$c" build-gpu/tools/bench_train --device cuda --tf32 \
      --config "$c" --steps 3 >"$out/nsys-$c.log" 2>&1 || continue
    # The report is cuda_gpu_kern_sum in recent Nsight Systems, gpukernsum in older ones.
    for report in cuda_gpu_kern_sum gpukernsum; do
      nsys stats --report "$report" --format csv "$tmp/$c.nsys-rep" >"$out/nsys-$c-kernels.csv" 2>>"$out/nsys-$c.log" &&
        break
    done
    echo "nsys $c: $(wc -l <"$out/nsys-$c-kernels.csv" 2>/dev/null || echo 0) lines at ${SECONDS}s"
  done
  rm -rf "$tmp"
else
  echo "nsys not installed: no per-kernel summary (profile-*.md has the engine's own breakdown)"
fi
echo "total ${SECONDS}s"
exit $status
