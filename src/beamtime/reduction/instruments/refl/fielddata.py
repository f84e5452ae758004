"""The background-field data type: the fitted background of a thin liquid reservoir (the
NIST liquid flow cell) and the instrument geometry it was fitted with."""

from dataclasses import dataclass


@dataclass(eq=False)
class BackgroundField:
    name: str
    epsD: float  # the reservoir's extinction coefficient × thickness
    epsD_var: float
    scale: float
    scale_var: float
    covariance: float  # of scale and epsD
    chisq: float  # per degree of freedom
    epssi: float  # 1/mm, the cell material's extinction coefficient
    LS3: float  # mm, sample to slit 3
    LS4: float  # mm, sample to slit 4
    L4D: float  # mm, slit 4 to detector
    HD: float  # mm, detector height
    maxF: float  # mm, the largest footprint
    qz: list  # the Qz (target) of the points fitted
    measured: list
    fitted: list

    def display(self) -> dict:
        return {
            "name": f"{self.name} background field εD = {self.epsD:.4g}, scale {self.scale:.4g}",
            "xlabel": "Qz target (1/Å)",
            "ylabel": "fitted background",
            "x": self.qz,
            "y": self.fitted,
            "dy": [0.0] * len(self.fitted),
        }

    def columns(self) -> dict:
        import numpy as np

        names = ("epsD", "epsD_var", "scale", "scale_var", "covariance", "chisq")
        return {name: np.array([getattr(self, name)]) for name in names}

    def metadata(self) -> dict:
        names = ("name", "epssi", "LS3", "LS4", "L4D", "HD", "maxF")
        return {name: getattr(self, name) for name in names}
