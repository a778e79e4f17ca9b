"""The all-reduce table of docs/distributed.md from scripts/bench_allreduce.sh's two files.

    python3 tools/bench/allreduce_table.py docs/bench/parameters-DAY.txt docs/bench/allreduce-cpu-DAY.jsonl

Ring all-reduce bus bytes per rank and step: 2 (N-1)/N x 4P; the NVLink and InfiniBand columns divide them
by 450 GB/s (H100 NVLink 4, NCCL bus bandwidth within a node) and 50 GB/s (one NDR 400 Gb/s port), for
N = 8, the largest single-node case; the CPU column is measured (bench_allreduce, its N)."""
import json
import sys

NVLINK, IB, N_GPU = 450e9, 50e9, 8


def main(counts_path, json_path):
    measured = {}
    ranks = None
    for line in open(json_path):
        r = json.loads(line)
        measured[r["parameters"]] = r["ms"]
        ranks = r["ranks"]
    rows = [line.split() for line in open(counts_path) if line.strip()]
    bus = 2 * (N_GPU - 1) / N_GPU
    print(f"| task | model | parameters | gradient MB | 8 GPUs: bus MB/rank | NVLink ms | InfiniBand ms | CPU {ranks} ranks ms (measured) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for task, model, p in rows:
        p = int(p)
        b = 4 * p
        cpu = measured.get(p)
        cpu_text = f"{cpu:.2f}" if cpu is not None else "-"
        print(f"| {task} | {model} | {p:,} | {b / 1e6:.1f} | {bus * b / 1e6:.1f} | {bus * b / NVLINK * 1e3:.3f} | "
              f"{bus * b / IB * 1e3:.2f} | {cpu_text} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
