"""Reading a layer model back from a refl1d script of the form Beamtime writes
(``refl1d_adapter.to_script``), so that a model kept as a script can be uploaded again.

The script is parsed, never run: only these statements are read, everything else (imports,
loading the data) is skipped —
``sample = SLD('Si')(0.0, 1.5) | SLD('A')(500.0, 10.0) | … | SLD('air')(0.0, 0.0)``
(refl1d's order: from the substrate — the back medium — up to the front medium the neutrons
come from, each slab's interface being the roughness on its upper side, i.e. its front side),
``sample[1].thickness.value = 40.0`` / ``probe.intensity.value = 1.0``,
``sample[1].thickness.range(30.0, 50.0)``, ``keep = (Q >= 0.0) & (Q <= 1.0)`` and the
constraints ``sample[1].thickness.equals(…)  # B.thickness = 0.1 * A.thickness``.
"""

import ast

from beamtime.fitting.layers import LayerModel, ModelError

MAX_BYTES = 1 << 20
REFL1D_PARAM = {"thickness": "thickness", "interface": "roughness", "rho": "sld", "irho": "isld"}


def _fail(line: int, message: str):
    raise ModelError("script", f"line {line}: {message}")


def _number(node: ast.expr, line: int) -> float:
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1.0, node.operand
    if not isinstance(node, ast.Constant) or type(node.value) not in (int, float):
        _fail(line, "a number is expected here")
    try:
        return sign * float(node.value)
    except OverflowError:  # a 400-digit integer
        _fail(line, f"the number {str(node.value)[:20]}… is too large")


def _place(node: ast.expr) -> str | None:
    """``sample[1].material.rho`` → ``1.sld``; ``probe.intensity`` → ``scale``; else None."""
    match node:
        case ast.Attribute(value=ast.Name(id="probe"), attr="intensity"):
            return "scale"
        case ast.Attribute(value=ast.Name(id="probe"), attr="background"):
            return "background"
        case ast.Attribute(
            value=ast.Attribute(
                value=ast.Subscript(
                    value=ast.Name(id="sample"), slice=ast.Constant(value=int() as i)
                ),
                attr="material",
            ),
            attr=("rho" | "irho") as attr,
        ):
            return f"{i}.{REFL1D_PARAM[attr]}"
        case ast.Attribute(
            value=ast.Subscript(value=ast.Name(id="sample"), slice=ast.Constant(value=int() as i)),
            attr=("thickness" | "interface") as attr,
        ):
            return f"{i}.{REFL1D_PARAM[attr]}"
    return None


def _stack(node: ast.expr, line: int) -> list[dict]:
    """The slabs of ``SLD('A')(thickness, interface) | …`` in refl1d's order: from the back
    medium (substrate) up to the front medium."""
    terms = []
    while isinstance(node, ast.BinOp) and isinstance(
        node.op, ast.BitOr
    ):  # a | b | c is ((a | b) | c)
        terms.append(node.right)
        node = node.left
    terms.append(node)
    layers = []
    for term in reversed(terms):
        match term:
            case ast.Call(
                func=ast.Call(func=ast.Name(id="SLD"), args=[ast.Constant(value=str() as name)]),
                args=[thickness, roughness],
            ):
                layers.append(
                    {
                        "name": name,
                        "thickness": _number(thickness, line),
                        "roughness": _number(roughness, line),
                    }
                )
            case _:
                _fail(line, "the sample must read SLD('NAME')(THICKNESS, ROUGHNESS) | …")
    if len(layers) >= 2:
        back, front = layers[0], layers[-1]
        for medium, where in ((back, "first slab (the back medium)"), (front, "last slab")):
            if medium["thickness"]:
                _fail(line, f"the {where} is semi-infinite: its thickness must be 0")
        if front["roughness"]:
            _fail(
                line,
                "the last slab is the front medium (the neutrons come from it): it has no "
                "interface above it, so its roughness must be 0",
            )
    return layers


def model_from_script(text: str) -> LayerModel:
    """The model a Beamtime refl1d script describes; ModelError naming the line otherwise."""
    if len(text.encode()) > MAX_BYTES:
        raise ModelError("script", "the script is larger than 1 MiB")
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise ModelError("script", f"line {exc.lineno}: not Python ({exc.msg})") from None
    except (RecursionError, MemoryError):
        raise ModelError("script", "the script is nested too deeply to read") from None
    lines = text.splitlines()
    layers, values, ranges, constraints, q_range = None, {}, {}, {}, (0.0, 1.0)
    for statement in tree.body:
        line = statement.lineno
        match statement:
            case ast.Assign(targets=[ast.Name(id="sample")], value=value):
                layers = _stack(value, line)
            case ast.Assign(targets=[ast.Attribute(value=owner, attr="value")], value=value) if (
                _place(owner)
            ):
                values[_place(owner)] = _number(value, line)
            case ast.Expr(
                value=ast.Call(func=ast.Attribute(value=owner, attr="range"), args=[low, high])
            ) if _place(owner):
                ranges[_place(owner)] = (_number(low, line), _number(high, line))
            case ast.Expr(value=ast.Call(func=ast.Attribute(value=owner, attr="equals"))) if _place(
                owner
            ):
                comment = lines[line - 1].partition("#")[2]
                target, equals, expression = comment.partition("=")
                if not equals:
                    _fail(line, "a constraint needs its '# TARGET = EXPRESSION' comment")
                constraints[target.strip()] = expression.strip()
            case ast.Assign(
                targets=[ast.Name(id="keep")],
                value=ast.BinOp(
                    left=ast.Compare(comparators=[low]), right=ast.Compare(comparators=[high])
                ),
            ):
                q_range = (_number(low, line), _number(high, line))
    if not layers or len(layers) < 2:
        raise ModelError(
            "script", "no sample = SLD(…)(…) | SLD(…)(…) line with a front and a back medium"
        )
    return _assemble(layers, values, ranges, constraints, q_range)


def _assemble(layers, values, ranges, constraints, q_range) -> LayerModel:
    def param(key, default):
        value = {"value": values.get(key, default)}
        if key in ranges:
            value |= {"free": True, "min": ranges[key][0], "max": ranges[key][1]}
        return value

    rows = []
    for index, layer in enumerate(layers):
        row = {"name": layer["name"]}
        for name in ("thickness", "sld", "isld", "roughness"):
            default = layer.get(name, 0.0)
            row[name] = param(f"{index}.{name}", default)
        rows.append(row)
    model = {  # rows are in refl1d's order, from the back medium up to the front medium
        "front": rows[-1],
        "layers": rows[-2:0:-1],
        "back": rows[0],
        "scale": param("scale", 1.0),
        "background": param("background", 0.0),
        "q_min": q_range[0],
        "q_max": q_range[1],
        "constraints": constraints,
    }
    return LayerModel.from_dict(model)
