"""The footprint correction: the part of the beam that misses the sample."""

from dataclasses import replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.refldata import SLIT1_DISTANCE, SLIT2_DISTANCE
from beamtime.reduction.instruments.refl.registry import module


def _beam_integral(u, inner, outer):
    """∫₀ᵘ of a trapezoid of height 1, flat to ``inner``, falling to 0 at ``outer`` (odd)."""
    a = np.abs(u)
    ramp = np.clip(a - inner, 0, outer - inner)
    inside = np.minimum(a, inner) + ramp - ramp**2 / (2 * np.maximum(outer - inner, 1e-12))
    return np.sign(u) * inside


@module
def footprint(
    data, sample_width=10.0, offset=0.0, distance1=SLIT1_DISTANCE, distance2=SLIT2_DISTANCE
):
    """
    Correct for the part of the beam that misses the sample at low angles. Slits 1 and 2
    make a beam whose profile is a trapezoid: flat to half-width
    :math:`|s_1/2 - r(s_1 - s_2)/2|`, zero beyond :math:`r(s_1 + s_2)/2 - s_1/2`, with
    :math:`r = d_1/(d_1 - d_2)`. A sample of width :math:`W` at angle :math:`\\theta`
    intercepts the part between :math:`(\\pm W/2 + \\text{offset})\\sin\\theta`; the data
    are divided by that fraction (no uncertainty added).

    **Inputs**

    data (refldata) : data

    sample_width (float:mm) : length of the sample along the beam [10.0]

    offset (float:mm) : the sample's centre, off the beam's centre along the beam [0.0]

    distance1 (float:mm) : slit 1 to sample [2000.0]

    distance2 (float:mm) : slit 2 to sample [1000.0]

    **Returns**

    output (refldata) : data corrected for the footprint

    Author: Beamtime team
    Version: 2026-11-21
    """
    if sample_width <= 0:
        raise ParameterError("sample_width", "must be positive")
    if distance1 <= distance2 or distance2 <= 0:
        raise ParameterError("distance1", "slit 1 must be farther from the sample than slit 2")
    r = distance1 / (distance1 - distance2)
    inner = np.abs(data.slit1 / 2 - r * (data.slit1 - data.slit2) / 2)
    outer = r * (data.slit1 + data.slit2) / 2 - data.slit1 / 2
    sin = np.sin(np.radians(data.Ti))
    ends = (np.array([-1, 1])[:, None] * sample_width / 2 + offset) * sin
    fraction = (_beam_integral(ends[1], inner, outer) - _beam_integral(ends[0], inner, outer)) / (
        inner + outer
    )
    fraction = np.where(fraction > 0, fraction, 1.0)
    return replace(data, v=data.v / fraction, dv=data.dv / fraction)
