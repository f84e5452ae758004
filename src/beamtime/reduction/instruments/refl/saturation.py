"""Saturation: counters whose efficiency falls at high count rates, corrected by the
efficiency curve measured for them (NG7's monitor: the file's countrate_correction)."""

from dataclasses import replace

import numpy as np

from beamtime.reduction.instruments.refl.deadtime import _raw
from beamtime.reduction.instruments.refl.registry import module


@module(light=True)
def monitor_saturation(data):
    """
    Correct the monitor counts by the monitor's saturation curve stored in the file: the
    efficiency :math:`E(R)` is interpolated linearly at the observed rate :math:`R = M/t`
    (its end values beyond the curve), :math:`M' = M/E`, :math:`\\sigma_{M'}^2 = M/E^2`.
    Points counted faster than the curve reaches (or for no time) are left out, as reductus
    masks them. A file without a curve (the PBR files have none) passes unchanged.

    **Inputs**

    data (refldata) : raw counts

    **Returns**

    output (refldata) : data whose monitor counts are corrected for saturation

    Author: Beamtime team
    Version: 2026-12-07
    """
    if data.monitor_saturation is None:
        return data
    _raw(data, "data")
    rates, efficiency = (np.asarray(row, dtype=float) for row in data.monitor_saturation)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = data.monitor / data.count_time
    E = np.interp(rate, rates, efficiency)
    corrected = replace(data, monitor=data.monitor / E, monitor_variance=data.monitor / E**2)
    return corrected.select(rate <= rates[-1])


@module(light=True)
def detector_saturation(data):
    """
    Correct the detector counts by the detector's saturation curve, as *monitor
    saturation* does the monitor's (reductus' formula): the efficiency :math:`E(R)`
    interpolated linearly at the observed rate :math:`R = N/t` (:math:`N` counts in the
    counting time :math:`t`), :math:`N' = N/E`, :math:`\\sigma_{N'}^2 = N/E^2` — with
    :math:`\\sigma_E` where the curve gives it,
    :math:`\\sigma_{N'}^2 = N/E^2 + N^2\\sigma_E^2/E^4` — and points counted faster than the
    curve reaches left out. No NeXus file holds a detector saturation curve (reductus reads
    none: its stand-in is a number, which its step fails on), so here :math:`E \\equiv 1`:
    :math:`N' = N`, :math:`\\sigma_{N'} = \\sigma_N`, the data pass unchanged. Correct the
    detector with *detector dead time* instead.

    **Inputs**

    data (refldata) : raw counts

    **Returns**

    output (refldata) : the same data

    Author: Beamtime team
    Version: 2026-12-07.2
    """
    return data
