"""The model editor's form: HTML inputs to and from a LayerModel.

Inputs are named ``<row>-<param>-<part>``: row ``front``, ``layer-<i>`` or ``back``, part
``value``, ``free``, ``min`` or ``max``; layers also have ``-name``, ``-number`` (their
order, from the front) and ``-remove``."""

from beamtime.fitting.layers import MAX_LAYERS, MEDIUM_PARAMS, Layer, LayerModel, ModelError


class FormError(ValueError):
    """A model form that does not describe a valid model; str() says where, in words."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


ROW_PARAMS = {"layer": Layer.PARAMS, **MEDIUM_PARAMS}
LABELS = {"thickness": "thickness", "sld": "SLD", "isld": "iSLD", "roughness": "roughness"}


def _typed(post, prefix: str) -> dict:
    """A parameter's inputs as typed: value, free (the tick), min, max."""
    return {
        "value": post.get(f"{prefix}-value", "").strip(),
        "free": post.get(f"{prefix}-free") == "on",
        "min": post.get(f"{prefix}-min", "").strip(),
        "max": post.get(f"{prefix}-max", "").strip(),
    }


def _param(post, prefix: str) -> dict:
    """The same, for LayerModel.from_dict: an empty range bound is no bound."""
    typed = _typed(post, prefix)
    return typed | {"min": typed["min"] or None, "max": typed["max"] or None}


def _row(post, row: str, kind: str) -> dict:
    layer = {"name": post.get(f"{row}-name", "").strip()}
    for name in ROW_PARAMS[kind]:
        layer[name] = _param(post, f"{row}-{name}")
    return layer


def layer_count(post) -> int:
    """How many layer rows the form holds; FormError unless a whole number up to MAX_LAYERS,
    so that no form can ask for more work than the largest model."""
    raw = post.get("layer_count", "0").strip() or "0"
    if not raw.isdigit() or len(raw) > 6:
        raise FormError("layer_count", f"layer count: {raw[:20]!r} is not a whole number")
    if int(raw) > MAX_LAYERS:
        raise FormError("layers", f"{int(raw)} layers: a model has at most {MAX_LAYERS}")
    return int(raw)


def model_from_post(post, add_layer: bool = False) -> LayerModel:
    """The model the form describes; raises FormError naming the input in words."""
    rows = []
    for i in range(layer_count(post)):
        if post.get(f"layer-{i}-remove") == "on":
            continue
        try:
            number = float(post.get(f"layer-{i}-number", i + 1))
        except ValueError:
            raise FormError(
                f"layers.{i}.number", f"layer {i + 1}: the layer number must be a number"
            ) from None
        rows.append((number, i, _row(post, f"layer-{i}", "layer")))
    layers = [layer for _, _, layer in sorted(rows)]
    if add_layer:
        taken = {layer["name"] for layer in layers}
        name = next(
            n for n in (f"material{k or ''}" for k in range(len(layers) + 2)) if n not in taken
        )
        layers.append({"name": name, "thickness": 50.0, "sld": 2.0, "isld": 0.0, "roughness": 1.0})
    data = {
        "front": _row(post, "front", "front"),
        "back": _row(post, "back", "back"),
        "layers": layers,
        "scale": _param(post, "scale"),
        "background": _param(post, "background"),
        "q_min": post.get("q_min") or 0.0,
        "q_max": post.get("q_max") or 1.0,
        "constraints": constraints_from_text(post.get("constraints", "")),
    }
    try:
        return LayerModel.from_dict(data)
    except ModelError as exc:
        detail = str(exc).split(": ", 1)[1]
        if exc.field.startswith("constraints"):  # its message names the constraint already
            raise FormError(exc.field, detail) from None
        raise FormError(exc.field, f"{describe(exc.field, data)}: {detail}") from None


def constraints_from_text(text: str) -> dict[str, str]:
    """``TARGET = EXPRESSION`` per line (blank lines and # comments skipped)."""
    found = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        target, equals, expression = line.partition("=")
        if not equals or not expression.strip():
            raise FormError(
                "constraints",
                f"constraints, line {number}: write TARGET = EXPRESSION, "
                "e.g. B.thickness = 0.1 * A.thickness + 5",
            )
        if target.strip() in found:
            raise FormError(
                "constraints", f"constraints, line {number}: {target.strip()} is constrained twice"
            )
        found[target.strip()] = expression.strip()
    return found


def describe(field: str, data: dict) -> str:
    """``layers.1.thickness.max`` in words: ``layer 2 (B) thickness maximum``."""
    parts = field.split(".")
    if parts[0] == "layers" and len(parts) > 1 and parts[1].isdigit():
        index = int(parts[1])
        name = data["layers"][index]["name"] if index < len(data["layers"]) else ""
        head, rest = f"layer {index + 1} ({name})", parts[2:]
    else:
        head, rest = (
            {"front": "front medium", "back": "back medium"}.get(parts[0], parts[0]),
            parts[1:],
        )
    words = {"min": "minimum", "max": "maximum", "value": "", **LABELS}
    return " ".join([head, *(words.get(p, p) for p in rest if words.get(p, p))])


def _cells(layer: Layer, params) -> list[dict]:
    """A cell per column; one the row does not have is ``na`` (shown as –)."""
    return [
        {"name": p, "label": LABELS[p], **getattr(layer, p).__dict__}
        if p in params
        else {"name": p, "na": True}
        for p in Layer.PARAMS
    ]


def rows_for(model: LayerModel) -> dict:
    """What the editor shows: rows front, layers numbered from 1, back; scale, background."""
    rows = [
        {
            "prefix": "front",
            "kind": "front",
            "name": model.front.name,
            "cells": _cells(model.front, ROW_PARAMS["front"]),
        }
    ]
    rows += [
        {
            "prefix": f"layer-{i}",
            "kind": "layer",
            "number": i + 1,
            "name": layer.name,
            "cells": _cells(layer, ROW_PARAMS["layer"]),
        }
        for i, layer in enumerate(model.layers)
    ]
    rows.append(
        {
            "prefix": "back",
            "kind": "back",
            "name": model.back.name,
            "cells": _cells(model.back, ROW_PARAMS["back"]),
        }
    )
    return {
        "rows": rows,
        "scale": {"name": "scale", **model.scale.__dict__},
        "background": {"name": "background", **model.background.__dict__},
        "q_min": model.q_min,
        "q_max": model.q_max,
        "constraints": "\n".join(f"{t} = {e}" for t, e in model.constraints.items()),
    }


def rows_from_post(post) -> dict:
    """The same as rows_for, from what was typed, so a refused form comes back as it was."""

    def cell(prefix, name, kind):
        if name not in ROW_PARAMS[kind]:
            return {"name": name, "na": True}
        return {"name": name, "label": LABELS.get(name, name), **_typed(post, f"{prefix}-{name}")}

    def row(prefix, kind, **extra):
        return {
            "prefix": prefix,
            "kind": kind,
            "name": post.get(f"{prefix}-name", ""),
            "cells": [cell(prefix, p, kind) for p in Layer.PARAMS],
            **extra,
        }

    try:
        count = layer_count(post)
    except FormError:  # shown with the message: the rows as far as they can be
        count = 0
    rows = [row("front", "front")]
    rows += [
        row(f"layer-{i}", "layer", number=post.get(f"layer-{i}-number", i + 1))
        for i in range(count)
    ]
    rows.append(row("back", "back"))
    return {
        "rows": rows,
        "scale": {"name": "scale", **_typed(post, "scale")},
        "background": {"name": "background", **_typed(post, "background")},
        "q_min": post.get("q_min", ""),
        "q_max": post.get("q_max", ""),
        "constraints": post.get("constraints", ""),
    }
