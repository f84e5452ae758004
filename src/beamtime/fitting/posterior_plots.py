"""A DREAM fit's figures, drawn on the server with matplotlib (Agg, through Figure objects:
no pyplot state shared between requests): the histogram of each parameter, the corner plot of
each pair, the SLD profile with its 68 % and 95 % bands. matplotlib (≈ 40 MiB) is imported by
the request that draws, never when a web worker starts."""

import io
import math

import numpy as np

from beamtime.fitting.posterior import MAX_CORNER

FIGURES = {
    "histograms": "Posterior histogram of each parameter",
    "corner": "Pairwise correlations of the parameters (corner plot)",
    "profile": "SLD profile (and magnetic SLD) with its 68 % and 95 % bands",
}
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
BEST, MEAN = "#d62728", "#1f77b4"


def render(name: str, summary: dict, points: np.ndarray, fmt: str) -> bytes:
    """Figure ``name`` (one of FIGURES) as ``fmt`` (png or svg) bytes."""
    draw = {"histograms": histograms, "corner": corner, "profile": profile}[name]
    figure = draw(summary, points)
    out = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Creator": None, "Date": None}
    figure.savefig(out, format=fmt, dpi=DPI, metadata=metadata)
    return out.getvalue()


def shown_range(values: np.ndarray) -> tuple[float, float]:
    """The range a histogram shows: the central 99 % of the draws with a margin, so that a
    few stray draws do not squeeze the distribution into one bin."""
    low, high = np.percentile(values, [0.5, 99.5])
    margin = 0.15 * (high - low) or max(abs(low) * 1e-6, 1e-12)
    return float(low - margin), float(high + margin)


DPI = 100


def inches(name: str, parameters: int) -> tuple[float, float]:
    """The size of figure ``name`` for this many parameters (the page reserves its place)."""
    if name == "histograms":
        columns = min(3, parameters)
        return 3.4 * columns, 2.5 * math.ceil(parameters / columns)
    if name == "corner":
        side = max(5.0, min(2.2 * min(parameters, MAX_CORNER), 14.0))
        return side, side
    return 7.5, 5.0


def pixels(name: str, parameters: int) -> tuple[int, int]:
    return tuple(round(DPI * size) for size in inches(name, parameters))


def _figure(name: str, parameters: int):
    from matplotlib.figure import Figure

    return Figure(figsize=inches(name, parameters), layout="constrained")


def histograms(summary: dict, points: np.ndarray):
    labels, stats = summary["labels"], summary["stats"]
    columns = min(3, len(labels))
    rows = math.ceil(len(labels) / columns)
    figure = _figure("histograms", len(labels))
    for index, label in enumerate(labels):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.hist(
            points[:, index],
            bins=40,
            range=shown_range(points[:, index]),
            color="#9ecae1",
            edgecolor="#6baed6",
        )
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
    ranges = [shown_range(points[:, i]) for i in range(n)]
    figure = _figure("corner", n)
    for i in range(n):
        for j in range(i + 1):
            axes = figure.add_subplot(n, n, i * n + j + 1)
            if i == j:
                axes.hist(points[:, i], bins=30, range=ranges[i], color="#6baed6")
                axes.set_yticks([])
            else:
                axes.hist2d(
                    points[:, j],
                    points[:, i],
                    bins=30,
                    range=[ranges[j], ranges[i]],
                    cmap="Blues",
                    cmin=1,
                )
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
    """The best fit's profile with the bands, and below, the bands about the median (the
    spread across the draws, visible even when it is too thin to see above); a magnetic
    sample's ρM the same, dashed."""
    bands = summary["bands"]
    figure = _figure("profile", len(summary["labels"]))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])
    for number, band in enumerate(bands, start=1):
        z = np.asarray(band["z"])
        suffix = f" (data set {number})" if len(bands) > 1 else ""
        curves = [("SLD", band, "-")]
        if "rhoM" in band:
            curves.append(("magnetic SLD ρM", band["rhoM"], "--"))
        for what, found, style in curves:
            line = top.plot(z, found["best"], style, linewidth=1.2, label=f"{what}{suffix}")[0]
            median = np.asarray(found["p50"])
            for axes, about in ((top, 0.0), (bottom, median)):
                for low, high, alpha in (("p2.5", "p97.5", 0.18), ("p16", "p84", 0.4)):
                    axes.fill_between(
                        z,
                        np.asarray(found[low]) - about,
                        np.asarray(found[high]) - about,
                        color=line.get_color(),
                        alpha=alpha,
                        linewidth=0,
                    )
    top.set_ylabel("SLD (10⁻⁶/Å²)")
    top.legend(
        fontsize="small",
        frameon=False,
        title="best fit, 68 % and 95 % bands",
        title_fontsize="small",
    )
    bottom.axhline(0, color="#888", linewidth=0.6)
    bottom.set_ylabel("about the median", fontsize="small")
    bottom.set_xlabel("depth from the front surface (Å)")
    return figure
