"""Background subtraction."""

from dataclasses import replace

import numpy as np

from beamtime.reduction.instruments.refl.numerics import difference, interpolate
from beamtime.reduction.instruments.refl.refldata import matching
from beamtime.reduction.instruments.refl.registry import module


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
            back = matching(data, wired, name)
            sides.append(interpolate(data.Qz, back.Qz, back.v, back.dv))
    b = sum(s[0] for s in sides) / len(sides)
    db = np.sqrt(sum(s[1] ** 2 for s in sides)) / len(sides)
    v, dv = difference(data.v, data.dv, b, db)
    return replace(data, v=v, dv=dv)
