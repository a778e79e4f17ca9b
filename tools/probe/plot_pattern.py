#!/usr/bin/env python3
"""The token-mixing map of one mixer layer as a heat map, drawn from lra-probe pattern's JSON.

    plot_pattern.py DIR/pattern-MODEL.json OUT.png

M[i][j] = mean |d(sum_c y[i,c]) / dx[j,:]| (tools/probe/pattern.h): rows are output positions i, columns
input positions j. The colour scale is logarithmic over the four decades below the map's maximum; entries
below that floor (exact zeros included: no path from j to i) are drawn in the floor's colour, white.
"""
import argparse
import json
import textwrap
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

DECADES = 4  # the colour scale spans [max / 10^DECADES, max]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("json")
    p.add_argument("png")
    a = p.parse_args()
    with open(a.json) as f:
        d = json.load(f)
    m = np.asarray(d["map"], dtype=float)
    L = int(d["length"])
    if m.shape != (L, L):
        sys.exit(f"{a.json}: map has shape {m.shape}, expected ({L}, {L})")
    top = float(m.max()) if m.size and m.max() > 0 else 1.0
    floor = top / 10**DECADES
    shown = np.ma.masked_less(m, floor)  # zeros and negligible entries: white
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("white")

    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    im = ax.imshow(shown, cmap=cmap, norm=LogNorm(vmin=floor, vmax=top), interpolation="nearest",
                   origin="upper", extent=(-0.5, L - 0.5, L - 0.5, -0.5))
    bar = fig.colorbar(im, ax=ax)
    bar.set_label("|∂y_i/∂x_j| (mean over channels and inputs)")
    ax.set_xlabel("input position j")
    ax.set_ylabel("output position i")
    s = d.get("settings", {})
    opts = ", ".join(f"{k}={v}" for k, v in sorted(s.get("mixer", {}).items()))
    title = f"{d['model']}: L {L}, width {s.get('width')}, {s.get('inputs')} input(s)"
    sub = (opts + "; " if opts else "") + d.get("weights", "")
    # Long mixer settings wrap instead of running past the figure.
    ax.set_title(title + "\n" + "\n".join(textwrap.wrap(sub, 60)), fontsize=9)
    fig.tight_layout()
    fig.savefig(a.png, dpi=100)


if __name__ == "__main__":
    main()
