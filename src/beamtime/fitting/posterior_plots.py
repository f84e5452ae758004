"""A DREAM fit's figures, drawn on the server with matplotlib (Agg, through Figure objects:
no pyplot state shared between requests): the histogram of each parameter, the corner plot of
each pair, the SLD profile with its 68 % and 95 % bands. matplotlib (≈ 40 MiB) is imported by
the request that draws, never when a web worker starts."""

import io
import math

import numpy as np

FIGURES = {
    "histograms": "Posterior histogram of each parameter",
    "corner": "Pairwise correlations of the parameters (corner plot)",
    "profile": "SLD profile with its 68 % and 95 % bands",
}
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
MAX_CORNER = 12  # parameters a corner plot shows (beyond, the panels become unreadable)
BEST, MEAN = "#d62728", "#1f77b4"


def render(name: str, summary: dict, points: np.ndarray, fmt: str) -> bytes:
    """Figure ``name`` (one of FIGURES) as ``fmt`` (png or svg) bytes."""
    draw = {"histograms": histograms, "corner": corner, "profile": profile}[name]
    figure = draw(summary, points)
    out = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Creator": None, "Date": None}
    figure.savefig(out, format=fmt, dpi=100, metadata=metadata)
    return out.getvalue()


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def histograms(summary: dict, points: np.ndarray):
    labels, stats = summary["labels"], summary["stats"]
    columns = min(3, len(labels))
    rows = math.ceil(len(labels) / columns)
    figure = _figure(3.4 * columns, 2.5 * rows)
    for index, label in enumerate(labels):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.hist(points[:, index], bins=40, color="#9ecae1", edgecolor="#6baed6")
        found = stats[label]
        axes.axvspan(*found["p68"], color=MEAN, alpha=0.12, label="68 %")
        axes.axvline(found["mean"], color=MEAN, label="mean")
        axes.axvline(found["best"], color=BEST, linestyle="--", label="best")
        axes.set_xlabel(label)
        axes.set_yticks([])
        axes.ticklabel_format(axis="x", useOffset=False)
        if index == 0:
            axes.legend(fontsize="small", frameon=False)
    return figure


def corner(summary: dict, points: np.ndarray):
    labels = summary["labels"][:MAX_CORNER]
    n = len(labels)
    size = max(2.2, min(1.6 * n, 14.0))
    figure = _figure(size, size)
    for i in range(n):
        for j in range(i + 1):
            axes = figure.add_subplot(n, n, i * n + j + 1)
            if i == j:
                axes.hist(points[:, i], bins=30, color="#6baed6")
                axes.set_yticks([])
            else:
                axes.hist2d(points[:, j], points[:, i], bins=30, cmap="Blues", cmin=1)
                axes.set_title(
                    f"r = {np.corrcoef(points[:, j], points[:, i])[0, 1]:+.2f}",
                    fontsize="x-small",
                    pad=2,
                )
            axes.ticklabel_format(useOffset=False)
            if i == n - 1:
                axes.set_xlabel(labels[j], fontsize="small")
            else:
                axes.set_xticklabels([])
            if j == 0 and i > 0:
                axes.set_ylabel(labels[i], fontsize="small")
            elif i != j:
                axes.set_yticklabels([])
            axes.tick_params(labelsize="x-small")
    return figure


def profile(summary: dict, points: np.ndarray):
    bands = summary["bands"]
    figure = _figure(7.5, 3.6)
    axes = figure.add_subplot()
    for number, band in enumerate(bands, start=1):
        z = np.asarray(band["z"])
        suffix = f" (data set {number})" if len(bands) > 1 else ""
        line = axes.plot(z, band["best"], linewidth=1.2, label=f"best fit{suffix}")[0]
        axes.fill_between(
            z,
            band["p2.5"],
            band["p97.5"],
            color=line.get_color(),
            alpha=0.18,
            linewidth=0,
            label=f"95 %{suffix}",
        )
        axes.fill_between(
            z,
            band["p16"],
            band["p84"],
            color=line.get_color(),
            alpha=0.35,
            linewidth=0,
            label=f"68 %{suffix}",
        )
    axes.set_xlabel("depth from the front surface (Å)")
    axes.set_ylabel("SLD (10⁻⁶/Å²)")
    axes.legend(fontsize="small", frameon=False)
    return figure
