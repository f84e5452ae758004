"""The one module that imports refl1d and bumps: layer models and data in, refl1d problems,
curves, fits and scripts out. Nothing else in Beamtime touches refl1d, so an upgrade of
refl1d touches this file only. No Django here: workers and scripts use it directly."""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from bumps.fitters import FITTERS, FitDriver
from bumps.monitor import Monitor
from refl1d.names import SLD, Experiment, FitProblem, QProbe

from beamtime.fitting import constraints
from beamtime.fitting.data import ReflData
from beamtime.fitting.layers import Layer, LayerModel, Param

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
ENGINES = {
    "lm": "Levenberg-Marquardt",
    "amoeba": "Nelder-Mead simplex",
    "de": "Differential evolution",
    "dream": "DREAM (Bayesian uncertainty)",
}
REFL1D_NAME = {"thickness": "thickness", "sld": "rho", "isld": "irho", "roughness": "interface"}


def _bind(par, param: Param) -> None:
    par.value = param.value
    if param.free:
        par.range(param.min, param.max)


def build_experiment(model: LayerModel, data: ReflData) -> Experiment:
    """The refl1d experiment for a checked model against data, within the model's Q range."""
    keep = (data.q >= model.q_min) & (data.q <= model.q_max)
    if not keep.any():
        raise ValueError(f"no data point lies in the Q range {model.q_min:g} to {model.q_max:g}")
    dq = data.dq[keep] / FWHM_PER_SIGMA if data.dq is not None else np.zeros(int(keep.sum()))
    probe = QProbe(data.q[keep], dq, R=data.r[keep], dR=data.dr[keep])
    _bind(probe.intensity, model.scale)
    _bind(probe.background, model.background)
    slabs = []
    for layer in model.all_layers():
        slab = SLD(layer.name, rho=layer.sld.value, irho=layer.isld.value)(
            layer.thickness.value, layer.roughness.value
        )
        for name, refl1d_name in REFL1D_NAME.items():
            target = slab.material if name in ("sld", "isld") else slab
            _bind(getattr(target, refl1d_name), getattr(layer, name))
        slabs.append(slab)
    sample = slabs[0]
    for slab in slabs[1:]:
        sample = sample | slab
    parameters = {"scale": probe.intensity, "background": probe.background}
    for layer, slab in zip(model.all_layers(), slabs, strict=True):
        for name, refl1d_name in REFL1D_NAME.items():
            owner = slab.material if name in ("sld", "isld") else slab
            parameters[f"{layer.name}.{name}"] = getattr(owner, refl1d_name)
    constraints.apply(
        [constraints.Constraint(t, e) for t, e in model.constraints.items()], parameters
    )
    return Experiment(probe=probe, sample=sample)


def build_problem(model: LayerModel, data: ReflData) -> FitProblem:
    return FitProblem(build_experiment(model, data))


def to_script(model: LayerModel, data_file: str) -> str:
    """A refl1d script for the same problem; ``refl1d SCRIPT --chisq`` gives the same χ²."""
    lines = [
        "# A refl1d model written by Beamtime. Fit with: refl1d THIS_FILE --fit=lm --steps=200",
        "import numpy as np",
        "from refl1d.names import SLD, Experiment, FitProblem, QProbe",
        "",
        f"Q, R, dR, *rest = np.loadtxt({data_file!r}).T",
        f"dQ = rest[0] / {FWHM_PER_SIGMA!r} if rest else np.zeros_like(Q)  # FWHM to 1-sigma",
        f"keep = (Q >= {model.q_min!r}) & (Q <= {model.q_max!r})",
        "probe = QProbe(Q[keep], dQ[keep], R=R[keep], dR=dR[keep])",
    ]
    for name, target in (("scale", "probe.intensity"), ("background", "probe.background")):
        lines += _param_lines(target, getattr(model, name))
    stack = " | ".join(
        f"SLD({layer.name!r}, rho={layer.sld.value!r}, irho={layer.isld.value!r})"
        f"({layer.thickness.value!r}, {layer.roughness.value!r})"
        for layer in model.all_layers()
    )
    lines.append(f"sample = {stack}")
    for index, layer in enumerate(model.all_layers()):
        for name, refl1d_name in REFL1D_NAME.items():
            param = getattr(layer, name)
            if param.free:
                owner = (
                    f"sample[{index}].material" if name in ("sld", "isld") else f"sample[{index}]"
                )
                lines.append(f"{owner}.{refl1d_name}.range({param.min!r}, {param.max!r})")
    if model.constraints:
        lines.append(
            "from bumps import pmath  # constraint functions: sqrt, exp, log, sin, cos, tan"
        )
    places = {"scale": "probe.intensity", "background": "probe.background"}
    for index, layer in enumerate(model.all_layers()):
        for name, refl1d_name in REFL1D_NAME.items():
            owner = f"sample[{index}].material" if name in ("sld", "isld") else f"sample[{index}]"
            places[f"{layer.name}.{name}"] = f"{owner}.{refl1d_name}"
    for target, expression in model.constraints.items():
        code = constraints.to_python(constraints.Constraint(target, expression), places)
        lines.append(f"{places[target]}.equals({code})  # {target} = {expression}")
    lines += ["", "problem = FitProblem(Experiment(probe=probe, sample=sample))", ""]
    return "\n".join(lines)


def _param_lines(target: str, param: Param) -> list[str]:
    lines = [f"{target}.value = {param.value!r}"]
    if param.free:
        lines.append(f"{target}.range({param.min!r}, {param.max!r})")
    return lines


@dataclass
class Curve:
    q: list[float]
    r: list[float]
    chisq: float
    profile_z: list[float]
    profile_sld: list[float]


def evaluate(model: LayerModel, data: ReflData) -> Curve:
    """The model's reflectivity at the data's Q, its χ² and its SLD profile."""
    experiment = build_experiment(model, data)
    problem = FitProblem(experiment)
    q, r = experiment.reflectivity()
    z, rho, _ = experiment.smooth_profile()
    return Curve(q.tolist(), r.tolist(), float(problem.chisq()), z.tolist(), rho.tolist())


@dataclass
class FitResult:
    values: dict[str, float]  # refl1d label → value
    errors: dict[str, float]  # refl1d label → 1-σ uncertainty
    chisq: float
    model: LayerModel  # the model with the fitted values
    stopped: bool = False  # cancelled before it converged


class _Progress(Monitor):
    """Hands bumps' step reports to ``report``; a False answer asks the fit to stop."""

    def __init__(self, problem, report: Callable[[dict], bool], total_steps: int | None):
        self.problem, self.report, self.total = problem, report, total_steps
        self.stop = False

    def config_history(self, history):
        history.requires(step=1, value=1)

    def __call__(self, history):
        step = int(history.step[0])
        event = {
            "step": step,
            "chisq": float(self.problem.chisq(nllf=history.value[0])),
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
    data: ReflData,
    engine: str = "lm",
    options: dict | None = None,
    progress: Callable[[dict], bool] | None = None,
) -> FitResult:
    """Fit the model's free parameters with bumps. ``progress(event)`` hears of each step
    (``{"step", "chisq", "percent"}``) and may return False to stop the fit early."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")
    free = model.free_parameters()
    if not free:
        raise ValueError("the model has no free parameter: free at least one before fitting")
    problem = build_problem(model, data)
    options = dict(options or {})
    monitor = _Progress(
        problem, progress or (lambda event: True), total_steps(engine, options, len(free))
    )
    fitclass = next(f for f in FITTERS if f.id == engine)
    driver = FitDriver(
        fitclass, problem=problem, monitors=[monitor], abort_test=lambda: monitor.stop, **options
    )
    driver.clip()
    x, _ = driver.fit()
    problem.setp(x)
    labels = problem.labels()
    return FitResult(
        values=dict(zip(labels, map(float, x), strict=True)),
        errors=dict(zip(labels, map(float, driver.stderr()), strict=True)),
        chisq=float(problem.chisq()),
        model=_with_values(model, labels, x),
        stopped=monitor.stop,
    )


def _with_values(model: LayerModel, labels, x) -> LayerModel:
    """A copy of ``model`` with the fitted values in place of the start values."""
    fitted = LayerModel.from_dict(model.to_dict())
    by_label = dict(zip(labels, x, strict=True))
    for layer in fitted.all_layers():
        for name in Layer.PARAMS:
            param = getattr(layer, name)
            label = f"{layer.name} {REFL1D_NAME[name]}"
            if param.free and label in by_label:
                param.value = float(by_label[label])
    for name, label in (("scale", "intensity"), ("background", "background")):
        param = getattr(fitted, name)
        match = next((v for k, v in by_label.items() if k.endswith(label)), None)
        if param.free and match is not None:
            param.value = float(match)
    return fitted
