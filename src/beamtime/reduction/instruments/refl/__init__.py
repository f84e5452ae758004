"""Specular reflectometry at a monochromatic instrument (NCNR PBR, MAGIK): the refl
instrument's data type and reduction steps, one module per topic — loading, corrections
(normalization, scaling, resolution, the direct beam), join, background, footprint,
polarization — all
sharing the arithmetic of values with uncertainties in ``numerics``.

Every step takes values with 1-σ uncertainties and propagates them to first order, assuming
independent errors: for f(a, b), σf² = (∂f/∂a·σa)² + (∂f/∂b·σb)².
"""

import importlib

from beamtime.reduction.instruments.refl.registry import registry

# Importing the step modules registers their steps, in the order the editor lists them.
TOPICS = (
    "loading",
    "grouping",
    "deadtime",
    "saturation",
    "angles",
    "corrections",
    "join",
    "background",
    "backgroundfield",
    "smoothing",
    "footprint",
    "polarization",
)
for _topic in TOPICS:
    importlib.import_module(f"{__name__}.{_topic}")

__all__ = ["registry"]
