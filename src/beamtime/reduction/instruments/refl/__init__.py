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
from beamtime.reduction.instruments.refl.nexus import NexusError, load_nexus
from beamtime.reduction.instruments.refl.refldata import (
    ARRAYS,
    FWHM_TO_SIGMA,
    SLIT1_DISTANCE,
    SLIT2_DISTANCE,
    ReflData,
    divergence,
)

# The counters count time in steps of 1 ms.
TIMER_RESOLUTION = 0.001


def describe_file(content: bytes, name: str) -> dict:
    """Intent, sample, start and points of each cross-section: the file browser's summary."""
    scans = [ReflData.from_scan(scan) for scan in load_nexus(content, name=name)]
    return {
        "sample": scans[0].sample_name,
        "start": scans[0].start,
        "intent": scans[0].intent,
        "entries": [
            {"entry": s.name.rsplit(":", 1)[-1], "polarization": s.polarization, "points": len(s)}
            for s in scans
        ],
    }


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
    describe_file=describe_file,
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
    A value written once (a motor that did not move, a counter read once) is repeated over
    the scan's points. With no files the loader passes nothing on, and the steps it feeds
    pass nothing either: an unused branch of a template just stays empty.

    **Inputs**

    filelist (fileinfo[]) : the files to load; a file's ``entries`` (e.g.
        ``["DOWN_DOWN", "UP_UP"]``) choose its cross-sections, all of them when absent []

    intent (opt:auto|specular|background+|background-|slit|rock) : what the scans measure;
        *auto* reads NICE's scan type, and the sign of :math:`\\theta_i - \\theta_d/2`
        for backgrounds [auto]

    **Returns**

    output (refldata[]) : the cross-sections of every file, in file order

    Author: Beamtime team
    Version: 2026-12-07
    """
    found = []
    for info in filelist:
        entries = info.get("entries")
        if entries is not None and not (
            isinstance(entries, list) and entries and all(isinstance(e, str) for e in entries)
        ):
            raise ParameterError("filelist", f"{info['path']}: entries must name cross-sections")
        name = info["path"].rsplit("/", 1)[-1]
        try:
            scans = load_nexus(sources.fetch(info), name=name, entries=entries)
        except NexusError as exc:
            raise ParameterError("filelist", str(exc)) from None
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
        t = data.count_time
        v = data.v / t
        dv = np.sqrt(data.dv**2 + v**2 * TIMER_RESOLUTION**2 / 12) / t
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


def _same_polarization(data: ReflData, candidates: list, parameter: str) -> ReflData:
    match = [c for c in candidates if c.polarization == data.polarization]
    if not match:
        raise ParameterError(parameter, f"nothing wired here has polarization {data.polarization}")
    if match[0].normbase != data.normbase:
        raise ParameterError(
            parameter, f"normalized by {match[0].normbase}, the data by {data.normbase}"
        )
    return match[0]


def _interpolate(x, xp, fp, dfp):
    """fp(x) by linear interpolation (the end values beyond the ends) and its uncertainty:
    between points i and i+1 with weight p on i, σ² = p²σᵢ² + (1 − p)²σᵢ₊₁²."""
    order = np.argsort(xp, kind="stable")
    xp, fp, dfp = xp[order], fp[order], dfp[order]
    if len(xp) == 1:
        return np.full_like(x, fp[0]), np.full_like(x, dfp[0])
    right = np.clip(np.searchsorted(xp, x, side="right"), 1, len(xp) - 1)
    left = right - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(xp[right] > xp[left], (xp[right] - x) / (xp[right] - xp[left]), 1.0)
    p = np.clip(p, 0.0, 1.0)
    value = p * fp[left] + (1 - p) * fp[right]
    error = np.hypot(p * dfp[left], (1 - p) * dfp[right])
    return value, error


@module
def join(data, tolerance=0.5):
    """
    Merge the points measured at the same angles, within and across data sets of the same
    polarization: :math:`\\theta_i` and :math:`\\theta_d` within ``tolerance`` times the
    angular resolution. Counts add up; a normalized point becomes the total counts over the
    total monitor (or time), :math:`\\bar v = \\sum C/\\sum M`, with
    :math:`\\sigma_{\\bar v}^2 = (\\sum C + \\bar v^2 \\sum M)/(\\sum M)^2`; angles and slits
    are averaged, weighted by monitor (or time).

    **Inputs**

    data (refldata[]) : data sets to merge

    tolerance (float) : how close angles must be, in units of the angular resolution [0.5]

    **Returns**

    output (refldata[]) : one data set per polarization, in Qz order

    Author: Beamtime team
    Version: 2026-11-21
    """
    if tolerance < 0:
        raise ParameterError("tolerance", "cannot be negative")
    groups: dict[str, list[ReflData]] = {}
    for item in sorted(data, key=lambda d: d.name):
        groups.setdefault(item.polarization, []).append(item)
    return [_join_group(group, tolerance) for group in groups.values()]


def _join_group(group: list[ReflData], tolerance: float) -> ReflData:
    first = group[0]
    for item in group[1:]:
        if item.normbase != first.normbase:
            raise ParameterError("data", f"{item.name} is by {item.normbase}, {first.name} not")
        if abs(item.wavelength - first.wavelength) > tolerance * max(first.dL, 1e-12):
            raise ParameterError("data", f"{item.name} has another wavelength than {first.name}")
    if first.normbase == "reflectivity":
        raise ParameterError("data", "join before dividing by the direct beam")
    arrays = {name: np.concatenate([getattr(d, name) for d in group]) for name in ARRAYS}
    order = np.lexsort((arrays["Ti"], arrays["Td"]))
    clusters, start = [], None
    for i in order:
        close = start is not None and all(
            abs(arrays[a][i] - arrays[a][start]) <= tolerance * arrays["dT"][start]
            for a in ("Td", "Ti")
        )
        if close:
            clusters[-1].append(i)
        else:
            clusters.append([i])
            start = i
    weight = {"time": arrays["count_time"]}.get(first.normbase, arrays["monitor"])
    merged = {name: [] for name in ARRAYS}
    for members in clusters:
        w = weight[members]
        for name in ("Ti", "Td", "slit1", "slit2", "slit3", "slit4", "dT"):
            values = arrays[name][members]
            merged[name].append(np.average(values, weights=w) if w.sum() > 0 else values.mean())
        monitor, time = arrays["monitor"][members].sum(), arrays["count_time"][members].sum()
        merged["monitor"].append(monitor)
        merged["count_time"].append(time)
        v, dv = arrays["v"][members], arrays["dv"][members]
        if first.normbase == "counts":
            merged["v"].append(v.sum())
            merged["dv"].append(np.sqrt((dv**2).sum()))
            continue
        base = monitor if first.normbase == "monitor" else time
        counts = (v * weight[members]).sum()
        mean = counts / base
        spread = base if first.normbase == "monitor" else len(members) * TIMER_RESOLUTION**2 / 12
        merged["v"].append(mean)
        merged["dv"].append(np.sqrt(max(counts, 1.0) + mean**2 * spread) / base)
    joined = replace(first, **{name: np.array(merged[name]) for name in ARRAYS})
    return joined.select(np.argsort(joined.Qz, kind="stable"))


@module
def subtract_background(data, backp=(), backm=(), /):
    """
    Subtract the background measured beside the specular ridge, interpolated (linearly, in
    Qz) onto the specular points. With both sides, their mean:
    :math:`R = I - (B^+ + B^-)/2`, :math:`\\sigma_R^2 = \\sigma_I^2 + (\\sigma_{B^+}^2 +
    \\sigma_{B^-}^2)/4`; with one side, :math:`R = I - B`. Beyond a background's range its
    end value holds. Each data set takes the background of its own polarization. With no
    background wired or none arriving (empty loaders), the data pass unchanged, as in reductus.

    **Inputs**

    data (refldata) : specular data

    backp (refldata[]?) : background+ (sample angle below the specular condition)

    backm (refldata[]?) : background− (sample angle above it)

    **Returns**

    output (refldata) : data less the background

    Author: Beamtime team
    Version: 2026-12-07
    """
    if not backp and not backm:
        return data
    sides = []
    for name, wired in (("backp", backp), ("backm", backm)):
        if wired:
            back = _same_polarization(data, wired, name)
            sides.append(_interpolate(data.Qz, back.Qz, back.v, back.dv))
    b = sum(s[0] for s in sides) / len(sides)
    db = np.sqrt(sum(s[1] ** 2 for s in sides)) / len(sides)
    return replace(data, v=data.v - b, dv=np.hypot(data.dv, db))


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
    slit = _same_polarization(data, base, "base")
    s, ds = _interpolate(data.dT, slit.dT, slit.v, slit.dv)
    if np.any(s <= 0):
        raise ParameterError("base", f"the direct beam of {slit.name} has no intensity")
    v, dv = _ratio(data.v, data.dv, s, ds)
    return replace(data, v=v, dv=dv, normbase="reflectivity")


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
