"""Polarization: the efficiencies of the polarizers and flippers, estimated from the direct
beam measured in all four cross-sections, the correction of the data for them, and the spin
asymmetry.

The formalism is Majkrzak's (Physica B 221, 342 (1996)), as reductus implements it (see
poldata for the efficiencies and how their uncertainties are propagated).
"""

from dataclasses import replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.numerics import interpolate, nearest, propagate
from beamtime.reduction.instruments.refl.poldata import BEAM_XS, PolData
from beamtime.reduction.instruments.refl.registry import module

# How far the divergences of the beam's cross-sections may differ and still be the same
# slit setting: 5e-5° is 0.1 mm of slit at 2 m.
ALIGNED = 5e-5


@module
def estimate_polarization(data, FRbalance=50.0, Emin=0.0, Imin=0.0, clip=False):
    """
    Estimate the efficiencies of the polarizers and flippers from the direct beam measured
    in the four cross-sections :math:`I^{++}, I^{+-}, I^{-+}, I^{--}` at each slit setting
    (of the ++ scan; the others' nearest settings):
    :math:`I_c = (I^{--}I^{++} - I^{+-}I^{-+})/(I^{--} + I^{++} - I^{+-} - I^{-+})`,
    :math:`\\beta = I_c/2`; the product of the polarizer efficiencies
    :math:`FR = I^{--}/I_c - 1`, shared as :math:`F = (FR)^b`, :math:`R = FR/F` with the
    front/rear balance :math:`b`; the flippers through :math:`x = (I^{+-}/I_c - 1)/FR` and
    :math:`y = (I^{-+}/I_c - 1)/FR`, efficiencies :math:`(1 - x)/2` and :math:`(1 - y)/2`.
    With *clip*, :math:`I_c \\ge I_{min}`, :math:`E_{min}^2 \\le FR \\le 1` and
    :math:`-1 \\le x, y \\le 1 - 2E_{min}` are enforced (values moved to the limit keep
    their uncertainty); without, an efficiency outside [0, 1] beyond its uncertainty is an
    error. Uncertainties are propagated with their correlations.

    **Inputs**

    data (refldata[]) : the direct beam (slit scans) in the four cross-sections, normalized
        like the data

    FRbalance (float:%) : the share of the polarizers' inefficiency put on the front one,
        0 to 100 [50.0]

    Emin (float:%) : the least efficiency, for *clip* [0.0]

    Imin (float:counts/s) : the least beam intensity, for *clip* [0.0]

    clip (bool) : hold the efficiencies between Emin and 1 [False]

    **Returns**

    polarization (poldata) : the efficiencies at each slit setting

    Author: Beamtime team
    Version: 2026-12-07
    """
    if not 0 <= FRbalance <= 100:
        raise ParameterError("FRbalance", "must be between 0 and 100 %")
    if not 0 <= Emin <= 100:
        raise ParameterError("Emin", "must be between 0 and 100 %")
    if Imin < 0:
        raise ParameterError("Imin", "cannot be negative")
    beam = {d.polarization: d for d in data}
    missing = [xs for xs in BEAM_XS if xs not in beam]
    if missing:
        raise ParameterError("data", f"the direct beam lacks the cross-section {missing[0]}")
    if len({beam[xs].normbase for xs in BEAM_XS}) > 1:
        raise ParameterError("data", "the beam's cross-sections are normalized differently")
    dT = beam["++"].dT
    intensity, error = [], []
    for xs in BEAM_XS:
        index = nearest(dT, beam[xs].dT)
        if np.any(np.abs(dT - beam[xs].dT[index]) > ALIGNED):
            raise ParameterError("data", f"the {xs} beam was not measured at the ++ slits")
        intensity.append(beam[xs].v[index])
        error.append(beam[xs].dv[index])
    estimate = PolData(
        name=beam["++"].name,
        normbase=beam["++"].normbase,
        dT=dT,
        slit1=beam["++"].slit1,
        beam=np.array(intensity),
        dbeam=np.array(error),
        FRbalance=FRbalance / 100,
        Emin=Emin / 100,
        Imin=Imin,
        clip=clip,
    )
    if not clip:
        _check_physical(estimate)
    return estimate


EFFICIENCIES = {"fp": "front polarizer", "rp": "rear polarizer"}
EFFICIENCIES |= {"ff": "front flipper", "rf": "rear flipper"}


def _check_physical(estimate: PolData) -> None:
    """An efficiency outside [0, 1] (beyond its uncertainty) names itself and *clip*."""
    effs = estimate.efficiency_errors()
    for key, label in EFFICIENCIES.items():
        value, error = effs[key]
        outside = np.flatnonzero((value + error < 0) | (value - error > 1) | np.isnan(value))
        if len(outside):
            k = outside[0]
            raise ParameterError(
                "clip",
                f"the {label} efficiency is {value[k]:.4g} ± {error[k]:.2g} at slit 1 ="
                f" {estimate.slit1[k]:g} mm, outside [0, 1]: check the beam, or clip",
            )


def _matrix(eff: dict, parts: tuple) -> np.ndarray:
    """H·β for each slit setting: shape (K, n, n), n the number of cross-sections used."""
    fp, rp, x, y, beta = eff["fp"], eff["rp"], eff["x"], eff["y"], eff["beta"]
    Fp, Fm, Rp, Rm = 1 + fp, 1 - fp, 1 + rp, 1 - rp
    Fpx, Fmx, Rpy, Rmy = 1 + fp * x, 1 - fp * x, 1 + rp * y, 1 - rp * y
    rows = {
        "++": [Fmx * Rmy, Fmx * Rpy, Fpx * Rmy, Fpx * Rpy],
        "+-": [Fmx * Rm, Fmx * Rp, Fpx * Rm, Fpx * Rp],
        "-+": [Fm * Rmy, Fm * Rpy, Fp * Rmy, Fp * Rpy],
        "--": [Fm * Rm, Fm * Rp, Fp * Rm, Fp * Rp],
    }
    if len(parts) == 4:
        H = [rows[xs] for xs in parts]
    elif len(parts) == 3:  # one spin-flip cross-section stands for both
        H = [[r[0], r[1] + r[2], r[3]] for r in (rows[xs] for xs in parts)]
    else:
        H = [[rows[xs][0], rows[xs][3]] for xs in parts]
    H = np.array(H)  # (n, n, K)
    return np.moveaxis(H * beta, -1, 0)


@module
def correct_polarization(data, polarization, spinflip=True):
    """
    Correct the data for the polarizers and flippers, and divide by the beam: the measured
    cross-sections :math:`Y = (Y^{++}, Y^{+-}, Y^{-+}, Y^{--})` are
    :math:`Y = \\beta H R` of the true reflectivities :math:`R`, with
    :math:`H` made of :math:`1 \\pm F`, :math:`1 \\pm Fx`, :math:`1 \\pm R`,
    :math:`1 \\pm Ry` (Majkrzak), so :math:`R = (\\beta H)^{-1} Y` at each point, with the
    efficiencies of the slit setting nearest in angular resolution. The other
    cross-sections are interpolated in Qz onto the ++ points (points beyond their range
    are not corrected) and the result back onto each one's own points. Without spin-flip
    data (or with *spinflip* off) only ++ and −− are corrected (2×2); with one spin-flip
    cross-section it stands for both (3×3); with both, 4×4. Uncertainties: those of
    :math:`Y` through :math:`(\\beta H)^{-1}`, those of the beam through the derivatives of
    :math:`(\\beta H)^{-1}`.

    **Inputs**

    data (refldata[]) : the polarized data (at least ++ and −−), background subtracted

    polarization (poldata) : the efficiencies (*estimate polarization*)

    spinflip (bool) : correct the spin-flip cross-sections too, when present [True]

    **Returns**

    output (refldata[]) : polarization-corrected reflectivity

    Author: Beamtime team
    Version: 2026-12-07
    """
    pol = polarization
    by_xs = {d.polarization: d for d in data}
    for xs in ("++", "--"):
        if xs not in by_xs:
            raise ParameterError("data", f"no {xs} cross-section: are the data polarized?")
    for d in data:
        if d.normbase != pol.normbase:
            raise ParameterError(
                "polarization", f"the beam is by {pol.normbase}, {d.name} by {d.normbase}"
            )
    use_pm, use_mp = spinflip and "+-" in by_xs, spinflip and "-+" in by_xs
    parts = ("++",) + (("+-",) if use_pm else ()) + (("-+",) if use_mp else ()) + ("--",)
    base = by_xs["++"]
    q = base.Qz
    Y, dY = [base.v], [base.dv]
    for xs in parts[1:]:
        other = by_xs[xs]
        value, error = interpolate(q, other.Qz, other.v, other.dv, outside=np.nan)
        Y.append(value)
        dY.append(error)
    Y, dY = np.array(Y), np.array(dY)
    index = nearest(base.dT, pol.dT)  # each point's slit setting

    def correct(z):  # (βH)⁻¹Y at each point: z is the beam at its slit setting, then Y
        inverse = np.linalg.inv(_matrix(pol.efficiency(z[:4]), parts))  # (points, n, n)
        return np.einsum("pij,jp->ip", inverse, z[4:])

    with np.errstate(all="ignore"):
        inputs = np.vstack([pol.beam[:, index], Y]), np.vstack([pol.dbeam[:, index], dY])
        X, dX = propagate(correct, *inputs)
    corrected = {}
    for k, xs in enumerate(parts):
        own = by_xs[xs]
        value, error = interpolate(own.Qz, q, X[k], dX[k], outside=np.nan)
        corrected[xs] = replace(own, v=value, dv=error, normbase="reflectivity")
    return [corrected.get(d.polarization, d) for d in data]


@module(light=True)
def spin_asymmetry(data):
    """
    The spin asymmetry :math:`S = (R^{++} - R^{--})/(R^{++} + R^{--})`, point by point (as
    many points as the shorter has), with
    :math:`\\sigma_S^2 = ((2R^{--}\\sigma_{++})^2 + (2R^{++}\\sigma_{--})^2)/(R^{++} + R^{--})^4`
    (reductus 1.0.1 swaps :math:`\\sigma_{++}` and :math:`\\sigma_{--}` here). Of
    half-polarized data, :math:`(R^{+} - R^{-})/(R^{+} + R^{-})` likewise.

    **Inputs**

    data (refldata[]) : data with the ++ and −− cross-sections (or + and −)

    **Returns**

    output (refldata) : the spin asymmetry, on the −− (or −) points

    Author: Beamtime team
    Version: 2026-12-07.2
    """

    def first(signs: tuple[str, str]):  # the first of either, as reductus
        found = next((d for d in data if d.polarization in signs), None)
        if found is None:
            raise ParameterError("data", f"no {signs[1]} cross-section: are the data polarized?")
        return found

    mm, pp = first(("-", "--")), first(("+", "++"))
    n = min(len(mm), len(pp))
    m, dm, p, dp = mm.v[:n], mm.dv[:n], pp.v[:n], pp.dv[:n]
    with np.errstate(all="ignore"):
        value, error = propagate(lambda r: (r[0] - r[1]) / (r[0] + r[1]), [p, m], [dp, dm])
    out = mm.select(slice(0, n))
    return replace(out, v=value, dv=error, normbase="asymmetry")
