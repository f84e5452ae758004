"""Specular reflectometry at a monochromatic instrument (NCNR PBR, MAGIK): the refl
instrument's data type and reduction steps.

Every step takes values with 1-σ uncertainties and propagates them to first order, assuming
independent errors: for f(a, b), σf² = (∂f/∂a·σa)² + (∂f/∂b·σb)².
"""

from dataclasses import replace

import numpy as np

from beamtime.reduction import sources
from beamtime.reduction.dataflow.calc import DataType, Registry
from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.nexus import load_nexus
from beamtime.reduction.instruments.refl.refldata import (
    FWHM_TO_SIGMA,
    SLIT1_DISTANCE,
    SLIT2_DISTANCE,
    ReflData,
    divergence,
)

registry = Registry(
    "refl",
    datatypes={
        "refldata": DataType(
            "refldata",
            to_json=ReflData.to_dict,
            from_json=ReflData.from_dict,
            display=ReflData.display,
            columns=ReflData.columns,
            metadata=ReflData.metadata,
        )
    },
)
module = registry.module


def _ratio(a, da, b, db):
    """a/b and its uncertainty."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return a / b, np.sqrt((da / b) ** 2 + (a * db / b**2) ** 2)


@module
def load(filelist=(), intent="auto"):
    """
    Load NICE NeXus reflectometry files: one data set per polarization cross-section, raw
    detector counts with Poisson uncertainty :math:`\\sigma = \\sqrt{N}` (1 for no counts).

    **Inputs**

    filelist (fileinfo[]) : the files to load []

    intent (opt:auto|specular|background+|background-|slit|rock) : what the scans measure;
        *auto* reads NICE's scan type, and the sign of :math:`\\theta_i - \\theta_d/2`
        for backgrounds [auto]

    **Returns**

    output (refldata[]) : the cross-sections of every file, in file order

    Author: Beamtime team
    Version: 2026-11-21
    """
    if not filelist:
        raise ParameterError("filelist", "choose at least one file")
    found = []
    for info in filelist:
        scans = load_nexus(sources.fetch(info), name=info["path"].rsplit("/", 1)[-1])
        found.extend(ReflData.from_scan(scan, intent) for scan in scans)
    return found


@module
def mask_points(data, mask_indices=()):
    """
    Leave out points: click them on the plot of this node's input, or list their indices.

    **Inputs**

    data (refldata[]) : data sets

    mask_indices (index[]) : for each data set in order, the indices of the points to leave
        out (0 is the first point) []

    **Returns**

    output (refldata[]) : the data sets without those points

    Author: Beamtime team
    Version: 2026-11-21
    """
    if len(mask_indices) > len(data):
        raise ParameterError("mask_indices", f"{len(mask_indices)} lists for {len(data)} data sets")
    result = []
    for number, item in enumerate(data):
        masked = mask_indices[number] if number < len(mask_indices) else []
        if masked and masked[-1] >= len(item):
            raise ParameterError(
                "mask_indices", f"data set {number} has no point {masked[-1]} ({len(item)} points)"
            )
        result.append(item.select(np.setdiff1d(np.arange(len(item)), masked)))
    return result


@module
def normalize(data, base="auto"):
    """
    Divide the counts by the monitor counts or by the counting time.

    Per monitor count, both counts are Poisson: for :math:`C` counts in :math:`M` monitor
    counts, :math:`v = C/M` and :math:`\\sigma_v^2 = (\\sigma_C^2 + v^2 M)/M^2`. Per second
    the time is exact: :math:`\\sigma_v = \\sigma_C/t`.

    **Inputs**

    data (refldata) : raw (or joined) counts

    base (opt:auto|monitor|time|none) : what to divide by; *auto* takes the monitor when every
        point has monitor counts, else the time [auto]

    **Returns**

    output (refldata) : counts per monitor count, or per second

    Author: Beamtime team
    Version: 2026-11-21
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
        v, dv = _ratio(data.v, data.dv, data.monitor, np.sqrt(data.monitor))
    else:
        if np.any(data.count_time <= 0):
            bad = int(np.flatnonzero(data.count_time <= 0)[0])
            raise ParameterError("base", f"point {bad} of {data.name} was counted for no time")
        v, dv = data.v / data.count_time, data.dv / data.count_time
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
    Version: 2026-11-21
    """
    if dscale < 0:
        raise ParameterError("dscale", "an uncertainty cannot be negative")
    return replace(data, v=data.v * scale, dv=np.hypot(scale * data.dv, data.v * dscale))


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
