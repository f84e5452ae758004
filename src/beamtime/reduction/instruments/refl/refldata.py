"""The reflectometry data type: one cross-section's points on their way from raw counts to
reflectivity, with the uncertainty of every value.

``v`` and ``dv`` are the value and its 1-σ uncertainty: detector counts straight from the
loader, counts per monitor (or per second) after normalization, reflectivity after dividing
by the direct beam. ``normbase`` says which. Angles are in degrees, slits in mm, wavelength
and its 1-σ spread ``dL`` in Å, the 1-σ angular resolution ``dT`` in degrees.
"""

import math
from dataclasses import dataclass, replace

import numpy as np

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.nexus import CONSTANTS, InstrumentConstants, ReflScan
from beamtime.reduction.instruments.refl.numerics import FWHM_TO_SIGMA, poisson_sigma

ARRAYS = (
    "Ti",
    "Td",
    "slit1",
    "slit2",
    "slit3",
    "slit4",
    "monitor",
    "count_time",
    "v",
    "dv",
    "dT",
    "monitor_variance",
    "roi",
    "Qz_target",
    "Ti_target",
    "Td_target",
    "slit1_target",
    "slit2_target",
)
# What a scan measures, with reductus' names ("intensity": a direct-beam slit scan): NICE's
# _scanType where it says, else inferred from the angles (infer_intent), or the user's choice.
INTENTS = (
    "specular",
    "background+",
    "background-",
    "intensity",
    "rock sample",
    "rock detector",
    "rock qx",
    "unknown",
)
NICE_INTENT = {
    "SPEC": "specular",
    "SLIT": "intensity",
    "BGP": "background+",
    "BGM": "background-",
    "ROCK": "rock sample",
}

# Slit 1 and slit 2 to sample, in mm, where the file does not say (the PBR files do not, see
# their README): reductus' fallbacks.
SLIT1_DISTANCE = 2000.0
SLIT2_DISTANCE = 1000.0
DEFAULT_DISTANCES = (SLIT1_DISTANCE, SLIT2_DISTANCE, None, None)
# The counters count time in steps of 1 ms.
TIMER_RESOLUTION = 0.001


# How Qz is computed from the angles (reductus' super_load Qz_basis).
QZ_BASES = ("actual", "detector", "sample", "target")


def q_components(ti, td, wavelength: float) -> tuple[np.ndarray, np.ndarray]:
    """(Qx, Qz) in 1/Å of incident angle ``ti`` and detector angle ``td`` (degrees):
    (2π/λ)(cos(Td − Ti) − cos Ti, sin(Td − Ti) + sin Ti)."""
    ti, td = np.radians(ti), np.radians(td)
    k = 2 * np.pi / wavelength
    return k * (np.cos(td - ti) - np.cos(ti)), k * (np.sin(td - ti) + np.sin(ti))


def slit_distance(data, number: int, given: float | None = None) -> float | None:
    """Slit ``number``'s distance from the sample in mm, signed as NICE writes it (negative
    before the sample): ``given`` (the step's control ``distance<number>``, a positive length)
    if given, else the file's, else reductus' fallback (2000 and 1000 mm before the sample;
    none for slits 3 and 4)."""
    sign = -1.0 if number <= 2 else 1.0
    if given is not None:
        if given <= 0:
            raise ParameterError(f"distance{number}", "must be positive")
        return sign * given
    found = getattr(data, f"distance{number}")
    if math.isfinite(found):
        return found
    default = DEFAULT_DISTANCES[number - 1]
    return None if default is None else sign * default


def distance_pair(data, distance1=None, distance2=None) -> tuple[float, float]:
    """|d₁|, |d₂| of slits 1 and 2 (see slit_distance), as reductus' divergence takes them."""
    return abs(slit_distance(data, 1, distance1)), abs(slit_distance(data, 2, distance2))


def divergence(
    slit1, slit2, distance1: float, distance2: float, sample_width=None, theta=None
) -> np.ndarray:
    """1-σ angular divergence in degrees of a beam through two slits: the FWHM is
    ½(s1 + s2)/|d1 − d2| radians. A sample of width w at angle θ is a slit of opening
    w·|sin θ| at the sample: then the narrowest of the three pairs counts."""
    s1, s2 = np.asarray(slit1), np.asarray(slit2)
    fwhm = 0.5 * (s1 + s2) / abs(distance1 - distance2)
    if sample_width is not None and np.isfinite(sample_width):
        sample = sample_width * np.abs(np.sin(np.radians(theta)))
        through_sample = np.minimum(
            0.5 * (s1 + sample) / abs(distance1), 0.5 * (s2 + sample) / abs(distance2)
        )
        fwhm = np.minimum(fwhm, through_sample)
    return np.degrees(fwhm * FWHM_TO_SIGMA)


@dataclass(eq=False)
class ReflData(InstrumentConstants):
    name: str
    polarization: str
    intent: str
    sample_name: str
    description: str
    start: str
    wavelength: float
    dL: float
    normbase: str  # "counts", "monitor", "time", "roi", "reflectivity" or "asymmetry"
    Ti: np.ndarray
    Td: np.ndarray
    slit1: np.ndarray
    slit2: np.ndarray
    slit3: np.ndarray
    slit4: np.ndarray
    monitor: np.ndarray
    count_time: np.ndarray
    v: np.ndarray
    dv: np.ndarray
    dT: np.ndarray
    # The monitor's variance: its counts until a dead-time correction; the detector's
    # region-of-interest counts as read (for normalizing by roi).
    monitor_variance: np.ndarray
    roi: np.ndarray
    Qz_target: np.ndarray  # the Qz the scan aimed at (NICE), NaN where unknown
    # the angles and slits NICE aimed at, NaN where unknown (join with zero tolerances)
    Ti_target: np.ndarray
    Td_target: np.ndarray
    slit1_target: np.ndarray
    slit2_target: np.ndarray
    # [rates, efficiencies]: the monitor's saturation curve, where the file has one
    monitor_saturation: list | None = None
    # what Qz is computed from (reductus' Qz_basis): see QZ_BASES and the Qz property
    Qz_basis: str = "actual"
    # the instrument's name as the file gives it, "" where it gives none (reductus'
    # data.instrument), and the radiation: every NICE NeXus file is of neutrons
    instrument: str = ""
    probe: str = "neutrons"

    def __post_init__(self):
        for name in ARRAYS:
            setattr(self, name, np.array(getattr(self, name), dtype=np.float64))
        for name in ARRAYS:
            if getattr(self, name).shape != self.v.shape or self.v.ndim != 1:
                raise ValueError(f"{name} must hold one value per point")
        self.wavelength, self.dL = float(self.wavelength), float(self.dL)
        super().__post_init__()

    def __len__(self):
        return len(self.v)

    @classmethod
    def from_scan(cls, scan: ReflScan, intent: str = "auto") -> "ReflData":
        """Raw counts with Poisson uncertainty (1 for a point with no counts), the angular
        resolution from slits 1 and 2 at the file's distances (else 2000 and 1000 mm, as
        reductus), the wavelength spread the file's (else 1.5 % FWHM). ``intent``: *auto* takes
        NICE's scan type where it names one (NICE's "BG" has no sign) and infers it from the
        angles otherwise, *infer* always infers it, anything else is taken as it is."""
        data = cls(
            name=scan.name,
            polarization=scan.polarization,
            intent=NICE_INTENT.get(scan.intent.upper(), "unknown"),
            sample_name=scan.sample_name,
            description=scan.description,
            start=scan.start,
            wavelength=scan.wavelength,
            dL=scan.wavelength_spread,
            normbase="counts",
            Ti=scan.sample_angle,
            Td=scan.detector_angle,
            slit1=scan.slit1,
            slit2=scan.slit2,
            slit3=scan.slit3,
            slit4=scan.slit4,
            monitor=scan.monitor,
            count_time=scan.count_time,
            v=scan.counts,
            dv=poisson_sigma(scan.counts),
            dT=divergence(scan.slit1, scan.slit2, *distance_pair(scan)),
            monitor_variance=scan.monitor,
            roi=scan.counts,
            Qz_target=scan.qz_target,
            Ti_target=scan.sample_angle_target,
            Td_target=scan.detector_angle_target,
            slit1_target=scan.slit1_target,
            slit2_target=scan.slit2_target,
            monitor_saturation=scan.monitor_saturation,
            **{name: getattr(scan, name) for name in CONSTANTS},
            instrument=scan.instrument,
        )
        return data.with_intent(intent)

    def with_intent(self, intent: str) -> "ReflData":
        """*auto*: the intent it has, inferred if unknown; *infer*: inferred; else ``intent``."""
        if intent == "infer" or (intent == "auto" and self.intent == "unknown"):
            intent = infer_intent(self)
        elif intent == "auto":
            intent = self.intent
        return replace(self, intent=intent)

    @property
    def Qz(self) -> np.ndarray:
        """In 1/Å, by ``Qz_basis``: *actual* (2π/λ)(sin(Td − Ti) + sin Ti); *detector*
        (4π/λ) sin(Td/2); *sample* (4π/λ) sin Ti; *target* the Qz NICE aimed at, or where
        the file names none, the actual formula at the angles it aimed at."""
        if self.Qz_basis == "target":
            if np.any(np.isfinite(self.Qz_target)):
                return self.Qz_target
            return q_components(self.Ti_target, self.Td_target, self.wavelength)[1]
        ti, td = {
            "detector": (self.Td / 2, self.Td),
            "sample": (self.Ti, 2 * self.Ti),
        }.get(self.Qz_basis, (self.Ti, self.Td))
        return q_components(ti, td, self.wavelength)[1]

    @property
    def Qx(self) -> np.ndarray:
        """(2π/λ)(cos(Td − Ti) − cos Ti), in 1/Å (from the angles, whatever the Qz basis)."""
        return q_components(self.Ti, self.Td, self.wavelength)[0]

    @property
    def dQ(self) -> np.ndarray:
        """1-σ resolution in Qz: (4π/λ)·√((sin θ·dλ/λ)² + (cos θ·dθ)²), θ = Ti."""
        theta, dtheta = np.radians(self.Ti), np.radians(self.dT)
        return (
            4
            * np.pi
            / self.wavelength
            * np.hypot(np.sin(theta) * self.dL / self.wavelength, np.cos(theta) * dtheta)
        )

    def select(self, keep) -> "ReflData":
        """The points ``keep`` (a boolean mask or indices) only."""
        return replace(self, **{name: getattr(self, name)[keep] for name in ARRAYS})

    @property
    def x(self) -> tuple[str, np.ndarray]:
        """What the points are plotted against: Qz, except for slit scans and rocking curves."""
        if self.intent == "intensity":
            return "slit 1 (mm)", self.slit1
        if self.intent == "rock sample":
            return "sample angle Ti (°)", self.Ti
        if self.intent == "rock detector":
            return "detector angle Td (°)", self.Td
        if self.intent == "rock qx":
            return "Qx (1/Å)", self.Qx
        return "Qz (1/Å)", self.Qz

    def display(self) -> dict:
        label, x = self.x
        name, polarization = self.name, self.polarization
        if self.normbase == "asymmetry":  # of ++ and −−: named for the file, not one entry
            name, polarization = name.rsplit(":", 1)[0], "spin asymmetry"
        return {
            "name": f"{name} {polarization}".strip(),
            "xlabel": label,
            "ylabel": YLABEL[self.normbase],
            "x": _floats(x),
            "y": _floats(self.v),
            "dy": _floats(self.dv),
        }

    def columns(self) -> dict[str, np.ndarray]:
        """The text export's columns, as the fitting app and refl1d read them (dQ as FWHM);
        the HDF5 export holds every array."""
        return {
            "Qz": self.Qz,
            "R" if self.normbase == "reflectivity" else "v": self.v,
            "dR" if self.normbase == "reflectivity" else "dv": self.dv,
            "dQ_FWHM": self.dQ / FWHM_TO_SIGMA,
        }

    def metadata(self) -> dict:
        return {
            "name": self.name,
            "polarization": self.polarization,
            "intent": self.intent,
            "sample": self.sample_name,
            "normalization": self.normbase,
            "wavelength": self.wavelength,
        }


YLABEL = {
    "counts": "counts",
    "monitor": "counts per monitor count",
    "time": "counts per second",
    "roi": "counts per roi count",
    "reflectivity": "reflectivity",
    "asymmetry": "spin asymmetry (R++ − R−−)/(R++ + R−−)",
}


def _floats(values) -> list:
    # JSON has no NaN or infinity: such points become null and are not drawn.
    return [v if math.isfinite(v) else None for v in np.asarray(values, dtype=float).tolist()]


def matching(data: ReflData, candidates: list, parameter: str) -> ReflData:
    """The data set among ``candidates`` of the polarization of ``data``, normalized alike;
    else ParameterError naming the input ``parameter``."""
    match = [c for c in candidates if c.polarization == data.polarization]
    if not match:
        raise ParameterError(parameter, f"nothing wired here has polarization {data.polarization}")
    if match[0].normbase != data.normbase:
        raise ParameterError(
            parameter, f"normalized by {match[0].normbase}, the data by {data.normbase}"
        )
    return match[0]


def infer_intent(data: ReflData) -> str:
    """What the angles say a scan measures, as reductus infers it. With θi = Ti, θf = Td/2
    and a tolerance δ = 0.1·dT (per point): *intensity* (a slit scan) when |θi| < δ and
    |θf| < δ everywhere; else when both angles move (their range exceeds δ) or neither does:
    *specular* when |θf − θi| < δ everywhere, *rock qx* when Qz stays within the largest dQ
    while Qx moves more, *background+* when θf − θi > δ for over 90 % of the points,
    *background−* when θi − θf > δ for over 90 %, else *unknown*; *rock sample* when only θi
    moves, *rock detector* when only θf moves."""
    theta_i, theta_f, delta = data.Ti, data.Td / 2, 0.1 * data.dT
    moves_i = bool(np.any(np.ptp(theta_i) > delta))
    moves_f = bool(np.any(np.ptp(theta_f) > delta))
    if np.all(np.abs(theta_i) < delta) and np.all(np.abs(theta_f) < delta):
        return "intensity"
    if moves_i == moves_f:
        (qx, qz), dq = q_components(data.Ti, data.Td, data.wavelength), data.dQ.max()
        if np.all(np.abs(theta_f - theta_i) < delta):
            return "specular"
        if np.ptp(qz) < dq and np.ptp(qx) > dq:
            return "rock qx"
        if np.sum(theta_f - theta_i > delta) > 0.9 * len(data):
            return "background+"
        if np.sum(theta_i - theta_f > delta) > 0.9 * len(data):
            return "background-"
        return "unknown"
    return "rock sample" if moves_i else "rock detector"
