"""Background subtraction, and backgrounds brought onto the specular points."""

from dataclasses import replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.numerics import difference, interpolate
from beamtime.reduction.instruments.refl.refldata import ARRAYS, matching
from beamtime.reduction.instruments.refl.registry import module


@module(light=True)
def subtract_background(data, backp=(), backm=(), /, align="none"):
    """
    Subtract the background measured beside the specular ridge, interpolated (linearly)
    onto the specular points' Qz. With both sides, their mean:
    :math:`R = I - (B^+ + B^-)/2`, :math:`\\sigma_R^2 = \\sigma_I^2 + (\\sigma_{B^+}^2 +
    \\sigma_{B^-}^2)/4`; with one side, :math:`R = I - B`. Beyond a background's range its
    end value holds. Each data set takes the background of its own polarization. With no
    background wired or none arriving (empty loaders), the data pass unchanged, as in reductus.

    The Qz a background point stands for (*align*): *none*, its own
    :math:`(2\\pi/\\lambda)(\\sin(T_d - T_i) + \\sin T_i)`; *sample*, the specular Qz of its
    sample angle, :math:`(4\\pi/\\lambda)\\sin T_i` (the background offset in the detector
    angle); *detector*, that of its detector angle, :math:`(4\\pi/\\lambda)\\sin(T_d/2)`;
    *auto*, the Qz NICE aimed at where the file says, else *sample* when
    :math:`T_i - T_d/2` is nearly constant (90 % of the points within 5 % of the median),
    *detector* when :math:`(T_d - 2T_i)/2T_i` is, *sample* otherwise (reductus 1.0.1 offers
    the same choices but drops the aligned background, so there they change nothing).

    **Inputs**

    data (refldata) : specular data

    backp (refldata[]?) : background+ (sample angle below the specular condition)

    backm (refldata[]?) : background− (sample angle above it)

    align (opt:none|sample|detector|auto) : the Qz of a background point [none]

    **Returns**

    output (refldata) : data less the background

    Author: Beamtime team
    Version: 2026-12-07.2
    """
    if not backp and not backm:
        return data
    sides = []
    for name, wired in (("backp", backp), ("backm", backm)):
        if wired:
            back = matching(data, wired, name)
            sides.append(interpolate(data.Qz, _ordinate(back, align), back.v, back.dv))
    b = sum(s[0] for s in sides) / len(sides)
    db = np.sqrt(sum(s[1] ** 2 for s in sides)) / len(sides)
    v, dv = difference(data.v, data.dv, b, db)
    return replace(data, v=v, dv=dv)


@module
def interpolate_background(data, backp=(), backm=(), /, align="auto"):
    """
    Bring the backgrounds onto the specular points: each background (of the data's
    polarization) is interpolated linearly, with its uncertainty
    (:math:`\\sigma^2 = p^2\\sigma_i^2 + (1-p)^2\\sigma_{i+1}^2`, its end values beyond its
    range), at the specular points' angle, and then stands at the specular condition:
    :math:`T_i` that angle, :math:`T_d = 2T_i`, the specular data's angular resolution
    (its other columns interpolated alike). The angle compared (*align*): *sample*,
    :math:`T_i` of both; *detector*, :math:`T_d/2` of both; *sample_target* and
    *detector_target* the same of the angles NICE aimed at; *auto* the angle the data's
    Qz is computed from (the loader's *Qz basis*: the detector angle for *detector*, the
    aimed sample angle for *target*, else the sample angle). A later *subtract
    background* then subtracts point by point. (reductus 1.0.1 returns the interpolated
    background+ as background− too.)

    **Inputs**

    data (refldata) : specular data

    backp (refldata[]?) : background+

    backm (refldata[]?) : background−

    align (opt:auto|sample|detector|sample_target|detector_target) : the angle that matches
        background to specular [auto]

    **Returns**

    output (refldata) : the specular data, unchanged

    outp (refldata[]) : background+ at the specular points (none if none wired)

    outm (refldata[]) : background− at the specular points (none if none wired)

    Author: Beamtime team
    Version: 2026-12-07.3
    """
    sides = []
    for name, wired in (("backp", backp), ("backm", backm)):
        sides.append([_onto(data, matching(data, wired, name), align)] if wired else [])
    return data, *sides


def _onto(data, back, align: str):
    """``back`` interpolated onto the points of ``data``, at the specular condition."""
    if align == "auto":  # the angle the data's Qz is computed from, as reductus
        align = {"detector": "detector", "target": "sample_target"}.get(data.Qz_basis, "sample")
    angle = {
        "detector": lambda d: d.Td / 2,
        "sample_target": lambda d: d.Ti_target,
        "detector_target": lambda d: d.Td_target / 2,
    }.get(align, lambda d: d.Ti)
    x, xp = angle(data), angle(back)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(xp))):
        raise ParameterError("align", f"{back.name} or {data.name} holds no {align} angles")
    v, dv = interpolate(x, xp, back.v, back.dv)
    order = np.argsort(xp, kind="stable")
    others = {
        name: np.interp(x, xp[order], getattr(back, name)[order])
        for name in ARRAYS
        if name not in ("v", "dv", "Ti", "Td", "dT", "Qz_target", "Ti_target", "Td_target")
    }
    at = {"Ti": x, "Td": 2 * x, "Ti_target": x, "Td_target": 2 * x}
    return replace(
        back, **others, **at, v=v, dv=dv, dT=data.dT, Qz_target=data.Qz_target, Qz_basis="actual"
    )


def _ordinate(back, align: str) -> np.ndarray:
    """The Qz each background point is subtracted at."""
    if align == "auto":
        if np.all(np.isfinite(back.Qz_target)):
            return back.Qz_target
        align = _guess_offset(back)
    k = 4 * np.pi / back.wavelength
    if align == "sample":
        return k * np.sin(np.radians(back.Ti))
    if align == "detector":
        return k * np.sin(np.radians(back.Td / 2))
    return back.Qz


def _guess_offset(back) -> str:
    """*sample* for an offset constant in angle, *detector* for one proportional to it."""
    doubled = np.where(2 * back.Ti == 0, 1e-5, 2 * back.Ti)
    if _mostly_constant(back.Ti - back.Td / 2):
        return "sample"
    if _mostly_constant((back.Td - doubled) / doubled):
        return "detector"
    return "sample"


def _mostly_constant(values: np.ndarray) -> bool:
    median = np.median(values)
    spread = abs(median) * 0.05
    outliers = np.sum((values < median - spread) | (values > median + spread))
    return outliers <= len(values) // 10
