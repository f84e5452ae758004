"""The module interface language: a reduction step is a plain Python function whose
signature and structured docstring say what it takes and gives.

Positional parameters are inputs (wired from other nodes); keyword parameters are controls
(set in the parameter panel). An optional input is positional-only with a default
(``def f(data, back=(), /, scale=1.0)``) and marked ``?``. The docstring describes them::

    Subtract the background measured beside the specular ridge.

    **Inputs**

    data (refldata) : specular data

    backgrounds (refldata[]?) : background scans, if any

    scale (float:counts) : multiply the background by this [1.0]

    **Returns**

    output (refldata) : data less the background

    Author: Beamtime team
    Version: 2026-11-21

``name (type[]?:units) : description [default]``, continued on indented lines; a written
default must say the signature's (it is refused at registration otherwise), an input has
none. ``[]`` marks a list (several values wired, or a list control), ``?`` marks it
optional, ``:units`` its units. The docstring ends
with the author and the version; the version enters every cache key, and so does a
fingerprint of the code (``code_of``): a changed step is computed again even if its version
was forgotten.

Control types: ``float``, ``int``, ``bool``, ``str``, ``opt`` (one of the choices written
where the units go: ``(opt:monitor|time)``), ``index`` (the indices of points in one data
set; ``index[]`` holds one such list per data set of a bundle) and ``fileinfo`` (a raw file,
``{"source", "path", "mtime"}``, and ``size`` from a source whose times are whole seconds).
A list control (``float[]``, one value per data set of a bundle, say) takes a single value as
a list of one, so a template saved when the control held one value still runs.
``check_control`` holds a value to its type; a module that finds a value out of range (or a
list of the wrong length) raises ParameterError naming it.
"""

import functools
import hashlib
import inspect
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

PARAM = re.compile(
    r"(?P<name>[A-Za-z_]\w*)\s*\((?P<type>[A-Za-z_][\w.]*)(?P<multiple>\[\])?(?P<optional>\?)?"
    r"(?::(?P<units>[^)]*))?\)\s*:\s*(?P<description>.*)"
)
SECTIONS = ("**Inputs**", "**Returns**")


class ParameterError(ValueError):
    """A control value a module cannot use; ``parameter`` names it."""

    def __init__(self, parameter: str, problem: str):
        super().__init__(f"{parameter}: {problem}")
        self.parameter, self.problem = parameter, problem


class ModuleDefinitionError(ValueError):
    def __init__(self, module: str, problem: str):
        super().__init__(f"module {module}: {problem}")
        self.module = module


@dataclass(frozen=True)
class Terminal:
    name: str
    datatype: str
    description: str
    units: str = ""
    multiple: bool = False
    required: bool = True
    default: object = None

    def to_dict(self) -> dict:
        return {
            "id": self.name,
            "datatype": self.datatype,
            "description": self.description,
            "units": self.units,
            "multiple": self.multiple,
            "required": self.required,
            "default": self.default,
        }


@dataclass(frozen=True)
class ModuleDef:
    id: str
    name: str
    description: str
    version: str
    author: str
    inputs: tuple[Terminal, ...]
    controls: tuple[Terminal, ...]
    outputs: tuple[Terminal, ...]
    action: object = field(compare=False, repr=False)
    # A fingerprint of the code the step runs (see code_of): part of every cache key, so a
    # changed step computes again even if its Version was not bumped.
    code: str = ""
    # a few array operations per point: a web process may compute it (Registry.module)
    light: bool = False

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "author": self.author,
            "inputs": [t.to_dict() for t in self.inputs],
            "controls": [t.to_dict() for t in self.controls],
            "outputs": [t.to_dict() for t in self.outputs],
        }


def define(function, module_id: str) -> ModuleDef:
    """The module definition of ``function``; ModuleDefinitionError names what is wrong."""
    doc = inspect.getdoc(function)
    if not doc:
        raise ModuleDefinitionError(module_id, "has no docstring")
    lines = doc.splitlines()
    if not any(line.strip() == "**Returns**" for line in lines):
        raise ModuleDefinitionError(module_id, "the docstring has no **Returns** section")
    description, documented, returns, author, version = [], {}, [], "", ""
    entries: list[list] = []  # [section, line number, text] per parameter
    section = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line in SECTIONS:
            section = line
            continue
        if line.startswith("Author:"):
            author = line.removeprefix("Author:").strip()
            continue
        if line.startswith("Version:"):
            version = line.removeprefix("Version:").strip()
            continue
        if section is None:
            description.append(raw)
            continue
        if not line:
            continue
        if raw[0].isspace() and entries and entries[-1][0] == section:
            entries[-1][2] += " " + line  # an indented line continues the description
            continue
        entries.append([section, number, line])
    for section, number, line in entries:
        match = PARAM.fullmatch(line)
        if not match:
            raise ModuleDefinitionError(
                module_id, f"docstring line {number} is not 'name (type) : description'"
            )
        terminal = _terminal(match)
        (
            documented.__setitem__(terminal.name, terminal)
            if section == "**Inputs**"
            else returns.append(terminal)
        )
    if not version or not author:
        raise ModuleDefinitionError(
            module_id, "the docstring must end with 'Author: …' and 'Version: …'"
        )
    inputs, controls = [], []
    for name, parameter in inspect.signature(function).parameters.items():
        if name not in documented:
            raise ModuleDefinitionError(module_id, f"parameter {name!r} is not documented")
        terminal = documented.pop(name)
        if parameter.kind == parameter.POSITIONAL_ONLY or (
            parameter.kind == parameter.POSITIONAL_OR_KEYWORD
            and parameter.default is parameter.empty
        ):
            if terminal.required == (parameter.default is not parameter.empty):
                raise ModuleDefinitionError(
                    module_id, f"input {name!r} must be marked '?' exactly when it has a default"
                )
            if terminal.default is not None:
                raise ModuleDefinitionError(
                    module_id, f"input {name!r} has a default [{terminal.default}] in the docstring"
                )
            inputs.append(terminal)
        elif parameter.default is not parameter.empty:
            if terminal.default is not None and not _same_default(
                terminal.default, parameter.default
            ):
                raise ModuleDefinitionError(
                    module_id,
                    f"the docstring gives {name!r} the default [{terminal.default}],"
                    f" the signature {parameter.default!r}",
                )
            controls.append(
                Terminal(**{**terminal.__dict__, "default": parameter.default, "required": False})
            )
        else:
            raise ModuleDefinitionError(
                module_id, f"parameter {name!r} must be positional or have a default"
            )
    if documented:
        raise ModuleDefinitionError(
            module_id, f"documents {sorted(documented)[0]!r}, which is not a parameter"
        )
    if not returns:
        raise ModuleDefinitionError(module_id, "returns nothing")
    return ModuleDef(
        module_id,
        function.__name__.replace("_", " "),
        "\n".join(description).strip(),
        version,
        author,
        tuple(inputs),
        tuple(controls),
        tuple(returns),
        function,
        code_of(function),
    )


def code_of(function) -> str:
    """A fingerprint of the Python files beside the function's own: its module and the
    helpers of its package (any change there changes every key of that package's steps)."""
    try:
        source = inspect.getsourcefile(function)
    except TypeError:
        source = None
    return _fingerprint(str(Path(source).parent)) if source else ""


@functools.cache
def _fingerprint(folder: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _same_default(written: str, default) -> bool:
    """Whether a docstring's ``[default]`` says the signature's default: the default's text
    (``[2.0]`` for 2.0, ``[auto]`` for "auto"), a list's items joined by ", " (``[]`` for
    an empty one)."""
    if isinstance(default, list | tuple):
        return written == ", ".join(map(str, default))
    return written == str(default)


def _terminal(match: re.Match) -> Terminal:
    description = match["description"].strip()
    default = None
    if description.endswith("]") and "[" in description:
        description, _, default = description[:-1].rpartition("[")
        description = description.strip()
    return Terminal(
        match["name"],
        match["type"],
        description,
        (match["units"] or "").strip(),
        bool(match["multiple"]),
        not match["optional"],
        default,
    )


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_one(terminal: Terminal, value):
    kind = terminal.datatype
    if kind == "float" and _is_number(value):
        return float(value)
    if kind == "int" and _is_number(value) and float(value).is_integer():
        return int(value)
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "opt" and value in terminal.units.split("|"):
        return value
    if kind == "index" and isinstance(value, list | tuple) and all(map(_is_index, value)):
        return sorted(set(value))
    if kind == "fileinfo" and isinstance(value, dict) and {"source", "path"} <= set(value):
        return value
    if kind not in ("float", "int", "bool", "str", "opt", "index", "fileinfo"):
        return value  # a type of the instrument's own: its module checks it
    wanted = {
        "opt": f"one of {terminal.units.replace('|', ', ')}",
        "index": "a list of point indices",
        "int": "an int",
    }.get(kind, f"a {kind}")
    raise ParameterError(terminal.name, f"{value!r} is not {wanted}")


def check_control(terminal: Terminal, value):
    """``value`` as the control's type wants it, or ParameterError naming the control."""
    if value is None and terminal.default is None:
        return None
    if terminal.multiple:
        if not isinstance(value, list | tuple):
            value = [value]  # one value where a list may stand: a list of one
        return [_check_one(terminal, item) for item in value]
    return _check_one(terminal, value)
