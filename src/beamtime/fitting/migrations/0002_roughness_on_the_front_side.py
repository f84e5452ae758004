"""Stored models: each roughness moves to the row whose front side the interface now is.

What changed (issue 10). A model's rows keep their meaning and order — front medium (where the
neutrons come in), layers from the front to the back, back medium (the substrate) — but until
now the refl1d adapter handed refl1d the stack ``front | layers | back``, and refl1d builds a
sample from the substrate up: every model was computed with the beam entering through the
substrate. The stack is now ``back | layer_n | … | layer_1 | front``.

Roughness, before: a row's roughness was the interface on its *back* side (with the next row
toward the substrate): the front medium's was the front/layer 1 interface, the back medium's
was not used by refl1d (nor shown by the form). Now, as in web reflectivity: a layer's
roughness is the interface on its *front* side, the back medium's is its interface with the
last layer, and the front medium has none.

So that every saved model keeps the interfaces its user entered, each roughness (its value,
whether it is fitted and its range) moves one row toward the back: the front medium's goes to
layer 1, layer k's to layer k + 1, the last layer's to the back medium; the front medium's
becomes 0 and the back medium's old value, which refl1d never used, is dropped (a constraint
on it is dropped; an expression using it gets its value as a number). Constraints follow:
``X.roughness`` becomes the name of the row the roughness moved to. The same is done for every
model a fit job keeps (its start model, its partners' models, the fitted models) and for the
labels of its fitted values and shared parameters. The numbers a finished fit stored (χ²,
values) were computed the old way and are kept as they were; its page recomputes the curve.

The front medium's iSLD becomes 0 (and not fitted): refl1d ignores the absorption of the
medium the beam comes from, so it never had an effect where it now stands (before, the front
medium stood where the substrate should have been). A constraint on it is dropped; an
expression using it gets its old value as a number. Going back restores neither (both had no
effect on the new computation).
"""

import ast

from django.db import migrations


def _param(value) -> dict:
    if isinstance(value, dict):
        return dict(value)
    return {"value": 0.0 if value is None else value}


def _rename(text: str, names: dict[str, str]) -> str:
    """Parameter names ``LAYER.param`` in a target or expression replaced, all at once."""
    text = text.strip()
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return text
    lines = text.split("\n")
    found = [
        (node.lineno, node.col_offset, node.end_col_offset, names[f"{node.value.id}.{node.attr}"])
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and f"{node.value.id}.{node.attr}" in names
        and node.lineno == node.end_lineno
    ]
    for line, start, end, new in sorted(found, reverse=True):
        raw = lines[line - 1].encode()
        lines[line - 1] = (raw[:start] + new.encode() + raw[end:]).decode()
    return "\n".join(lines)


def _rows(model: dict) -> list[dict] | None:
    if not isinstance(model, dict):
        return None
    rows = [model.get("front"), *model.get("layers", []), model.get("back")]
    if not all(isinstance(row, dict) and isinstance(row.get("name"), str) for row in rows):
        return None
    return rows


def forward_model(model: dict) -> tuple[dict, dict[str, str]]:
    """The model with its roughnesses moved toward the back, and the renamed parameters."""
    rows = _rows(model)
    if rows is None:  # not a model (never stored by Beamtime): leave it
        return model, {}
    new_rows = [dict(row) for row in rows]
    names = {}
    for i in range(len(rows) - 1, 0, -1):
        new_rows[i]["roughness"] = _param(rows[i - 1].get("roughness", 0.0))
        names[f"{rows[i - 1]['name']}.roughness"] = f"{rows[i]['name']}.roughness"
    new_rows[0]["roughness"] = {"value": 0.0, "free": False, "min": None, "max": None}
    front_isld = _param(rows[0].get("isld", 0.0)).get("value", 0.0)
    new_rows[0]["isld"] = {"value": 0.0, "free": False, "min": None, "max": None}
    old_back = _param(rows[-1].get("roughness", 0.0)).get("value", 0.0)
    dropped = {f"{rows[-1]['name']}.roughness": old_back, f"{rows[0]['name']}.isld": front_isld}
    return _with_rows(model, new_rows, names, dropped), names


def backward_model(model: dict) -> tuple[dict, dict[str, str]]:
    """The inverse: each roughness moves one row toward the front, the back's becomes 0."""
    rows = _rows(model)
    if rows is None:
        return model, {}
    new_rows = [dict(row) for row in rows]
    names = {}
    for i in range(len(rows) - 1):
        new_rows[i]["roughness"] = _param(rows[i + 1].get("roughness", 0.0))
        names[f"{rows[i + 1]['name']}.roughness"] = f"{rows[i]['name']}.roughness"
    new_rows[-1]["roughness"] = {"value": 0.0, "free": False, "min": None, "max": None}
    return _with_rows(model, new_rows, names, {f"{rows[0]['name']}.roughness": 0.0}), names


def _with_rows(model, rows, names, dropped: dict[str, float]) -> dict:
    """The model with these rows; constraints renamed, those on ``dropped`` parameters left
    out and their uses replaced by the parameter's value."""
    constraints = {}
    values = {name: repr(float(value)) for name, value in dropped.items()}
    for target, expression in (model.get("constraints") or {}).items():
        if not isinstance(target, str) or not isinstance(expression, str):
            continue
        if target.strip() in dropped:
            continue
        constraints[_rename(target, names)] = _rename(expression, {**values, **names})
    return {
        **model,
        "front": rows[0],
        "layers": rows[1:-1],
        "back": rows[-1],
        "constraints": constraints,
    }


def _label(label: str, names: dict[str, str]) -> str:
    """A fitted value's label, ``A roughness`` or ``2: A roughness``, renamed."""
    prefix, colon, rest = label.rpartition(": ")
    key = rest.replace(" ", ".", 1)
    if key in names:
        return prefix + colon + names[key].replace(".", " ", 1)
    return label


def _migrate(apps, move):
    for saved in apps.get_model("fitting", "SavedModel").objects.all():
        saved.model = move(saved.model)[0]
        saved.save(update_fields=["model"])
    for job in apps.get_model("fitting", "FitJob").objects.all():
        job.model, names = move(job.model)
        job.shared = [_rename(name, names) for name in job.shared or []]
        partners = []
        for number, partner in enumerate(job.partners or [], start=2):
            if isinstance(partner, dict) and "model" in partner:
                moved, partner_names = move(partner["model"])
                partner = {**partner, "model": moved}
                names |= {f"{number}: {k}": v for k, v in partner_names.items()}
            partners.append(partner)
        job.partners = partners
        if isinstance(job.result, dict):
            result = dict(job.result)
            if "model" in result:
                result["model"] = move(result["model"])[0]
            if isinstance(result.get("models"), list):
                result["models"] = [move(m)[0] for m in result["models"]]
            for key in ("values", "errors"):
                if isinstance(result.get(key), dict):
                    result[key] = {
                        _job_label(label, names, number_of_sets=1 + len(partners)): value
                        for label, value in result[key].items()
                    }
            job.result = result
        job.save(update_fields=["model", "shared", "partners", "result"])


def _job_label(label: str, names: dict[str, str], number_of_sets: int) -> str:
    """Co-refined labels are ``N: LAYER param``; set 1 uses the job's own model's names."""
    if number_of_sets > 1:
        number, _, rest = label.partition(": ")
        own = names if number == "1" else _prefixed(names, number)
        return f"{number}: {_label(rest, own)}"
    return _label(label, names)


def _prefixed(names: dict[str, str], number: str) -> dict[str, str]:
    start = f"{number}: "
    return {k[len(start) :]: v for k, v in names.items() if k.startswith(start)}


def forward(apps, schema_editor):
    _migrate(apps, forward_model)


def backward(apps, schema_editor):
    _migrate(apps, backward_model)


class Migration(migrations.Migration):
    dependencies = [("fitting", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
