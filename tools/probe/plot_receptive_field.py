#!/usr/bin/env python3
"""The receptive-field probe's picture, drawn from the receptive_field.json `lra-probe receptive-field` writes.

    plot_receptive_field.py OUT/receptive_field.json OUT/receptive_field.png

Left: against the input position s (log y scale), the mean over examples of |d logit_pred / d embedding_s|
(L1 over channels; padded positions count 0) and the same mean over only the examples whose position s
is real; the fraction of examples real at s on a second axis. Right, for image tasks (side x side inputs):
the mean as a heat map over the image (log colour scale, with a colour bar).
"""
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402


def positive(v):
    return [x if x is not None and x > 0 else math.nan for x in v]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        data = json.load(f)
    image = data.get("side", 0) > 0 and "map" in data
    fig, axes = plt.subplots(1, 2 if image else 1, figsize=(13 if image else 7.5, 4.8), squeeze=False)
    ax = axes[0][0]
    pos = data["position"]
    ax.plot(pos, positive(data["mean"]), linewidth=1.2, label="mean over all examples (padding = 0)")
    ax.plot(pos, positive(data["mean_real"]), linewidth=0.9, alpha=0.8,
            label="mean over examples where s is real")
    ax.set_yscale("log")
    ax.set_xlabel("input position s")
    ax.set_ylabel("|d logit_pred / d embedding_s|  (L1 over channels)")
    ax.grid(True, which="major", alpha=0.3)
    cov = ax.twinx()
    cov.plot(pos, data["coverage"], color="grey", linewidth=0.8, linestyle=":", label="fraction of examples real at s")
    cov.set_ylim(0, 1.05)
    cov.set_ylabel("fraction of examples real at s", color="grey")
    lines = ax.get_legend_handles_labels()
    more = cov.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="best")
    doc = ", first document" if data.get("pair_first_document") else ""
    ax.set_title(f"{data['model']} on {data['task']} ({data['split']}, {data['examples']} examples{doc})")
    if image:
        ax2 = axes[0][1]
        grid = [positive(row) for row in data["map"]]
        finite = [x for row in grid for x in row if not math.isnan(x)]
        norm = mcolors.LogNorm(vmin=min(finite), vmax=max(finite)) if finite else None
        im = ax2.imshow(grid, cmap="viridis", norm=norm, interpolation="nearest")
        side = data["side"]
        ax2.set_title(f"mean |d logit_pred / d embedding| per pixel ({side} x {side})")
        ax2.set_xlabel("column")
        ax2.set_ylabel("row")
        fig.colorbar(im, ax=ax2, label="L1 over channels (log scale)")
    fig.suptitle(f"padded positions: mean {data['padded_mean']:.3g} (not counted above)"
                 if data.get("padded_mean") else "receptive field of the prediction", fontsize=9)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
