import math

import pytest

from beamtime.fitting.layers import Layer, LayerModel, ModelError, Param


def session_model() -> dict:
    """The manual fit session's start: A and B free around their true thicknesses."""
    return {
        "front": {"name": "air"},
        "layers": [
            {
                "name": "B",
                "thickness": {"value": 40, "free": True, "min": 30, "max": 50},
                "sld": 5.912,
                "roughness": 1.0,
            },
            {
                "name": "A",
                "thickness": {"value": 500, "free": True, "min": 400, "max": 600},
                "sld": 9.436,
                "roughness": 9.977,
            },
        ],
        "back": {"name": "Si", "sld": 2.07, "roughness": 1.566},
    }


def test_a_model_round_trips_through_json():
    model = LayerModel.from_dict(session_model())
    assert LayerModel.from_dict(model.to_dict()) == model
    assert [name for name, _ in model.free_parameters()] == ["B.thickness", "A.thickness"]


def refusal(data: dict, change) -> ModelError:
    """The error a model's JSON gets once change(data) has altered it."""
    change(data)
    with pytest.raises(ModelError) as raised:
        LayerModel.from_dict(data)
    return raised.value


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda m: m["layers"][0].update(name="B+1"), "layers.0.name", "must start with a letter"),
        (
            lambda m: m["layers"][0].update(name="__import__"),
            "layers.0.name",
            "must start with a letter",
        ),
        (lambda m: m["layers"][1].update(name="B"), "layers.1.name", "two layers are called 'B'"),
        (
            lambda m: m["layers"][0]["thickness"].update(min=60),
            "layers.0.thickness.max",
            "must exceed the minimum",
        ),
        (
            lambda m: m["layers"][0]["thickness"].update(value=55),
            "layers.0.thickness.value",
            "outside its range",
        ),
        (
            lambda m: m["layers"][0]["thickness"].update(max=None),
            "layers.0.thickness.min",
            "needs a minimum and a maximum",
        ),
        (lambda m: m["layers"][0].update(thickness=-1), "layers.0.thickness.value", "at least 0"),
        (lambda m: m["layers"][0].update(sld="abc"), "layers.0.sld", "must be a number"),
        (lambda m: m["layers"][0].update(sld=float("nan")), "layers.0.sld.value", "finite"),
        (lambda m: m["layers"][0].update(colour=1), "layers.0", "unknown key 'colour'"),
        (lambda m: m.update(q_min=0.3, q_max=0.2), "q_max", "Q min < Q max"),
    ],
)
def test_bad_models_name_the_field(change, field, message):
    error = refusal(session_model(), change)
    assert error.field == field and message in str(error)


HUGE = 10**400  # a JSON integer no float can hold


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m.update(scale=HUGE), "scale.value"),
        (lambda m: m["layers"][0].update(thickness=HUGE), "layers.0.thickness.value"),
        (lambda m: m["layers"][0]["thickness"].update(max=HUGE), "layers.0.thickness.max"),
        (lambda m: m["layers"][0]["thickness"].update(value=-HUGE), "layers.0.thickness.value"),
        (lambda m: m.update(q_min=HUGE), "q_min"),
        (lambda m: m.update(angle=HUGE), "angle"),
    ],
)
def test_an_integer_too_large_for_a_float_is_refused(change, field):
    error = refusal(session_model(), change)
    assert error.field == field and "is too large" in str(error)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m.update(q_max=math.inf), "q_max"),
        (lambda m: m.update(angle=math.inf), "angle"),
        (lambda m: m["back"].update(sld={"value": 2, "min": -math.inf}), "back.sld.min"),
        (lambda m: m["back"].update(sld={"value": 2, "max": math.nan}), "back.sld.max"),
        (lambda m: m.update(background={"value": math.inf}), "background.value"),
    ],
)
def test_every_number_is_finite_even_when_not_fitted(change, field):
    """JSON has no Infinity or NaN: a saved model holding one would not be stored."""
    error = refusal(session_model(), change)
    assert error.field == field and "finite" in str(error)


def test_the_q_range_is_finite():
    model = LayerModel()
    model.q_max = math.inf
    with pytest.raises(ModelError, match="finite") as raised:
        model.check()
    assert raised.value.field == "q_max"


@pytest.mark.parametrize("free", ["no", 1, None, "false"])
def test_free_is_true_or_false(free):
    error = refusal(
        session_model(),
        lambda m: m["layers"][0].update(thickness={"value": 40, "free": free, "min": 0, "max": 50}),
    )
    assert error.field == "layers.0.thickness.free" and "true or false" in str(error)


def test_reversing_swaps_the_media_and_keeps_each_interface():
    model = LayerModel.from_dict(session_model())
    flipped = model.reversed()
    assert [layer.name for layer in flipped.all_layers()] == ["Si", "A", "B", "air"]
    # Interfaces, front to back: air/B 1.0, B/A 9.977, A/Si 1.566. Seen from the Si side:
    # Si/A 1.566 (A's front side), A/B 9.977 (B's), B/air 1.0 (the back medium's); Si none.
    assert [layer.roughness.value for layer in flipped.all_layers()] == [0.0, 1.566, 9.977, 1.0]
    assert flipped.reversed() == model


def test_reversing_moves_constraints_with_their_interfaces():
    data = session_model()
    data["constraints"] = {"A.roughness": "2 * B.roughness + Si.roughness"}
    flipped = LayerModel.from_dict(data).reversed()
    # A's roughness was the B/A interface: seen from Si it is B's front side, and so on.
    assert flipped.constraints == {"B.roughness": "2 * air.roughness + A.roughness"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m["front"].update(roughness=3.0), "front.roughness"),
        (
            lambda m: m["front"].update(roughness={"value": 0, "free": True, "min": 0, "max": 5}),
            "front.roughness",
        ),
        (lambda m: m["front"].update(thickness=10.0), "front.thickness"),
        (lambda m: m["front"].update(isld=0.1), "front.isld"),  # refl1d ignores it
        (lambda m: m["back"].update(thickness=10.0), "back.thickness"),
    ],
)
def test_what_a_medium_does_not_have_cannot_be_set_or_fitted(change, field):
    assert refusal(session_model(), change).field == field


def test_constraints_cannot_use_the_front_mediums_roughness():
    data = session_model()
    data["constraints"] = {"A.roughness": "air.roughness"}
    with pytest.raises(ModelError, match="'air.roughness' is not a parameter"):
        LayerModel.from_dict(data)


def test_a_model_without_free_parameters_has_none():
    assert LayerModel().check().free_parameters() == []
    assert Layer("x").thickness == Param(0.0)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda m: m["layers"][0].update(thickness=1.5e5), "layers.0.thickness.value", "at most"),
        (
            lambda m: m["layers"][0].update(
                thickness={"value": 40, "free": True, "min": 30, "max": 1e9}
            ),
            "layers.0.thickness.max",
            "at most 100000",
        ),
        (lambda m: m["layers"][0].update(roughness=2e3), "layers.0.roughness.value", "most 1000"),
        (lambda m: m["layers"][0].update(sld=-2000), "layers.0.sld.value", "at least -1000"),
        (lambda m: m["back"].update(isld=1e4), "back.isld.value", "at most 1000"),
        (
            lambda m: m.update(layers=[{"name": f"L{i}"} for i in range(400_000)]),
            "layers",
            "400000 layers, at most 100",
        ),
    ],
)
def test_the_documented_maxima(change, field, message):
    error = refusal(session_model(), change)
    assert error.field == field and message in str(error)


def test_a_hundred_layers_is_a_model():
    data = session_model()
    data["layers"] = [{"name": f"L{i}", "thickness": 1e5} for i in range(100)]
    assert len(LayerModel.from_dict(data).layers) == 100


def test_a_constraint_is_one_line():
    data = session_model()
    data["layers"][0]["thickness"] = 40
    data["constraints"] = {"B.thickness": "(0.1 *\n A.thickness)"}
    with pytest.raises(ModelError, match="the expression must be on one line"):
        LayerModel.from_dict(data)
