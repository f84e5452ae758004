"""Merging the points measured at the same angles."""

from dataclasses import replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.numerics import ratio
from beamtime.reduction.instruments.refl.refldata import ARRAYS, TIMER_RESOLUTION, ReflData
from beamtime.reduction.instruments.refl.registry import module


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
    Version: 2026-12-07.3
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
    if first.normbase == "roi":
        raise ParameterError("data", "join counts, or counts per monitor count or per second")
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
        for name in ("Ti", "Td", "slit1", "slit2", "slit3", "slit4", "dT", "roi", "Qz_target"):
            values = arrays[name][members]
            merged[name].append(np.average(values, weights=w) if w.sum() > 0 else values.mean())
        monitor, time = arrays["monitor"][members].sum(), arrays["count_time"][members].sum()
        for name in ("monitor", "count_time"):
            merged[name].append(arrays[name][members].sum())
        merged["monitor_variance"].append(monitor)  # as reductus: Poisson again
        v, dv = arrays["v"][members], arrays["dv"][members]
        if first.normbase == "counts":
            merged["v"].append(v.sum())
            merged["dv"].append(np.sqrt((dv**2).sum()))
            continue
        # Poisson average: total counts over total monitor (or time), each with its variance.
        base = monitor if first.normbase == "monitor" else time
        counts = (v * weight[members]).sum()
        spread = base if first.normbase == "monitor" else len(members) * TIMER_RESOLUTION**2 / 12
        mean, error = ratio(counts, np.sqrt(max(counts, 1.0)), base, np.sqrt(spread))
        merged["v"].append(mean)
        merged["dv"].append(error)
    joined = replace(first, **{name: np.array(merged[name]) for name in ARRAYS})
    return joined.select(np.argsort(joined.Qz, kind="stable"))
