"""The refl instrument's registry: its data type, its modules (the steps register themselves
with ``@module``) and what the file browser shows of a raw file.
"""

import numpy as np

from beamtime.reduction.dataflow.calc import DataType, Registry
from beamtime.reduction.instruments.refl.deadtimedata import DeadTimeFit
from beamtime.reduction.instruments.refl.fielddata import BackgroundField
from beamtime.reduction.instruments.refl.fluxdata import FluxData
from beamtime.reduction.instruments.refl.footprintdata import FootprintFit
from beamtime.reduction.instruments.refl.nexus import load_nexus
from beamtime.reduction.instruments.refl.orso import orso_text
from beamtime.reduction.instruments.refl.poldata import PolData
from beamtime.reduction.instruments.refl.refldata import ReflData


def describe_file(content: bytes, name: str) -> dict:
    """Intent, sample, start, and the points and Qz range (1/Å) of each cross-section: the
    file browser's summary."""
    scans = [ReflData.from_scan(scan) for scan in load_nexus(content, name=name)]
    return {
        "sample": scans[0].sample_name,
        "start": scans[0].start,
        "intent": scans[0].intent,
        "entries": [
            {
                "entry": s.name.rsplit(":", 1)[-1],
                "polarization": s.polarization,
                "points": len(s),
                **q_range(s.Qz),
            }
            for s in scans
        ],
    }


def q_range(qz) -> dict:
    """{"qmin", "qmax"} of the finite values of ``qz``; both None when there are none."""
    finite = np.asarray(qz, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return {"qmin": None, "qmax": None}
    return {"qmin": float(finite.min()), "qmax": float(finite.max())}


def _datatype(name: str, noun: str, cls, **extra) -> DataType:
    """A data type whose class (a dataclass) carries the usual methods (display, columns,
    metadata); kept in the cache as its fields, arrays and non-finite numbers as they are
    (dataflow.stored holds both)."""
    return DataType(
        name,
        noun,
        to_stored=lambda value: dict(vars(value)),
        from_stored=lambda data: cls(**data),
        display=cls.display,
        columns=cls.columns,
        metadata=cls.metadata,
        **extra,
    )


registry = Registry(
    "refl",
    datatypes={
        "refldata": _datatype(
            "refldata", "reflectivity data", ReflData, orso=orso_text, points=len
        ),
        "footprint": _datatype("footprint", "footprint fits", FootprintFit),
        "poldata": _datatype("poldata", "polarization efficiencies", PolData),
        "deadtime": _datatype("deadtime", "dead-time fits", DeadTimeFit),
        "backgroundfield": _datatype("backgroundfield", "background-field fits", BackgroundField),
        "flux": _datatype("flux", "incident fluxes", FluxData),
    },
    describe_file=describe_file,
)
module = registry.module
