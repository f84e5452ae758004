"""The refl instrument's registry: its data type, its modules (the steps register themselves
with ``@module``) and what the file browser shows of a raw file.
"""

from beamtime.reduction.dataflow.calc import DataType, Registry
from beamtime.reduction.instruments.refl.footprintdata import FootprintFit
from beamtime.reduction.instruments.refl.nexus import load_nexus
from beamtime.reduction.instruments.refl.orso import orso_text
from beamtime.reduction.instruments.refl.poldata import PolData
from beamtime.reduction.instruments.refl.refldata import ReflData


def describe_file(content: bytes, name: str) -> dict:
    """Intent, sample, start and points of each cross-section: the file browser's summary."""
    scans = [ReflData.from_scan(scan) for scan in load_nexus(content, name=name)]
    return {
        "sample": scans[0].sample_name,
        "start": scans[0].start,
        "intent": scans[0].intent,
        "entries": [
            {"entry": s.name.rsplit(":", 1)[-1], "polarization": s.polarization, "points": len(s)}
            for s in scans
        ],
    }


registry = Registry(
    "refl",
    datatypes={
        "refldata": DataType(
            "refldata",
            to_json=ReflData.to_dict,
            from_json=ReflData.from_dict,
            display=ReflData.display,
            columns=ReflData.columns,
            metadata=ReflData.metadata,
            orso=orso_text,
        ),
        "footprint": DataType(
            "footprint",
            to_json=FootprintFit.to_dict,
            from_json=FootprintFit.from_dict,
            display=FootprintFit.display,
            columns=FootprintFit.columns,
            metadata=FootprintFit.metadata,
        ),
        "poldata": DataType(
            "poldata",
            to_json=PolData.to_dict,
            from_json=PolData.from_dict,
            display=PolData.display,
            columns=PolData.columns,
            metadata=PolData.metadata,
        ),
    },
    describe_file=describe_file,
)
module = registry.module
