"""Steps that turn counts into rates and rates into reflectivity: normalization, scaling,
resolution, and division by the direct beam."""

from dataclasses import replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.numerics import FWHM_TO_SIGMA, interpolate, product, ratio
from beamtime.reduction.instruments.refl.refldata import (
    SLIT1_DISTANCE,
    SLIT2_DISTANCE,
    TIMER_RESOLUTION,
    divergence,
    matching,
)
from beamtime.reduction.instruments.refl.registry import module


@module
def normalize(data, base="auto"):
    """
    Divide the counts by the monitor counts or by the counting time.

    Per monitor count, both counts are Poisson: for :math:`C` counts in :math:`M` monitor
    counts, :math:`v = C/M` and :math:`\\sigma_v^2 = (\\sigma_C^2 + v^2 M)/M^2`. Per second,
    the time is known to the counter's 1 ms step :math:`\\Delta` (uniformly):
    :math:`\\sigma_v^2 = (\\sigma_C^2 + v^2 \\Delta^2/12)/t^2`.

    **Inputs**

    data (refldata) : raw (or joined) counts

    base (opt:auto|monitor|time|none) : what to divide by; *auto* takes the monitor when every
        point has monitor counts, else the time [auto]

    **Returns**

    output (refldata) : counts per monitor count, or per second

    Author: Beamtime team
    Version: 2026-12-07
    """
    if data.normbase != "counts":
        raise ParameterError("base", f"the data are already normalized ({data.normbase})")
    if base == "auto":
        base = "monitor" if np.all(data.monitor > 0) else "time"
    if base == "none":
        return data
    if base == "monitor":
        if np.any(data.monitor <= 0):
            bad = int(np.flatnonzero(data.monitor <= 0)[0])
            raise ParameterError("base", f"point {bad} of {data.name} has no monitor counts")
        v, dv = ratio(data.v, data.dv, data.monitor, np.sqrt(data.monitor))
    else:
        if np.any(data.count_time <= 0):
            bad = int(np.flatnonzero(data.count_time <= 0)[0])
            raise ParameterError("base", f"point {bad} of {data.name} was counted for no time")
        v, dv = ratio(data.v, data.dv, data.count_time, TIMER_RESOLUTION / np.sqrt(12))
    return replace(data, v=v, dv=dv, normbase=base)


@module
def rescale(data, scale=1.0, dscale=0.0):
    """
    Multiply by a factor known to :math:`\\pm` ``dscale``:
    :math:`\\sigma_{sv}^2 = (s\\,\\sigma_v)^2 + (v\\,\\sigma_s)^2`.

    **Inputs**

    data (refldata) : data

    scale (float) : the factor [1.0]

    dscale (float) : its 1-σ uncertainty [0.0]

    **Returns**

    output (refldata) : scaled data

    Author: Beamtime team
    Version: 2026-12-07
    """
    if dscale < 0:
        raise ParameterError("dscale", "an uncertainty cannot be negative")
    v, dv = product(data.v, data.dv, scale, dscale)
    return replace(data, v=v, dv=dv)


@module
def angular_resolution(
    data, distance1=SLIT1_DISTANCE, distance2=SLIT2_DISTANCE, wavelength_spread=0.015
):
    """
    The resolution of Qz: the angular divergence through slits 1 and 2,
    :math:`\\Delta\\theta = \\tfrac12 (s_1 + s_2)/|d_1 - d_2|` (FWHM), and the wavelength
    spread, combined as
    :math:`\\sigma_Q = \\frac{4\\pi}{\\lambda}\\sqrt{(\\sin\\theta\\,\\sigma_\\lambda/\\lambda)^2
    + (\\cos\\theta\\,\\sigma_\\theta)^2}`.

    **Inputs**

    data (refldata) : data

    distance1 (float:mm) : slit 1 to sample [2000.0]

    distance2 (float:mm) : slit 2 to sample [1000.0]

    wavelength_spread (float:FWHM, fraction of λ) : dλ/λ [0.015]

    **Returns**

    output (refldata) : data with their angular and wavelength resolution

    Author: Beamtime team
    Version: 2026-11-21
    """
    if distance1 <= 0 or distance2 <= 0:
        raise ParameterError("distance1" if distance1 <= 0 else "distance2", "must be positive")
    if distance1 == distance2:
        raise ParameterError("distance2", "the slits cannot be at the same distance")
    if not 0 <= wavelength_spread < 1:
        raise ParameterError("wavelength_spread", "must be a fraction between 0 and 1")
    return replace(
        data,
        dT=divergence(data.slit1, data.slit2, distance1, distance2),
        dL=wavelength_spread * data.wavelength * FWHM_TO_SIGMA,
    )


@module
def divide_intensity(data, base):
    """
    Divide by the direct beam measured through the same slits (a slit scan), interpolated
    against the angular resolution (the slit openings) — one point serves every angle of a
    fixed-slit scan. :math:`R = I/S`, :math:`\\sigma_R^2 = (\\sigma_I^2 + R^2\\sigma_S^2)/S^2`.

    **Inputs**

    data (refldata) : specular (or background-subtracted) data

    base (refldata[]) : the slit scans, one per polarization, normalized like the data

    **Returns**

    output (refldata) : reflectivity

    Author: Beamtime team
    Version: 2026-11-21
    """
    slit = matching(data, base, "base")
    s, ds = interpolate(data.dT, slit.dT, slit.v, slit.dv)
    if np.any(s <= 0):
        raise ParameterError("base", f"the direct beam of {slit.name} has no intensity")
    v, dv = ratio(data.v, data.dv, s, ds)
    return replace(data, v=v, dv=dv, normbase="reflectivity")
