#!/usr/bin/env bash
# The all-reduce table of docs/distributed.md: for every configuration in configs/<task>/*.toml, its
# parameter count (read from the binary's own start-up line, so it is the model that trains), the bytes a
# ring all-reduce moves per rank per step, the time that takes on H100 NVLink and on InfiniBand NDR, and the
# MEASURED time of the trainer's gradient all-reduce at exactly that size on this machine's CPU ranks
# (bench_allreduce under mpirun -np RANKS).
#   bash scripts/bench_allreduce.sh [RANKS=2]       (after the build; writes docs/bench/allreduce-*.jsonl)
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:-2}
build=${BUILD:-build}
[[ -x $build/tools/bench_allreduce ]] || build=build-cpu
out=docs/bench
mkdir -p "$out"
day=$(date +%Y-%m-%d)
counts=$out/parameters-$day.txt
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
: >"$counts"
for dir in configs/*/; do
  task=$(basename "$dir")
  bin=$task
  [[ $task == pathx ]] && bin=pathfinder
  case $task in
    listops) data="--gen-train 64 --gen-val 8" ;;
    retrieval) data="--gen-train 16" ;;
    image) data="--fashion-mnist tests/data/image/fashion" ;;
    pathfinder | pathx) data="--gen-count 4" ;;
    *) data="" ;;
  esac
  for f in "$dir"*.toml; do
    m=$(basename "$f" .toml)
    # The start-up line names the parameter count; the run is cut at its first log line (SIGPIPE).
    # shellcheck disable=SC2086
    p=$(OMP_NUM_THREADS=1 timeout 300 "$build/tools/lra-$bin" --config "$f" --generate $data --device cpu \
          --steps 1000000 --batch 1 --log-every 1 --plot false --out "$scratch/$task-$m" 2>&1 |
        grep -m1 -o "[0-9]* parameters" || true)
    [[ -n $p ]] || { echo "bench_allreduce.sh: no parameter count for $f" >&2; exit 1; }
    echo "$task $m ${p% parameters}" | tee -a "$counts"
  done
done
sizes=$(awk '{print $3}' "$counts" | sort -un | awk '{printf "%s%.6f", (NR > 1 ? "," : ""), $1 / 1e6}')
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
json=$out/allreduce-cpu-$day.jsonl
mpirun -np "$ranks" --oversubscribe --bind-to none "$build/tools/bench_allreduce" --sizes "$sizes" --iters 10 \
  --json "$json"
python3 tools/bench/allreduce_table.py "$counts" "$json"
