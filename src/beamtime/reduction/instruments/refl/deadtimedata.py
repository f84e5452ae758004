"""The fitted dead-time data type, and the fit: dead-time constants of the hybrid model
:math:`R = I\\,e^{-I\\tau_P}/(1 + I\\tau_{NP})` from one series of count rates measured
without attenuator and the same series through one or more attenuators.

Unknowns: :math:`\\tau_{NP}`, :math:`\\tau_P` (µs), each attenuator's transmission
:math:`A_j` and the incident rate :math:`I_k` at each point; the observed rates are
:math:`R(A_j I_k)` and :math:`R(I_k)`. Weighted least squares (Levenberg–Marquardt, weights
:math:`1/\\sigma_R^2` with :math:`\\sigma_R = \\sqrt{C}/t`), uncertainties from the
covariance scaled by :math:`\\chi^2` per degree of freedom.
"""

import warnings
from dataclasses import dataclass

import numpy as np

MICROSECOND = 1e-6
MODES = ("P", "NP", "mixed", "auto")


@dataclass(eq=False)
class DeadTimeFit:
    name: str
    source: str  # "detector" or "monitor"
    mode: str  # the model kept: "P", "NP" or "mixed"
    tau_NP: float  # µs
    dtau_NP: float
    tau_P: float
    dtau_P: float
    attenuation: list  # 1/A_j: how much each attenuator divides the beam
    dattenuation: list
    incident: list  # I_k, counts/s
    dincident: list
    observed: list  # the unattenuated rates C/t, counts/s

    def display(self) -> dict:
        return {
            "name": f"{self.name} τNP = {self.tau_NP:.4g} µs, τP = {self.tau_P:.4g} µs",
            "xlabel": "incident rate (counts/s)",
            "ylabel": f"observed rate of the {self.source} (counts/s)",
            "x": self.incident,
            "y": self.observed,
            "dy": [0.0] * len(self.observed),
        }

    def columns(self) -> dict:
        return {
            name: np.array([getattr(self, name)])
            for name in ("tau_NP", "dtau_NP", "tau_P", "dtau_P")
        }

    def metadata(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "mode": self.mode,
            "attenuation": self.attenuation,
            "dattenuation": self.dattenuation,
        }


class FitFailed(ValueError):
    """The least-squares fit found no minimum."""


def observed(incident, tau_np: float, tau_p: float):
    """R(I) of the hybrid model, dead times in µs."""
    n, p = tau_np * MICROSECOND, tau_p * MICROSECOND
    return incident * np.exp(-incident * p) / (1 + incident * n)


def fit(series: list[tuple[np.ndarray, np.ndarray]], mode: str) -> dict:
    """series: (counts, time) per data set, the unattenuated last, aligned point by point.
    Returns tau_NP, tau_P, attenuators A and incident rates, each with its uncertainty, and
    the mode kept."""
    # scipy here only: it is most of the refl steps' import time, and only this fit needs it
    from scipy import optimize, stats

    rates = [c / t for c, t in series]
    y = np.concatenate(rates)
    dy = np.concatenate([np.sqrt(c) / t for c, t in series])
    open_beam, attenuated = rates[-1], rates[:-1]
    # Start: each attenuator from the first point; τ_NP from the brightest point, where the
    # unattenuated R1 and the first attenuator's R2 give 1/R1 − (R1 + R2)/(R1 R2 (1/A − 1)).
    A = np.array([a[0] / open_beam[0] for a in attenuated])
    k = int(np.argmax(open_beam))
    r1, r2 = open_beam[k], attenuated[0][k]
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = (1 / r1 - (r1 + r2) / (r1 * r2 * (1 / A[0] - 1))) / MICROSECOND
    if not (np.all(np.isfinite(A)) and np.isfinite(tau)):
        raise FitFailed("the scans are alike: no attenuation to fit")
    start = np.concatenate(([tau, 0.0], A, attenuated[0] / A[0]))
    m = len(attenuated)

    def model(params):
        if np.any(params < 0):
            return 1000 * y  # far off: the fit backs away from negative values
        incident = params[2 + m :]
        beams = [incident * a for a in params[2 : 2 + m]] + [incident]
        return observed(np.concatenate(beams), params[0], params[1])

    def solve(initial, held):
        """Minimize with the parameters ``held`` kept at their initial values."""
        free = np.ones(len(initial), dtype=bool)
        free[list(held)] = False
        full = initial.copy()

        def cost(_x, *values):
            full[free] = values
            return model(full)

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an undetermined covariance: checked below
                x = np.arange(len(y))
                popt, pcov = optimize.curve_fit(cost, x, y, p0=initial[free], sigma=dy)
        except (RuntimeError, ValueError) as exc:
            raise FitFailed(str(exc)) from None
        result = initial.copy()
        result[free] = popt
        covariance = np.zeros((len(initial), len(initial)))
        covariance[np.ix_(free, free)] = pcov
        chisq = float(np.sum(((model(result) - y) / dy) ** 2))
        return result, covariance, chisq

    both = solve(start, ()) if mode in ("mixed", "auto") else None
    kept, chosen = both, "mixed"
    if mode in ("NP", "auto"):
        kept, chosen = solve(start, (1,)), "NP"
    if mode in ("P", "auto"):
        paralyzing = start.copy()
        paralyzing[:2] = 0.0, tau
        fitted = solve(paralyzing, (0,))
        if mode == "P" or fitted[2] < kept[2]:
            kept, chosen = fitted, "P"
    if mode == "auto":
        # Keep one time constant unless the second lowers χ² significantly (F test, 5 %).
        freedom = len(y) - len(start)
        F = (kept[2] - both[2]) / (both[2] / freedom)
        if stats.f.cdf(F, 1, freedom) >= 0.05:
            kept, chosen = both, "mixed"
    params, covariance, _ = kept
    errors = np.sqrt(np.diag(covariance))
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(errors))):
        raise FitFailed("the constants are undetermined")
    return {
        "mode": chosen,
        "tau_NP": (params[0], errors[0]),
        "tau_P": (params[1], errors[1]),
        "A": (params[2 : 2 + m], errors[2 : 2 + m]),
        "incident": (params[2 + m :], errors[2 + m :]),
    }
