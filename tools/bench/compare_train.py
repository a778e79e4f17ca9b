"""Joins `bench_train` (impl "lra-engine") and ../shared/bench/torch_reference.py (impl "pytorch-eager" or
"pytorch-compile") JSON lines into the training-step table of docs/benchmarks.md: per configuration and
precision, ms/step, steps/s and sequences/s of both, the throughput ratio (engine / PyTorch, higher is
better), peak GPU memory of both, the memory ratio (engine / PyTorch, lower is better) and whether the
issue's bars are met. Standard library only.

  python3 tools/bench/compare_train.py lra-fp32.jsonl lra-tf32.jsonl torch-fp32.jsonl torch-tf32.jsonl

Any number of files, in any order; lines that are not JSON objects are skipped. Bars: throughput at least
PyTorch's for the Transformers and at least 1.3x for S4D; peak memory at most 0.8x PyTorch's. A pair whose
batch or length differ (a shrunk smoke test) is printed without a verdict. Exit status 0 even when a bar
is missed: the table is the result.
"""
import argparse
import json
import sys

MEMORY_BAR = 0.8  # engine peak / PyTorch peak, at most


def throughput_bar(config):
    return 1.3 if config.startswith("s4d") else 1.0


def load(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line.startswith("{"):
                    continue  # build or log output mixed into the file
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"compare_train: {path}:{n}: not JSON ({e})")
    return rows


def num(v, fmt):
    return format(v, fmt) if isinstance(v, (int, float)) else "–"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="JSON-lines files from bench_train and torch_reference.py")
    args = ap.parse_args()
    rows = load(args.files)
    ours = {(r["config"], r["precision"]): r for r in rows if r.get("impl") == "lra-engine"}
    theirs = [r for r in rows if str(r.get("impl", "")).startswith("pytorch")]
    if not ours and not theirs:
        sys.exit("compare_train: no bench_train or torch_reference.py lines in " + ", ".join(args.files))

    print("| config | precision | PyTorch | ms/step (engine / PyTorch) | steps/s | seq/s | throughput ratio (bar) "
          "| peak GPU MB | memory ratio (bar) | bars met? |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    seen = set()
    missed = 0
    for t in sorted(theirs, key=lambda r: (r["config"], r["precision"], r["impl"])):
        key = (t["config"], t["precision"])
        o = ours.get(key)
        seen.add(key)
        tbar = throughput_bar(t["config"])
        cells = [t["config"], t["precision"], t["impl"].replace("pytorch-", "")]
        if o is None or "error" in o or "error" in t:
            if "error" in t:
                why = "PyTorch: " + t["error"]
            else:
                why = "engine not measured" if o is None else "engine: " + o["error"]
            missed += 1
            print("| " + " | ".join(cells + [f"– / {num(t.get('ms_per_step'), '.2f')}", "", "", "", "", "",
                                             f"no ({why})"]) + " |")
            continue
        e_ms, t_ms = o["ms_per_step"], t["ms_per_step"]
        ratio = o["seq_per_s"] / t["seq_per_s"]
        e_mb, t_mb = o.get("peak_gpu_MB"), t.get("peak_gpu_MB")
        mem = e_mb / t_mb if isinstance(e_mb, (int, float)) and isinstance(t_mb, (int, float)) and t_mb else None
        same_shape = o.get("batch") == t.get("batch") and o.get("length") == t.get("length") and "shrunk" not in o
        if not same_shape:
            met = "not comparable (shapes differ)"
        else:
            misses = []
            if ratio < tbar:
                misses.append(f"throughput {ratio:.2f}× < {tbar}×")
            if mem is None:
                misses.append("no engine memory figure")
            elif mem > MEMORY_BAR:
                misses.append(f"memory {mem:.2f}× > {MEMORY_BAR}×")
            met = "yes" if not misses else "no: " + ", ".join(misses)
            missed += bool(misses)
        cells += [f"{e_ms:.2f} / {t_ms:.2f}", f"{1e3 / e_ms:.2f} / {1e3 / t_ms:.2f}",
                  f"{o['seq_per_s']:.1f} / {t['seq_per_s']:.1f}", f"{ratio:.2f}× (≥ {tbar}×)",
                  f"{num(e_mb, '.0f')} / {num(t_mb, '.0f')}",
                  (f"{mem:.2f}×" if mem is not None else "–") + f" (≤ {MEMORY_BAR}×)", met]
        print("| " + " | ".join(cells) + " |")
    for key, o in sorted(ours.items()):
        if key not in seen:
            ms = o.get("ms_per_step")
            print(f"| {key[0]} | {key[1]} | (no PyTorch line) | {num(ms, '.2f')} / – | | | | "
                  f"{num(o.get('peak_gpu_MB'), '.0f')} / – | | {o.get('error', '')} |")

    gpus = sorted({str(r.get("gpu")) for r in rows if r.get("gpu")})
    versions = sorted({str(r.get("torch")) for r in theirs if r.get("torch")})
    print()
    print(f"GPU: {', '.join(gpus) or 'unknown'}; PyTorch {', '.join(versions) or 'unknown'}. Medians of timed "
          "steps after 3 warm-up steps; peak = bytes held by live tensors since a reset after the warm-up.")
    if missed:
        print(f"\n{missed} comparison(s) miss a bar or have no result.")


if __name__ == "__main__":
    main()
