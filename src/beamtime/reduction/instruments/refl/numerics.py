"""The arithmetic every refl step shares: values with 1-σ uncertainties, propagated to first
order assuming independent errors — for f(a, b), σf² = (∂f/∂a·σa)² + (∂f/∂b·σb)², by hand
for the simple cases, through any function by the complex step (``propagate``) — Poisson
averages, and linear interpolation of such values."""

import numpy as np

# defined beside the exports (which must not load the refl steps); the steps take it from here
from beamtime.reduction.resolution import FWHM_TO_SIGMA as FWHM_TO_SIGMA

COMPLEX_STEP = 1e-30


def poisson_sigma(counts):
    """√N, the uncertainty of N counted events; 1 for none (nothing seen is not certainty)."""
    counts = np.asarray(counts, dtype=float)
    return np.sqrt(np.where(counts == 0, 1.0, counts))


def ratio(a, da, b, db):
    """a/b and its uncertainty: σ² = (σa/b)² + (a·σb/b²)². A Poisson average — total counts
    over total monitor (or time) — is the ratio of the sums with their variances."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return a / b, np.sqrt((da / b) ** 2 + (a * db / b**2) ** 2)


def poisson_average(y, dy, norm: str, starts):
    """The Poisson average of rates y ± dy, normalized by ``norm`` ("monitor" or "time"), over
    each run of points beginning at the indices ``starts``: the counts N and monitors M behind
    each rate recovered from it — M = y(y + 1)/dy² per monitor, y/dy² per second, 1/dy where
    y = 0 (a zero dy taken as 1) — and ȳ = ΣN/ΣM with σ = ȳ·√(1/ΣN + 1/ΣM) per monitor
    (√(1 + 1/ΣM)/ΣM where ȳ = 0), √(ȳ/ΣM) per second. Counts ("counts") simply add up,
    σ² = Σdy². Returns the arrays (ȳ, σ), one value per run."""
    y, dy = np.asarray(y, dtype=float), np.asarray(dy, dtype=float)
    if norm == "counts":
        return np.add.reduceat(y, starts), np.sqrt(np.add.reduceat(dy**2, starts))
    dy = np.where(dy == 0, 1.0, dy)
    monitors = y * (y + 1) / dy**2 if norm == "monitor" else y / dy**2
    monitors = np.where(y == 0, 1 / dy, monitors)
    total_monitor = np.add.reduceat(monitors, starts)
    total_counts = np.add.reduceat(y * monitors, starts)
    mean = total_counts / total_monitor
    if norm == "time":
        return mean, np.sqrt(mean / total_monitor)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = mean * np.sqrt(1 / total_counts + 1 / total_monitor)
    return mean, np.where(mean == 0, np.sqrt(1 + 1 / total_monitor) / total_monitor, spread)


def difference(a, da, b, db):
    """a − b and its uncertainty: σ² = σa² + σb²."""
    return a - b, np.hypot(da, db)


def product(a, da, b, db):
    """a·b and its uncertainty: σ² = (b·σa)² + (a·σb)²."""
    return a * b, np.hypot(b * da, a * db)


def propagate(f, x, dx):
    """f(x) and its 1-σ uncertainty to first order, the rows x[0], x[1], … of ``x`` being
    independent quantities with the uncertainties dx[0], dx[1], …: σ² = Σⱼ (∂f/∂xⱼ·σⱼ)².
    f works point by point — its value at a point depends on the rows' values at that point
    only (the last axis), so shifting a whole row gives every point's derivative at once — and
    takes complex values; each derivative is taken by the complex step,
    ∂f/∂xⱼ = Im f(x + ih·eⱼ)/h, exact to rounding (no difference of nearby values), one
    evaluation of f per row. f may return an array or a dict of arrays; returned alike as
    (value, error). Where the value is not finite, so is its error (NaN or ∞ as the value)."""
    x = np.asarray(x, dtype=float)
    dx = np.asarray(dx, dtype=float)
    value = f(x)
    single = not isinstance(value, dict)
    values = {None: value} if single else value
    variance = {k: 0.0 for k in values}
    for j in range(len(x)):
        shifted = x.astype(complex)
        shifted[j] += 1j * COMPLEX_STEP
        moved = f(shifted)
        moved = {None: moved} if single else moved
        for k in variance:
            variance[k] = variance[k] + (np.imag(moved[k]) / COMPLEX_STEP * dx[j]) ** 2
    out = {}
    for k, v in values.items():
        v = np.real(v)
        out[k] = v, np.where(np.isfinite(v), np.sqrt(variance[k]), np.abs(v))
    return out[None] if single else out


def interpolate(x, xp, fp, dfp, outside=None):
    """fp(x) by linear interpolation (the end values beyond the ends, or ``outside`` when
    given) and its uncertainty: between points i and i+1 with weight p on i,
    σ² = p²σᵢ² + (1 − p)²σᵢ₊₁²."""
    order = np.argsort(xp, kind="stable")
    xp, fp, dfp = xp[order], fp[order], dfp[order]
    if len(xp) == 1:
        value, error = np.full_like(x, fp[0]), np.full_like(x, dfp[0])
    else:
        right = np.clip(np.searchsorted(xp, x, side="right"), 1, len(xp) - 1)
        left = right - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(xp[right] > xp[left], (xp[right] - x) / (xp[right] - xp[left]), 1.0)
        p = np.clip(p, 0.0, 1.0)
        value = p * fp[left] + (1 - p) * fp[right]
        error = np.hypot(p * dfp[left], (1 - p) * dfp[right])
    if outside is not None:
        beyond = (x < xp[0]) | (x > xp[-1])
        value, error = np.where(beyond, outside, value), np.where(beyond, outside, error)
    return value, error


def nearest(x, xp):
    """The index of the xp nearest to each x (the midpoints between sorted xp decide)."""
    xp = np.asarray(xp)
    if len(xp) == 1:
        return np.zeros(np.shape(x), dtype=int)
    order = np.argsort(xp, kind="stable")
    middles = 0.5 * (xp[order][:-1] + xp[order][1:])
    return order[np.searchsorted(middles, x)]
