"""Corrections of the raw counts: the dead time of the detector and the monitor, from given
dead-time constants, and the detector's dark current.

A counter that is busy for a time after each event loses events. With a non-paralyzing
dead time :math:`\\tau_{NP}` and a paralyzing one :math:`\\tau_P` (the hybrid model reductus
uses), an incident rate :math:`I` is observed as
:math:`R = I\\,e^{-I\\tau_P}/(1 + I\\tau_{NP})`; the correction solves this for :math:`I`.
"""

from dataclasses import replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl import deadtimedata
from beamtime.reduction.instruments.refl.deadtimedata import DeadTimeFit, FitFailed
from beamtime.reduction.instruments.refl.numerics import difference
from beamtime.reduction.instruments.refl.registry import module

MICROSECOND = 1e-6


def observed_rate(incident, n, p):
    """R(I) of the hybrid model; n, p the dead times in seconds."""
    return incident * np.exp(-incident * p) / (1 + incident * n)


def incident_rate(rate, drate, n: float, p: float):
    """I and its uncertainty for observed rates R ± dR, below the peak of R(I).

    Non-paralyzing only: :math:`I = R/(1 - R\\tau_{NP})`, :math:`\\sigma_I = \\sigma_R/(1 -
    R\\tau_{NP})^2`. Otherwise Newton's method from :math:`I = R` (bisection near the peak
    observed rate, where the slope vanishes; the peak for rates beyond it), and
    :math:`\\sigma_I = (I/R)\\,\\sigma_R` (:math:`\\sigma_R` at :math:`R = 0`)."""
    rate, drate = np.asarray(rate, dtype=float), np.asarray(drate, dtype=float)
    if p == 0:
        loss = 1 - rate * n
        return rate / loss, drate / loss**2
    peak = 1 / p if n <= 0 else 0.5 * (np.sqrt(4 * n / p + 1) - 1) / n
    peak_rate = observed_rate(peak, n, p)
    incident = rate.copy()
    with np.errstate(all="ignore"):
        for _ in range(50):
            slope = (
                np.exp(-incident * p) / (1 + incident * n) * (1 / (1 + incident * n) - incident * p)
            )
            step = (observed_rate(incident, n, p) - rate) / slope
            incident = incident - step
            if np.all(np.abs(step) <= 1e-14 * np.abs(incident)):
                break
        near = rate > 0.9 * peak_rate
        incident[near] = [_bisect(r, peak, peak_rate, n, p) for r in rate[near]]
        # dI/dR → 1 as R → 0: a point without counts keeps its uncertainty (reductus: NaN)
        gain = np.where(rate == 0, 1.0, incident / np.where(rate == 0, 1.0, rate))
        return incident, gain * drate


def _bisect(rate: float, peak: float, peak_rate: float, n: float, p: float) -> float:
    if rate >= peak_rate:
        return peak
    low, high = rate, peak
    for _ in range(200):
        middle = 0.5 * (low + high)
        if observed_rate(middle, n, p) < rate:
            low = middle
        else:
            high = middle
        if high - low <= 1e-15 * high:
            break
    return 0.5 * (low + high)


def _constants(nonparalyzing: float, paralyzing: float) -> tuple[float, float]:
    for name, value in (("nonparalyzing", nonparalyzing), ("paralyzing", paralyzing)):
        if value < 0:
            raise ParameterError(name, "a dead time cannot be negative")
    return nonparalyzing * MICROSECOND, paralyzing * MICROSECOND


def _raw(data, parameter: str):
    if data.normbase != "counts":
        raise ParameterError(parameter, f"correct the counts before normalizing ({data.normbase})")


@module
def fit_dead_time(data, source="detector", mode="auto"):
    """
    Fit the dead-time constants of the detector (or the monitor) to the same series of
    beam intensities (e.g. slit openings) measured through attenuators and without: wire
    the attenuated scans first and the unattenuated one last, each with the same points.
    The unknowns are :math:`\\tau_{NP}`, :math:`\\tau_P`, each attenuator's transmission
    :math:`A_j` and the incident rate :math:`I_k` of each point; the observed rates
    :math:`C/t \\pm \\sqrt{C}/t` are fitted by :math:`R(A_j I_k)` and :math:`R(I_k)` with
    :math:`R(I) = I\\,e^{-I\\tau_P}/(1 + I\\tau_{NP})` (weighted least squares,
    Levenberg–Marquardt, uncertainties scaled by :math:`\\chi^2` per degree of freedom).
    *NP* holds :math:`\\tau_P = 0`, *P* holds :math:`\\tau_{NP} = 0`, *mixed* fits both;
    *auto* fits all three and keeps the better single constant unless the second lowers
    :math:`\\chi^2` significantly (F test at 5 %). Wire the result to *detector dead time*
    (or *monitor dead time*). (reductus 1.0.1's *P* holds :math:`\\tau_{NP}` at its
    starting guess instead of 0, and its dead-time steps fail on a wired fit.)

    **Inputs**

    data (refldata[]) : raw counts: attenuated scans, then the unattenuated one

    source (opt:detector|monitor) : which counter's dead time [detector]

    mode (opt:P|NP|mixed|auto) : which constants to fit [auto]

    **Returns**

    dead_time (deadtime) : the dead-time constants, the attenuations and incident rates

    Author: Beamtime team
    Version: 2026-12-07
    """
    if len(data) < 2:
        raise ParameterError("data", "wire at least one attenuated scan and the unattenuated one")
    points = len(data[-1])
    for item in data:
        _raw(item, "data")
        if len(item) != points:
            raise ParameterError(
                "data", f"{item.name} has {len(item)} points, {data[-1].name} {points}"
            )
    counts = [d.v if source == "detector" else d.monitor for d in data]
    if any(np.any(c <= 0) for c in counts) or any(np.any(d.count_time <= 0) for d in data):
        raise ParameterError("data", f"every point needs {source} counts and a counting time")
    if len(data) * points <= points + len(data) + 1:
        raise ParameterError("data", "too few points for the unknowns: measure more settings")
    try:
        series = [(c, d.count_time) for c, d in zip(counts, data, strict=True)]
        fitted = deadtimedata.fit(series, mode)
    except FitFailed as exc:
        raise ParameterError("mode", f"the dead-time fit does not converge ({exc})") from None
    A, dA = fitted["A"]
    rates, drates = fitted["incident"]
    return DeadTimeFit(
        name=data[-1].name,
        source=source,
        mode=fitted["mode"],
        tau_NP=float(fitted["tau_NP"][0]),
        dtau_NP=float(fitted["tau_NP"][1]),
        tau_P=float(fitted["tau_P"][0]),
        dtau_P=float(fitted["tau_P"][1]),
        attenuation=(1 / A).tolist(),
        dattenuation=(dA / A**2).tolist(),
        incident=rates.tolist(),
        dincident=drates.tolist(),
        observed=(counts[-1] / data[-1].count_time).tolist(),
    )


def _chosen(
    dead_time, nonparalyzing: float, paralyzing: float, in_file: tuple[float, float]
) -> tuple[float, float]:
    """The constants given, else the fitted ones wired, else the file's (``in_file``, µs;
    NaN where it has none), else zero (all in seconds), in reductus' order."""
    n, p = _constants(nonparalyzing, paralyzing)
    if n == 0 and p == 0 and dead_time is not None:
        return dead_time.tau_NP * MICROSECOND, dead_time.tau_P * MICROSECOND
    if n == 0 and p == 0 and np.all(np.isfinite(in_file)):
        return in_file[0] * MICROSECOND, in_file[1] * MICROSECOND
    return n, p


@module(light=True)
def detector_dead_time(data, dead_time=None, /, nonparalyzing=0.0, paralyzing=0.0):
    """
    Correct the detector counts for its dead time: with :math:`t` the counting time, the
    observed rate :math:`R = C/t` becomes the incident rate :math:`I` of the hybrid model
    :math:`R = I\\,e^{-I\\tau_P}/(1 + I\\tau_{NP})`, and :math:`C' = I t`. Non-paralyzing
    only: :math:`I = R/(1 - R\\tau_{NP})`, :math:`\\sigma_I = \\sigma_R/(1 - R\\tau_{NP})^2`;
    with a paralyzing part the equation is solved numerically and
    :math:`\\sigma_I = (I/R)\\,\\sigma_R`. The constants are the ones given here, else a
    wired *fit dead time*'s, else the file's (NeXus ``instrument/single_detector/dead_time``
    in µs: :math:`\\tau_{NP}`, or :math:`\\tau_{NP}, \\tau_P`), as reductus chooses them; the
    NICE PBR files hold none: give them, or wire a fit.

    **Inputs**

    data (refldata) : raw counts

    dead_time (deadtime?) : the fitted dead times, if any

    nonparalyzing (float:µs) : the non-paralyzing dead time :math:`\\tau_{NP}` [0.0]

    paralyzing (float:µs) : the paralyzing dead time :math:`\\tau_P` [0.0]

    **Returns**

    output (refldata) : counts corrected for the detector's dead time

    Author: Beamtime team
    Version: 2026-12-07.3
    """
    n, p = _chosen(
        dead_time, nonparalyzing, paralyzing, (data.detector_tau_NP, data.detector_tau_P)
    )
    if n == 0 and p == 0:
        raise ParameterError("nonparalyzing", "the files hold no dead time: give one")
    _raw(data, "nonparalyzing")
    t = data.count_time
    incident, error = incident_rate(data.v / t, data.dv / t, n, p)
    return replace(data, v=incident * t, dv=error * t)


@module(light=True)
def monitor_dead_time(data, dead_time=None, /, nonparalyzing=0.0, paralyzing=0.0):
    """
    Correct the monitor counts for the monitor's dead time, as *detector dead time* does the
    detector's: :math:`M' = I t` with :math:`I` the incident rate for the observed rate
    :math:`M/t`, and its variance :math:`(\\sigma_I t)^2` for normalizing. The constants are
    the ones given here, else a wired *fit dead time*'s, else the file's (NeXus
    ``control/monitor/dead_time`` in µs: :math:`\\tau_{NP}`, or :math:`\\tau_{NP}, \\tau_P`),
    as reductus chooses them; with none of these (the NICE PBR files hold none) the data
    pass unchanged, as in reductus.

    **Inputs**

    data (refldata) : raw counts

    dead_time (deadtime?) : the fitted dead times, if any

    nonparalyzing (float:µs) : the non-paralyzing dead time :math:`\\tau_{NP}` [0.0]

    paralyzing (float:µs) : the paralyzing dead time :math:`\\tau_P` [0.0]

    **Returns**

    output (refldata) : data whose monitor counts are corrected for its dead time

    Author: Beamtime team
    Version: 2026-12-07.3
    """
    n, p = _chosen(dead_time, nonparalyzing, paralyzing, (data.monitor_tau_NP, data.monitor_tau_P))
    if n == 0 and p == 0:
        return data
    _raw(data, "nonparalyzing")
    t = data.count_time
    rate, drate = data.monitor / t, np.sqrt(data.monitor_variance) / t
    incident, error = incident_rate(rate, drate, n, p)
    return replace(data, monitor=incident * t, monitor_variance=(error * t) ** 2)


@module(light=True)
def dark_current(data, poly_coeff=(0.0,), poly_cov=()):
    """
    Subtract the dark current: spurious counts at a rate (per minute) that is a polynomial
    in the slit 1 opening, :math:`r(s_1) = \\sum_k c_k s_1^{N-k}`, over the counting time
    :math:`t`: :math:`D = \\max(0, r\\,t/60)`, :math:`C' = \\max(0, C - D)`,
    :math:`\\sigma_{C'}^2 = \\sigma_C^2 + \\sigma_D^2` with
    :math:`\\sigma_D^2 = (t/60)^2 J^T \\Sigma J`, :math:`J = (s_1^{N-1}, \\dots, 1)` and
    :math:`\\Sigma` the coefficients' covariance (none given: no uncertainty added).

    **Inputs**

    data (refldata) : raw counts

    poly_coeff (float[]:counts/min/mm^k) : the coefficients, highest power first [0.0]

    poly_cov (float[]) : their covariance matrix, flattened (N² values), or none []

    **Returns**

    output (refldata) : counts less the dark counts

    darkcurrent (refldata) : the dark counts subtracted

    Author: Beamtime team
    Version: 2026-12-07
    """
    _raw(data, "poly_coeff")
    order = len(poly_coeff)
    if order == 0:
        raise ParameterError("poly_coeff", "give at least one coefficient")
    if poly_cov and len(poly_cov) != order**2:
        raise ParameterError("poly_cov", f"needs {order**2} values for {order} coefficients")
    minutes = data.count_time / 60
    rate = np.polyval(poly_coeff, data.slit1)
    variance = np.zeros_like(rate)
    if poly_cov:
        covariance = np.reshape(poly_cov, (order, order))
        jacobian = data.slit1[:, None] ** np.arange(order)[::-1]
        variance = np.einsum("pi,ij,pj->p", jacobian, covariance, jacobian)
    dark, ddark = np.maximum(rate * minutes, 0.0), np.sqrt(np.maximum(variance, 0)) * minutes
    counts, dcounts = difference(data.v, data.dv, dark, ddark)
    corrected = replace(data, v=np.maximum(counts, 0.0), dv=dcounts)
    return corrected, replace(data, v=dark, dv=ddark)
