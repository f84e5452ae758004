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
    data = session_model()
    change(data)
    with pytest.raises(ModelError) as raised:
        LayerModel.from_dict(data)
    assert raised.value.field == field
    assert message in str(raised.value)


def test_reversing_swaps_the_media_and_keeps_each_interface():
    model = LayerModel.from_dict(session_model())
    flipped = model.reversed()
    assert [layer.name for layer in flipped.all_layers()] == ["Si", "A", "B", "air"]
    # Interfaces, front to back: air/B 0, B/A 1.0, A/Si 9.977 → Si/A 9.977, A/B 1.0, B/air 0.
    assert [layer.roughness.value for layer in flipped.all_layers()][:3] == [9.977, 1.0, 0.0]
    assert flipped.reversed().all_layers()[1].name == "B"


def test_a_model_without_free_parameters_has_none():
    assert LayerModel().check().free_parameters() == []
    assert Layer("x").thickness == Param(0.0)
