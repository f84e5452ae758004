"""Steps that correct the angles: a sample offset, the sense of the angles, and the angular
resolution a warped sample adds. Qz, Qx and dQ follow from the corrected angles."""

from dataclasses import replace

import numpy as np

from beamtime.reduction.instruments.refl.registry import module


@module(light=True)
def theta_offset(data, offset=0.0):
    """
    Correct a misaligned sample: the offset is added to the sample angle and taken from the
    detector angle, :math:`T_i' = T_i + \\delta`, :math:`T_d' = T_d - \\delta` (so the
    reflected angle :math:`T_d - T_i` changes by :math:`-2\\delta`).

    **Inputs**

    data (refldata) : data

    offset (float:°) : the offset :math:`\\delta` [0.0]

    **Returns**

    output (refldata) : data at the corrected angles

    Author: Beamtime team
    Version: 2026-12-07
    """
    return replace(data, Ti=data.Ti + offset, Td=data.Td - offset)


@module(light=True)
def back_reflection(data):
    """
    Reverse the sense of the angles, for reflection off the back of the sample (through
    the substrate): :math:`T_i' = -T_i`, :math:`T_d' = -T_d`.

    **Inputs**

    data (refldata) : data

    **Returns**

    output (refldata) : data at the reversed angles

    Author: Beamtime team
    Version: 2026-12-07
    """
    return replace(data, Ti=-data.Ti, Td=-data.Td)


@module(light=True)
def absolute_angle(data):
    """
    Take all reflection as off the top surface: at points where :math:`T_i < 0`, both
    angles change sign.

    **Inputs**

    data (refldata) : data

    **Returns**

    output (refldata) : data at non-negative sample angles

    Author: Beamtime team
    Version: 2026-12-07
    """
    sign = np.where(data.Ti < 0, -1.0, 1.0)
    return replace(data, Ti=sign * data.Ti, Td=sign * data.Td)


@module(light=True)
def sample_broadening(data, width=0.0):
    """
    Widen (or, negative, narrow) the angular resolution by what the sample adds, if the
    fitting program does not: :math:`\\Delta\\theta' = \\Delta\\theta + w` (1-σ). Estimate
    :math:`w` from the FWHM of a rocking curve beyond that of the bare beam, divided by
    2.35.

    **Inputs**

    data (refldata) : data with their angular resolution

    width (float:°) : the 1-σ broadening :math:`w` [0.0]

    **Returns**

    output (refldata) : data with the broader resolution

    Author: Beamtime team
    Version: 2026-12-07
    """
    return replace(data, dT=data.dT + width)
