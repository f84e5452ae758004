"""The polarization-efficiency data type: the direct beam in its four cross-sections at each
slit setting, and the efficiencies of the polarizers and flippers computed from it (Majkrzak,
Physica B 221, 342 (1996), as reductus implements it). Every efficiency at a slit setting
depends on the four beam intensities measured there; uncertainties are propagated to first
order with those correlations (numerics.propagate: derivatives by the complex step).
"""

import math
from dataclasses import dataclass

import numpy as np

from beamtime.reduction.instruments.refl.numerics import propagate

# Beam cross-sections in the order the efficiency formulas take them.
BEAM_XS = ("++", "+-", "-+", "--")


@dataclass(eq=False)
class PolData:
    """The direct beam in its four cross-sections at the ++ beam's slit settings, and the
    estimate's controls; the efficiencies are computed from them when asked."""

    name: str
    normbase: str
    dT: np.ndarray  # the ++ beam's angular resolution at each slit setting
    slit1: np.ndarray
    beam: np.ndarray  # (4, K): ++, +-, -+, -- intensities at each setting
    dbeam: np.ndarray
    FRbalance: float  # fraction, 0 to 1
    Emin: float  # fraction
    Imin: float
    clip: bool

    def __post_init__(self):
        for name in ("dT", "slit1", "beam", "dbeam"):
            setattr(self, name, np.array(getattr(self, name), dtype=float))

    def efficiency(self, beam=None) -> dict:
        """beta (half the beam intensity), fp and rp (front and rear polarizer), x and y
        (1 − 2·flipper efficiency), reject; ``beam`` may be complex (for derivatives)."""
        pp, pm, mp, mm = self.beam if beam is None else beam
        return _efficiency(pp, pm, mp, mm, self.FRbalance, self.Emin, self.Imin, self.clip)

    def efficiency_errors(self) -> dict:
        """Each efficiency and its 1-σ uncertainty, from the four beam intensities."""

        def efficiencies(beam):
            eff = self.efficiency(beam)
            ff, rf = (1 - eff["x"]) / 2, (1 - eff["y"]) / 2
            return {"beta": eff["beta"], "fp": eff["fp"], "rp": eff["rp"], "ff": ff, "rf": rf}

        return propagate(efficiencies, self.beam, self.dbeam)

    def display(self) -> list[dict]:
        effs = self.efficiency_errors()
        names = {"fp": "front polarizer", "rp": "rear polarizer"}
        names |= {"ff": "front flipper", "rf": "rear flipper"}
        return [
            {
                "name": f"{self.name} {label}",
                "xlabel": "slit 1 (mm)",
                "ylabel": "efficiency (%)",
                "x": _floats(self.slit1),
                "y": _floats(100 * effs[k][0]),
                "dy": _floats(100 * effs[k][1]),
            }
            for k, label in names.items()
        ]

    def columns(self) -> dict:
        effs = self.efficiency_errors()
        out = {"slit1": self.slit1, "dT": self.dT}
        for k, (value, error) in effs.items():
            out[k], out[f"d{k}"] = value, error
        return out

    def metadata(self) -> dict:
        return {
            "name": self.name,
            "FRbalance": self.FRbalance,
            "Emin": self.Emin,
            "Imin": self.Imin,
            "clip": self.clip,
        }


def _floats(values) -> list:
    return [v if math.isfinite(v) else None for v in np.asarray(values, dtype=float).tolist()]


def _clip(field, low: float, high: float):
    """Move values beyond [low, high] to the limit keeping their derivatives (reductus shifts
    the uncertain value); NaN becomes 0 with no derivative. Returns the field and the rejected
    points."""
    field = np.array(field)
    nan = np.isnan(field)
    field[nan] = 0
    below, above = field.real < low, field.real > high
    field[below] += low - field.real[below]
    field[above] -= field.real[above] - high
    return field, nan | below | above


def _efficiency(pp, pm, mp, mm, balance, emin, imin, clip):
    with np.errstate(all="ignore"):
        intensity = (mm * pp - pm * mp) / ((mm + pp) - (pm + mp))
        reject = np.zeros(np.shape(intensity), dtype=bool)
        if clip:
            intensity, rejected = _clip(intensity, imin, np.inf)
            reject |= rejected
        fr = mm / intensity - 1
        if clip:
            fr, rejected = _clip(fr, emin**2, 1)
            reject |= rejected
        fr = np.where(np.real(fr) < 0, np.nan, fr)  # no real power of a negative number
        fp = fr**balance
        rp = fr / fp
        x = (pm / intensity - 1) / fr
        y = (mp / intensity - 1) / fr
        if clip:
            x, rejected = _clip(x, -1, 1 - 2 * emin)
            reject |= rejected
            y, rejected = _clip(y, -1, 1 - 2 * emin)
            reject |= rejected
    return {"beta": intensity / 2, "fp": fp, "rp": rp, "x": x, "y": y, "reject": reject}
