"""The incident-flux data type: how many neutrons reached the sample during each data set,
per second and square centimetre of beam, and over all of them together."""

from dataclasses import dataclass, field

import numpy as np

ARRAYS = ("number", "dnumber", "flux", "dflux", "time", "dtime")


@dataclass(eq=False)
class FluxData:
    name: str  # the direct beam's
    names: list[str]  # the data sets', in order
    number: np.ndarray  # neutrons incident during each data set, and its uncertainty
    dnumber: np.ndarray
    flux: np.ndarray  # average flux, 1/(s·cm²)
    dflux: np.ndarray
    time: np.ndarray  # counting time, s
    dtime: np.ndarray
    total: dict = field(default_factory=dict)  # flux, dflux, time, dtime of all together

    def __post_init__(self):
        for name in ARRAYS:
            setattr(self, name, np.array(getattr(self, name), dtype=float))

    def display(self) -> dict:
        return {
            "name": f"average flux (direct beam {self.name})",
            "xlabel": "data set",
            "ylabel": "average flux (1/(s·cm²))",
            "x": list(range(1, len(self.names) + 1)),
            "y": self.flux.tolist(),
            "dy": self.dflux.tolist(),
        }

    def columns(self) -> dict:
        return {name: getattr(self, name) for name in ARRAYS}

    def metadata(self) -> dict:
        totals = {f"total_{k}": v for k, v in self.total.items()}
        return {"name": self.name, "data_sets": ", ".join(self.names), **totals}
