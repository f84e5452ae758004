"""Steps that turn counts into rates and rates into reflectivity: normalization, scaling,
resolution, and division by the direct beam."""

from dataclasses import replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.fluxdata import FluxData
from beamtime.reduction.instruments.refl.nexus import wavelength_sigma
from beamtime.reduction.instruments.refl.numerics import FWHM_TO_SIGMA, interpolate, product, ratio
from beamtime.reduction.instruments.refl.refldata import (
    TIMER_RESOLUTION,
    distance_pair,
    divergence,
    matching,
    slit_distance,
)
from beamtime.reduction.instruments.refl.registry import module


@module(light=True)
def normalize(data, base="auto"):
    """
    Divide the counts by the monitor counts, the counting time or the region-of-interest
    counts, as reductus does. For :math:`C` counts over a base :math:`M` of variance
    :math:`\\sigma_M^2`, :math:`v = C/M` and :math:`\\sigma_v^2 = (\\sigma_C^2 + v^2
    \\sigma_M^2)/M^2`. Monitor (and roi) counts are Poisson, :math:`\\sigma_M^2 = M` (or what
    a dead-time correction left); a point without monitor counts is taken as 1 ± 1. The time
    is known to the counter's 1 ms step :math:`\\Delta` (uniformly),
    :math:`\\sigma_t^2 = \\Delta^2/12`; a point counted for no time is taken as
    :math:`\\Delta/2`. Normalizing by reactor power needs the power, which the NICE PBR
    files do not hold.

    **Inputs**

    data (refldata) : raw (or joined) counts

    base (opt:auto|monitor|time|roi|power|none) : what to divide by; *auto* takes the
        monitor when any point has monitor counts, else the time [auto]

    **Returns**

    output (refldata) : counts per monitor count, per second or per roi count

    Author: Beamtime team
    Version: 2026-12-07.2
    """
    if data.normbase != "counts":
        raise ParameterError("base", f"the data are already normalized ({data.normbase})")
    if base == "auto":
        base = (
            "monitor"
            if np.any(data.monitor > 0)
            else "time"
            if np.any(data.count_time > 0)
            else "none"
        )
    if base == "none":
        return data
    if base == "power":
        raise ParameterError("base", f"{data.name} holds no reactor power to normalize by")
    if base == "time":
        norm = np.where(data.count_time == 0, TIMER_RESOLUTION / 2, data.count_time)
        variance = np.full_like(norm, TIMER_RESOLUTION**2 / 12)
    else:
        counts, variance = {
            "monitor": (data.monitor, data.monitor_variance),
            "roi": (data.roi, data.roi),
        }[base]
        norm = np.where(counts == 0, 1.0, counts)
        variance = np.where(variance == 0, 1.0, variance)
    v, dv = ratio(data.v, data.dv, norm, np.sqrt(variance))
    return replace(data, v=v, dv=dv, normbase=base)


@module(light=True)
def rescale(data, scale=1.0, dscale=0.0):
    """
    Multiply each data set :math:`k` of the bundle by its factor :math:`s_k`, known to
    :math:`\\pm\\sigma_{s_k}`: :math:`v' = s_k v`,
    :math:`\\sigma_{v'}^2 = (s_k\\,\\sigma_v)^2 + (v\\,\\sigma_{s_k})^2`. ``scale`` and
    ``dscale`` hold one value for each data set, in the bundle's order (as reductus pairs
    its ``scale*`` and ``dscale*``), or one value for all of them; empty: 1 and 0 for all.

    **Inputs**

    data (refldata[]) : data sets

    scale (float[]) : the factors, one per data set or one for all [1.0]

    dscale (float[]) : their 1-σ uncertainties, one per data set or one for all [0.0]

    **Returns**

    output (refldata[]) : scaled data sets

    Author: Beamtime team
    Version: 2026-12-07.1
    """
    scales = _per_data_set("scale", scale, len(data), 1.0)
    uncertainties = _per_data_set("dscale", dscale, len(data), 0.0)
    if any(u < 0 for u in uncertainties):
        raise ParameterError("dscale", "an uncertainty cannot be negative")
    scaled = []
    for item, s, ds in zip(data, scales, uncertainties, strict=True):
        v, dv = product(item.v, item.dv, s, ds)
        scaled.append(replace(item, v=v, dv=dv))
    return scaled


def _per_data_set(name: str, values, count: int, default: float) -> list[float]:
    """One value per data set: as given, the one value repeated, or ``default`` for none."""
    values = list(values) if isinstance(values, list | tuple) else [values]
    if not values:
        return [default] * count
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise ParameterError(
            name, f"{len(values)} values for {count} data sets: give one, or one per data set"
        )
    return values


@module(light=True)
def angular_resolution(
    data,
    distance1=None,
    distance2=None,
    wavelength_spread=None,
    sample_width=None,
):
    """
    The resolution of Qz (reductus' *divergence*; its sample broadening is the step *sample
    broadening* here): the angular divergence through slits 1 and 2,
    :math:`\\Delta\\theta = \\tfrac12 (s_1 + s_2)/|d_1 - d_2|` (FWHM); a sample of width
    :math:`w` narrower than the beam acts as a slit of opening :math:`p = w|\\sin T_i|` at
    the sample, and then :math:`\\Delta\\theta = \\min(\\tfrac12 (s_1 + s_2)/|d_1 - d_2|,
    \\tfrac12 (s_1 + p)/d_1, \\tfrac12 (s_2 + p)/d_2)` (not for direct-beam scans, as
    reductus). With the wavelength spread, combined as
    :math:`\\sigma_Q = \\frac{4\\pi}{\\lambda}\\sqrt{(\\sin\\theta\\,\\sigma_\\lambda/\\lambda)^2
    + (\\cos\\theta\\,\\sigma_\\theta)^2}`.
    The distances :math:`d_1, d_2` and the 1-σ spread :math:`\\sigma_\\lambda` are the
    file's (NeXus ``instrument/presample_slit1/distance``, ``presample_slit2/distance``,
    ``monochromator/wavelength_error``, as reductus reads them; the loader computes the
    resolution so) unless given here; where the file has none, reductus' fallbacks:
    2000 and 1000 mm, :math:`\\Delta\\lambda/\\lambda` = 1.5 % FWHM (the PBR files hold none).

    **Inputs**

    data (refldata) : data

    distance1 (float:mm) : slit 1 to sample; empty: the file's, else 2000 mm

    distance2 (float:mm) : slit 2 to sample; empty: the file's, else 1000 mm

    wavelength_spread (float:FWHM, fraction of λ) : dλ/λ; empty: the file's spread, else
        0.015

    sample_width (float:mm) : the sample's length along the beam, when it acts as a slit;
        empty: a sample wider than the beam

    **Returns**

    output (refldata) : data with their angular and wavelength resolution

    Author: Beamtime team
    Version: 2026-12-07.1
    """
    distance1, distance2 = distance_pair(data, distance1, distance2)
    if distance1 == distance2:
        raise ParameterError("distance2", "the slits cannot be at the same distance")
    if wavelength_spread is not None and not 0 <= wavelength_spread < 1:
        raise ParameterError("wavelength_spread", "must be a fraction between 0 and 1")
    if wavelength_spread is not None:
        dL = wavelength_spread * data.wavelength * FWHM_TO_SIGMA
    else:
        dL = wavelength_sigma(data.wavelength, data.wavelength_error)
    if sample_width is not None and sample_width <= 0:
        raise ParameterError("sample_width", "must be positive")
    if data.intent == "intensity":
        sample_width = None
    return replace(
        data,
        dT=divergence(data.slit1, data.slit2, distance1, distance2, sample_width, data.Ti),
        dL=dL,
    )


@module
def divergence_fb(data, distance1=None, distance2=None, distance3=None, distance4=None):
    """
    The angular resolution from all four slits, before (1, 2) and after (3, 4) the sample:
    each pair of slits :math:`i, j` of openings :math:`s_i, s_j` a distance :math:`L` apart
    passes a trapezoidal spread of angles, of half-widths
    :math:`w = \\arctan\\frac{s_i + s_j}{2L}` and :math:`t = \\arctan\\frac{|s_i - s_j|}{2L}`,
    whose 1-σ width is :math:`\\sqrt{(w^2 + t^2)/6}`; the narrowest pair decides. The
    distances are the file's (NeXus ``instrument/presample_slit1/distance``, ``presample_slit2``,
    ``predetector_slit1``, ``predetector_slit2``, signed as the file has them, as reductus
    reads them) unless given here; where the file has none, reductus' fallbacks 2000 and
    1000 mm for slits 1 and 2, and slits 3 and 4 are left out (the PBR files hold none).
    reductus 1.0.1 takes a sample width here but does not use it.

    **Inputs**

    data (refldata) : data

    distance1 (float:mm) : slit 1 to sample; empty: the file's, else 2000 mm

    distance2 (float:mm) : slit 2 to sample; empty: the file's, else 1000 mm

    distance3 (float:mm) : sample to slit 3 (towards the detector); empty: the file's, else
        left out

    distance4 (float:mm) : sample to slit 4; empty: the file's, else left out

    **Returns**

    output (refldata) : data with the angular resolution of the narrowest pair of slits

    Author: Beamtime team
    Version: 2026-12-07.1
    """
    slits = []
    for number, given in enumerate((distance1, distance2, distance3, distance4), start=1):
        position = slit_distance(data, number, given)
        if position is not None:
            slits.append((getattr(data, f"slit{number}"), position))
    widths = []
    for i, (si, xi) in enumerate(slits):
        for sj, xj in slits[i + 1 :]:
            if xi == xj:
                raise ParameterError("distance2", "two slits cannot be at the same place")
            w = np.arctan(np.abs((si + sj) / (2 * (xi - xj))))
            t = np.arctan(np.abs((si - sj) / (2 * (xi - xj))))
            widths.append(np.sqrt((w**2 + t**2) / 6))
    return replace(data, dT=np.degrees(np.min(widths, axis=0)))


@module(light=True)
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


@module(light=True)
def average_flux(data, base, beam_height=25.0):
    """
    The neutrons that reached the sample while each data set was counted, from the direct
    beam measured through the same slits (normalized by time, so counts per second),
    interpolated against the angular resolution as in *divide intensity*. For each point
    :math:`i` counted for :math:`t_i` with the beam's rate :math:`S_i` there:
    :math:`N_i = t_i S_i`, :math:`\\sigma_{N_i}^2 = t_i^2\\sigma_{S_i}^2 + S_i^2\\sigma_t^2`
    (the counter's 1 ms step, :math:`\\sigma_t^2 = \\Delta^2/12`); the beam's area is
    :math:`a_i = s_{2,i} h` (slit 2's opening times the beam's height). A data set's number
    incident is :math:`\\sum N_i`, its average flux :math:`F = \\sum (N_i/a_i) / \\sum t_i`
    with :math:`\\sigma_F^2 = (\\sum \\sigma_{N_i}^2/a_i^2 + F^2 \\sum\\sigma_t^2) /
    (\\sum t_i)^2`; all data sets together alike. (reductus' *average flux* takes a 1 µs
    timer step there: the uncertainties differ by that share.)

    **Inputs**

    data (refldata[]) : specular, background or subtracted data

    base (refldata) : the direct beam (intensity), normalized by time

    beam_height (float:mm) : the beam's height at the sample [25.0]

    **Returns**

    flux (flux) : the number incident and the average flux of each data set, and of all

    Author: Beamtime team
    Version: 2026-12-07
    """
    if base.normbase != "time":
        raise ParameterError("base", f"normalize the direct beam by time, not {base.normbase}")
    if beam_height <= 0:
        raise ParameterError("beam_height", "must be positive")
    dt = TIMER_RESOLUTION / np.sqrt(12)
    sums = {name: [] for name in ("number", "varnumber", "A", "varA", "time", "vartime")}
    for item in data:
        rate, drate = interpolate(item.dT, base.dT, base.v, base.dv)
        n, dn = product(item.count_time, dt, rate, drate)
        area = item.slit2 * beam_height / 100  # mm² → cm²
        for name, value in (
            ("number", n),
            ("varnumber", dn**2),
            ("A", n / area),
            ("varA", (dn / area) ** 2),
            ("time", item.count_time),
            ("vartime", np.full(len(item), dt**2)),
        ):
            sums[name].append(np.sum(value))
    sums = {name: np.array(values) for name, values in sums.items()}
    flux, dflux = ratio(sums["A"], np.sqrt(sums["varA"]), sums["time"], np.sqrt(sums["vartime"]))
    total, dtotal = ratio(
        sums["A"].sum(),
        np.sqrt(sums["varA"].sum()),
        sums["time"].sum(),
        np.sqrt(sums["vartime"].sum()),
    )
    return FluxData(
        name=base.name,
        names=[item.name for item in data],
        number=sums["number"],
        dnumber=np.sqrt(sums["varnumber"]),
        flux=flux,
        dflux=dflux,
        time=sums["time"],
        dtime=np.sqrt(sums["vartime"]),
        total={
            "flux": float(total),
            "dflux": float(dtotal),
            "time": float(sums["time"].sum()),
            "dtime": float(np.sqrt(sums["vartime"].sum())),
        },
    )
