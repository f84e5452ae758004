"""The model editor's forms: HTML inputs to and from a LayerModel, read by Django forms.

The page holds four parts: the front medium (``FrontForm``, prefix ``front``), the layers (a
formset of ``LayerForm``, prefix ``layer``, at most MAX_LAYERS, each removable), the back medium
(``BackForm``, prefix ``back``) and the rest (``GlobalsForm``: scale, background, Q range,
constraints). A parameter is four inputs ``<param>-value``, ``-free``, ``-min`` and ``-max``, so
a layer's thickness maximum is ``layer-<i>-thickness-max``; a layer also has ``-name``,
``-number`` (its order from the front) and ``-DELETE`` (its remove button).

``ModelEditor`` reads them all: its ``model()`` is the LayerModel or a FormError whose message
names the row and the field in words; the input at fault carries the error, for the page to
mark it."""

from django import forms

from beamtime.fitting.layers import (
    DEFAULTS,
    MAX_LAYERS,
    MEDIUM_PARAMS,
    MODEL_PARAMS,
    Layer,
    LayerModel,
    ModelError,
)

LABELS = {
    "thickness": "thickness",
    "sld": "SLD",
    "isld": "iSLD",
    "roughness": "roughness",
    "rhoM": "magnetic SLD",
    "thetaM": "magnetic angle",
    "guide_angle": "guide field angle",
    "guide_field": "guide field",
    "theta_offset": "angle offset θ",
}
# Magnetism may be left out of a post (a page or client that knows none): its defaults.
OPTIONAL = {name: DEFAULTS.get(name, 0.0) for name in Layer.MAGNETIC}
OPTIONAL |= {name: MODEL_PARAMS[name][0] for name in ("guide_angle", "guide_field", "theta_offset")}
NUMBER = {"invalid": "not a number", "required": "give a number"}
MAX_CONSTRAINTS = 10_000  # characters
PARTS = ("value", "free", "min", "max")  # the inputs of one parameter


class FormError(ValueError):
    """A model form that does not describe a valid model; str() says where, in words, and
    ``field`` is the name of the input at fault (empty when no one input is)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _param_fields(name: str) -> dict[str, forms.Field]:
    return {
        f"{name}-value": forms.FloatField(required=name not in OPTIONAL, error_messages=NUMBER),
        f"{name}-free": forms.BooleanField(required=False),
        f"{name}-min": forms.FloatField(required=False, error_messages=NUMBER),
        f"{name}-max": forms.FloatField(required=False, error_messages=NUMBER),
    }


def _param(cleaned: dict, name: str) -> dict:
    found = {part: cleaned[f"{name}-{part}"] for part in PARTS}
    if found["value"] is None:  # an optional one left out
        found["value"] = OPTIONAL[name]
    return found


MAGNETIC = (*Layer.MAGNETIC, "guide_angle", "guide_field")  # shown for magnetic models
UNITS = {"guide_angle": "°", "guide_field": "T", "theta_offset": "°"}


def _cell(form, name: str) -> dict:
    """A parameter's bound inputs, for the template: ``value``, ``free``, ``min``, ``max``."""
    return {
        "name": name,
        "label": LABELS.get(name, name),
        "unit": UNITS.get(name, ""),
        "magnetic": name in MAGNETIC,
    } | {part: form[f"{name}-{part}"] for part in PARTS}


def _na(name: str) -> dict:
    """A column the row does not have (shown as –)."""
    return {"name": name, "na": True, "magnetic": name in MAGNETIC}


class RowForm(forms.Form):
    """One row of the editor: a name and the parameters its kind has (``row_form`` adds
    their fields to the class, once)."""

    params: tuple[str, ...] = ()
    name = forms.CharField(max_length=100, error_messages={"required": "give a name"})

    def row(self) -> dict:
        """The row as LayerModel.from_dict reads it (the form must be valid)."""
        return {"name": self.cleaned_data["name"]} | {
            name: _param(self.cleaned_data, name) for name in self.params
        }

    @classmethod
    def initial_for(cls, layer: Layer) -> dict:
        initial = {"name": layer.name}
        for name in cls.params:
            param = getattr(layer, name)
            initial |= {f"{name}-{part}": getattr(param, part) for part in PARTS}
        return initial

    def has_changed(self) -> bool:
        return True  # every row posted is read (the formset need not compare it to nothing)


def row_form(name: str, base: type, params: tuple[str, ...]) -> type:
    fields = {field: value for p in params for field, value in _param_fields(p).items()}
    return type(name, (base,), {"__module__": __name__, "params": params, **fields})


FrontForm = row_form("FrontForm", RowForm, MEDIUM_PARAMS["front"])
BackForm = row_form("BackForm", RowForm, MEDIUM_PARAMS["back"])


class LayerRow(RowForm):
    number = forms.FloatField(required=False, error_messages=NUMBER)


LayerForm = row_form("LayerForm", LayerRow, Layer.PARAMS)


class BaseLayerFormSet(forms.BaseFormSet):
    default_error_messages = {
        "missing_management_form": "the layer count is missing or not a whole number",
        "too_many_forms": f"a model has at most {MAX_LAYERS} layers",
    }

    def get_form_kwargs(self, index):
        # Every row posted is a layer: an emptied one is refused, not skipped.
        return super().get_form_kwargs(index) | {"empty_permitted": False}


LayerFormSet = forms.formset_factory(
    LayerForm,
    formset=BaseLayerFormSet,
    extra=0,
    can_delete=True,
    max_num=MAX_LAYERS,
    absolute_max=MAX_LAYERS,
    validate_max=True,
)


class Globals(forms.Form):
    """Scale and background (added by ``row_form``), the Q range and the constraints."""

    q_min = forms.FloatField(required=False, error_messages=NUMBER)
    q_max = forms.FloatField(required=False, error_messages=NUMBER)
    # the data's angle, for the θ offset
    angle = forms.FloatField(required=False, error_messages=NUMBER)
    constraints = forms.CharField(required=False, max_length=MAX_CONSTRAINTS, widget=forms.Textarea)

    def clean_constraints(self) -> dict[str, str]:
        try:
            return constraints_from_text(self.cleaned_data["constraints"])
        except FormError as exc:
            raise forms.ValidationError(str(exc)) from None

    def data_for_model(self) -> dict:
        cleaned = self.cleaned_data
        return {name: _param(cleaned, name) for name in MODEL_PARAMS} | {
            "q_min": 0.0 if cleaned["q_min"] is None else cleaned["q_min"],
            "q_max": 1.0 if cleaned["q_max"] is None else cleaned["q_max"],
            "angle": cleaned["angle"] or 0.0,
            "constraints": cleaned["constraints"],
        }


GlobalsForm = row_form("GlobalsForm", Globals, tuple(MODEL_PARAMS))


class ModelEditor:
    """The editor bound to what was posted (``data``) or showing a model (``model``)."""

    def __init__(self, data=None, model: LayerModel | None = None, magnetic: bool = False):
        """``magnetic``: show the magnetic columns (polarized data); they are shown for a
        model with magnetism, and when the page's Magnetism box was ticked, too."""
        model = model or LayerModel()
        bound = data is not None
        self.magnetic = magnetic or model.uses_magnetism() or (bound and "magnetic" in data)
        self.front = FrontForm(data, prefix="front", initial=FrontForm.initial_for(model.front))
        self.back = BackForm(data, prefix="back", initial=BackForm.initial_for(model.back))
        self.layers = LayerFormSet(
            data,
            prefix="layer",
            initial=None
            if bound
            else [
                LayerForm.initial_for(layer) | {"number": i + 1}
                for i, layer in enumerate(model.layers)
            ],
        )
        self.globals = GlobalsForm(
            data,
            initial=None
            if bound
            else {
                "q_min": model.q_min,
                "q_max": model.q_max,
                "angle": model.angle,
                "constraints": "\n".join(f"{t} = {e}" for t, e in model.constraints.items()),
            }
            | {
                f"{name}-{part}": getattr(getattr(model, name), part)
                for name in MODEL_PARAMS
                for part in PARTS
            },
        )
        self.messages: list[str] = []  # every problem found, in words
        self.field = ""  # the input of the first

    def model(self, add_layer: bool = False) -> LayerModel:
        """The model the form describes (with a new layer at the back if asked); FormError
        naming the first problem, each problem also set on its input."""
        self._check_layer_count()
        if not self.layers.is_valid() and self.layers.non_form_errors():
            self._refuse_layers(self.layers.non_form_errors().as_data()[0].code)
        for where, form in self._rows():
            for name, errors in form.errors.items():
                raw = form.data.get(form.add_prefix(name), "")
                for message in errors:
                    if message in NUMBER.values() and raw:
                        message = f"{str(raw)[:20]!r} is {message}"
                    self._note(form, name, f"{where(name)}: {message}")
        if self.messages:
            raise FormError(self.field, self.messages[0])
        numbered = [
            (i + 1 if form.cleaned_data["number"] is None else form.cleaned_data["number"], i, form)
            for i, form in enumerate(self.layers.forms)
            if not self.layers._should_delete_form(form)
        ]
        kept = [form for _, _, form in sorted(numbered, key=lambda n: n[:2])]
        data = {
            "front": self.front.row(),
            "back": self.back.row(),
            "layers": [form.row() for form in kept],
            **self.globals.data_for_model(),
        }
        if add_layer:
            data["layers"].append(new_layer({layer["name"] for layer in data["layers"]}))
        try:
            return LayerModel.from_dict(data)
        except ModelError as exc:
            self._model_error(exc, data, kept)
            raise FormError(self.field, self.messages[0]) from None

    def _check_layer_count(self) -> None:
        """The layer count first, before any row is built: no form can ask for more work than
        the largest model (the formset's validate_max and absolute_max hold it as well)."""
        management = self.layers.management_form
        if not management.is_valid():
            self._refuse_layers("missing_management_form")
        if management.cleaned_data["TOTAL_FORMS"] > MAX_LAYERS:
            self._refuse_layers("too_many_forms")

    def _refuse_layers(self, code: str) -> None:
        posted = self.layers
        self.layers = LayerFormSet(prefix="layer")  # the page shows no rows rather than 100
        if code == "missing_management_form":
            raw = posted.data.get("layer-TOTAL_FORMS", "")
            raise FormError(
                "layer-TOTAL_FORMS",
                f"layer count: {raw[:20]!r} is not a whole number (reload the page)",
            )
        count = posted.management_form.cleaned_data["TOTAL_FORMS"]
        raise FormError("layers", f"{count} layers: a model has at most {MAX_LAYERS}")

    def _rows(self):
        """Each form with a function naming one of its inputs in words."""

        def named(head):
            return lambda name: " ".join(
                [head, *(WORDS.get(p, p) for p in name.split("-") if WORDS.get(p, p))]
            )

        yield named("front medium"), self.front
        for i, form in enumerate(self.layers.forms):
            if self.layers.can_delete and self.layers._should_delete_form(form):
                continue
            yield named(f"layer {i + 1} ({form.data.get(form.add_prefix('name'), '')})"), form
        yield named("back medium"), self.back
        yield named(""), self.globals

    def _note(self, form, name: str | None, message: str, short: str = "") -> None:
        """Record a problem; ``short`` (what the input itself shows) is set on the input when
        the form's own validation had not found it."""
        if not self.messages:
            self.field = form.add_prefix(name) if name else ""
        self.messages.append(message.strip())
        if short:
            form.add_error(name, short)

    def _model_error(self, exc: ModelError, data: dict, kept: list) -> None:
        """Put a ModelError (``layers.1.thickness.max``) on the input it names."""
        detail = str(exc).split(": ", 1)[1]
        parts = exc.field.split(".")
        if parts[0] == "layers" and len(parts) > 2 and parts[1].isdigit():
            form, rest = kept[int(parts[1])], parts[2:]
        elif parts[0] in ("front", "back"):
            form, rest = getattr(self, parts[0]), parts[1:]
        else:
            form, rest = self.globals, parts
        if exc.field.startswith("constraints"):  # its message names the constraint already
            message, short, rest = detail, detail, ["constraints"]
        else:
            message, short = f"{describe(exc.field, data)}: {detail}", detail
        if len(rest) == 1 and rest[0] in Layer.PARAMS + tuple(MODEL_PARAMS):
            rest = [*rest, "value"]
        name = "-".join(rest)
        self._note(form, name if name in form.fields else None, message, short)

    def input_errors(self) -> dict[str, str]:
        """Each input at fault (its HTML name) with what it shows."""
        return {
            form.add_prefix(name): " ".join(errors)
            for _, form in self._rows()
            for name, errors in form.errors.items()
            if name != forms.forms.NON_FIELD_ERRORS
        }

    def rows(self) -> list[dict]:
        """What the template shows: a row per form, front to back, each with its cells."""

        def cells(form):
            return [_cell(form, p) if p in form.params else _na(p) for p in Layer.PARAMS]

        rows = [{"kind": "front", "form": self.front, "cells": cells(self.front)}]
        for form in self.layers.forms:
            rows.append(
                {
                    "kind": "layer",
                    "form": form,
                    "cells": cells(form),
                    "deleted": self.layers.is_bound and self.layers._should_delete_form(form),
                }
            )
        rows.append({"kind": "back", "form": self.back, "cells": cells(self.back)})
        return rows

    def scale_and_background(self) -> list[dict]:
        """The model's own parameters: scale, background and the guide field."""
        return [_cell(self.globals, name) for name in MODEL_PARAMS]


WORDS = {
    "min": "minimum",
    "max": "maximum",
    "value": "",
    "q_min": "Q minimum",
    "q_max": "Q maximum",
    "angle": "data's angle",
}
WORDS |= LABELS


def new_layer(taken: set[str]) -> dict:
    """The layer "+ Add a layer" appends: 50 Å of SLD 2, named ``material`` (or the next free
    ``material<k>``)."""
    name = next(n for n in (f"material{k or ''}" for k in range(len(taken) + 2)) if n not in taken)
    return {"name": name, "thickness": 50.0, "sld": 2.0, "isld": 0.0, "roughness": 1.0}


def model_from_post(post, add_layer: bool = False) -> LayerModel:
    """The model a posted editor describes; FormError naming the input in words."""
    return ModelEditor(post).model(add_layer)


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
                f"line {number}: write TARGET = EXPRESSION, "
                "e.g. B.thickness = 0.1 * A.thickness + 5",
            )
        if target.strip() in found:
            raise FormError("constraints", f"line {number}: {target.strip()} is constrained twice")
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
            {"front": "front medium", "back": "back medium"}.get(
                parts[0], WORDS.get(parts[0], parts[0])
            ),
            parts[1:],
        )
    return " ".join([head, *(WORDS.get(p, p) for p in rest if WORDS.get(p, p))])


def _cells(layer: Layer, params) -> list[dict]:
    """A cell per column; one the row does not have is ``na`` (shown as –)."""
    return [
        {"name": p, "label": LABELS[p], "magnetic": p in MAGNETIC, **getattr(layer, p).__dict__}
        if p in params
        else _na(p)
        for p in Layer.PARAMS
    ]


def rows_for(model: LayerModel) -> dict:
    """A model's rows for the read-only tables (job page, saved model): front, layers
    numbered from 1, back; ``magnetic`` if the model uses magnetism (its columns shown)."""
    rows = [("front", None, model.front, MEDIUM_PARAMS["front"])]
    rows += [("layer", i + 1, layer, Layer.PARAMS) for i, layer in enumerate(model.layers)]
    rows.append(("back", None, model.back, MEDIUM_PARAMS["back"]))
    return {
        "rows": [
            {"kind": kind, "number": number, "name": layer.name, "cells": _cells(layer, params)}
            for kind, number, layer, params in rows
        ],
        "magnetic": model.uses_magnetism(),
        "guide": [
            {"label": LABELS[name], "unit": UNITS[name], **model.param(name).__dict__}
            for name in ("guide_angle", "guide_field")
        ],
        "angle": model.angle,  # with the θ offset, shown when the data's angle is given
        "probe": [
            {
                "label": LABELS.get(name, name),
                "unit": UNITS.get(name, ""),
                **model.param(name).__dict__,
            }
            for name in ("scale", "background", "theta_offset")
        ],
    }
