"""Reading a layer model from a refl1d script — one Beamtime wrote (``refl1d_adapter.to_script``)
or one written by hand in the style of refl1d's documentation. The script is parsed with
``ast``, never run. What is read:

- materials: ``Si = SLD(name="Si", rho=2.07, irho=0)``, ``SLD("A", 4.5)``, ``Material("Ni")``,
  ``Material("SiO2", density=2.2)`` (SLD from periodictable at its 1.798 Å), ``Vacuum()`` and
  refl1d's own ``air``, ``silicon``/``Si``, ``gold``/``Au``, ``sapphire``, ``water``/``H2O``,
  ``heavywater``/``D2O``, ``permalloy``;
- slabs ``material(thickness, interface)`` or ``Slab(material, thickness, interface)``, and a
  bare material (thickness and interface 0), stacked with ``|`` from the substrate (the back
  medium) up to the front medium the neutrons come from, a slab's interface being the
  roughness on its upper (front) side, as refl1d reads them; a medium's thickness is ignored
  as refl1d ignores it; ``stack * n`` and ``Repeat(stack, repeat=n, interface=x)`` are written
  out as layers sharing the first copy's parameters (refl1d's copies share them), the top of
  the last copy taking the repeat's interface; slices ``sample[1:-1]`` and ``for`` loops over
  them;
- the sample: the one given to ``Experiment(sample=…)`` or ``instrument.simulate(…)``, else
  the variable ``sample``; its slabs may be named (``substrate, film, ambient = sample``);
- on a parameter (``sample[i].thickness``/``.interface``/``.material.rho``/``.irho``, the same
  through variables, ``nickel.rho``, ``probe.intensity``/``.background``): ``.value = x``,
  ``.range(lo, hi)``, ``.pm(x)``, ``.pmp(p)`` (bumps' rounded ranges), and constraints
  ``P = EXPRESSION`` or ``P.equals(EXPRESSION)`` over parameters, numbers, + - * / ** and
  sqrt exp log sin cos tan abs (``np.``/``pmath.`` prefixes allowed);
- ``keep = (Q >= lo) & (Q <= hi)`` as the Q range;
- ``NeutronProbe(back_reflectivity=True)``: the model is the sample seen from the back;
- magnetism: ``material(thickness, interface, magnetism=Magnetism(rhoM=…, thetaM=…))`` (or
  ``Slab(…, magnetism=…)``), its parameters ``sample[i].magnetism.rhoM``/``.thetaM``; the
  guide field of a ``PolarizedNeutronProbe``/``PolarizedQProbe``/``load_magnetic(…)``
  (``Aguide=``, ``H=``, or ``probe.Aguide``/``probe.H``); ``q_min, q_max = lo, hi`` as the
  Q range (Beamtime's polarized scripts);
- a ``Material``'s ``.density`` (value, range): its SLD in proportion, irho tied to rho.

Statements that do not touch the sample (imports, loading data, the probe, the fit problem)
are skipped; any other statement that touches it is refused, naming its line.
"""

import ast
import contextlib
import keyword
import math
import re
from dataclasses import dataclass, field

import periodictable
from bumps.bounds import pm, pmp
from periodictable import nsf

from beamtime.fitting.layers import MAX_LAYERS, PARALLEL, LayerModel, ModelError

MAX_BYTES = 1 << 20
MAX_NUMBER = 1e300
MAX_STEPS = 10_000  # statements run by loops over slabs, all loops together
FUNCTIONS = ("sqrt", "exp", "log", "sin", "cos", "tan", "abs")
FUNCTION_MODULES = ("np", "numpy", "pmath", "math")
POLARIZED = ("PolarizedNeutronProbe", "PolarizedQProbe", "load_magnetic", "magnetic_probe")
# refl1d.materialdb's materials: name, formula, density (None: the element's own)
KNOWN = {
    "silicon": ("Si", "Si", None),
    "Si": ("Si", "Si", None),
    "gold": ("gold", "Au", None),
    "Au": ("gold", "Au", None),
    "sapphire": ("sapphire", "Al2O3", 3.965),
    "Al2O3": ("sapphire", "Al2O3", 3.965),
    "water": ("water", "H2O", 1.0),
    "H2O": ("water", "H2O", 1.0),
    "permalloy": ("permalloy", "Ni8Fe2", 8.692),
    "Ni8Fe2": ("permalloy", "Ni8Fe2", 8.692),
}
HEAVY = periodictable.formula("D2O").mass / periodictable.formula("H2O").mass
KNOWN |= {"heavywater": ("D2O", "D2O", HEAVY), "D2O": ("D2O", "D2O", HEAVY)}
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


class ScriptError(ModelError):
    def __init__(self, line: int, message: str):
        super().__init__("script", f"line {line}: {message}")


def _fail(line: int, message: str):
    raise ScriptError(line, message)


@dataclass(eq=False)
class _P:
    """A refl1d parameter as the script leaves it."""

    value: float
    bounds: tuple[float, float] | None = None
    equals: tuple[ast.expr, int] | None = None  # the expression (parameters as _Ref), its line


@dataclass(eq=False)
class _Material:
    name: str
    rho: _P
    irho: _P
    formula: str | None = None  # a Material: refl1d fits its density, it has no rho
    density: _P | None = None  # a Material's density (g/cm³); its SLD is proportional to it
    per_density: tuple[float, float] = (0.0, 0.0)  # rho and irho at density 1
    # Mixture.byvolume: the volume percent of each part after the base, and the (rho, irho)
    # of the base and each part; rho and irho are the volume-weighted sums
    fractions: list[_P] | None = None
    parts: list[tuple[float, float]] = field(default_factory=list)


@dataclass(eq=False)
class _Magnetism:
    """refl1d's ``Magnetism(rhoM, thetaM)`` anchored to one slab."""

    rhoM: _P
    thetaM: _P


@dataclass(eq=False)
class _Slab:
    material: _Material
    thickness: _P
    interface: _P
    magnetism: _Magnetism | None = None


@dataclass(eq=False)
class _Repeat:
    """refl1d's ``Repeat``: its stack's slabs ``count`` times over, sharing their parameters,
    the top slab of the last copy with the repeat's own interface."""

    stack: list
    count: int
    interface: _P


@dataclass(eq=False)
class _Probe:
    """One probe of a list of them (a ProbeSet): its own intensity, background and θ offset
    (``params``), and its angle (degrees; 0 if not given)."""

    params: dict[str, _P]
    angle: float = 0.0


PROBE_PARAMS = ("intensity", "background", "theta_offset")
# Beamtime's name of each probe parameter, refl1d's name
AS_MODEL_PARAMS = (
    ("scale", "intensity"),
    ("background", "background"),
    ("theta_offset", "theta_offset"),
)
PROBE_ATTRS = (*PROBE_PARAMS, "Aguide", "H")
PROBE_CALLS = ("load", "load4", "NeutronProbe")  # a list of these is a list of probes


@dataclass
class _Reader:
    lines: int = 0
    env: dict = field(default_factory=dict)
    probe: dict = field(
        default_factory=lambda: {
            "intensity": _P(1.0),
            "background": _P(0.0),
            "Aguide": _P(PARALLEL),  # refl1d's defaults: a guide field in the sample plane
            "H": _P(0.0),
            "theta_offset": _P(0.0),
        }
    )
    angle: float = 0.0  # NeutronProbe(T=number): the data's angle, for a θ offset
    sample: tuple[list[_Slab], int] | None = None
    q_range: tuple[float, float] = (0.0, 1.0)
    wavelength: float = nsf.ABSORPTION_WAVELENGTH  # for Material SLDs, as the probe's
    defined: dict[str, int] = field(default_factory=dict)  # the line of each variable
    steps: int = 0
    back: bool = False  # NeutronProbe(back_reflectivity=True): the beam enters through the back
    xray: int | None = None  # the line of an X-ray probe or instrument: SLDs must be given
    # plain values the script sets (search = "rltest", loop counters), for its if statements
    constants: dict[str, object] = field(default_factory=dict)
    # the guide field (Aguide, H) of each polarized probe assigned to a name, with its line
    fields: dict[str, tuple[dict[str, float], int]] = field(default_factory=dict)
    field_conflict: tuple[int, str] | None = None  # probes with different fields: line, which
    experiments: list[tuple[ast.expr | None, int]] = field(default_factory=list)  # probe, line
    probe_line: int | None = None  # the first line reading a probe's parameter


def _number(node: ast.expr, line: int) -> float:
    """A number, or arithmetic (+ - * /) of numbers."""
    match node:
        case ast.Constant(value=value) if type(value) in (int, float):
            try:
                number = float(value)
            except OverflowError:  # a 400-digit integer
                _fail(line, f"the number {str(value)[:20]}… is too large")
        case ast.UnaryOp(op=ast.USub() | ast.UAdd() as op, operand=operand):
            number = _number(operand, line) * (-1 if isinstance(op, ast.USub) else 1)
        case ast.BinOp(op=ast.Add() | ast.Sub() | ast.Mult() | ast.Div() as op):
            left, right = _number(node.left, line), _number(node.right, line)
            if isinstance(op, ast.Div) and right == 0:
                _fail(line, "division by zero")
            if isinstance(op, ast.Add):
                number = left + right
            elif isinstance(op, ast.Sub):
                number = left - right
            else:
                number = left * right if isinstance(op, ast.Mult) else left / right
        case _:
            _fail(line, "a number is expected here")
    if not math.isfinite(number) or abs(number) > MAX_NUMBER:
        _fail(line, "the number is too large")
    return number


def _formula_material(name, formula, density, line, wavelength) -> _Material:
    rho, irho, density = _sld(formula, density, line, wavelength)
    if density <= 0:
        _fail(line, f"Material({formula!r}): the density must be positive")
    per_density = (rho / density, irho / density)
    return _Material(name, _P(rho), _P(irho), formula, _P(density), per_density)


def _sld(formula: str, density, line: int, wavelength: float) -> tuple[float, float, float]:
    try:
        compound = periodictable.formula(formula)
    except Exception:  # periodictable's parser raises several kinds (pyparsing's among them)
        compound = None
    if compound is None or not compound.atoms:
        _fail(line, f"{formula!r} is not a chemical formula periodictable knows")
    density = compound.density if density is None else density
    if density is None:
        _fail(line, f"Material({formula!r}) needs a density=")
    # as refl1d: the SLD at density 1, scaled by the density, at the probe's wavelength
    rho, irho, _ = nsf.neutron_sld(compound, density=1.0, wavelength=wavelength)
    return rho * density, irho * density, density


def _known(name: str, line: int, wavelength: float) -> _Material:
    if name == "air":
        return _Material("air", _P(0.0), _P(0.0))
    label, formula, density = KNOWN[name]
    return _formula_material(label, formula, density, line, wavelength)


def _arguments(call: ast.Call, names: tuple[str, ...], line: int) -> dict[str, ast.expr]:
    if len(call.args) > len(names) or any(
        k.arg not in names or isinstance(k.value, ast.Starred) for k in call.keywords
    ):
        _fail(line, f"expected the arguments {', '.join(names)}")
    found = dict(zip(names, call.args, strict=False))
    for keyword_ in call.keywords:
        if keyword_.arg in found:
            _fail(line, f"{keyword_.arg} is given twice")
        found[keyword_.arg] = keyword_.value
    if any(isinstance(a, ast.Starred) for a in found.values()):
        _fail(line, "*arguments cannot be read")
    return found


def _text(node: ast.expr, line: int) -> str:
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        _fail(line, "a name in quotes is expected here")
    return node.value


def _material_call(call: ast.Call, kind: str, line: int, wavelength: float) -> _Material:
    if kind == "Vacuum":
        _arguments(call, (), line)
        return _known("air", line, wavelength)
    if kind == "SLD":
        given = _arguments(call, ("name", "rho", "irho"), line)
        name = _text(given["name"], line) if "name" in given else "SLD"
        rho, irho = (_number(given[k], line) if k in given else 0.0 for k in ("rho", "irho"))
        return _Material(name, _P(rho), _P(irho))
    given = _arguments(call, ("formula", "density", "name"), line)
    if "formula" not in given:
        _fail(line, "Material needs a chemical formula")
    formula = _text(given["formula"], line)
    density = _number(given["density"], line) if "density" in given else None
    name = _text(given["name"], line) if "name" in given else formula
    return _formula_material(name, formula, density, line, wavelength)


def _slab(
    material: _Material, call: ast.Call, line: int, names=("thickness", "interface"), read=None
):
    """A slab of ``material``; ``read`` evaluates its ``magnetism=`` (a _Magnetism)."""
    given = _arguments(call, (*names, "magnetism"), line)
    size, rough = (_number(given[k], line) if k in given else 0.0 for k in names[-2:])
    magnetism = None
    if "magnetism" in given and not (
        isinstance(given["magnetism"], ast.Constant) and given["magnetism"].value is None
    ):
        magnetism = read(given["magnetism"], line)
        if not isinstance(magnetism, _Magnetism):
            _fail(line, "magnetism= must be a Magnetism(rhoM=…, thetaM=…)")
    return _Slab(material, _P(size), _P(rough), magnetism)


def _magnetism(call: ast.Call, line: int) -> _Magnetism:
    """``Magnetism(rhoM=…, thetaM=…)``: refl1d's flat magnetism of one slab, thetaM 270 by
    default; dead layers, magnetic interfaces of their own or an extent cannot be represented."""
    other = [k.arg for k in call.keywords if k.arg not in ("rhoM", "thetaM", "name")]
    if other:
        _fail(
            line,
            f"Magnetism({other[0]}=…) cannot be represented: a layer's magnetism spans the "
            "layer, with its interfaces (only rhoM and thetaM)",
        )
    given = _arguments(call, ("rhoM", "thetaM", "name"), line)
    rho_m = _number(given["rhoM"], line) if "rhoM" in given else 0.0
    theta_m = _number(given["thetaM"], line) if "thetaM" in given else 270.0
    return _Magnetism(_P(rho_m), _P(theta_m))


class _Evaluator:
    def __init__(self, reader: _Reader):
        self.reader = reader
        self.refs: dict[str, _P] = {}  # the parameters in constraint expressions, by placeholder

    def touches(self, node: ast.AST) -> bool:
        """Whether a statement or expression refers to the sample or its parameters."""
        for child in ast.walk(node):
            match child:
                case ast.Name(id=name) if (
                    name in self.reader.env
                    or name in KNOWN
                    or name
                    in (
                        "air",
                        "SLD",
                        "Material",
                        "Slab",
                        "Vacuum",
                        "Repeat",
                        "Mixture",
                        "Magnetism",
                    )
                ):
                    return True
                case ast.Attribute(attr=attr) if attr in PROBE_ATTRS:
                    return True
        return False

    def value(self, node: ast.expr, line: int):
        """A float, _Material, _Slab, list of _Slab (a stack) or _P."""
        env = self.reader.env
        match node:
            case ast.Name(id=name):
                if name in env:
                    return env[name]
                if name in KNOWN or name == "air":
                    return _known(name, line, self.reader.wavelength)
                _fail(line, f"{name} is not a material, slab or parameter defined above")
            case ast.Call(func=ast.Name(id="SLD" | "Material" | "Vacuum" as kind)):
                return _material_call(node, kind, line, self.reader.wavelength)
            case ast.Call(func=ast.Name(id="Magnetism")):
                return _magnetism(node, line)
            case ast.Call(func=ast.Name(id="ProbeSet"), args=[probes], keywords=[]):
                found = self.value(probes, line)
                if not (isinstance(found, list) and all(isinstance(p, _Probe) for p in found)):
                    _fail(line, "ProbeSet needs a list of probes defined above")
                return found
            case ast.Call(func=ast.Attribute(value=ast.Name(id="Mixture"), attr=by)):
                return self.mixture(node, by, line)
            case ast.Call(func=ast.Name(id="Repeat")):
                given = _arguments(node, ("stack", "repeat", "interface", "name"), line)
                stack = self.value(given.get("stack", ast.Constant(None)), line)
                if not isinstance(stack, list):
                    _fail(line, "Repeat needs a stack of slabs joined with |")
                count = _number(given["repeat"], line) if "repeat" in given else 1
                if count != int(count) or count < 0:
                    _fail(line, "the repeat count must be a whole number ≥ 0")
                last = stack[-1]
                interface = (
                    _number(given["interface"], line)
                    if "interface" in given
                    else last.interface.value  # refl1d copies the top slab's value
                )
                return _Repeat(stack, int(count), _P(interface))
            case ast.BinOp(op=ast.Mult(), left=left, right=right):
                found = [self.value(left, line), self.value(right, line)]
                stacks = [f for f in found if isinstance(f, list | _Repeat)]
                counts = [f for f in found if isinstance(f, float)]
                if len(stacks) != 1 or len(counts) != 1:
                    _fail(line, "only a stack can be repeated, as stack * count")
                count = counts[0]
                if count != int(count) or count < 2:  # as refl1d's stack * count
                    _fail(line, "the repeat count must be a whole number > 1")
                stack = stacks[0] if isinstance(stacks[0], list) else [stacks[0]]
                return _Repeat(stack, int(count), _P(stack[-1].interface.value))
            case ast.Call(func=ast.Name(id="Slab")):
                given = _arguments(node, ("material", "thickness", "interface"), line)
                material = self.value(given.get("material", ast.Constant(None)), line)
                if not isinstance(material, _Material):
                    _fail(line, "Slab needs a material")
                names = ("material", "thickness", "interface")
                return _slab(material, node, line, names, self.value)
            case ast.Call(func=func):
                material = self.value(func, line)
                if not isinstance(material, _Material):
                    _fail(line, "only a material can be called, as material(thickness, interface)")
                return _slab(material, node, line, read=self.value)
            case ast.BinOp(op=ast.BitOr()):
                return self.stack(node.left, line) + self.stack(node.right, line)
            case ast.Subscript(value=owner, slice=ast.Slice(lower=low, upper=high, step=step)):
                stack = self.value(owner, line)
                if isinstance(stack, _Repeat):
                    stack = stack.stack
                ends = [None if n is None else _number(n, line) for n in (low, high, step)]
                if not isinstance(stack, list) or any(
                    n is not None and (n != int(n) or abs(n) > 1e6) for n in ends
                ):
                    _fail(line, "only a stack can be sliced, by whole numbers")
                if ends[2] == 0:
                    _fail(line, "a slice step cannot be zero")
                return stack[slice(*(None if n is None else int(n) for n in ends))]
            case ast.Subscript(value=owner, slice=ast.Constant(value=str() as name)):
                stack = self.value(owner, line)  # sample["Ni"]: the first slab of that name
                found = _slab_named(stack.stack if isinstance(stack, _Repeat) else stack, name)
                if found is None:
                    _fail(line, f"the stack has no slab named {name!r}")
                return found
            case ast.Subscript(value=owner, slice=index):
                stack = self.value(owner, line)
                if isinstance(stack, _Repeat):  # refl1d indexes a repeat's stack
                    stack = stack.stack
                position = _number(index, line)
                if not isinstance(stack, list) or position != int(position):
                    _fail(line, "only a stack can be indexed, by a whole number")
                if not -len(stack) <= position < len(stack):
                    _fail(line, f"the stack has no slab {int(position)}")
                return stack[int(position)]
            case ast.Attribute(value=owner, attr=attr):
                if attr in PROBE_ATTRS and not (
                    isinstance(owner, ast.Subscript)
                    or (isinstance(owner, ast.Name) and owner.id in env)
                ):
                    if self.reader.probe_line is None:
                        self.reader.probe_line = line
                    return self.reader.probe[attr]
                found = self.value(owner, line)
                if isinstance(found, _Probe) and attr in found.params:
                    return found.params[attr]
                if isinstance(found, list) and found and isinstance(found[0], _Probe):
                    _fail(line, f"a ProbeSet has no {attr} of its own: set each probe's")
                if isinstance(found, _Slab) and attr in ("thickness", "interface", "material"):
                    return getattr(found, attr)
                if isinstance(found, _Slab) and attr == "magnetism":
                    if found.magnetism is None:
                        _fail(line, "this slab has no magnetism")
                    return found.magnetism
                if isinstance(found, _Magnetism) and attr in ("rhoM", "thetaM"):
                    return getattr(found, attr)
                if isinstance(found, _Repeat) and attr == "interface":
                    return found.interface
                if isinstance(found, _Material) and found.density and attr == "density":
                    return found.density
                if isinstance(found, _Material) and found.fractions is not None:
                    if attr == "fraction":
                        return found.fractions
                    _fail(line, f"a Mixture has no {attr} that can be read or fitted here")
                if isinstance(found, _Material) and found.formula and attr in ("rho", "irho"):
                    _fail(line, f"Material({found.formula!r}) has no {attr}: use SLD(rho=…)")
                if isinstance(found, _Material) and attr in ("rho", "irho"):
                    return getattr(found, attr)
                _fail(line, f".{attr} cannot be read here")
            case ast.Constant() | ast.UnaryOp():
                return _number(node, line)
        _fail(line, "this expression cannot be read as part of the sample")

    def mixture(self, call: ast.Call, by: str, line: int) -> _Material:
        """``Mixture.byvolume(base, part, percent, …, name=…)``: parts given as formulas
        (``"SiO2@2.2"``) or materials defined above, with fixed SLDs."""
        if by != "byvolume":
            _fail(line, f"Mixture.{by} cannot be represented: only Mixture.byvolume")
        if any(k.arg != "name" for k in call.keywords) or len(call.args) % 2 == 0:
            _fail(line, "expected Mixture.byvolume(base, material, percent, …, name=…)")
        components = []
        for node in [call.args[0], *call.args[1::2]]:
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                part = _formula_material(node.value, node.value, None, line, self.reader.wavelength)
            else:
                part = self.value(node, line)
                if not isinstance(part, _Material) or part.fractions is not None:
                    _fail(line, "the parts of a Mixture must be materials or formulas")
            if any(p and (p.bounds or p.equals) for p in (part.rho, part.irho, part.density)):
                _fail(line, f"{part.name}: the parts of a Mixture cannot be fitted")
            components.append(part)
        name = (
            _text(call.keywords[0].value, line)
            if call.keywords
            else "+".join(c.name for c in components[1:])
        )
        fractions = [_P(_number(node, line)) for node in call.args[2::2]]
        parts = [(c.rho.value, c.irho.value) for c in components]
        return _Material(name, _P(0.0), _P(0.0), fractions=fractions, parts=parts)

    def stack(self, node: ast.expr, line: int) -> list[_Slab]:
        found = self.value(node, line)
        if isinstance(found, _Material):
            return [_Slab(found, _P(0.0), _P(0.0))]
        if isinstance(found, _Slab | _Repeat):
            return [found]
        if isinstance(found, list):
            return found
        _fail(line, "only materials, slabs and stacks can be joined with |")

    def param(self, node: ast.expr, line: int) -> _P:
        found = self.value(node, line)
        if not isinstance(found, _P):
            _fail(line, "a parameter is expected here")
        return found

    def expression(self, node: ast.expr, line: int) -> ast.expr:
        """The constraint expression with each parameter replaced by a _Ref."""
        match node:
            case ast.Constant(value=value) if type(value) in (int, float):
                number = _number(node, line)
                return ast.Constant(
                    int(number) if number.is_integer() and abs(number) < 1e15 else number
                )
            case ast.UnaryOp(op=ast.USub() | ast.UAdd() as op, operand=operand):
                return ast.UnaryOp(op, self.expression(operand, line))
            case ast.BinOp(op=ast.Add() | ast.Sub() | ast.Mult() | ast.Div() | ast.Pow() as op):
                left, right = self.expression(node.left, line), self.expression(node.right, line)
                return ast.BinOp(left, op, right)
            case ast.Call(
                func=ast.Name(id=name)
                | ast.Attribute(value=ast.Name(id="np" | "numpy" | "pmath" | "math"), attr=name),
                args=[argument],
                keywords=[],
            ) if name in FUNCTIONS:
                return ast.Call(ast.Name(name), [self.expression(argument, line)], [])
        placeholder = f"_p{len(self.refs)}"
        self.refs[placeholder] = self.param(node, line)
        return ast.Name(placeholder)


def _probe(reader: _Reader, tree: ast.Module) -> None:
    """The wavelength of the script's NeutronProbe(L=number), at which refl1d computes the
    SLD of a Material; refuse what Beamtime's Q-based data cannot represent."""
    found, found_guide, angles = {}, {}, set()
    targets = {  # probe = PolarizedNeutronProbe(…): the call's variable
        id(node.value): node.targets[0].id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        line = getattr(node, "lineno", 1)
        if name in POLARIZED:
            given = _guide_field(reader, node, line, found_guide)
            if id(node) in targets:
                reader.fields[targets[id(node)]] = (given, line)
        if name in ("XrayProbe", "XRay") and reader.xray is None:
            reader.xray = line  # the same slab model, if every SLD is given (checked later)
        if name != "NeutronProbe":
            continue
        for keyword_ in node.keywords:
            if keyword_.arg == "back_reflectivity":
                if not (
                    isinstance(keyword_.value, ast.Constant)
                    and keyword_.value.value in (True, False)
                ):
                    _fail(line, "back_reflectivity must be True or False")
                reader.back = keyword_.value.value
            if keyword_.arg == "L":
                with contextlib.suppress(ScriptError):  # else, from data: 1.798 Å is used
                    found[_number(keyword_.value, line)] = line
            if keyword_.arg == "T":  # one angle (not an array of them): the data's angle
                with contextlib.suppress(ScriptError):
                    angles.add(_number(keyword_.value, line))
    if len(found) > 1:
        _fail(max(found.values()), "probes at different wavelengths: Beamtime reads one sample")
    for wavelength, line in found.items():
        if wavelength <= 0:
            _fail(line, "the wavelength L must be positive")
        reader.wavelength = wavelength
    if len(angles) == 1:
        reader.angle = angles.pop()


def _probe_list(node: ast.expr, line: int) -> list[_Probe] | None:
    """``[load(…, angle=…, intensity=…), …]`` or a comprehension of such calls over a tuple
    of literal tuples (``for run, T, I in ((2893, 0.3, 2.93), …)``): a _Probe each, with the
    numbers given (angle or T, intensity, background, theta_offset); None if not a list of
    probe calls."""

    def is_probe(call) -> bool:
        return isinstance(call, ast.Call) and (
            getattr(call.func, "id", getattr(call.func, "attr", "")) in PROBE_CALLS
        )

    def probe(call: ast.Call, bound: dict[str, ast.expr]) -> _Probe:
        def number(value: ast.expr) -> float:
            if isinstance(value, ast.Name) and value.id in bound:
                value = bound[value.id]
            return _number(value, line)

        given = {k.arg: k.value for k in call.keywords if k.arg}
        params = {
            name: _P(
                number(given[name]) if name in given else (1.0 if name == "intensity" else 0.0)
            )
            for name in PROBE_PARAMS
        }
        angle = given.get("angle", given.get("T"))
        return _Probe(params, number(angle) if angle is not None else 0.0)

    match node:
        case ast.List(elts=calls) if calls and all(is_probe(c) for c in calls):
            return [probe(call, {}) for call in calls]
        case ast.ListComp(
            elt=call, generators=[ast.comprehension(target=target, iter=items, ifs=[])]
        ) if is_probe(call):
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            if not all(isinstance(n, ast.Name) for n in names) or not isinstance(
                items, ast.Tuple | ast.List
            ):
                _fail(line, "a list of probes is read from a tuple of literal values only")
            found = []
            for item in items.elts:
                values = item.elts if isinstance(item, ast.Tuple | ast.List) else [item]
                if len(values) != len(names):
                    _fail(line, "each item of the list of probes needs a value for each name")
                found.append(probe(call, {n.id: v for n, v in zip(names, values, strict=True)}))
            return found
    return None


def _guide_field(reader: _Reader, call: ast.Call, line: int, found: dict) -> dict[str, float]:
    """The guide field a polarized probe is given (``Aguide=``, ``H=``), as a dict. The first
    probe's is the sample's; another probe's different one is noted in ``field_conflict``
    (several experiments may see the sample in different fields, one experiment cannot)."""
    given = _given_field(call, line)
    for name, value in given.items():
        if found.setdefault(name, value) != value:
            if reader.field_conflict is None:
                reader.field_conflict = (line, name)
        else:
            reader.probe[name].value = value
    return given


def _given_field(call: ast.Call, line: int) -> dict[str, float]:
    return {
        keyword_.arg: _number(keyword_.value, line)
        for keyword_ in call.keywords
        if keyword_.arg in ("Aguide", "H")
    }


def _field_of(reader: _Reader, probe: ast.expr | None, line: int) -> dict[str, float]:
    """The guide field of an experiment's probe: a polarized probe named above or written in
    place; refl1d's defaults (Aguide 270, H 0) for an unpolarized one."""
    given = {}
    if isinstance(probe, ast.Name) and probe.id in reader.fields:
        given = reader.fields[probe.id][0]
    elif isinstance(probe, ast.Call) and getattr(probe.func, "id", "") in POLARIZED:
        given = _given_field(probe, line)
    return {"Aguide": PARALLEL, "H": 0.0} | given


def _experiment(node: ast.AST) -> bool:
    """``Experiment(sample=…)`` or an instrument's ``.simulate(sample, …)``."""
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == "Experiment")
        or (isinstance(node.func, ast.Attribute) and node.func.attr == "simulate")
    )


def _statement(reader: _Reader, evaluator: _Evaluator, statement: ast.stmt) -> None:
    line = statement.lineno
    env = reader.env
    for child in ast.walk(statement):  # the sample is the one the experiment is given
        if _experiment(child):
            given = {k.arg: k.value for k in child.keywords} | dict(
                zip(("sample",), child.args, strict=False)
            )
            if isinstance(child.func, ast.Name) and child.args[1:2]:  # Experiment(sample, probe)
                given.setdefault("probe", child.args[1])
            if "sample" in given:
                stack = evaluator.stack(given["sample"], line)
                if reader.sample is None:
                    reader.sample = (stack, line)
                elif list(map(id, stack)) != list(map(id, reader.sample[0])):
                    _fail(
                        line,
                        "a second Experiment with another sample: Beamtime co-refines one "
                        "sample seen by several probes",
                    )
                reader.experiments.append((given.get("probe"), line))
        elif isinstance(child, ast.Call) and getattr(child.func, "id", "") in (
            "MixedExperiment",
            "FreeformInterface",
            "MagnetismTwist",
            "MagnetismStack",
            "FreeMagnetism",
        ):
            _fail(line, f"{child.func.id} cannot be represented by a layer model")
    match statement:
        case ast.Import() | ast.ImportFrom():
            return
        case ast.Assign(
            targets=[ast.Name(id="keep")],
            value=ast.BinOp(
                left=ast.Compare(comparators=[low]), right=ast.Compare(comparators=[high])
            ),
        ):
            reader.q_range = (_number(low, line), _number(high, line))
            return
        case ast.Assign(
            targets=[ast.Tuple(elts=[ast.Name(id="q_min"), ast.Name(id="q_max")])],
            value=ast.Tuple(elts=[low, high]),
        ):
            reader.q_range = (_number(low, line), _number(high, line))
            return
        case ast.Assign(
            targets=[ast.Name(id=name)], value=ast.List() | ast.ListComp() as value
        ) if (probes := _probe_list(value, line)) is not None:
            env[name] = probes
            reader.defined[name] = line
            return
        case ast.Assign(targets=[ast.Name(id=name)], value=value):
            reader.constants.pop(name, None)
            constant = _constant(value)
            if constant is not None:
                reader.constants[name] = constant
            if any(
                _experiment(c)
                or (isinstance(c, ast.Call) and getattr(c.func, "id", "") == "FitProblem")
                for c in ast.walk(value)
            ) or not evaluator.touches(value):
                env.pop(name, None)  # the probe, data or the fit problem: not the sample
                return
            env[name] = evaluator.value(value, line)
            reader.defined[name] = line
            return
        case ast.Assign(targets=[ast.Tuple(elts=names)], value=value) if all(
            isinstance(n, ast.Name) for n in names
        ) and evaluator.touches(value):  # the slabs of a stack: a, b, c = sample
            slabs = evaluator.value(value, line)
            if not isinstance(slabs, list) or len(slabs) != len(names):
                _fail(
                    line, f"{len(names)} names for something that is not a stack of as many slabs"
                )
            env.update((n.id, slab) for n, slab in zip(names, slabs, strict=True))
            return
        case ast.Assign(targets=[ast.Attribute(value=owner, attr="value")], value=value) if (
            evaluator.touches(owner)
        ):
            evaluator.param(owner, line).value = _number(value, line)
            return
        case ast.Assign(targets=[ast.Attribute(value=owner, attr=attr)], value=value) if (
            attr in PROBE_PARAMS
            and evaluator.touches(owner)
            and isinstance(found := evaluator.value(owner, line), _Probe)
        ):  # p.theta_offset = probes[0].theta_offset: one parameter, as refl1d's
            if isinstance(value, ast.Constant | ast.UnaryOp):
                found.params[attr].value = _number(value, line)
            elif isinstance(value, ast.Attribute):
                found.params[attr] = evaluator.param(value, line)
            else:
                _fail(line, f"a probe's {attr} can be a number, a range or another's")
            return
        case ast.Assign(targets=[ast.Attribute() as target], value=value) if evaluator.touches(
            target
        ):
            param = evaluator.param(target, line)
            if isinstance(value, ast.Constant | ast.UnaryOp) and not evaluator.touches(value):
                param.value = _number(value, line)
            else:
                param.equals = (evaluator.expression(value, line), line)
            return
        case ast.For(target=ast.Name(id=name), iter=items, body=body, orelse=[]) if (
            evaluator.touches(items)
        ):  # for layer in sample[1:-1]: layer.thickness.pmp(50)
            _loop(reader, evaluator, evaluator.value(items, line), name, None, body, line)
            return
        case ast.For(
            target=ast.Tuple(elts=[ast.Name(id=index), ast.Name(id=name)]),
            iter=ast.Call(func=ast.Name(id="enumerate"), args=[items], keywords=[]),
            body=body,
            orelse=[],
        ) if evaluator.touches(items):  # for i, layer in enumerate(sample[:-1]): …
            _loop(reader, evaluator, evaluator.value(items, line), name, index, body, line)
            return
        case ast.If(test=test, body=body, orelse=orelse) if evaluator.touches(statement):
            # if search == "open": … (a value the script set, without command-line arguments)
            for inner in body if _condition(test, reader, line) else orelse:
                _statement(reader, evaluator, inner)
            return
        case ast.Raise():
            _fail(line, "the script stops here with an error")
        case ast.Expr(value=ast.Call(func=ast.Attribute(value=owner, attr=method)) as call) if (
            method in ("range", "pm", "pmp", "equals") and evaluator.touches(owner)
        ):
            if method == "equals":
                given = _arguments(call, ("expression",), line)
                param = evaluator.param(owner, line)
                param.equals = (evaluator.expression(given["expression"], line), line)
                return
            names = ("low", "high") if method == "range" else ("plus", "minus")
            given = _arguments(call, names, line)
            if names[0] not in given or (method == "range" and "high" not in given):
                _fail(
                    line, f".{method} needs {' and '.join(names[: 2 if method == 'range' else 1])}"
                )
            first, second = (_number(given[k], line) if k in given else None for k in names)
            param = evaluator.param(owner, line)
            if method == "range":
                param.bounds = (first, second)
            else:
                try:
                    bounds = (pm if method == "pm" else pmp)(param.value, first, second)
                    param.bounds = (float(bounds[0]), float(bounds[1]))
                except (ValueError, ArithmeticError):
                    _fail(line, f"no range can be made of this .{method}")
            if not all(math.isfinite(b) for b in param.bounds):
                _fail(line, "the range must be finite")
            return
    if evaluator.touches(statement):
        _fail(line, "this statement changes the sample in a way Beamtime cannot represent")


def _loop(reader, evaluator, slabs, name: str, index: str | None, body: list, line: int) -> None:
    """A loop over the slabs of a stack, at most MAX_STEPS statements for all loops."""
    if not isinstance(slabs, list):
        _fail(line, "only a loop over the slabs of a stack can be read")
    for number, slab in enumerate(slabs):
        reader.env[name] = slab
        reader.defined[name] = line
        if index is not None:
            reader.constants[index] = number
        for inner in body:
            reader.steps += 1
            if reader.steps > MAX_STEPS:
                _fail(inner.lineno, f"the loops run more than {MAX_STEPS} statements")
            _statement(reader, evaluator, inner)


def _constant(node: ast.expr):
    """A plain value a script sets: a number or text, or ``X if … sys.argv … else Y`` as it
    is without command-line arguments (as refl1d runs a script by default): Y. Else None."""
    match node:
        case ast.Constant(value=str() | int() | float() as value) if not isinstance(value, bool):
            return value
        case ast.IfExp(test=test, orelse=orelse) if any(
            isinstance(n, ast.Attribute) and n.attr == "argv" for n in ast.walk(test)
        ):
            return _constant(orelse)
    return None


def _condition(test: ast.expr, reader: _Reader, line: int) -> bool:
    """An if statement's test on values the script set: NAME == "text", i > 0 and the like."""
    operators = {
        ast.Eq: lambda a, b: a == b,
        ast.NotEq: lambda a, b: a != b,
        ast.Lt: lambda a, b: a < b,
        ast.LtE: lambda a, b: a <= b,
        ast.Gt: lambda a, b: a > b,
        ast.GtE: lambda a, b: a >= b,
    }

    def known(node):
        if isinstance(node, ast.Name) and node.id in reader.constants:
            return reader.constants[node.id]
        value = _constant(node)
        if value is None:
            _fail(line, "this condition cannot be decided without running the script")
        return value

    match test:
        case ast.Compare(left=left, ops=[op], comparators=[right]) if type(op) in operators:
            first, second = known(left), known(right)
            if isinstance(first, str) != isinstance(second, str):
                return type(op) is ast.NotEq
            return operators[type(op)](first, second)
    _fail(line, "this condition cannot be decided without running the script")


@dataclass
class Imported:
    """What a script describes: a model per experiment (one, or several seeing one sample in
    different guide fields, for a co-refinement) and the parameters they share — every free
    one (refl1d's experiments share the sample's parameters)."""

    models: list[LayerModel]
    shared: list[str]


def model_from_script(text: str) -> LayerModel:
    """The model a refl1d script describes; ModelError naming the line otherwise (also for a
    script of several experiments: import_script reads those)."""
    imported = import_script(text)
    if len(imported.models) > 1:
        raise ModelError(
            "script",
            f"{len(imported.models)} experiments or probes of one sample: import it as a "
            "co-refinement, one model for each",
        )
    return imported.models[0]


def import_script(text: str) -> Imported:
    """The models a refl1d script describes; ModelError naming the line otherwise."""
    if len(text.encode(errors="replace")) > MAX_BYTES:
        raise ModelError("script", "the script is larger than 1 MiB")
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise ModelError("script", f"line {exc.lineno}: not Python ({exc.msg})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ModelError("script", "the script is nested too deeply to read") from None
    reader = _Reader()
    evaluator = _Evaluator(reader)
    try:
        _probe(reader, tree)
        for statement in tree.body:
            _statement(reader, evaluator, statement)
        if reader.sample is None and isinstance(reader.env.get("sample"), list):
            reader.sample = (reader.env["sample"], reader.defined.get("sample", 1))
        if reader.sample is not None:
            reader.sample = (_flatten(*reader.sample), reader.sample[1])
        if reader.sample is None or len(reader.sample[0]) < 2:
            raise ModelError(
                "script",
                "no sample: a stack such as silicon(0, 5) | nickel(100, 5) | air, given to "
                "Experiment(sample=…) or named sample, with a front and a back medium",
            )
        units = _units(reader)
        several = len(units) > 1
        if reader.field_conflict is not None and len(reader.experiments) < 2:
            line, name = reader.field_conflict
            _fail(line, f"probes with different {name}: one experiment sees one guide field")
        if several and reader.probe_line is not None:
            _fail(
                reader.probe_line,
                f"{len(units)} experiments or probes: Beamtime reads no probe's own "
                "intensity, background or field here (each experiment keeps its probe's)",
            )
        model = _assemble(reader, evaluator.refs)
        models = [_for_unit(model, *unit, several) for unit in units]
        shared = _shared(model, units) if several else []
        # seen from the back: the same sample with front and back swapped, as Beamtime reverses
        return Imported([m.reversed() if reader.back else m for m in models], shared)
    except RecursionError:
        raise ModelError("script", "the script is nested too deeply to read") from None


def _units(reader: _Reader) -> list[tuple]:
    """What each model of the script is measured with: a probe of a ProbeSet (its own
    parameters and angle) or an experiment's probe (the script's probe parameters, its guide
    field); as (probe or None, angle, guide field or None, line)."""
    units = []
    for probe, line in reader.experiments:
        found = reader.env.get(probe.id) if isinstance(probe, ast.Name) else None
        if isinstance(found, list) and found and all(isinstance(p, _Probe) for p in found):
            units += [(one, one.angle, None, line) for one in found]
        else:
            units.append((None, reader.angle, _field_of(reader, probe, line), line))
    return units or [(None, reader.angle, None, reader.sample[1])]


def _for_unit(model: LayerModel, probe, angle, seen, line, several) -> LayerModel:
    """The model as one unit measures it: its probe's parameters, angle and guide field."""
    data = model.to_dict() | {"angle": angle}
    if probe is not None:
        for ours, theirs in AS_MODEL_PARAMS:
            param = probe.params[theirs]
            if param.equals:
                _fail(param.equals[1], f"a probe's {theirs} can be a number, a range or another's")
            data[ours] = {"value": param.value}
            if param.bounds:
                low, high = param.bounds
                data[ours] |= {"free": True, "min": low, "max": high}
    if several and seen is not None:
        data["guide_angle"], data["guide_field"] = seen["Aguide"], seen["H"]
    try:
        return LayerModel.from_dict(data)
    except ModelError as exc:
        _fail(line, str(exc))


def _shared(model: LayerModel, units: list[tuple]) -> list[str]:
    """The parameters every model shares: the sample's free ones, and a probe parameter that
    every probe of a ProbeSet has as one (``p.theta_offset = probes[0].theta_offset``)."""
    shared = [
        name
        for name, _ in model.free_parameters()
        if name not in (ours for ours, _ in AS_MODEL_PARAMS)
    ]
    probes = [unit[0] for unit in units]
    if any(probe is None for probe in probes):
        return shared
    for ours, theirs in AS_MODEL_PARAMS:
        params = [probe.params[theirs] for probe in probes]
        distinct = len({id(p) for p in params})
        if distinct == 1 and params[0].bounds:
            shared.append(ours)
        elif 1 < distinct < len(params) and any(p.bounds for p in params):
            _fail(
                units[0][3],
                f"some probes share their {theirs}, others do not: Beamtime shares a "
                "parameter across all data sets or none",
            )
    return shared


def _flatten(stack: list, line: int) -> list[_Slab]:
    """The slabs of a stack, each repeat written out (at most MAX_LAYERS layers)."""
    slabs = []
    for item in stack:
        if not isinstance(item, _Repeat):
            slabs.append(item)
            continue
        inner = _flatten(item.stack, line)
        if len(slabs) + len(inner) * item.count > MAX_LAYERS + 2:
            _fail(line, f"the repeats make more than {MAX_LAYERS} layers, at most {MAX_LAYERS}")
        copies = inner * item.count  # the same slabs: refl1d's copies share their parameters
        if copies:  # refl1d gives the top of the last copy the repeat's interface
            top = copies[-1]
            copies[-1] = _Slab(top.material, top.thickness, item.interface, top.magnetism)
        slabs += copies
    return slabs


def _names(slabs: list[_Slab]) -> list[str]:
    """A distinct Beamtime layer name for each slab, from its material's name."""
    names = []
    for slab in slabs:
        name = re.sub(r"[^A-Za-z0-9_]", "_", slab.material.name)[:36] or "layer"
        if not name[0].isalpha() or keyword.iskeyword(name):
            name = f"L{name}"[:36]
        unique, count = name, 1
        while unique in names:
            count += 1
            unique = f"{name}_{count}"
        names.append(unique)
    return names


def _by_density(material: _Material, refs: dict[str, _P], line: int) -> None:
    """A Material's SLD from its density, as refl1d computes it: rho and irho both in
    proportion to the density; a fitted density is a fitted rho with irho tied to it."""
    density = material.density
    if density.equals:
        _fail(density.equals[1], "a Material's density cannot be constrained: use SLD(rho=…)")
    per_density = material.per_density
    material.rho.value, material.irho.value = (density.value * k for k in per_density)
    if density.bounds and not per_density[0]:
        _fail(line, f"Material({material.formula!r}) has no SLD to fit by its density")
    if density.bounds:
        low, high = sorted(b * per_density[0] for b in density.bounds)
        material.rho.bounds = (low, high)
        placeholder = f"_p{len(refs)}"
        refs[placeholder] = material.rho
        ratio = per_density[1] / per_density[0]
        material.irho.equals = (
            ast.BinOp(ast.Name(placeholder), ast.Mult(), ast.Constant(ratio)),
            line,
        )


def _slab_named(stack: list, name: str) -> _Slab | None:
    """The first slab whose material is called ``name``, depth first, as refl1d's lookup."""
    for item in stack:
        if isinstance(item, _Repeat):
            found = _slab_named(item.stack, name)
            if found is not None:
                return found
        elif item.material.name == name:
            return item
    return None


def _by_fraction(material: _Material, refs: dict[str, _P], line: int) -> None:
    """A Mixture's SLD as refl1d computes it, the volume-weighted sum of its parts' (the base
    taking what the others leave of 100 %); a fitted fraction is a fitted rho over the range
    it spans, irho tied to rho (both are linear in the fraction)."""
    fractions, parts = material.fractions, material.parts
    for fraction in fractions:
        if fraction.equals:
            _fail(fraction.equals[1], "a Mixture's fraction cannot be constrained")
    volume = [0.01 * (100 - sum(f.value for f in fractions))] + [0.01 * f.value for f in fractions]
    if any(v < 0 for v in volume):
        _fail(line, f"{material.name}: the fractions of the Mixture exceed 100 %")
    rho, irho = (sum(v * part[i] for v, part in zip(volume, parts, strict=True)) for i in (0, 1))
    material.rho.value, material.irho.value = rho, irho
    free = [k for k, f in enumerate(fractions) if f.bounds]
    if len(free) > 1:
        _fail(line, f"{material.name}: only one fraction of a Mixture can be fitted")
    if not free:
        return
    fraction, part = fractions[free[0]], parts[free[0] + 1]
    slope, islope = 0.01 * (part[0] - parts[0][0]), 0.01 * (part[1] - parts[0][1])
    if not slope:
        _fail(line, f"{material.name}: its parts have one SLD, so no fraction can be fitted")
    if sum(f.value for f in fractions) - fraction.value + max(fraction.bounds) > 100:
        _fail(line, f"{material.name}: the fitted fraction's range exceeds 100 % with the others")
    material.rho.bounds = tuple(sorted(rho + slope * (b - fraction.value) for b in fraction.bounds))
    placeholder = f"_p{len(refs)}"
    refs[placeholder] = material.rho
    ratio = islope / slope
    material.irho.equals = (
        ast.BinOp(
            ast.Constant(irho - ratio * rho),
            ast.Add(),
            ast.BinOp(ast.Name(placeholder), ast.Mult(), ast.Constant(ratio)),
        ),
        line,
    )


def _assemble(reader: _Reader, refs: dict[str, _P]) -> LayerModel:
    slabs, line = reader.sample
    for material in {id(s.material): s.material for s in slabs}.values():
        if reader.xray is not None and (material.formula or material.fractions is not None):
            _fail(
                reader.xray,
                f"an X-ray probe: Beamtime computes {material.name}'s SLD for neutrons; "
                "give X-ray SLDs with SLD(rho=…, irho=…)",
            )
        if material.density is not None:
            _by_density(material, refs, line)
        if material.fractions is not None:
            _by_fraction(material, refs, line)
    names = _names(slabs)
    back, front = 0, len(slabs) - 1
    where: dict[int, str] = {}  # id(_P) → its Beamtime name (the first place it is used)
    rows, constraints, seen = [], {}, []

    def place(param: _P, name: str) -> dict:
        if id(param) in where:  # a parameter shared by two places (one material, two slabs)
            if param.bounds or param.equals:
                constraints[name] = where[id(param)]
            return {"value": param.value}
        where[id(param)] = name
        seen.append((param, name))
        if param.bounds and not param.equals:
            low, high = param.bounds
            return {"value": param.value, "free": True, "min": low, "max": high}
        return {"value": param.value}

    def unused(param: _P, what: str, default=0.0):
        if param.value != default or param.bounds or param.equals:
            _fail(line, what)

    for index, (slab, name) in enumerate(zip(slabs, names, strict=True)):
        row = {"name": name, "sld": place(slab.material.rho, f"{name}.sld")}
        if index == front:
            unused(
                slab.interface,
                "the last slab is the front medium (the neutrons come from it): it has no "
                "interface above it, so its interface must be 0",
            )
        else:
            row["roughness"] = place(slab.interface, f"{name}.roughness")
            row["isld"] = place(slab.material.irho, f"{name}.isld")
        if index == front:  # refl1d ignores the front medium's absorption: so does Beamtime
            unused(
                slab.material.irho,
                "the front medium's irho cannot be fitted",
                slab.material.irho.value,
            )
        if index in (back, front):  # semi-infinite: refl1d ignores its thickness, so does Beamtime
            where_ = "first slab (the back medium)" if index == back else "last slab"
            unused(
                slab.thickness,
                f"the {where_} is semi-infinite: its thickness cannot be fitted",
                slab.thickness.value,
            )
        else:
            row["thickness"] = place(slab.thickness, f"{name}.thickness")
        if slab.magnetism is not None:
            if index == front:
                _fail(line, "the last slab is the front medium: it cannot be magnetic")
            row["rhoM"] = place(slab.magnetism.rhoM, f"{name}.rhoM")
            row["thetaM"] = place(slab.magnetism.thetaM, f"{name}.thetaM")
        rows.append(row)
    scale = place(reader.probe["intensity"], "scale")
    background = place(reader.probe["background"], "background")
    guide = {
        "guide_angle": place(reader.probe["Aguide"], "guide_angle"),
        "guide_field": place(reader.probe["H"], "guide_field"),
        "theta_offset": place(reader.probe["theta_offset"], "theta_offset"),
    }
    for param, name in seen:
        if param.equals:
            expression, at = param.equals
            constraints[name] = _render(expression, refs, where, at)
    model = {  # rows are in refl1d's order, from the back medium up to the front medium
        "front": rows[-1],
        "layers": rows[-2:0:-1],
        "back": rows[0],
        "scale": scale,
        "background": background,
        **guide,
        "q_min": reader.q_range[0],
        "q_max": reader.q_range[1],
        "angle": reader.angle,
        "constraints": constraints,
    }
    return LayerModel.from_dict(model)


def _render(expression: ast.expr, refs: dict[str, _P], where: dict[int, str], line: int) -> str:
    for node in ast.walk(expression):
        if isinstance(node, ast.Name) and node.id in refs:
            if id(refs[node.id]) not in where:
                _fail(line, "the constraint refers to a parameter that is not in the sample")
            node.id = where[id(refs[node.id])]
    return ast.unparse(expression)
