"""The fitted-footprint data type: a line R = slope·|Qz| + intercept fitted to the data below
the critical edge, with the range it was fitted over."""

from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)
class FootprintFit:
    name: str
    slope: float
    intercept: float
    dslope: float
    dintercept: float
    Qmin: float  # the |Qz| range of the points fitted
    Qmax: float

    def display(self) -> dict:
        x = np.linspace(self.Qmin, self.Qmax, 2)
        return {
            "name": f"{self.name} footprint {self.slope:.4g}·|Qz| + {self.intercept:.4g}",
            "xlabel": "|Qz| (1/Å)",
            "ylabel": "footprint",
            "x": x.tolist(),
            "y": (self.slope * x + self.intercept).tolist(),
            "dy": [0.0, 0.0],
        }

    def columns(self) -> dict:
        return {k: np.array([getattr(self, k)]) for k in ("slope", "dslope", "intercept")} | {
            "dintercept": np.array([self.dintercept])
        }

    def metadata(self) -> dict:
        return {"name": self.name, "Qmin": self.Qmin, "Qmax": self.Qmax}
