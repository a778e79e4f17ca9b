#!/usr/bin/env python3
"""Training curves of one or more runs, drawn from their metrics.jsonl (written by lra-<task>).

    curves.py RUN/metrics.jsonl OUT.png                   one run: loss and accuracy, train and validation
    curves.py A/metrics.jsonl B/metrics.jsonl -o OUT.png  several runs compared (labels: the run folders)

Left panel: loss; right panel: accuracy; training lines are thin, validation lines carry a marker at every
evaluation, and test accuracies (when the run finished) are printed in the legend.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{number}: not JSON ({e})")
    return rows


def series(rows, kind, key):
    pts = [(r["step"], r[key]) for r in rows if r.get("type") == kind and key in r]
    return [p[0] for p in pts], [p[1] for p in pts]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", help="metrics.jsonl files (with one input, the last argument may be OUT.png)")
    ap.add_argument("-o", "--out", help="output PNG")
    args = ap.parse_args()
    inputs, out = args.inputs, args.out
    if out is None:
        if len(inputs) < 2 or not inputs[-1].endswith(".png"):
            ap.error("give the output PNG (-o OUT.png, or as the last argument)")
        inputs, out = inputs[:-1], inputs[-1]

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, path in enumerate(inputs):
        rows = read(path)
        label = os.path.basename(os.path.dirname(os.path.abspath(path))) if len(inputs) > 1 else ""
        c_train = colors[(2 * i) % len(colors)]
        c_val = colors[(2 * i + 1) % len(colors)]
        prefix = f"{label}: " if label else ""
        tests = {r.get("checkpoint"): r["acc"] for r in rows if r.get("type") == "test"}
        test_note = ", ".join(f"test {k} {100 * v:.1f}%" for k, v in sorted(tests.items()))
        for ax, key in ((ax_loss, "loss"), (ax_acc, "acc")):
            xs, ys = series(rows, "train", key)
            ax.plot(xs, ys, color=c_train, lw=1, marker="." if len(xs) <= 60 else None, ms=3,
                    label=f"{prefix}train")
            xs, ys = series(rows, "val", key)
            val_label = f"{prefix}validation" + (f" ({test_note})" if key == "acc" and test_note else "")
            ax.plot(xs, ys, color=c_val, lw=1.6, marker="o", ms=4, label=val_label)
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy")
    ax_acc.set_ylim(0, 1)
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax_loss.set_ylabel("cross-entropy")
    ax_acc.set_ylabel("fraction correct")
    fig.tight_layout()
    tmp = out + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
