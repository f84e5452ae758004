"""A reflectivity layer model as users edit it: front medium, layers, back medium, scale,
background and Q range, each number fixed or free within a range. Pure Python (no Django,
no refl1d): the web layer stores it as JSON and the refl1d adapter turns it into a problem.

Orientation, as in web reflectivity's form: the **front** medium is where the neutrons come in
(listed on top), then the layers from the front to the back, then the **back** medium (the
substrate, at the bottom). Each layer's roughness is the interface on its *front* side (toward
the front medium); the back medium's roughness is its interface with the deepest layer; the
front medium has none. Neither medium has a thickness (both are semi-infinite).

refl1d writes the same sample the other way round, from the substrate up
(``back(0, σ_back) | layer_n | … | layer_1 | front``), a slab's ``interface`` being the
roughness on its upper side: that is exactly a layer's front-side roughness here. Only the
refl1d adapter turns one order into the other.

Magnetism, for polarized data, as refl1d models it: each layer (and the back medium) has a
magnetic SLD ``rhoM`` (10⁻⁶/Å²) and the angle ``thetaM`` (degrees) of its in-plane
magnetization; the model has the applied field's direction ``guide_angle`` (refl1d's Aguide,
degrees) and strength ``guide_field`` (refl1d's H, tesla; only its Zeeman splitting of the
spin-flip cross-sections matters). refl1d's convention: guide_angle 270° is a field in the
sample plane, and thetaM 270° a magnetization parallel to it (the defaults), so that ++ sees
ρ + ρM and -- sees ρ − ρM and there is no spin flip; thetaM 90° is antiparallel.

Alignment, as refl1d's ``probe.theta_offset``: ``theta_offset`` (degrees) is added to the angle
of every point, which needs the data's angle ``angle`` (degrees; a time-of-flight run measures
at one angle): a point at Q is computed at Q·sin(angle + offset)/sin(angle). Without an angle
(0) the offset must stay 0.
"""

import keyword
import math
import re
from dataclasses import asdict, dataclass, field, replace

# Bounds on what one model can ask for (README: "Limits"): 100 layers, a thickness up to
# 10 µm, a roughness up to 1000 Å (beyond, refl1d's Névot–Croce factor overflows for common
# contrasts), SLDs up to ±1000 × 10⁻⁶/Å² (real materials stay below 20).
MAX_LAYERS = 100
MAX_LENGTH = 1e5  # Å, a thickness
MAX_ROUGHNESS = 1e3  # Å
MAX_SLD = 1e3  # 10⁻⁶/Å², SLD, iSLD and magnetic SLD
MAX_FIELD = 100.0  # T, the guide field
MAX_OFFSET = 5.0  # degrees, the θ offset
PARALLEL = 270.0  # degrees: refl1d's thetaM and Aguide of an in-plane field and magnetization

# refl1d parameter names are built from these names ("A thickness") and constraints refer to
# them ("A.thickness"): a name must not look like an expression.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


class ModelError(ValueError):
    """An invalid model; ``field`` names the input at fault, e.g. ``layers.1.thickness.min``."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass
class Param:
    value: float
    free: bool = False
    min: float | None = None
    max: float | None = None

    def check(self, where: str, lower: float = -math.inf, upper: float = math.inf) -> None:
        for part in ("value", "min", "max"):  # stored as JSON, which has no Infinity or NaN
            given = getattr(self, part)
            if given is not None and not math.isfinite(given):
                raise ModelError(f"{where}.{part}", "must be a finite number")
        if self.value < lower:
            raise ModelError(f"{where}.value", f"must be at least {lower:g}")
        if self.value > upper:
            raise ModelError(f"{where}.value", f"must be at most {upper:g}")
        if not self.free:
            return
        if self.min is None or self.max is None:
            raise ModelError(f"{where}.min", "a free parameter needs a minimum and a maximum")
        if self.min >= self.max:
            raise ModelError(
                f"{where}.max", f"the maximum {self.max:g} must exceed the minimum {self.min:g}"
            )
        if self.min < lower:
            raise ModelError(f"{where}.min", f"must be at least {lower:g}")
        if self.max > upper:
            raise ModelError(f"{where}.max", f"must be at most {upper:g}")
        if not self.min <= self.value <= self.max:
            raise ModelError(
                f"{where}.value",
                f"{self.value:g} is outside its range {self.min:g} to {self.max:g}",
            )


def fixed(value: float) -> Param:
    return Param(value)


@dataclass
class Layer:
    name: str
    thickness: Param = field(default_factory=lambda: fixed(0.0))
    sld: Param = field(default_factory=lambda: fixed(0.0))
    isld: Param = field(default_factory=lambda: fixed(0.0))
    roughness: Param = field(default_factory=lambda: fixed(0.0))
    rhoM: Param = field(default_factory=lambda: fixed(0.0))
    thetaM: Param = field(default_factory=lambda: fixed(PARALLEL))

    PARAMS = ("thickness", "sld", "isld", "roughness", "rhoM", "thetaM")
    MAGNETIC = ("rhoM", "thetaM")

    def has_magnetism(self, constrained: set[str] = frozenset()) -> bool:
        """Whether refl1d needs this layer's magnetism: a magnetic SLD, or a magnetic
        parameter fitted or computed by a constraint (names in ``constrained``)."""
        return self.rhoM.value != 0 or any(
            getattr(self, name).free or f"{self.name}.{name}" in constrained
            for name in self.MAGNETIC
        )


# A parameter's value when it is absent from a model's JSON (models saved before it existed).
DEFAULTS = {"thetaM": PARALLEL}

# What each medium has; refl1d ignores the rest (a medium's thickness, the front medium's
# roughness, absorption and magnetism), so they must keep their defaults (0; thetaM 270) and
# cannot be fitted or constrained.
MEDIUM_PARAMS = {
    "front": ("sld",),
    "back": ("sld", "isld", "roughness", "rhoM", "thetaM"),
}
# The model's own parameters besides the layers': (default, lowest, highest).
MODEL_PARAMS = {
    "scale": (1.0, 0.0, math.inf),
    "background": (0.0, 0.0, math.inf),
    "guide_angle": (PARALLEL, -360.0, 360.0),  # refl1d's Aguide limits
    "guide_field": (0.0, 0.0, MAX_FIELD),
    "theta_offset": (0.0, -MAX_OFFSET, MAX_OFFSET),  # degrees, refl1d's probe.theta_offset
}


@dataclass
class LayerModel:
    front: Layer = field(default_factory=lambda: Layer("air"))
    layers: list[Layer] = field(
        default_factory=lambda: [Layer("material", fixed(50.0), fixed(2.0), fixed(0.0), fixed(1.0))]
    )
    back: Layer = field(default_factory=lambda: Layer("Si", sld=fixed(2.07), roughness=fixed(5.0)))
    scale: Param = field(default_factory=lambda: fixed(1.0))
    background: Param = field(default_factory=lambda: fixed(0.0))
    guide_angle: Param = field(default_factory=lambda: fixed(PARALLEL))  # degrees
    guide_field: Param = field(default_factory=lambda: fixed(0.0))  # tesla
    theta_offset: Param = field(default_factory=lambda: fixed(0.0))  # degrees
    q_min: float = 0.0
    q_max: float = 1.0
    angle: float = 0.0  # degrees: the data's angle (one TOF run), 0 if not given
    # target → expression, e.g. {"B.thickness": "0.1 * A.thickness + 5"} (see constraints.py)
    constraints: dict[str, str] = field(default_factory=dict)

    def all_layers(self) -> list[Layer]:
        return [self.front, *self.layers, self.back]

    def check(self) -> "LayerModel":
        """Raise ModelError for the first problem, naming its field; return self."""
        if len(self.layers) > MAX_LAYERS:
            raise ModelError("layers", f"{len(self.layers)} layers, at most {MAX_LAYERS}")
        names = set()
        for where, layer in self.stack():
            if not NAME.fullmatch(layer.name) or keyword.iskeyword(layer.name):
                raise ModelError(
                    f"{where}.name",
                    f"{layer.name!r} must start with a letter and hold only "
                    "letters, digits and _ (up to 40)",
                )
            if layer.name in names:
                raise ModelError(f"{where}.name", f"two layers are called {layer.name!r}")
            names.add(layer.name)
            for name in Layer.PARAMS:
                param = getattr(layer, name)
                missing = where in MEDIUM_PARAMS and name not in MEDIUM_PARAMS[where]
                if missing and (param.free or param.value != DEFAULTS.get(name, 0.0)):
                    raise ModelError(f"{where}.{name}", _NO_SUCH[where, name])
            layer.thickness.check(f"{where}.thickness", lower=0.0, upper=MAX_LENGTH)
            layer.roughness.check(f"{where}.roughness", lower=0.0, upper=MAX_ROUGHNESS)
            layer.sld.check(f"{where}.sld", lower=-MAX_SLD, upper=MAX_SLD)
            layer.isld.check(f"{where}.isld", lower=0.0, upper=MAX_SLD)
            layer.rhoM.check(f"{where}.rhoM", lower=-MAX_SLD, upper=MAX_SLD)
            layer.thetaM.check(f"{where}.thetaM", lower=0.0, upper=360.0)  # refl1d's limits
        for name, (_, lowest, highest) in MODEL_PARAMS.items():
            getattr(self, name).check(name, lower=lowest, upper=highest)
        if not (math.isfinite(self.q_max) and 0 <= self.q_min < self.q_max):
            raise ModelError("q_max", "the Q range must be finite and satisfy 0 ≤ Q min < Q max")
        if not (math.isfinite(self.angle) and 0 <= self.angle < 90):
            raise ModelError(
                "angle", "the data's angle must be a finite number from 0 to 90° (0: not given)"
            )
        offset = self.theta_offset
        if not self.angle and (offset.value or offset.free or "theta_offset" in self.constraints):
            raise ModelError(
                "angle",
                "a θ offset needs the data's angle (the angle of the time-of-flight run, in "
                "degrees): give it, or keep the θ offset at 0",
            )
        self.check_constraints()
        return self

    def check_constraints(self) -> None:
        from beamtime.fitting import constraints  # it builds bumps expressions: imported late

        parsed = [constraints.Constraint(t, e) for t, e in self.constraints.items()]
        try:
            constraints.check_all(parsed, self.parameter_names())
        except constraints.ConstraintError as exc:
            raise ModelError(exc.field, str(exc)) from None
        free = {name for name, _ in self.free_parameters()}
        for c in parsed:
            if c.target in free:
                raise ModelError(
                    f"constraints.{c.target}",
                    f"{c.target} is constrained, so it cannot be fitted too",
                )

    def stack(self) -> list[tuple[str, Layer]]:
        """Every row with its place in the model (``front``, ``layers.0``, …, ``back``)."""
        rows = [("front", self.front)]
        rows += [(f"layers.{i}", layer) for i, layer in enumerate(self.layers)]
        return rows + [("back", self.back)]

    def param(self, name: str) -> Param:
        """A parameter by its constraint name: ``A.thickness``, ``scale``, ``guide_angle``."""
        if name in MODEL_PARAMS:
            return getattr(self, name)
        layer_name, _, param = name.partition(".")
        layer = next(layer for layer in self.all_layers() if layer.name == layer_name)
        return getattr(layer, param)

    def parameter_names(self) -> set[str]:
        """What constraints may refer to: ``LAYER.param`` and the model's own (``scale``,
        ``background``, ``guide_angle``, ``guide_field``) — only parameters that exist (not
        the front medium's roughness or magnetism, nor a medium's thickness)."""
        return {
            f"{layer.name}.{name}"
            for where, layer in self.stack()
            for name in MEDIUM_PARAMS.get(where, Layer.PARAMS)
        } | set(MODEL_PARAMS)

    def uses_magnetism(self) -> bool:
        """Whether the model is meant for polarized data: a magnetic layer, or a guide field
        other than the default (270°, 0 T)."""
        return bool(self.magnetic_layers()) or any(
            self.param(name) != fixed(MODEL_PARAMS[name][0])
            for name in ("guide_angle", "guide_field")
        )

    def magnetic_layers(self) -> list[Layer]:
        """The rows refl1d must give magnetism to (see Layer.has_magnetism); none for a
        model without magnetism, which then needs no polarized data."""
        constrained = set(self.constraints)
        return [layer for layer in self.all_layers() if layer.has_magnetism(constrained)]

    def free_parameters(self) -> list[tuple[str, Param]]:
        found = [
            (f"{layer.name}.{name}", getattr(layer, name))
            for layer in self.all_layers()
            for name in Layer.PARAMS
            if getattr(layer, name).free
        ]
        found += [(name, getattr(self, name)) for name in MODEL_PARAMS if getattr(self, name).free]
        return found

    def reversed(self) -> "LayerModel":
        """The same sample seen from the other side: front and back swapped, layers reversed.
        Each interface keeps its roughness: a row's roughness is the interface on its front
        side, which seen from the other side is the front side of the row that was before it.
        Constraints follow their interfaces; each row keeps its magnetism (the old back
        medium's, now the front's, must be none: ModelError otherwise)."""
        stack = self.all_layers()[::-1]
        if self.back.has_magnetism(set(self.constraints)):
            raise ModelError(
                "back.rhoM",
                "the back medium is magnetic, and the front medium of the reversed model cannot "
                "be: make its magnetism a layer's first",
            )
        new = [replace(layer) for layer in stack]
        new[0].roughness = fixed(0.0)  # the old back medium becomes the front: none
        renamed = {}
        for i in range(1, len(new)):
            new[i].roughness = stack[i - 1].roughness
            renamed[f"{stack[i - 1].name}.roughness"] = f"{stack[i].name}.roughness"
        from beamtime.fitting import constraints  # it builds bumps expressions: imported late

        return replace(
            self,
            front=new[0],
            layers=new[1:-1],
            back=new[-1],
            constraints={
                constraints.rename(target, renamed): constraints.rename(expression, renamed)
                for target, expression in self.constraints.items()
            },
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "LayerModel":
        """Build and check a model from its JSON form; ModelError names what is wrong."""

        def param(value, where):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return Param(number(value, f"{where}.value"))
            if not isinstance(value, dict):
                raise ModelError(where, "must be a number or {value, free, min, max}")
            unknown = set(value) - {"value", "free", "min", "max"}
            if unknown:
                raise ModelError(where, f"unknown key {sorted(unknown)[0]!r}")
            if "value" not in value:
                raise ModelError(f"{where}.value", "must be given")
            free = value.get("free", False)
            if not isinstance(free, bool):
                raise ModelError(f"{where}.free", "must be true or false")
            bounds = {
                key: None if value.get(key) is None else number(value[key], f"{where}.{key}")
                for key in ("min", "max")
            }
            return Param(number(value["value"], f"{where}.value"), free, **bounds)

        def layer(value, where):
            if not isinstance(value, dict) or not isinstance(value.get("name"), str):
                raise ModelError(where, "a layer needs a name")
            unknown = set(value) - {"name", *Layer.PARAMS}
            if unknown:
                raise ModelError(where, f"unknown key {sorted(unknown)[0]!r}")
            return Layer(
                value["name"],
                **{
                    p: param(value.get(p, DEFAULTS.get(p, 0.0)), f"{where}.{p}")
                    for p in Layer.PARAMS
                },
            )

        if not isinstance(data, dict):
            raise ModelError("model", "must be a JSON object")
        unknown = set(data) - {"front", "layers", "back", "q_min", "q_max", "angle", "constraints"}
        unknown -= set(MODEL_PARAMS)
        if unknown:
            raise ModelError("model", f"unknown key {sorted(unknown)[0]!r}")
        layers = data.get("layers", [])
        if not isinstance(layers, list):
            raise ModelError("layers", "must be a list")
        if len(layers) > MAX_LAYERS:  # before reading them: a request cannot ask for more work
            raise ModelError("layers", f"{len(layers)} layers, at most {MAX_LAYERS}")
        q_min, q_max = (
            number(data.get("q_min", 0.0), "q_min"),
            number(data.get("q_max", 1.0), "q_max"),
        )
        angle = number(data.get("angle", 0.0), "angle", "the data's angle must be a number")
        model = cls(
            front=layer(data.get("front"), "front"),
            layers=[layer(item, f"layers.{i}") for i, item in enumerate(layers)],
            back=layer(data.get("back"), "back"),
            **{
                name: param(data.get(name, default), name)
                for name, (default, _, _) in MODEL_PARAMS.items()
            },
            q_min=q_min,
            q_max=q_max,
            angle=angle,
            constraints=constraint_map(data.get("constraints", {})),
        )
        return model.check()


_NO_SUCH = {
    ("front", "roughness"): "the front medium has no roughness: each layer's roughness is the "
    "interface on its front side, and the back medium's is its interface with the last layer",
    ("front", "isld"): "refl1d ignores the front medium's absorption: its iSLD must be 0",
    ("front", "thickness"): "the front medium has no thickness (it is semi-infinite)",
    ("back", "thickness"): "the back medium has no thickness (it is semi-infinite)",
    ("front", "rhoM"): "the front medium cannot be magnetic (refl1d ignores its magnetism): "
    "give the magnetic SLD to a layer",
    ("front", "thetaM"): "the front medium has no magnetization angle (refl1d ignores its "
    "magnetism): keep it at 270",
}


def number(value, where: str, message: str = "must be a number") -> float:
    """``value`` (a number, or its text) as a float, ModelError naming ``where`` if it is
    none; ``check`` then wants it finite."""
    try:
        return float(value)
    except OverflowError:  # an integer of 400 digits
        raise ModelError(where, "is too large (a number beyond ±1e308)") from None
    except (TypeError, ValueError):
        raise ModelError(where, message) from None


def constraint_map(value) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ModelError("constraints", "must map parameter names to expressions (text)")
    return {k.strip(): v.strip() for k, v in value.items() if v.strip()}
