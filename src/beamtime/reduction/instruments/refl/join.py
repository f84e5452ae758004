"""Merging the points measured at the same angles."""

from dataclasses import replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.numerics import poisson_average
from beamtime.reduction.instruments.refl.refldata import ARRAYS, ReflData
from beamtime.reduction.instruments.refl.registry import module

GROUP_KEYS = {
    "polarization": lambda d: d.polarization,
    "probe": lambda d: d.probe,
    "entry": lambda d: d.name.rsplit(":", 1)[-1],
    "filenumber": lambda d: d.name.rsplit(":", 1)[0],
    "instrument": lambda d: d.instrument,
    "intent": lambda d: d.intent,
    "sample.name": lambda d: d.sample_name,
    "sample.description": lambda d: d.description,
}
ORDER_KEYS = {
    "file": lambda d: d.name,
    "time": lambda d: d.start,
    "theta": lambda d: (d.Ti[:1].tolist(), d.Td[:1].tolist()),  # an empty data set first
    "slit": lambda d: (d.slit1[:1].tolist(), d.slit2[:1].tolist()),
}


@module
def join(
    data, Q_tolerance=0.5, dQ_tolerance=0.002, order="file", group_by="polarization", tolerance=None
):
    """
    Merge the points measured at the same angles, within and across the data sets of a
    group (one per polarization, by default). Points are grouped greedily one dimension at
    a time — detector angle, sample angle and wavelength within ``Q_tolerance`` times the
    angular resolution :math:`\\Delta\\theta` (wavelength spread for the wavelength), then
    :math:`\\Delta\\theta` and the wavelength spread within ``dQ_tolerance`` times
    themselves: a run of sorted values stays together while each lies within its own
    tolerance of the run's first and below every earlier one's upper bound. A group of
    counts adds up (:math:`\\sigma^2 = \\sum\\sigma_i^2`); rates take the Poisson
    average, the counts :math:`N_i` and monitors :math:`M_i` behind each rate recovered from
    it (:math:`M_i = y_i(y_i + 1)/\\sigma_i^2` per monitor, :math:`y_i/\\sigma_i^2` per
    second, :math:`1/\\sigma_i` where :math:`y_i = 0`), :math:`\\bar y = \\sum N_i/\\sum
    M_i`, :math:`\\sigma_{\\bar y} = \\bar y\\sqrt{1/\\sum N_i + 1/\\sum M_i}`
    (:math:`\\sqrt{\\bar y/\\sum M_i}` per second). Monitors and times add up; angles,
    slits and resolution are averaged weighted by monitor (time; counts). The first data
    set in ``order`` gives the name; the points come out in Qz order (rocking curves in
    Qx, slit scans in :math:`\\Delta\\theta`). With both tolerances 0 only points whose
    target angles and target slits are the same merge.

    **Inputs**

    data (refldata[]) : data sets to merge

    Q_tolerance (float:1-σ) : how close the angles must be, relative to the angular
        resolution [0.5]

    dQ_tolerance (float:1-σ) : how close the resolutions must be, relative to
        themselves [0.002]

    order (opt:file|time|theta|slit|none) : which data set comes first: by name, start
        time, first angles, first slits, or as wired [file]

    group_by (opt:polarization|probe|entry|filenumber|instrument|intent|sample.name|sample.description):
        which data sets are merged together: those of one polarization, probe (neutrons:
        every NICE file), entry (cross-section name), file, instrument (the file's
        ``instrument/name``), intent, sample name or sample description [polarization]

    tolerance (float:1-σ) : deprecated, both tolerances at once; empty: not used

    **Returns**

    output (refldata[]) : one data set per group

    Author: Beamtime team
    Version: 2026-12-07.5
    """  # noqa: E501  (an option list is one line)
    if tolerance is not None:
        Q_tolerance = dQ_tolerance = tolerance
    for name, value in (("Q_tolerance", Q_tolerance), ("dQ_tolerance", dQ_tolerance)):
        if value < 0:
            raise ParameterError(name if tolerance is None else "tolerance", "cannot be negative")
    groups: dict[str, list[ReflData]] = {}
    for item in data:
        groups.setdefault(GROUP_KEYS[group_by](item), []).append(item)
    joined = []
    for _, group in sorted(groups.items()):
        if order != "none":
            group = sorted(group, key=ORDER_KEYS[order])
        joined.append(_join_group(group, Q_tolerance, dQ_tolerance))
    return joined


def _join_group(group: list[ReflData], qtol: float, dqtol: float) -> ReflData:
    first = group[0]
    for item in group[1:]:
        if item.normbase != first.normbase:
            raise ParameterError("data", f"{item.name} is by {item.normbase}, {first.name} not")
        if item.wavelength != first.wavelength:
            raise ParameterError("data", f"{item.name} has another wavelength than {first.name}")
    if first.normbase not in ("counts", "monitor", "time"):
        raise ParameterError("data", "join counts, or counts per monitor count or per second")
    columns = {name: np.concatenate([getattr(d, name) for d in group]) for name in ARRAYS}
    for name in ("Qz", "Qx", "dQ"):  # the order of the points: as measured, then averaged
        columns[name] = np.concatenate([getattr(d, name) for d in group])
    if qtol == 0 and dqtol == 0:
        sets = _same_targets(group)
    else:
        dL = np.full(len(columns["v"]), first.dL)
        sets = [np.arange(len(columns["v"]))]
        for values, width in (
            (columns["Td"], qtol * columns["dT"]),
            (columns["Ti"], qtol * columns["dT"]),
            (np.full_like(dL, first.wavelength), qtol * dL),
            (columns["dT"], dqtol * columns["dT"]),
            (dL, dqtol * dL),
        ):
            sets = [part for s in sets for part in _split(s, values, width)]
    merged = _merge(sets, columns, first.normbase)
    if first.intent.startswith("rock"):
        keys = ("Qx", "Qz", "dQ")
    elif first.intent == "intensity":
        keys = ("dT",)
    else:
        keys = ("Qz", "dQ", "Qx")
    index = np.lexsort([merged[k] for k in reversed(keys)])
    polarization = first.polarization
    if any(d.polarization != polarization for d in group):
        polarization = ""
    return replace(
        first, polarization=polarization, **{name: merged[name][index] for name in ARRAYS}
    )


def _split(indices: np.ndarray, values: np.ndarray, width: np.ndarray) -> list:
    """Runs of sorted ``values`` whose members lie within their width of the run's start
    and below every earlier member's value + width."""
    if len(indices) <= 1:
        return [indices]
    values, width = values[indices], width[indices]
    runs, current = [], []
    start = end = -np.inf
    for k in np.argsort(values):
        if values[k] > end or values[k] - width[k] > start:
            if current:
                runs.append(np.array(current))
            current, start, end = [indices[k]], values[k], values[k] + width[k]
        else:
            current.append(indices[k])
            end = min(end, values[k] + width[k])
    runs.append(np.array(current))
    return runs


def _same_targets(group: list[ReflData]) -> list:
    """Points whose target angles and target slits 1 and 2 are equal."""
    keys = zip(
        *(
            np.concatenate([getattr(d, name) for d in group])
            for name in ("Ti_target", "Td_target", "slit1_target", "slit2_target")
        ),
        strict=True,
    )
    sets: dict[tuple, list] = {}
    for index, key in enumerate(keys):
        sets.setdefault(key, []).append(index)
    return [np.array(s) for s in sets.values()]


def _merge(sets: list, columns: dict, normbase: str) -> dict:
    """Each set of points as one: rates Poisson-averaged, monitor and time summed, the rest
    averaged with the monitor (or time, or counts) as weights; a point alone is kept as is.
    Every set at once: the points in set order, each set's sums by ``np.add.reduceat``."""
    order = np.concatenate(sets) if sets else np.zeros(0, dtype=int)
    sizes = np.array([len(s) for s in sets])
    if not len(order):
        return {name: np.zeros(0) for name in [*columns, "monitor_variance"]}
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    alone = sizes == 1
    first = {name: values[order][starts] for name, values in columns.items()}
    weight = columns[{"counts": "v", "monitor": "monitor", "time": "count_time"}[normbase]][order]
    total_weight = np.add.reduceat(weight, starts)
    merged = {}
    v, dv = poisson_average(columns["v"][order], columns["dv"][order], normbase, starts)
    merged["v"], merged["dv"] = np.where(alone, first["v"], v), np.where(alone, first["dv"], dv)
    for name, values in columns.items():
        if name in ("v", "dv"):
            continue
        total = np.add.reduceat(values[order], starts)
        if name in ("monitor", "count_time"):
            merged[name] = total
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            average = np.where(
                total_weight != 0,
                np.add.reduceat(values[order] * weight, starts) / total_weight,
                total / sizes,
            )
        merged[name] = np.where(alone, first[name], average)
    merged = {name: np.asarray(values, dtype=float) for name, values in merged.items()}
    merged["monitor_variance"] = merged["monitor"].copy()  # as reductus: Poisson again
    return merged
