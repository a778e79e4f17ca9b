"""Joins `bench_kernels --json` (impl "lra") and `torch_kernels.py` (impl "pytorch") into the ratio table
of docs/kernels.md: our ms, PyTorch ms, ratio (ours / PyTorch, lower is better) and whether issue 3's bar
is met. Standard library only, so it runs wherever the two JSON-lines files are.

  python3 tools/bench/compare_kernels.py lra.jsonl torch.jsonl

Matching: a PyTorch line is compared with the engine's line of the same kernel and sizes (B, H, L, d)
whose variant is the one PyTorch computes: fftconv "fft" (rfft/irfft with n = 2L), attention "full"
(SDPA without a mask). The engine's attention is float32 only, so the bf16 SDPA rows compare our fp32
time with PyTorch's bf16 time; they are printed for reference and carry the bf16 bar all the same.
"""
import argparse
import json
import sys

# Bars from issue 3: ratio (ours / PyTorch) at most this.
BARS = {"fftconv": 0.5, "attention": 1.25}
VARIANT = {"fftconv": "fft", "attention": "full"}
SIZE_KEYS = ("B", "H", "L", "d")
SHOW_KEYS = ("B", "H", "L", "N", "d")


def load(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or not line.startswith("{"):
                continue  # tolerate stray log lines
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"compare_kernels: {path}:{n}: not JSON ({e})")
    return rows


def size_key(r):
    return tuple(r.get(k) for k in SIZE_KEYS)


def size_str(r):
    return ",".join(f"{k}={r[k]}" for k in SHOW_KEYS if k in r)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lra", help="JSON lines from bench_kernels --json")
    ap.add_argument("torch", help="JSON lines from tools/bench/torch_kernels.py")
    args = ap.parse_args()
    ours = load(args.lra)
    theirs = load(args.torch)

    index = {}
    for r in ours:
        index[(r["kernel"], r.get("variant"), size_key(r))] = r

    print("| kernel | size | precision | lra ms | PyTorch ms | ratio | bar | met? |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    missing = 0
    for t in theirs:
        kernel = t["kernel"]
        variant = VARIANT.get(kernel)
        if kernel == "attention" and t.get("precision") == "bf16":
            variant = "full bf16"  # the tensor-core path against SDPA in bfloat16
        o = index.get((kernel, variant, size_key(t)))
        bar = BARS.get(kernel)
        bar_s = f"≤ {bar}×" if bar else ""
        if o is None:
            missing += 1
            print(f"| {kernel} | {size_str(t)} | {t['precision']} | (not measured) | {t['fwd_bwd_ms']:.3f} | | {bar_s} | |")
            continue
        ratio = o["fwd_bwd_ms"] / t["fwd_bwd_ms"]
        met = "yes" if bar is not None and ratio <= bar else "no"
        print(f"| {kernel} | {size_str(t)} | {t['precision']} | {o['fwd_bwd_ms']:.3f} | {t['fwd_bwd_ms']:.3f} | "
              f"{ratio:.2f} | {bar_s} | {met} |")

    # The engine-only rows (naive baselines, causal, L = 16384, the bandwidth kernels), for completeness.
    print()
    print("| kernel | variant | size | lra ms | GB/s | TFLOP/s | of ceiling | note |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for r in ours:
        print(f"| {r['kernel']} | {r.get('variant', '')} | {size_str(r) or r.get('sizes', '')} | {r['fwd_bwd_ms']:.3f} | "
              f"{r.get('gbs', 0):.1f} | {r.get('tflops', 0):.3f} | {100 * r.get('ceiling_fraction', 0):.0f}% | {r.get('note', '')} |")
    if missing:
        print(f"\ncompare_kernels: {missing} PyTorch measurement(s) had no engine counterpart", file=sys.stderr)


if __name__ == "__main__":
    main()
