#!/usr/bin/env python3
"""The picture of `lra-probe locality` or `lra-probe positional`, drawn from the JSON it writes.

    plot_experiment.py OUT/locality.json OUT/locality.png
    plot_experiment.py OUT/positional.json OUT/positional.png

Locality (every variant has a kernel size x): test accuracy against K on a log axis with the K values as
ticks, ours (best-validation checkpoint, every seed as a point, the mean as the line; the last
checkpoint dashed) beside the paper's Table 1 row. Positional (categorical variants): grouped bars, ours
(the mean over seeds, each seed a dot) and the paper's Table 4, each bar labelled with its value. Chance level (1 / classes) is not drawn: the
JSON does not carry it.
"""
import json
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def pct(v):
    return None if v is None else 100.0 * v


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        data = json.load(f)
    variants = data["variants"]
    title = "\n".join(textwrap.wrap(
        f"{data['experiment']} on {data['task']}: {data['scale']}; device {data['device']}", 110))
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    numeric = all(v.get("x") is not None for v in variants)
    if numeric:
        xs = [v["x"] for v in variants]
        ours = [v["test_acc"] for v in variants]
        last = [v["test_acc_last"] for v in variants]
        paper = [v["paper"] for v in variants]
        for i, v in enumerate(variants):
            seeds = [pct(r["test_acc"]) for r in v["runs"] if r.get("test_acc") is not None]
            ax.plot([v["x"]] * len(seeds), seeds, "o", color="tab:blue", alpha=0.35, markersize=4,
                    label="one seed" if i == 0 and data["seeds"] > 1 else None)
        ax.plot(xs, [float("nan") if y is None else y for y in ours], "o-", color="tab:blue",
                label="ours, best-validation checkpoint" + (" (mean over seeds)" if data["seeds"] > 1 else ""))
        ax.plot(xs, [float("nan") if y is None else y for y in last], "s--", color="tab:blue", alpha=0.6,
                markersize=4, label="ours, last checkpoint")
        if any(p is not None for p in paper):
            ax.plot(xs, [float("nan") if p is None else p for p in paper], "^-", color="tab:orange",
                    label=data["paper_source"] + " (full scale)")
        ax.set_xscale("log")
        ax.set_xticks(xs)
        ax.set_xticklabels([str(int(x)) for x in xs])
        ax.minorticks_off()
        ax.set_xlabel(data["x_label"] + " (each layer sees K // 2 positions each side)")
    else:
        names = [v["label"] for v in variants]
        width = 0.38
        pos = range(len(variants))
        ours = [v["test_acc"] for v in variants]
        paper = [v["paper"] for v in variants]
        b1 = ax.bar([p - width / 2 for p in pos], [0 if y is None else y for y in ours], width,
                    color="tab:blue", label="ours, best-validation checkpoint"
                    + (" (mean over seeds)" if data["seeds"] > 1 else ""))
        b2 = ax.bar([p + width / 2 for p in pos], [0 if y is None else y for y in paper], width,
                    color="tab:orange", label=data["paper_source"] + " (full scale)")
        if data["seeds"] > 1:
            for p, v in zip(pos, variants):
                seeds = [pct(r["test_acc"]) for r in v["runs"] if r.get("test_acc") is not None]
                ax.plot([p - width / 2] * len(seeds), seeds, "o", color="black", alpha=0.5, markersize=3,
                        label="one seed" if p == 0 else None)
        for bars, values in ((b1, ours), (b2, paper)):
            for bar, value in zip(bars, values):
                ax.annotate("—" if value is None else f"{value:.1f}",
                            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(pos))
        ax.set_xticklabels(names)
        ax.set_xlabel(data["x_label"])
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=120)


if __name__ == "__main__":
    main()
