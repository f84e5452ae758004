"""Slit scans brought onto common slit settings: *smooth slits*."""

import math
from dataclasses import replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.numerics import interpolate
from beamtime.reduction.instruments.refl.refldata import ARRAYS
from beamtime.reduction.instruments.refl.registry import module


@module
def smooth_slits(data, degree=1, span=2, dx=0.01):
    """
    Bring slit scans (e.g. the four cross-sections of the direct beam) onto one set of
    slit settings. The settings of all the scans, ordered by angular resolution
    :math:`\\Delta\\theta`, are merged where slits 1 and 2 both lie within ``dx`` of the
    first of a run, and averaged. Each scan is then evaluated at the merged
    :math:`\\Delta\\theta`: with ``span`` 2, by the straight line through its two
    neighbouring points (its end values beyond its ends),
    :math:`\\sigma^2 = p^2\\sigma_i^2 + (1-p)^2\\sigma_{i+1}^2`;
    with a larger ``span``, by a polynomial of ``degree`` fitted (weights :math:`1/\\sigma^2`)
    to the ``span`` points around it (to all when there are no more), its 1-σ confidence
    interval :math:`t_{0.841,\\nu}\\,\\sqrt{\\chi^2/\\nu}\\,\\sqrt{a^T (A^T W A)^{-1} a}` (without
    the first two factors when :math:`\\nu = 0`). Points of one scan at the same setting are
    averaged first (reductus gives NaN there). The other columns (angles, counting time,
    monitor) are interpolated alike. (reductus 1.0.1 evaluates a moving window's polynomial
    at uninitialized numbers instead of the settings, and keeps the old resolution.)

    **Inputs**

    data (refldata[]) : slit scans

    degree (int) : the polynomial's degree [1]

    span (int) : how many neighbouring points each polynomial is fitted to; 2: linear
        interpolation [2]

    dx (float:mm) : how close slit openings must be to merge [0.01]

    **Returns**

    output (refldata[]) : the scans at the common slit settings

    Author: Beamtime team
    Version: 2026-12-07
    """
    if degree < 0:
        raise ParameterError("degree", "cannot be negative")
    if span <= degree or span < 2:
        raise ParameterError("span", "must be at least 2 and larger than degree")
    if dx < 0:
        raise ParameterError("dx", "cannot be negative")
    settings = np.concatenate([np.array([d.dT, d.slit1, d.slit2]).T for d in data])
    common = _common(settings, dx)
    return [_resample(d, common, degree, span) for d in data]


def _common(settings: np.ndarray, dx: float) -> np.ndarray:
    """Rows (dT, slit1, slit2) in dT order, runs within dx of their first row averaged."""
    settings = settings[np.argsort(settings[:, 0], kind="stable")]
    runs, first = [[settings[0]]], settings[0]
    for row in settings[1:]:
        if np.all(np.abs(row[1:] - first[1:]) <= dx):
            runs[-1].append(row)
        else:
            runs.append([row])
            first = row
    return np.array([np.mean(run, axis=0) for run in runs])


def _resample(data, common: np.ndarray, degree: int, span: int):
    x, v, dv = data.dT, data.v, data.dv
    # one point per distinct setting: repeats averaged
    xp, inverse = np.unique(x, return_inverse=True)
    counts = np.bincount(inverse)
    yp = np.bincount(inverse, weights=v) / counts
    dyp = np.sqrt(np.bincount(inverse, weights=dv**2)) / counts
    at = common[:, 0]
    if span == 2:
        value, error = interpolate(at, xp, yp, dyp)
    else:
        value, error = _polynomial(at, xp, yp, dyp, degree, span)
    others = {
        name: np.interp(at, xp, np.bincount(inverse, weights=getattr(data, name)) / counts)
        for name in ARRAYS
        if name not in ("v", "dv", "dT", "slit1", "slit2")
    }
    return replace(data, **others, v=value, dv=error, dT=at, slit1=common[:, 1], slit2=common[:, 2])


def _polynomial(x, xp, yp, dyp, degree: int, span: int):
    """Each x from a weighted polynomial fit to its window of ``span`` neighbours."""
    if len(xp) <= span:
        windows = np.zeros(len(x), dtype=int)
        span, degree = len(xp), min(degree, len(xp) - 1)
    elif span % 2 == 0:  # an odd number of intervals: windows change at the points
        windows = np.searchsorted(xp[span // 2 : len(xp) - span // 2], x)
    else:  # windows change half way between points
        windows = np.searchsorted(0.5 * (xp[:-span] + xp[span:]), x)
    value, error = np.empty(len(x)), np.empty(len(x))
    for start in np.unique(windows):
        inside = slice(start, start + span)
        chosen = windows == start
        value[chosen], error[chosen] = _fit(x[chosen], xp[inside], yp[inside], dyp[inside], degree)
    return value, error


ONE_SIGMA = 0.5 * (1 + math.erf(1 / math.sqrt(2)))  # 0.841: the 1-σ quantile


def _fit(x, xp, yp, dyp, degree: int):
    powers = np.arange(degree, -1, -1)
    A = xp[:, None] ** powers / dyp[:, None]
    coefficients, *_ = np.linalg.lstsq(A, yp / dyp, rcond=None)
    covariance = np.linalg.pinv(A.T @ A)
    at = x[:, None] ** powers
    spread = np.sqrt(np.einsum("pi,ij,pj->p", at, covariance, at))
    freedom = len(xp) - len(powers)
    if freedom > 0:
        from scipy import stats  # here only: most of the refl steps' import time

        residual = np.linalg.norm(A @ coefficients - yp / dyp)
        spread = spread * stats.t.ppf(ONE_SIGMA, freedom) * residual / math.sqrt(freedom)
    return at @ coefficients, spread
