"""The module interface language: a reduction step is a plain Python function whose
signature and structured docstring say what it takes and gives.

Positional parameters are inputs (wired from other nodes); keyword parameters are controls
(set in the parameter panel). The docstring describes them::

    Subtract the background measured beside the specular ridge.

    **Inputs**

    data (refldata) : specular data

    backgrounds (refldata[]?) : background scans, if any

    scale (float:counts) : multiply the background by this [1.0]

    **Returns**

    output (refldata) : data less the background

    Author: Beamtime team
    Version: 2026-11-21

``name (type[]?:units) : description [default]`` — ``[]`` marks a list (several values
wired, or a list control), ``?`` marks it optional, ``:units`` its units. The docstring ends
with the author and the version; the version enters every cache key, so a change of the
code must change it.
"""

import inspect
import re
from dataclasses import dataclass, field

PARAM = re.compile(
    r"(?P<name>[A-Za-z_]\w*)\s*\((?P<type>[A-Za-z_][\w.]*)(?P<multiple>\[\])?(?P<optional>\?)?"
    r"(?::(?P<units>[^)]*))?\)\s*:\s*(?P<description>.*)"
)
SECTIONS = ("**Inputs**", "**Returns**")


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
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD) and (
            parameter.default is parameter.empty
        ):
            inputs.append(terminal)
        elif parameter.default is not parameter.empty:
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
    )


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
