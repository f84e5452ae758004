"""The background field of a thin liquid reservoir (the NIST liquid flow cell): fitted to
background scans (*fit background field*) and subtracted from specular data (*subtract
background field*), as reductus models it (D. P. Hoogerheide).

The reservoir, of extinction coefficient × thickness :math:`\\epsilon D`, scatters
incoherently into the detector; so does the cell material (:math:`\\epsilon_{Si}`) over the
footprint the detector sees. At incident angle :math:`\\alpha_i = T_i` and exit angle
:math:`\\alpha_f = T_d - T_i`, with :math:`A = e^{-\\epsilon D (1/\\sin\\alpha_i +
1/\\sin\\alpha_f)}`, the background per incident neutron is

.. math::

    B = s\\,\\Omega \\left[\\frac{1 - A}{1 + \\sin\\alpha_i/\\sin\\alpha_f}
        + \\epsilon_{Si} \\frac{F_d}{\\cos\\alpha_i} \\frac{1 + A}{2}\\right]

with :math:`F_d = \\min\\big(\\frac{s_3 L_{S3}}{L_{34}\\sin\\alpha_f}(s_4/s_3 + 1 +
L_{34}/L_{S3}),\\ F_{max}\\big)` the footprint seen through slits 3 and 4 (:math:`L_{34} =
L_{S4} - L_{S3}`), :math:`\\Omega = \\arctan\\frac{H_D}{L_{SD}}
\\arctan\\frac{s_4}{L_{S4}}/4\\pi` the detector's fractional solid angle and :math:`s` a
scale factor for the geometry.
"""

from dataclasses import replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.fielddata import BackgroundField
from beamtime.reduction.instruments.refl.numerics import difference
from beamtime.reduction.instruments.refl.refldata import slit_distance
from beamtime.reduction.instruments.refl.registry import module


class _Geometry:
    """Footprint and solid angle at each point of a data set."""

    def __init__(self, data, field):
        self.ai = np.radians(data.Ti)
        self.af = np.radians(data.Td - data.Ti)
        span = field.LS4 - field.LS3
        with np.errstate(divide="ignore", invalid="ignore"):
            footprint = (
                data.slit3
                * field.LS3
                / (span * np.sin(self.af))
                * (data.slit4 / data.slit3 + 1 + span / field.LS3)
            )
        self.footprint = np.minimum(footprint, field.maxF)
        self.solid_angle = (
            np.arctan(field.HD / (field.LS4 + field.L4D))
            * np.arctan(data.slit4 / field.LS4)
            / (4 * np.pi)
        )


def _model(g: _Geometry, epsD: float, scale: float, epssi: float):
    """The background and its derivatives by scale and by εD."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        path = 1 / np.sin(g.ai) + 1 / np.sin(g.af)
        A = np.exp(-epsD * path)
        ratio = 1 + np.sin(g.ai) / np.sin(g.af)
        cell = epssi * g.footprint / np.cos(g.ai)
        shape = (1 - A) / ratio + cell * (0.5 + 0.5 * A)
        d_epsD = scale * (path * A / ratio - cell * 0.5 * path * A)
    return scale * shape * g.solid_angle, shape * g.solid_angle, d_epsD * g.solid_angle


def _background(data, field: BackgroundField, epsD, scale, covariance):
    """The background at the points of ``data`` and its uncertainty from the fit's
    covariance of (scale, εD)."""
    value, d_scale, d_epsD = _model(_Geometry(data, field), epsD, scale, field.epssi)
    jacobian = np.array([d_scale, d_epsD])
    with np.errstate(invalid="ignore"):
        error = np.sqrt(np.einsum("ip,ij,jp->p", jacobian, covariance, jacobian))
    return value, error


@module
def fit_background_field(
    back,
    fit_scale=True,
    scale=1.0,
    epsD0=0.01,
    epssi=1.109e-4,
    LS3=None,
    LS4=None,
    LSD=1675.0,
    HD=150.0,
    maxF=76.2,
    Qcutoff=0.05,
):
    """
    Fit the background field of a thin liquid reservoir (the NIST liquid flow cell) to
    background scans, normalized by the incident beam, at any non-specular condition:
    the model of the module's help (reservoir :math:`\\epsilon D` and a geometry scale
    :math:`s`) by Levenberg–Marquardt least squares (weights :math:`1/\\sigma^2`) over the
    points whose target :math:`Q_z` (:math:`4\\pi\\sin T_i/\\lambda` where the file has
    none) exceeds ``Qcutoff`` and whose exit angle :math:`T_d - T_i` is positive. The
    covariance of (:math:`s, \\epsilon D`) is the unscaled inverse of
    :math:`J^T W J`; :math:`\\chi^2` per degree of freedom is reported. Without
    ``fit_scale`` the scale stays at ``scale``. The distances of slits 3 and 4 are the
    first background scan's file's (NeXus ``instrument/predetector_slit1/distance``,
    ``predetector_slit2/distance``, as reductus reads them) unless given here; where the
    file has none (the PBR files hold none), 380 and 1269 mm. (reductus 1.0.1 takes the
    file's even when they are given.) The detector distance comes from the control.

    **Inputs**

    back (refldata[]) : background scans, normalized

    fit_scale (bool) : fit the scale factor (when unsure of the geometry) [True]

    scale (float) : the scale factor, or its starting value when fitted [1.0]

    epsD0 (float) : starting value of εD, extinction coefficient × reservoir thickness [0.01]

    epssi (float:1/mm) : extinction coefficient of the cell material (silicon) [0.0001109]

    LS3 (float:mm) : sample to slit 3; empty: the file's, else 380 mm

    LS4 (float:mm) : sample to slit 4; empty: the file's, else 1269 mm

    LSD (float:mm) : sample to detector [1675.0]

    HD (float:mm) : detector height [150.0]

    maxF (float:mm) : the sample's length along the beam, the largest footprint [76.2]

    Qcutoff (float:1/Å) : points below this target Qz are not fitted [0.05]

    **Returns**

    fitparams (backgroundfield) : εD, the scale, their covariance and χ²

    fit (refldata[]) : the fitted background at the points of each scan

    Author: Beamtime team
    Version: 2026-12-07.1
    """
    if LS3 is None:  # the file's (never 0: the loader refuses it), else 380 mm
        LS3 = slit_distance(back[0], 3) or 380.0
    if LS4 is None:
        LS4 = slit_distance(back[0], 4) or 1269.0
    for name, value in (("LS3", LS3), ("LS4", LS4), ("HD", HD), ("maxF", maxF)):
        if value <= 0:
            raise ParameterError(name, "must be positive")
    if LS4 <= LS3 or LSD <= LS4:
        raise ParameterError("LS4", "slit 3, slit 4 and the detector must follow in that order")
    field = BackgroundField(
        back[0].name, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, epssi, LS3, LS4, LSD - LS4, HD, maxF, [], [], []
    )
    used, qz = [], []
    for b in back:
        target = b.Qz_target
        if np.all(np.isnan(target)):
            target = 4 * np.pi / b.wavelength * np.sin(np.radians(b.Ti))
        used.append((target > Qcutoff) & (b.Td - b.Ti > 0))
        qz.append(target)
    chosen = [b.select(keep) for b, keep in zip(back, used, strict=True)]
    if sum(len(c) for c in chosen) <= (2 if fit_scale else 1):
        raise ParameterError("Qcutoff", "too few background points above Qcutoff to fit")
    g = [_Geometry(c, field) for c in chosen]
    v = np.concatenate([c.v for c in chosen])
    dv = np.concatenate([c.dv for c in chosen])

    def parts(params):
        s, epsD = params if fit_scale else (scale, params[0])
        values, d_scale, d_epsD = zip(*(_model(x, epsD, s, epssi) for x in g), strict=True)
        return [np.concatenate(p) / dv for p in (values, d_scale, d_epsD)]

    def residuals(params):
        return parts(params)[0] - v / dv

    def jacobian(params):
        _, d_scale, d_epsD = parts(params)
        return np.array([d_scale, d_epsD]).T if fit_scale else d_epsD[:, None]

    from scipy import optimize  # here only: most of the refl steps' import time

    start = np.array([scale, epsD0] if fit_scale else [epsD0])
    found = optimize.leastsq(
        residuals, start, Dfun=jacobian, full_output=True, ftol=1e-15, xtol=1e-15
    )
    params, covariance = found[0], found[1]
    if covariance is None or not np.all(np.isfinite(params)):
        raise ParameterError("epsD0", "the background field fit does not converge")
    if not fit_scale:
        params = np.array([scale, params[0]])
        covariance = np.array([[0.0, 0.0], [0.0, covariance[0, 0]]])
    chisq = float(np.sum(residuals(params if fit_scale else params[1:]) ** 2)) / (
        len(v) - len(start)
    )
    field = replace(
        field,
        scale=float(params[0]),
        epsD=float(params[1]),
        scale_var=float(covariance[0, 0]),
        epsD_var=float(covariance[1, 1]),
        covariance=float(covariance[0, 1]),
        chisq=chisq,
        qz=np.concatenate([q[k] for q, k in zip(qz, used, strict=True)]).tolist(),
        measured=v.tolist(),
    )
    field.fitted = (parts(params if fit_scale else params[1:])[0] * dv).tolist()
    fits = []
    for b in back:
        value, error = _background(b, field, field.epsD, field.scale, covariance)
        fits.append(replace(b, v=value, dv=error))
    return field, fits


@module(light=True)
def subtract_background_field(
    data,
    bfparams,
    epsD=None,
    epsD_var=None,
    scale=None,
    scale_var=None,
    scale_epsD_covar=None,
):
    """
    Subtract the fitted background field of a liquid reservoir (see *fit background
    field*) from specular data normalized by the incident beam: :math:`R = I - B`,
    :math:`\\sigma_R^2 = \\sigma_I^2 + J^T C J` with :math:`J` the derivatives of
    :math:`B` by (:math:`s, \\epsilon D`) and :math:`C` their covariance. Any of the
    fitted numbers can be overridden here.

    **Inputs**

    data (refldata) : specular data, normalized

    bfparams (backgroundfield) : the fitted background field

    epsD (float) : εD; empty: the fitted one

    epsD_var (float) : its variance; empty: the fitted one

    scale (float) : the scale factor; empty: the fitted one

    scale_var (float) : its variance; empty: the fitted one

    scale_epsD_covar (float) : the covariance of scale and εD; empty: the fitted one

    **Returns**

    output (refldata) : data less the background field

    Author: Beamtime team
    Version: 2026-12-07
    """
    f = bfparams
    epsD = f.epsD if epsD is None else epsD
    scale = f.scale if scale is None else scale
    covar = f.covariance if scale_epsD_covar is None else scale_epsD_covar
    covariance = np.array(
        [
            [f.scale_var if scale_var is None else scale_var, covar],
            [covar, f.epsD_var if epsD_var is None else epsD_var],
        ]
    )
    value, error = _background(data, f, epsD, scale, covariance)
    v, dv = difference(data.v, data.dv, value, error)
    return replace(data, v=v, dv=dv)
