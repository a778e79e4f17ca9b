#!/usr/bin/env python3
"""The kernels probe's picture, drawn from the kernels.json `lra-probe kernels` writes.

    plot_kernels.py OUT/kernels.json OUT/kernels.png

One panel per direction (causal; anti-causal when the model has one): for every layer the median of |K(l)|
over channels against the lag l (log y scale), with the band between the quartiles, and the fitted
exponential decay (dashed, over the lags it was fitted on). The legend gives each layer's decay rate
(per position, with its half-life) and total variation (TV, median over channels of
sum|K(l+1) - K(l)| / sum|K(l)|).
"""
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def label(layer, k):
    rate, tv, half = k["decay_rate"], k["tv"], k["half_life"]
    r = "rate n/a" if rate is None else f"rate {rate:.3g}/pos" + (f" (half-life {half:.3g})" if half else "")
    t = "TV n/a" if tv is None else f"TV {tv:.3g}"
    return f"layer {layer}: {r}, {t}"


def positive(v):
    return [x if x is not None and x > 0 else math.nan for x in v]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        data = json.load(f)
    names = []
    for layer in data["layers"]:
        for k in layer["kernels"]:
            if k["name"] not in names:
                names.append(k["name"])
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4.6), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes[0], names):
        for i, layer in enumerate(data["layers"]):
            for k in layer["kernels"]:
                if k["name"] != name:
                    continue
                c = colours[i % len(colours)]
                lag = k["lag"]
                ax.fill_between(lag, positive(k["q25"]), positive(k["q75"]), color=c, alpha=0.2, linewidth=0)
                ax.plot(lag, positive(k["median"]), color=c, linewidth=1.4, label=label(layer["layer"], k))
                if k["decay_rate"] is not None and k["fit_points"] >= 2:
                    fit_lag = lag[: k["fit_points"]]
                    # the fitted line through the median's logarithm (kernels.h: least squares)
                    a = sum(math.log(m) + k["decay_rate"] * l for l, m in zip(fit_lag, k["median"])) / len(fit_lag)
                    ax.plot(fit_lag, [math.exp(a - k["decay_rate"] * l) for l in fit_lag], color=c,
                            linestyle="--", linewidth=0.9)
        ax.set_yscale("log")
        ax.set_xlabel("lag l (positions" + (" ahead)" if "anti" in name else " back)"))
        ax.set_ylabel("|K(l)| over channels: median, quartile band")
        ax.set_title(f"{data['model']}: {name} kernels (length {data['length']})")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle("dashed: least-squares fit of log median|K| against l", fontsize=9)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
