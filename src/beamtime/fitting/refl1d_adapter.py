"""The one module that imports refl1d and bumps: layer models and data in, refl1d problems,
curves, fits and scripts out. Nothing else in Beamtime touches refl1d, so an upgrade of
refl1d touches this file only. No Django here: workers and scripts use it directly.

bumps and refl1d (with scipy and numba, about 200 MiB) are imported by the functions that use
them, so that a web worker loads them only when a request draws a curve.

Data are a ReflData (unpolarized) or, polarized, a dict of them by cross-section (``++``,
``+-``, ``-+``, ``--``; any of them may be missing, each with its own Q points): refl1d then
computes the model's magnetism (``Magnetism(rhoM, thetaM)`` on the magnetic slabs, the guide
field's Aguide and H on a PolarizedQProbe) and gives a curve for each cross-section present."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from beamtime.fitting.data import ReflData
from beamtime.fitting.layers import (
    MAX_LENGTH,
    MAX_ROUGHNESS,
    MAX_SLD,
    MODEL_PARAMS,
    PARALLEL,
    Layer,
    LayerModel,
)

if TYPE_CHECKING:
    from refl1d.names import Experiment, FitProblem

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
ENGINES = {
    "lm": "Levenberg-Marquardt",
    "amoeba": "Nelder-Mead simplex",
    "de": "Differential evolution",
    "dream": "DREAM (Bayesian uncertainty)",
}
REFL1D_NAME = {"thickness": "thickness", "sld": "rho", "isld": "irho", "roughness": "interface"}
MAGNETIC_NAME = {"rhoM": "magnetism.rhoM", "thetaM": "magnetism.thetaM"}  # on a magnetic slab
# Our cross-section names (incident, then reflected spin state) → refl1d's, in the order of
# refl1d's PolarizedNeutronProbe.xs and of its reflectivity's list.
CROSS_SECTIONS = {"--": "mm", "-+": "mp", "+-": "pm", "++": "pp"}
SHOWN = ("++", "+-", "-+", "--")  # the order Beamtime lists them in
Data = ReflData | Mapping[str, ReflData]  # polarized: a dict (or mapping proxy) by cross-section


def refl1d_order(model: LayerModel) -> list[Layer]:
    """The rows as refl1d stacks them, from the substrate up: back, the layers from the
    deepest to the first, front. A slab's ``interface`` is the roughness on its upper side,
    i.e. the row's front-side roughness (refl1d's sample guide: ``silicon(0, 5) | gold(30, 2)
    | air`` has a silicon:gold interface of 5 Å and a gold:air one of 2 Å)."""
    return [model.back, *model.layers[::-1], model.front]


def places(
    model: LayerModel, slab: str = "sample[{}]", probe: str = "probe", beam: str | None = None
) -> dict[str, str]:
    """Where refl1d keeps each parameter, by our name: ``A.sld`` → ``sample[2].material.rho``.
    ``beam``: for polarized data, the refl1d name of the first cross-section present (``pp``),
    whose intensity and background all cross-sections share; the guide field's angle and
    strength are then the polarized probe's. A magnetic parameter has a place only on a slab
    that has magnetism (LayerModel.magnetic_layers); unpolarized data have no guide field."""
    owner = probe if beam is None else f"{probe}.{beam}"
    found = {"scale": f"{owner}.intensity", "background": f"{owner}.background"}
    if beam is not None:
        found |= {"guide_angle": f"{probe}.Aguide", "guide_field": f"{probe}.H"}
    elif model.angle:  # a probe of one angle: refl1d moves it by its theta_offset
        found["theta_offset"] = f"{probe}.theta_offset"
    names = model.parameter_names()
    magnetic = {id(layer) for layer in model.magnetic_layers()}
    for index, layer in enumerate(refl1d_order(model)):
        named = dict(REFL1D_NAME) | (MAGNETIC_NAME if id(layer) in magnetic else {})
        for name, refl1d_name in named.items():
            if f"{layer.name}.{name}" in names:  # not a medium's thickness, nor front roughness
                owner = slab.format(index) + (".material" if name in ("sld", "isld") else "")
                found[f"{layer.name}.{name}"] = f"{owner}.{refl1d_name}"
    return found


def cross_sections(data: Mapping[str, ReflData]) -> list[str]:
    """The cross-sections present (++ first); ValueError for a name not one of them."""
    if not data:
        raise ValueError("polarized data: no cross-section")
    for name in data:
        if name not in CROSS_SECTIONS:
            raise ValueError(
                f"cross-section {name!r}: not one of {', '.join(CROSS_SECTIONS)} "
                "(incident, then reflected spin state)"
            )
    return [name for name in SHOWN if name in data]


def _probe(model: LayerModel, data: ReflData, what: str = "", angle: float = 0.0):
    """A QProbe of the data within the model's Q range (``what`` names a cross-section).
    Given the data's ``angle`` (degrees, one time-of-flight run), a probe of that angle and
    each point's wavelength instead, with the data's resolution: refl1d's theta_offset
    then moves every point as it moves a measured probe's."""
    from refl1d.names import NeutronProbe, QProbe

    keep = (data.q >= model.q_min) & (data.q <= model.q_max)
    if not keep.any():
        raise ValueError(
            f"{what}no data point lies in the Q range {model.q_min:g} to {model.q_max:g}"
        )
    dq = data.dq[keep] / FWHM_PER_SIGMA if data.dq is not None else np.zeros(int(keep.sum()))
    q, r, dr = data.q[keep], data.r[keep], data.dr[keep]
    if not angle:
        return QProbe(q, dq, R=r, dR=dr)
    if (q <= 0).any():
        raise ValueError(f"{what}a θ offset needs Q > 0 at every point")
    theta = np.full_like(q, angle)
    wavelength = 4 * np.pi * np.sin(np.radians(angle)) / q
    probe = NeutronProbe(T=theta, dT=0.0, L=wavelength, dL=0.0, data=(r, dr))
    probe.dQ = dq  # the data's own resolution, as refl1d keeps a loaded probe's
    return probe


def _polarized_probe(model: LayerModel, data: Mapping[str, ReflData]):
    """The PolarizedQProbe of the cross-sections present, sharing one intensity and one
    background; returns it and the refl1d name of the first cross-section."""
    from refl1d.names import PolarizedQProbe

    present = cross_sections(data)
    probes = {
        CROSS_SECTIONS[name]: _probe(model, data[name], f"cross-section {name}: ")
        for name in present
    }
    first = probes[CROSS_SECTIONS[present[0]]]
    for probe in probes.values():
        probe.intensity, probe.background = first.intensity, first.background
    probe = PolarizedQProbe(
        **probes,
        name="polarized",
        Aguide=model.guide_angle.value,
        H=model.guide_field.value,
    )
    return probe, CROSS_SECTIONS[present[0]]


def refuse_magnetism(model: LayerModel) -> None:
    """ValueError naming the first magnetic parameter that unpolarized data cannot use."""
    for layer in model.magnetic_layers():
        raise ValueError(
            f"{layer.name}.rhoM: these data are not polarized, and magnetism is computed for "
            "polarized data (cross-sections ++, --, …) only: set the magnetic SLD to 0 and "
            "fix it, or fit polarized data"
        )
    for name in ("guide_angle", "guide_field"):
        if model.param(name).free:
            raise ValueError(
                f"{name}: the guide field matters for polarized data only; these data are "
                "not polarized: fix it"
            )


def _experiment(model: LayerModel, data: Data) -> tuple[Experiment, dict]:
    """The experiment, and its bumps parameters by our names (``A.thickness``, ``scale``);
    a parameter refl1d's model does not hold (the magnetism of a layer without any, the
    guide field of unpolarized data) is a constant of its own, for constraints to read."""
    from refl1d.names import SLD, Experiment, Magnetism

    from beamtime.fitting import constraints

    if isinstance(data, Mapping):
        if model.angle:
            raise ValueError("angle: polarized data take no θ offset here: set the angle to 0")
        probe, beam = _polarized_probe(model, data)
    else:
        refuse_magnetism(model)
        probe, beam = _probe(model, data, angle=model.angle), None
    magnetic = {id(layer) for layer in model.magnetic_layers()}
    sample = None
    for layer in refl1d_order(model):
        extra = {}
        if id(layer) in magnetic:
            magnetism = Magnetism(rhoM=layer.rhoM.value, thetaM=layer.thetaM.value)
            extra["magnetism"] = magnetism
        slab = SLD(layer.name)(layer.thickness.value, layer.roughness.value, **extra)
        sample = slab if sample is None else sample | slab
    where = places(model, slab="sample[{}]", beam=beam)
    parameters = _parameters(model, model.parameter_names(), where, sample, probe)
    constraints.apply(
        [constraints.Constraint(t, e) for t, e in model.constraints.items()], parameters
    )
    check_constrained(model, parameters)
    return Experiment(probe=probe, sample=sample), parameters


def _parameters(model: LayerModel, names, where: dict, sample, probe) -> dict:
    """The bumps parameters of ``names`` (at their places in sample and probe, else
    constants of their own), holding the model's values and ranges."""
    from bumps.parameter import Parameter

    parameters = {}
    for name in sorted(names):
        param = model.param(name)
        if name in where:
            parameters[name] = _resolve(where[name], {"sample": sample, "probe": probe})
        else:
            parameters[name] = Parameter(param.value, name=name.replace(".", " "))
        parameters[name].value = param.value
        if param.free:
            parameters[name].range(param.min, param.max)
    return parameters


# What belongs to a data set's probe rather than to the sample.
PROBE_NAMES = ("scale", "background", "theta_offset")
MEASURED_WITH = re.compile(rf"\b(?:{'|'.join(PROBE_NAMES)})\b")  # a constraint reading one


def _one_sample(first: LayerModel, other: LayerModel, shared: list[str]) -> bool:
    """Whether ``other`` is ``first``'s sample measured by another unpolarized probe: the
    same layers, values and constraints, every free parameter of the sample shared, no
    constraint tying the sample to a probe. refl1d computes such probes as one ProbeSet."""

    def sample(model: LayerModel) -> dict:
        data = model.to_dict()
        return {k: v for k, v in data.items() if k not in (*PROBE_NAMES, "angle", "q_min", "q_max")}

    return (
        sample(first) == sample(other)
        and not first.uses_magnetism()
        and all(n in shared for n, _ in first.free_parameters() if n not in PROBE_NAMES)
        and not any(MEASURED_WITH.search(e) for e in first.constraints.values())
    )


def _probe_set(models, datasets, shared, first: tuple) -> tuple:
    """The first set's experiment with the probes of the sets measuring its sample (each
    with its own parameters) as one ProbeSet, as refl1d computes a ProbeSet: the theory on
    the union of their Q; the other sets' (experiment, parameters) are None."""
    from refl1d.names import Experiment, ProbeSet

    from beamtime.fitting import constraints

    experiment, parameters = first
    probes, built = [experiment.probe], [first]
    for model, data in zip(models[1:], datasets[1:], strict=True):
        probe = _probe(model, data, angle=model.angle)
        own = parameters | _parameters(model, PROBE_NAMES, places(model), experiment.sample, probe)
        constraints.apply(
            [
                constraints.Constraint(t, e)
                for t, e in model.constraints.items()
                if t in PROBE_NAMES
            ],
            own,
        )
        check_constrained(model, own)
        probes.append(probe)
        built.append((None, own))
    joined = Experiment(probe=ProbeSet(probes), sample=experiment.sample)
    return [(joined, parameters), *built[1:]]


class FitError(ValueError):
    """A fit whose result cannot be trusted (not finite, impossible values); says why."""


# What a parameter may be, by kind, as LayerModel.check requires of typed values.
LOWEST = {"thickness": 0.0, "roughness": 0.0, "isld": 0.0, "thetaM": 0.0}
LOWEST |= {name: lowest for name, (_, lowest, _) in MODEL_PARAMS.items()}
HIGHEST = {"thickness": MAX_LENGTH, "roughness": MAX_ROUGHNESS, "sld": MAX_SLD, "isld": MAX_SLD}
HIGHEST |= {"rhoM": MAX_SLD, "thetaM": 360.0}
HIGHEST |= {name: highest for name, (_, _, highest) in MODEL_PARAMS.items()}


def check_constrained(model: LayerModel, parameters: dict, when: str = "", error=ValueError):
    """Check each value a constraint computes as a typed one would be: finite, and not
    negative where it cannot be; raise ``error`` naming the parameter otherwise."""
    for target, expression in model.constraints.items():
        try:
            with np.errstate(all="raise"):
                value = float(parameters[target].value)
        except (ArithmeticError, ValueError) as exc:
            raise error(
                f"constraint on {target}: {expression} cannot be computed{when} ({exc})"
            ) from None
        if not math.isfinite(value):
            raise error(f"constraint on {target}: {expression} gives {value}{when}")
        kind = target.rpartition(".")[2]
        low, high = LOWEST.get(kind, -HIGHEST.get(kind, math.inf)), HIGHEST.get(kind, math.inf)
        if not low <= value <= high:
            bound = f"above {high:g}" if value > high else f"below {low:g}"
            raise error(
                f"constraint on {target}: {expression} gives {value:g}{when}, "
                f"but a {kind} cannot be {'negative' if value < low == 0 else bound}"
            )


def _resolve(place: str, owners: dict):
    """``sample[2].material.rho`` → that object, without eval: the places are our own."""
    head, *attributes = place.split(".")
    name, _, index = head.partition("[")
    target = owners[name][int(index[:-1])] if index else owners[name]
    for attribute in attributes:
        target = getattr(target, attribute)
    return target


def build_experiment(model: LayerModel, data: Data) -> Experiment:
    """The refl1d experiment for a checked model against data, within the model's Q range."""
    return _experiment(model, data)[0]


def build_problem(model: LayerModel, data: Data) -> FitProblem:
    from refl1d.names import FitProblem

    return FitProblem(build_experiment(model, data))


# The files a polarized script reads, one per cross-section (refl1d's names for them).
POLARIZED_FILES = {name: f"data_{attr}.txt" for name, attr in CROSS_SECTIONS.items()}


def data_files(model: LayerModel) -> str | dict[str, str]:
    """What a downloaded script of ``model`` reads: ``data.txt``, or for a model meant for
    polarized data one file per cross-section (those absent are skipped)."""
    return dict(POLARIZED_FILES) if model.uses_magnetism() else "data.txt"


def to_script(model: LayerModel, data_file: str | Mapping[str, str]) -> str:
    """A refl1d script for the same problem; ``refl1d SCRIPT --chisq`` gives the same χ².
    ``data_file``: the data's file, or polarized a file per cross-section (``{"++": …}``)."""
    from beamtime.fitting import constraints

    polarized = isinstance(data_file, Mapping)
    magnetic = {id(layer) for layer in model.magnetic_layers()} if polarized else set()

    def slab(layer: Layer) -> str:
        text = f"SLD({layer.name!r})({layer.thickness.value!r}, {layer.roughness.value!r}"
        if id(layer) in magnetic:
            magnetism = f"Magnetism(rhoM={layer.rhoM.value!r}, thetaM={layer.thetaM.value!r})"
            text += f", magnetism={magnetism}"
        return text + ")"

    lines = [
        "# A refl1d model written by Beamtime. Fit it with refl1d 1.0:",
        "#   refl1d THIS_FILE --fit=lm --steps=200 --batch --session=fit.h5",
        *(["import os", ""] if polarized else []),
        "import numpy as np",
        "from bumps import pmath  # for constraints: sqrt, exp, log, sin, cos, tan",
        "from refl1d.names import SLD, Experiment, FitProblem, QProbe"
        + (", Magnetism, PolarizedQProbe" if polarized else "")
        + (", NeutronProbe" if model.angle and not polarized else ""),
        "",
    ]
    if polarized:
        _refuse_unsupported_files(data_file)
        lines += _polarized_probe_lines(model, data_file)
    else:
        refuse_magnetism(model)
        lines += [
            f"Q, R, dR, *rest = np.loadtxt({data_file!r}).T",
            "# The 4th column is read as the FWHM of the resolution (refl1d wants 1-sigma): drop "
            "the",
            "# division if yours is 1-sigma; for 3 columns write your dQ/Q (FWHM) instead of 0.",
            f"dQ = rest[0] / {FWHM_PER_SIGMA!r} if rest else 0.0 * Q / {FWHM_PER_SIGMA!r}",
            f"keep = (Q >= {model.q_min!r}) & (Q <= {model.q_max!r})",
        ]
        if model.angle:  # one angle (a time-of-flight run): refl1d's theta_offset can move it
            lines += [
                "# the data's angle (degrees) and each point's wavelength, the data's resolution",
                f"L = 4 * np.pi * np.sin(np.radians({model.angle!r})) / Q[keep]",
                f"probe = NeutronProbe(T={model.angle!r}, dT=0.0, L=L, dL=0.0, "
                "data=(R[keep], dR[keep]))",
                "probe.dQ = dQ[keep]",
            ]
        else:
            lines.append("probe = QProbe(Q[keep], dQ[keep], R=R[keep], dR=dR[keep])")
    lines += [
        "# From the substrate (back medium) up to the medium the neutrons come from (front);",
        "# SLD(name)(thickness, interface): the interface is the roughness on a slab's upper side.",
        f"sample = {' | '.join(slab(layer) for layer in refl1d_order(model))}",
    ]
    where = places(model, beam="pp" if polarized else None)
    if polarized:  # the first cross-section present: all share its intensity and background
        where |= {"scale": "beam.intensity", "background": "beam.background"}
    for name, place in where.items():
        param = model.param(name)
        lines.append(f"{place}.value = {param.value!r}")
        if param.free:
            lines.append(f"{place}.range({param.min!r}, {param.max!r})")
    # a parameter refl1d's model does not hold (a layer's magnetism that has none) is a number
    everything = {name: repr(model.param(name).value) for name in model.parameter_names()}
    for target, expression in model.constraints.items():
        code = constraints.to_python(constraints.Constraint(target, expression), everything | where)
        lines.append(f"{where[target]}.equals({code})  # {target} = {expression}")
    lines += ["", "problem = FitProblem(Experiment(probe=probe, sample=sample))", ""]
    return "\n".join(lines)


def _refuse_unsupported_files(files: Mapping[str, str]) -> None:
    cross_sections(files)
    for name, path in files.items():
        if not isinstance(path, str) or "\n" in path or "\r" in path:
            raise ValueError(f"cross-section {name}: the file name must be one line of text")


def _polarized_probe_lines(model: LayerModel, files: Mapping[str, str]) -> list[str]:
    """A script's probe of the cross-sections' files (those absent skipped)."""
    given = ", ".join(
        f"{attr}=cross_section({files[name]!r})"
        for name, attr in CROSS_SECTIONS.items()
        if name in files
    )
    return [
        f"q_min, q_max = {model.q_min!r}, {model.q_max!r}",
        "",
        "",
        "def cross_section(name):",
        '    """One cross-section\'s file (Q R dR [dQ, the FWHM]) within the Q range; None if',
        '    the file is absent (that cross-section was not measured)."""',
        "    if not os.path.exists(name):",
        "        return None",
        "    Q, R, dR, *rest = np.loadtxt(name, ndmin=2).T",
        f"    dQ = rest[0] / {FWHM_PER_SIGMA!r} if rest else 0.0 * Q  # FWHM to 1-sigma",
        "    keep = (Q >= q_min) & (Q <= q_max)",
        "    return QProbe(Q[keep], dQ[keep], R=R[keep], dR=dR[keep])",
        "",
        "",
        "# mm, mp, pm, pp: --, -+, +-, ++ (incident, then reflected spin). refl1d's convention:",
        "# Aguide 270 is a field in the sample plane; thetaM 270 a magnetization parallel to it.",
        f"probe = PolarizedQProbe({given}, name='polarized', "
        f"Aguide={model.guide_angle.value!r}, H={model.guide_field.value!r})",
        "probe.shared_beam()  # one intensity and one background for every cross-section",
        "beam = next(xs for xs in probe.xs if xs is not None)",
    ]


@dataclass
class Curve:
    q: list[float]
    r: list[float]
    chisq: float
    profile_z: list[float]
    profile_sld: list[float]


@dataclass
class PolarizedCurve:
    """A polarized evaluation: a curve per cross-section present (``"++"`` → ``{"q": […],
    "r": […]}``), the χ² of them all, and the nuclear and magnetic SLD profiles."""

    cross_sections: dict[str, dict[str, list[float]]]
    chisq: float
    profile_z: list[float]
    profile_sld: list[float]
    profile_rhoM: list[float]
    profile_thetaM: list[float]


# refl1d convolves the theory with each point's Gaussian resolution by summing over the points
# within ±3.7 σ of it (its LOG_RESLIMIT), about 4.5 million of those per second on the
# project's machine: dense data with a broad resolution cost O(points²). A web request draws
# at most this many (≈ 2 s); fits, on a worker, are not limited.
MAX_CONVOLUTION = 10_000_000
# The reflectivity itself costs points × slabs (about 10 million per 2–5 s here).
MAX_SLAB_POINTS = 5_000_000


def convolution_work(q: np.ndarray, dq_sigma: np.ndarray, grid: np.ndarray | None = None) -> int:
    """How many (point, neighbour) pairs refl1d's resolution convolution visits (neighbours on
    ``grid``, the Q refl1d computes at: the union of all cross-sections' Q when polarized)."""
    grid = q if grid is None else grid
    reach = np.sqrt(2 * 6.907755278982137) * dq_sigma  # refl1d: LOG_RESLIMIT = ln 1e-3
    return int((np.searchsorted(grid, q + reach) - np.searchsorted(grid, q - reach)).sum())


def _check_work(model: LayerModel, probes: list, grid: np.ndarray) -> None:
    """ValueError if drawing these probes' curves would hold a web thread too long."""
    points = sum(len(probe.Q) for probe in probes)
    work = sum(convolution_work(probe.Q, probe.dQ, grid) for probe in probes)
    if work > MAX_CONVOLUTION:
        raise ValueError(
            f"these data are too dense for their resolution to be drawn at once: each of the "
            f"{points} points averages the model over {work / points:.0f} of its "
            "neighbours on average; narrow the Q range, rebin the data, or fit them (fits run "
            "on a worker)"
        )
    slabs = len(grid) * (len(model.layers) + 2) * (4 if len(probes) > 1 else 1)
    if slabs > MAX_SLAB_POINTS:
        raise ValueError(
            f"{len(grid)} points × {len(model.layers) + 2} slabs is too much to draw at once "
            f"(at most {MAX_SLAB_POINTS:,} in a request): narrow the Q range or fit them (fits "
            "run on a worker)"
        )


def _check_finite(*named) -> None:
    for what, values in named:
        if not np.isfinite(values).all():
            raise ValueError(
                f"the model's {what} is not finite: refl1d's calculation overflowed (a layer "
                "of several µm below its critical edge, or a very large roughness?)"
            )


def evaluate(model: LayerModel, data: Data) -> Curve | PolarizedCurve:
    """The model's reflectivity at the data's Q, its χ² and its SLD profile against the depth
    below the front surface (the front medium at negative depth, the back medium beyond the
    last layer), with at most about PROFILE_POINTS points whatever the thicknesses. Polarized
    data (a dict by cross-section) give a PolarizedCurve. ValueError says what cannot be
    computed, also when refl1d's arithmetic fails (a ZeroDivisionError on data stored before
    uploads needed 2 points at different Q, or with a vanishing resolution)."""
    try:
        if isinstance(data, Mapping):
            return _evaluate_polarized(model, data)
        return _evaluate(model, data)
    except ArithmeticError as exc:
        raise ValueError(
            f"refl1d cannot compute the model at these data's points ({exc}): a curve needs at "
            "least 2 points at different Q and a resolution dQ that is not vanishingly small"
        ) from None


def _evaluate(model: LayerModel, data: ReflData) -> Curve:
    from refl1d.names import FitProblem

    experiment = build_experiment(model, data)
    probe = experiment.probe
    _check_work(model, [probe], probe.Q)
    with np.errstate(all="ignore"):  # checked below
        q, r = experiment.reflectivity()
        chisq = float(FitProblem(experiment).chisq())
        z, rho = profile(experiment)
    _check_finite(("reflectivity", r), ("χ²", chisq), ("SLD profile", rho))
    return Curve(q.tolist(), r.tolist(), chisq, z.tolist(), rho.tolist())


def _evaluate_polarized(model: LayerModel, data: Mapping[str, ReflData]) -> PolarizedCurve:
    from refl1d.names import FitProblem

    experiment = build_experiment(model, data)
    probe = experiment.probe
    present = {name: getattr(probe, CROSS_SECTIONS[name]) for name in cross_sections(data)}
    _check_work(model, list(present.values()), probe.calc_Q)
    with np.errstate(all="ignore"):  # checked below
        curves = dict(zip(CROSS_SECTIONS, experiment.reflectivity(), strict=True))
        chisq = float(FitProblem(experiment).chisq())
        z, rho, rho_m, theta_m = magnetic_profile(experiment)
    found = {name: curves[name] for name in present}
    _check_finite(
        *((f"reflectivity ({name})", r) for name, (_, r) in found.items()),
        ("χ²", chisq),
        ("SLD profile", rho),
        ("magnetic SLD profile", rho_m),
    )
    return PolarizedCurve(
        {name: {"q": q.tolist(), "r": r.tolist()} for name, (q, r) in found.items()},
        chisq,
        z.tolist(),
        rho.tolist(),
        rho_m.tolist(),
        theta_m.tolist(),
    )


PROFILE_POINTS = 1000


def _profile_step(experiment: Experiment) -> tuple[float, float]:
    """The total thickness of the layers and the profile's step: PROFILE_POINTS over the
    layers and refl1d's own margins around the interfaces."""
    w, sigma, _, _ = experiment.slabs()  # as refl1d computed them, constraints included
    total, widest = float(np.sum(w[1:-1])), float(np.max(sigma, initial=0.0))
    span = total + 2 * max(10.0, 3 * widest)
    return total, max(span / PROFILE_POINTS, 0.01)


def profile(experiment: Experiment) -> tuple[np.ndarray, np.ndarray]:
    """SLD against depth from the front surface, increasing depth. refl1d's profile runs from
    the substrate (z = 0 at the back medium's interface) up to the front surface."""
    total, dz = _profile_step(experiment)
    z, rho, _ = experiment.smooth_profile(dz=dz)
    return (total - z)[::-1], rho[::-1]


def magnetic_profile(experiment: Experiment) -> tuple[np.ndarray, ...]:
    """Depth from the front surface, SLD, magnetic SLD and magnetization angle (degrees), as
    ``profile``; a sample without magnetism has ρM 0 and the angle parallel to the field."""
    if not experiment.ismagnetic:
        z, rho = profile(experiment)
        return z, rho, np.zeros_like(rho), np.full_like(rho, PARALLEL)
    total, dz = _profile_step(experiment)
    z, rho, _, rho_m, theta_m = experiment.magnetic_smooth_profile(dz=dz)
    return (total - z)[::-1], rho[::-1], rho_m[::-1], theta_m[::-1]


@dataclass
class FitResult:
    values: dict[str, float]  # "A thickness" (or "2: A thickness" co-refining) → value
    errors: dict[str, float]  # the same labels → 1-σ uncertainty
    chisq: float
    model: LayerModel  # the (first) model with the fitted values
    stopped: bool = False  # cancelled before it converged
    models: list[LayerModel] = field(default_factory=list)  # every data set's, fitted
    posterior: Posterior | None = None  # DREAM's draws and what they say


class _Progress:
    """Hands bumps' step reports to ``report``; a False answer asks the fit to stop. (A bumps
    monitor is anything with ``config_history`` and ``__call__``, as bumps.monitor.Monitor.)"""

    def __init__(self, problem, report: Callable[[dict], bool], total_steps: int | None):
        self.problem, self.report, self.total = problem, report, total_steps
        self.stop = False

    def config_history(self, history):
        history.requires(step=1, value=1)

    def __call__(self, history):
        step = int(history.step[0])
        chisq = float(self.problem.chisq(nllf=history.value[0]))
        event = {
            "step": step,
            "chisq": chisq if math.isfinite(chisq) else None,
            "percent": min(100.0, 100.0 * step / self.total) if self.total else None,
        }
        if self.report(event) is False:
            self.stop = True


def total_steps(engine: str, options: dict, free: int) -> int | None:
    """How many steps a DREAM fit takes (its progress is a percentage); None for others."""
    if engine != "dream":
        return None
    steps = options.get("steps") or math.ceil(
        options.get("samples", 10000) / (options.get("pop", 10) * free)
    )
    return int(options.get("burn", 100) + steps)


def fit(
    model: LayerModel,
    data: Data,
    engine: str = "lm",
    options: dict | None = None,
    progress: Callable[[dict], bool] | None = None,
) -> FitResult:
    """Fit the model's free parameters with bumps. ``progress(event)`` hears of each step
    (``{"step", "chisq", "percent"}``) and may return False to stop the fit early."""
    return fit_together([model], [data], [], engine, options, progress)


def _together(models: list[LayerModel], datasets: list[Data], shared: list[str]):
    """One FitProblem of several data sets, each with its model, every parameter named in
    ``shared`` tied to the first set's; and each set's (experiment, parameters by name)."""
    from refl1d.names import FitProblem

    grouped = len(models) > 1 and all(
        not isinstance(d, Mapping) and _one_sample(models[0], m, shared)
        for m, d in zip(models[1:], datasets[1:], strict=True)
    )
    if grouped:  # one sample, several probes: refl1d's ProbeSet
        built = _probe_set(models, datasets, shared, _experiment(models[0], datasets[0]))
    else:
        built = [_experiment(m, d) for m, d in zip(models, datasets, strict=True)]
    for name in shared:
        for index, (_, parameters) in enumerate(built):
            if name not in parameters:
                raise ValueError(f"shared: data set {index + 1} has no parameter {name}")
        for _, parameters in built[1:]:
            if parameters[name] is not built[0][1][name]:
                parameters[name].equals(built[0][1][name])
    experiments = [experiment for experiment, _ in built if experiment is not None]
    return FitProblem(experiments), built


def chisq_together(models: list[LayerModel], datasets: list[Data], shared: list[str]) -> float:
    """The χ² of a co-refinement as its fit reports it, bumps' convention for several
    models: every set's squared residuals summed, over all points less the free parameters."""
    chisq = float(_together(models, datasets, shared)[0].chisq())
    _check_finite(("χ²", chisq))
    return chisq


def fit_together(
    models: list[LayerModel],
    datasets: list[Data],
    shared: list[str],
    engine: str = "lm",
    options: dict | None = None,
    progress: Callable[[dict], bool] | None = None,
) -> FitResult:
    """Co-refinement: one fit of several data sets, each with its model; each parameter named
    in ``shared`` (e.g. ``A.thickness``) is, in every set, the first set's."""
    from bumps.fitters import FITTERS, FitDriver

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")
    problem, built = _together(models, datasets, shared)
    if not len(problem.getp()):
        raise ValueError("the model has no free parameter: free at least one before fitting")
    options = dict(options or {})
    monitor = _Progress(
        problem, progress or (lambda event: True), total_steps(engine, options, len(problem.getp()))
    )
    fitclass = next(f for f in FITTERS if f.id == engine)
    driver = FitDriver(
        fitclass, problem=problem, monitors=[monitor], abort_test=lambda: monitor.stop, **options
    )
    driver.clip()
    try:
        x, _ = driver.fit()
    except (np.linalg.LinAlgError, ArithmeticError) as exc:
        raise FitError(f"the fit broke down ({exc}): its χ² was not finite on the way") from None
    problem.setp(x)
    for number, (model, (_, parameters)) in enumerate(zip(models, built, strict=True), 1):
        where = f" at the end of the fit{f' (data set {number})' if len(models) > 1 else ''}"
        check_constrained(model, parameters, where, error=FitError)
    chisq = float(problem.chisq())
    if not math.isfinite(chisq):
        raise FitError(f"the fit ended with a χ² that is not finite ({chisq})")
    error_of = dict(zip(map(id, problem._parameters), map(float, driver.stderr()), strict=True))
    values, errors, fitted, label_of = {}, {}, [], {}
    for index, (model, (_, parameters)) in enumerate(zip(models, built, strict=True)):
        prefix = f"{index + 1}: " if len(models) > 1 else ""
        for name, _ in model.free_parameters():
            mine = id(parameters[name])  # fitted here, not tied to (nor one with) the first's
            if mine in error_of and mine not in label_of:
                label = label_of[id(parameters[name])] = prefix + name.replace(".", " ")
                values[label], errors[label] = (
                    float(parameters[name].value),
                    error_of[id(parameters[name])],
                )
        fitted.append(_with_values(model, parameters))
    check_finite(values, errors)
    posterior = None
    if engine == "dream" and getattr(driver.fitter, "state", None) is not None:
        labels = [label_of[id(par)] for par in problem._parameters]
        posterior = dream_posterior(driver.fitter.state, problem, labels, options)
        problem.setp(x)  # the draws' profiles moved the parameters
    return FitResult(values, errors, chisq, fitted[0], monitor.stop, fitted, posterior)


def check_finite(values: dict[str, float], errors: dict[str, float]) -> None:
    """FitError naming the first fitted value or uncertainty that is not a finite number."""
    for label, value in values.items():
        if not math.isfinite(value):
            raise FitError(f"the fit ended with {label} = {value}")
        if not math.isfinite(errors[label]):
            raise FitError(
                f"the uncertainty of {label} is not finite ({errors[label]}): the data do not "
                "determine it — fix it, narrow its range or constrain it"
            )


def _with_values(model: LayerModel, parameters: dict) -> LayerModel:
    """A copy of ``model`` holding the values the fit left in its refl1d parameters."""
    fitted = LayerModel.from_dict(model.to_dict())
    for name, par in parameters.items():
        fitted.param(name).value = float(par.value)
    return fitted


def asymmetry(first: list[float], second: list[float]) -> list[float | None]:
    """(R₁ − R₂) / (R₁ + R₂) point by point, e.g. of two spin states; None where undefined."""
    return [(a - b) / (a + b) if a + b else None for a, b in zip(first, second, strict=True)]


def spin_asymmetry(up: dict, down: dict) -> dict:
    """The spin asymmetry SA = (R⁺⁺ − R⁻⁻)/(R⁺⁺ + R⁻⁻) at the ``up`` (++) points within the
    ``down`` (--) points' Q range, R⁻⁻ interpolated there as refl1d's ``spin_asymmetry`` does;
    each is ``{"q", "r"}`` and, for data, ``"dr"``, from which the error propagates:
    ΔSA² = 4 (R⁺⁺² ΔR⁻⁻² + R⁻⁻² ΔR⁺⁺²) / (R⁺⁺ + R⁻⁻)⁴. Returns ``{"q", "sa", "dsa"}`` (dsa
    None without dr) with None where R⁺⁺ + R⁻⁻ = 0, those Q listed in ``"undefined"``."""
    q_up, r_up = np.asarray(up["q"], float), np.asarray(up["r"], float)
    q_down, r_down = np.asarray(down["q"], float), np.asarray(down["r"], float)
    inside = (q_up >= q_down.min()) & (q_up <= q_down.max()) if len(q_down) else q_up < 0
    q, a = q_up[inside], r_up[inside]
    b = np.interp(q, q_down, r_down)
    total = a + b
    defined = total != 0
    with np.errstate(all="ignore"):  # 0/0 where undefined: replaced by None below
        sa = (a - b) / total
        dsa = None
        if up.get("dr") is not None and down.get("dr") is not None:
            da = np.asarray(up["dr"], float)[inside]
            db = np.interp(q, q_down, np.asarray(down["dr"], float))
            dsa = 2 * np.sqrt((a * db) ** 2 + (b * da) ** 2) / total**2

    def listed(values):
        return [
            float(v) if ok and math.isfinite(v) else None
            for v, ok in zip(values, defined, strict=True)
        ]

    return {
        "q": q.tolist(),
        "sa": listed(sa),
        "dsa": None if dsa is None else listed(dsa),
        "undefined": q[~defined].tolist(),
    }


# DREAM's posterior, as kept with a fit: at most MAX_DRAWS draws (8 bytes × parameters each),
# the SLD profiles of BAND_DRAWS of them on BAND_POINTS depths reduced to their percentiles.
MAX_DRAWS = 10_000
BAND_DRAWS = 200
BAND_POINTS = 400
PERCENTILES = {"p2.5": 2.5, "p16": 16.0, "p50": 50.0, "p84": 84.0, "p97.5": 97.5}
RHAT_GOOD = 1.2  # Gelman & Rubin's rule of thumb: chains mixed when R̂ is below it


@dataclass
class Posterior:
    labels: list[str]  # the draws' columns, as FitResult.values names them
    draws: np.ndarray  # (draws, parameters), a random subset when DREAM kept more
    stats: dict[str, dict]  # label → bumps' mean, std, median, best, p68, p95; and R̂
    steps: int  # generations after the burn-in, as bumps counts them (± 1 of those asked for)
    burn: int  # generations of burn-in
    samples: int  # draws the statistics use (after bumps' trimming and outlier chains)
    chains: int  # DREAM's population
    portion: float  # the part of the chains used (bumps' trim)
    converged: bool  # bumps' Kolmogorov–Smirnov test found the chains at equilibrium
    bands: list[dict]  # per data set: z and the SLD's percentiles over the draws, and the best


def dream_posterior(state, problem, labels: list[str], options: dict) -> Posterior | None:
    """What a finished (or stopped) DREAM run says: its draws, bumps' statistics of them,
    Gelman–Rubin's R̂ of the chains used, bumps' equilibrium test and the SLD bands.
    None when the run was stopped before the end of its burn-in."""
    from bumps.dream.gelman import gelman
    from bumps.dream.stats import var_stats

    burn = int(options.get("burn", 100))
    draw = state.draw()
    if draw.points.shape[0] < 2 or state.generation <= burn:  # stopped in the burn-in
        return None
    # bumps' verdict, as its fit left it (DreamFit trims by default, as here): its burn_point
    # found where the chains' χ² became stationary, a point within the first half of the chains
    # (portion > 1/2), or warned "Did not converge!" and kept the last half (portion = 1/2).
    converged = bool(state.portion > 0.5)
    _, chains = state.traces()
    with np.errstate(all="ignore"):  # a chain of constant values: R̂ is nan, shown as such
        rhat = gelman(chains, portion=1.0) if chains.shape[0] > 1 else np.full(len(labels), np.nan)
    stats = {}
    for label, var, r in zip(labels, var_stats(draw), rhat, strict=True):
        stats[label] = {
            "best": float(var.best),
            "mean": float(var.mean),
            "std": float(var.std),
            "median": float(var.median),
            "p68": [float(v) for v in var.p68],
            "p95": [float(v) for v in var.p95],
            "rhat": float(r) if math.isfinite(r) else None,
        }
    points = draw.points
    if len(points) > MAX_DRAWS:
        keep = np.random.default_rng(0).choice(len(points), MAX_DRAWS, replace=False)
        points = points[np.sort(keep)]
    return Posterior(
        labels=list(labels),
        draws=np.ascontiguousarray(points, dtype=float),
        stats=stats,
        steps=max(0, int(state.generation) - burn),
        burn=burn,
        samples=int(draw.points.shape[0]),
        chains=int(state.Npop),
        portion=float(state.portion),
        converged=converged,
        bands=profile_bands(problem, points),
    )


def profile_bands(problem, points: np.ndarray) -> list[dict]:
    """For each data set, the SLD profile's percentiles over BAND_DRAWS random draws, on one
    depth grid (from the front surface) spanning all of them, and the best fit's profile
    (the parameters as the fit left them); for a magnetic sample the same of its magnetic
    SLD under ``rhoM``. Leaves the parameters at the last draw's."""
    best = [_band_profiles(experiment) for experiment in problem.models]
    picked = np.random.default_rng(1).choice(
        len(points), min(BAND_DRAWS, len(points)), replace=False
    )
    drawn = [[] for _ in problem.models]
    for index in picked:
        problem.setp(points[index])
        for found, experiment in zip(drawn, problem.models, strict=True):
            found.append(_band_profiles(experiment))
    bands = []
    for (best_z, best_profiles), found in zip(best, drawn, strict=True):
        low = min(min(z[0] for z, _ in found), best_z[0])
        high = max(max(z[-1] for z, _ in found), best_z[-1])
        z = np.linspace(low, high, BAND_POINTS)
        band = {"z": z.tolist()}
        for kind, best_values in best_profiles.items():
            # beyond a draw's own span its profile is the medium's: np.interp holds the ends
            values = np.array([np.interp(z, zs, profiles[kind]) for zs, profiles in found])
            percentiles = {"best": np.interp(z, best_z, best_values).tolist()}
            for name, percent in PERCENTILES.items():
                percentiles[name] = np.percentile(values, percent, axis=0).tolist()
            if kind == "sld":
                band.update(percentiles)
            else:
                band[kind] = percentiles
        bands.append(band)
    return bands


def _band_profiles(experiment) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Depth, and the profiles drawn with bands: the SLD, and ρM of a magnetic sample."""
    if getattr(experiment, "ismagnetic", False):
        z, rho, rho_m, _ = magnetic_profile(experiment)
        return z, {"sld": rho, "rhoM": rho_m}
    z, rho = profile(experiment)
    return z, {"sld": rho}
