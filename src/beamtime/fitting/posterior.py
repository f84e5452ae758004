"""A DREAM fit's posterior as Beamtime keeps and shows it: the draws stored compactly, the
summary kept in the job's result, histograms and correlations for the page and the API, the
draws as CSV, and the responses the page and the API share. The figures are in
posterior_plots (matplotlib, loaded on demand)."""

import csv
import io

import numpy as np

HISTOGRAM_BINS = 40
PAIR_BINS = 20
MAX_CORNER = 12  # parameters the corner plot and its pairs show (beyond, the panels are unreadable)


def to_npy(points: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, np.ascontiguousarray(points, dtype="<f8"), allow_pickle=False)
    return out.getvalue()


def from_npy(blob: bytes, columns: int) -> np.ndarray:
    """The draws saved by to_npy; ValueError if they are not a table of ``columns`` floats."""
    points = np.load(io.BytesIO(bytes(blob)), allow_pickle=False)
    if points.ndim != 2 or points.shape[1] != columns or points.dtype != np.float64:
        raise ValueError(f"stored draws of shape {points.shape}, expected (n, {columns})")
    return points


def summary(posterior) -> dict:
    """What the job's result keeps of a refl1d_adapter.Posterior (all but the draws)."""
    return {
        "labels": posterior.labels,
        "stats": posterior.stats,
        "steps": posterior.steps,
        "burn": posterior.burn,
        "samples": posterior.samples,
        "stored": int(posterior.draws.shape[0]),
        "chains": posterior.chains,
        "portion": posterior.portion,
        "converged": posterior.converged,
        "bands": posterior.bands,
    }


def csv_text(labels: list[str], points: np.ndarray) -> str:
    """One row per draw, one column per parameter, the labels as header; full precision."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(labels)
    writer.writerows([repr(float(v)) for v in row] for row in points)
    return out.getvalue()


def histograms(labels: list[str], points: np.ndarray, bins: int = HISTOGRAM_BINS) -> list[dict]:
    found = []
    for label, column in zip(labels, points.T, strict=True):
        counts, edges = np.histogram(column, bins=bins)
        found.append({"label": label, "edges": edges.tolist(), "counts": counts.tolist()})
    return found


def correlation(points: np.ndarray) -> list[list[float | None]]:
    """Pearson's correlation of each pair of parameters over the draws (None: a constant)."""
    with np.errstate(all="ignore"):
        matrix = np.atleast_2d(np.corrcoef(points, rowvar=False))
    return [[float(v) if np.isfinite(v) else None for v in row] for row in matrix]


def pairs(labels: list[str], points: np.ndarray, bins: int = PAIR_BINS) -> list[dict]:
    """The corner plot's numbers: a 2-D histogram of each pair of its parameters (the first
    MAX_CORNER)."""
    found = []
    for i in range(min(len(labels), MAX_CORNER)):
        for j in range(i):
            counts, x_edges, y_edges = np.histogram2d(points[:, j], points[:, i], bins=bins)
            found.append(
                {
                    "x": labels[j],
                    "y": labels[i],
                    "x_edges": x_edges.tolist(),
                    "y_edges": y_edges.tolist(),
                    "counts": counts.T.astype(int).tolist(),  # rows: y bins
                }
            )
    return found


# The responses the page and the API share: the caller's own job (access checked by them).


def kept_draws(job):
    """The job's stored draws, or 404 when it has none (not DREAM, not finished, failed)."""
    from django.http import Http404

    from beamtime.fitting.models import FitDraws

    draws = FitDraws.objects.filter(job=job).first()
    if draws is None or not (job.result or {}).get("posterior"):
        raise Http404("this fit has no posterior draws (only a finished DREAM fit has)")
    return draws


def csv_response(job):
    from django.http import HttpResponse

    draws = kept_draws(job)
    response = HttpResponse(csv_text(draws.labels, draws.array()), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="fit-{job.pk}-draws.csv"'
    return response


def figure_response(job, name: str, fmt: str, download: bool = False):
    """Figure ``name`` of posterior_plots.FIGURES as ``fmt`` (png, svg); 404 for others."""
    from django.http import Http404, HttpResponse

    from beamtime.fitting import posterior_plots

    if name not in posterior_plots.FIGURES or fmt not in posterior_plots.FORMATS:
        raise Http404(f"no figure {name}.{fmt}")
    draws = kept_draws(job)
    image = cached_figure(job, draws, name, fmt)
    response = HttpResponse(image, content_type=posterior_plots.FORMATS[fmt])
    response["Cache-Control"] = f"private, max-age={FIGURE_KEPT}"
    if download:
        response["Content-Disposition"] = f'attachment; filename="fit-{job.pk}-{name}.{fmt}"'
    return response


FIGURE_KEPT = 3600  # seconds a drawn figure is kept (by the shared cache, by the browser)


def cached_figure(job, draws, name: str, fmt: str) -> bytes:
    """The figure as drawn before (a draw takes 0.3–2 s of a web worker), else drawn now and
    kept in the shared cache for all workers; the key holds a digest of the draws, so that a
    job number reused after a deletion never gets another fit's figure."""
    import hashlib

    from django.core.cache import caches

    from beamtime.fitting import posterior_plots

    digest = hashlib.blake2b(bytes(draws.points), digest_size=12).hexdigest()
    key = f"fitting:figure:{job.pk}:{digest}:{name}.{fmt}"
    cache = caches["shared"]
    image = cache.get(key)
    if image is None:
        image = posterior_plots.render(name, job.result["posterior"], draws.array(), fmt)
        cache.set(key, image, FIGURE_KEPT)
    return image


def details(job) -> dict:
    """The posterior for the API: the job's summary, each parameter's histogram, the
    correlation matrix and each pair's 2-D histogram (the corner plot's numbers)."""
    draws = kept_draws(job)
    points = draws.array()
    return {
        **job.result["posterior"],
        "histograms": histograms(draws.labels, points),
        "correlation": correlation(points),
        "pairs": pairs(draws.labels, points),
    }
