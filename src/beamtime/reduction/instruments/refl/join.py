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
    starts, start = [], None  # where each cluster of close points begins in ``order``
    for k, i in enumerate(order):
        close = start is not None and all(
            abs(arrays[a][i] - arrays[a][start]) <= tolerance * arrays["dT"][start]
            for a in ("Td", "Ti")
        )
        if not close:
            starts.append(k)
            start = i
    if not starts:  # no points at all
        return replace(first, **{name: arrays[name][:0] for name in ARRAYS})
    # Each cluster's sums at once (a cluster is a run of ``order``), in the order of its points
    sums = {name: np.add.reduceat(arrays[name][order], starts) for name in ARRAYS}
    sizes = np.diff([*starts, len(order)])
    weight = {"time": arrays["count_time"]}.get(first.normbase, arrays["monitor"])[order]
    total = np.add.reduceat(weight, starts)
    merged = {}
    for name in ("Ti", "Td", "slit1", "slit2", "slit3", "slit4", "dT", "roi", "Qz_target"):
        weighted = np.add.reduceat(arrays[name][order] * weight, starts)
        with np.errstate(divide="ignore", invalid="ignore"):
            merged[name] = np.where(total > 0, weighted / total, sums[name] / sizes)
    monitor, time = sums["monitor"], sums["count_time"]
    merged.update(monitor=monitor, count_time=time, monitor_variance=monitor)  # as reductus
    if first.normbase == "counts":
        merged["v"] = sums["v"]
        merged["dv"] = np.sqrt(np.add.reduceat(arrays["dv"][order] ** 2, starts))
    else:
        # Poisson average: total counts over total monitor (or time), each with its variance.
        base = monitor if first.normbase == "monitor" else time
        counts = np.add.reduceat(arrays["v"][order] * weight, starts)
        spread = base if first.normbase == "monitor" else sizes * TIMER_RESOLUTION**2 / 12
        merged["v"], merged["dv"] = ratio(
            counts, np.sqrt(np.maximum(counts, 1.0)), base, np.sqrt(spread)
        )
    joined = replace(first, **merged)
    return joined.select(np.argsort(joined.Qz, kind="stable"))
