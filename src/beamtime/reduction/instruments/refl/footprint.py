"""The footprint correction: the part of the beam that misses the sample, computed from the
slits (*footprint*) or fitted to the data below the critical edge (*fit footprint*,
*correct footprint*)."""

from dataclasses import replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.footprintdata import FootprintFit
from beamtime.reduction.instruments.refl.numerics import ratio
from beamtime.reduction.instruments.refl.refldata import distance_pair
from beamtime.reduction.instruments.refl.registry import module


def _beam_integral(u, inner, outer):
    """∫₀ᵘ of a trapezoid of height 1, flat to ``inner``, falling to 0 at ``outer`` (odd)."""
    a = np.abs(u)
    ramp = np.clip(a - inner, 0, outer - inner)
    inside = np.minimum(a, inner) + ramp - ramp**2 / (2 * np.maximum(outer - inner, 1e-12))
    return np.sign(u) * inside


@module(light=True)
def footprint(
    data,
    sample_width=None,
    offset=0.0,
    Io=1.0,
    distance1=None,
    distance2=None,
):
    """
    Correct for the part of the beam that misses the sample at low angles, computed from
    the slits (reductus' *abinitio footprint*). Slits 1 and 2 make a beam whose profile is
    a trapezoid: flat to half-width :math:`|s_1/2 - r(s_1 - s_2)/2|`, zero beyond
    :math:`r(s_1 + s_2)/2 - s_1/2`, with :math:`r = d_1/(d_1 - d_2)`. A sample of width
    :math:`W` at angle :math:`\\theta` intercepts the fraction :math:`F` of it between
    :math:`(\\pm W/2 + \\text{offset})\\sin\\theta`; the data are divided by
    :math:`I_o F` (no uncertainty added; where :math:`F \\le 0`, not at all).

    **Inputs**

    data (refldata) : data

    sample_width (float:mm) : length of the sample along the beam; empty: endless (the
        NeXus files give none: reductus' default), so :math:`F = 1` but at
        :math:`\\theta = 0`

    offset (float:mm) : the sample's centre, off the beam's centre along the beam [0.0]

    Io (float) : a scale factor for the beam spilling past the sample vertically [1.0]

    distance1 (float:mm) : slit 1 to sample; empty: the file's (NeXus
        ``instrument/presample_slit1/distance``, as reductus reads it), else 2000 mm

    distance2 (float:mm) : slit 2 to sample; empty: the file's (``presample_slit2``),
        else 1000 mm

    **Returns**

    output (refldata) : data corrected for the footprint

    Author: Beamtime team
    Version: 2026-12-07.3
    """
    if sample_width is not None and sample_width <= 0:
        raise ParameterError("sample_width", "must be positive")
    if Io <= 0:
        raise ParameterError("Io", "must be positive")
    distance1, distance2 = distance_pair(data, distance1, distance2)
    if distance1 <= distance2:
        raise ParameterError("distance1", "slit 1 must be farther from the sample than slit 2")
    width = np.inf if sample_width is None else sample_width
    r = distance1 / (distance1 - distance2)
    inner = np.abs(data.slit1 / 2 - r * (data.slit1 - data.slit2) / 2)
    outer = r * (data.slit1 + data.slit2) / 2 - data.slit1 / 2
    sin = np.sin(np.radians(data.Ti))
    with np.errstate(invalid="ignore"):  # an endless sample at θ = 0 meets no beam
        ends = np.nan_to_num((np.array([-1, 1])[:, None] * width / 2 + offset) * sin)
    fraction = (_beam_integral(ends[1], inner, outer) - _beam_integral(ends[0], inner, outer)) / (
        inner + outer
    )
    scale = np.where(fraction > 0, Io * fraction, 1.0)
    return replace(data, v=data.v / scale, dv=data.dv / scale)


@module
def fit_footprint(data, Qmin=None, Qmax=None, origin=False):
    """
    Fit the footprint: a line :math:`F = a|Q_z| + b` (through the origin with *origin*)
    to the points of every data set with :math:`Q_{min} \\le Q_z \\le Q_{max}` (below the
    critical edge, where the reflectivity would be 1), by weighted least squares
    (weights :math:`1/\\sigma^2`), the uncertainties of :math:`a, b` from the covariance
    scaled by :math:`\\chi^2` per degree of freedom. Fewer than two points: :math:`a = 0`,
    :math:`b = 1`.

    **Inputs**

    data (refldata[]) : data (usually one cross-section)

    Qmin (float:1/Å) : the lowest Qz fitted; empty: from the first point

    Qmax (float:1/Å) : the highest Qz fitted; empty: to the last point

    origin (bool) : the line goes through the origin [False]

    **Returns**

    fitted_footprint (footprint) : slope and intercept

    Author: Beamtime team
    Version: 2026-12-07
    """
    keep = []
    for d in data:
        inside = np.ones(len(d), dtype=bool)
        if Qmin is not None:
            inside &= d.Qz >= Qmin
        if Qmax is not None:
            inside &= d.Qz <= Qmax
        keep.append(inside)
    x = np.abs(np.concatenate([d.Qz[k] for d, k in zip(data, keep, strict=True)]))
    y = np.concatenate([d.v[k] for d, k in zip(data, keep, strict=True)])
    dy = np.concatenate([d.dv[k] for d, k in zip(data, keep, strict=True)])
    if len(x) == 0:
        raise ParameterError("Qmin", "no point lies between Qmin and Qmax")
    name = data[0].name
    if len(x) < 2:
        return FootprintFit(name, 0.0, 1.0, 0.0, 0.0, float(x.min()), float(x.max()))
    columns = [x] if origin else [x, np.ones_like(x)]
    A = np.array(columns).T / dy[:, None]
    coefficients, *_ = np.linalg.lstsq(A, y / dy, rcond=None)
    freedom = len(x) - len(columns)
    residual = np.sum((A @ coefficients - y / dy) ** 2)
    scale = residual / freedom if freedom > 0 else 1.0
    errors = np.sqrt(np.diag(np.linalg.pinv(A.T @ A)) * scale)
    slope, dslope = float(coefficients[0]), float(errors[0])
    intercept, dintercept = (0.0, 0.0) if origin else (float(coefficients[1]), float(errors[1]))
    return FootprintFit(name, slope, intercept, dslope, dintercept, float(x.min()), float(x.max()))


@module(light=True)
def correct_footprint(
    data,
    fitted_footprint=None,
    /,
    Qmin=None,
    Qmax=None,
    slope=None,
    slope_error=0.0,
    intercept=None,
    intercept_error=0.0,
):
    """
    Divide by a footprint line :math:`F = a|Q_z| + b` — the fitted one, or the slope and
    intercept given (which take precedence) — applied for :math:`Q_{min} \\le |Q_z| \\le
    Q_{max}` (all points by default): 1 below, :math:`F(Q_{max})` above. Its uncertainty is
    :math:`\\sigma_F^2 = (\\sigma_a Q_z)^2 + \\sigma_b^2` from the errors given here (as
    reductus, the fit's own are not used); :math:`R' = R/F`,
    :math:`\\sigma_{R'}^2 = \\sigma_R^2/F^2 + R^2\\sigma_F^2/F^4`. Where :math:`F \\le 0`
    nothing is divided.

    **Inputs**

    data (refldata) : data

    fitted_footprint (footprint?) : a fitted footprint

    Qmin (float:1/Å) : where the correction starts; empty: the first point

    Qmax (float:1/Å) : where the line stops rising; empty: the last point

    slope (float) : the slope :math:`a`; empty: the fitted one

    slope_error (float) : its uncertainty [0.0]

    intercept (float) : the intercept :math:`b`; empty: the fitted one

    intercept_error (float) : its uncertainty [0.0]

    **Returns**

    output (refldata) : footprint-corrected data

    Author: Beamtime team
    Version: 2026-12-07
    """
    a = slope if slope is not None else getattr(fitted_footprint, "slope", None)
    b = intercept if intercept is not None else getattr(fitted_footprint, "intercept", None)
    if a is None or b is None:
        raise ParameterError("slope", "wire a fitted footprint, or give slope and intercept")
    low = abs(Qmin if Qmin is not None else data.Qz.min())
    high = abs(Qmax if Qmax is not None else data.Qz.max())
    low, high = min(low, high), max(low, high)
    q = np.abs(data.Qz)
    value = a * q + b
    variance = (slope_error * data.Qz) ** 2 + intercept_error**2
    value = np.where(q < low, 1.0, np.where(q > high, a * high + b, value))
    variance = np.where(
        q < low, 0.0, np.where(q > high, (slope_error * high) ** 2 + intercept_error**2, variance)
    )
    bad = value <= 0
    value, variance = np.where(bad, 1.0, value), np.where(bad, 0.0, variance)
    v, dv = ratio(data.v, data.dv, value, np.sqrt(variance))
    return replace(data, v=v, dv=dv)
