import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamtime.fitting.layers import LayerModel, ModelError
from beamtime.fitting.refl1d_adapter import to_script
from beamtime.fitting.script_import import model_from_script
from tests.fitting.test_layers import session_model


def test_a_written_script_reads_back_as_the_same_model():
    model = session_model()
    model["layers"][0]["thickness"] = 40
    model["layers"][0]["sld"] = {"value": 5.9, "free": True, "min": 5, "max": 7}
    model["scale"] = {"value": 0.98, "free": True, "min": 0.9, "max": 1.1}
    model["q_min"], model["q_max"] = 0.01, 0.15
    model["constraints"] = {"B.thickness": "0.07754 * A.thickness + sqrt(4) - 2"}
    original = LayerModel.from_dict(model)
    assert model_from_script(to_script(original, "data.txt")) == original


def test_the_stack_is_read_as_refl1d_builds_it_from_the_substrate_up():
    # refl1d's sample guide: silicon(0, 5) | gold(30, 2) | air has a silicon:gold interface
    # of 5 Å and a gold:air one of 2 Å; the neutrons come from the last slab.
    model = model_from_script("sample = SLD('Si')(0, 5) | SLD('Au')(30, 2) | SLD('air')(0, 0)\n")
    assert (model.front.name, [la.name for la in model.layers], model.back.name) == (
        "air",
        ["Au"],
        "Si",
    )
    assert (model.layers[0].roughness.value, model.back.roughness.value) == (2.0, 5.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sample = (", "line 1: not Python"),
        ("import os\n", "no sample = SLD"),
        ("sample = SLD('A')(1, 2) | open('x')\n", "line 1: the sample must read SLD"),
        (
            "sample = SLD('air')(0, 0) | SLD('Si')(0, 0)\nsample[1].thickness.value = 'x'\n",
            "line 2: a number",
        ),
        ("sample = SLD('Si')(0, 0) | SLD('B+1')(5, 0) | SLD('air')(0, 0)\n", "layers.0.name"),
        ("sample = SLD('Si')(0, 0) | SLD('air')(0, 3)\n", "line 1: the last slab is the front"),
        ("sample = SLD('Si')(5, 0) | SLD('air')(0, 0)\n", "line 1: the first slab"),
        (
            f"sample = SLD('Si')(0, 0) | SLD('A')({'9' * 400}, 0) | SLD('air')(0, 0)\n",
            "line 1: the number 99999999999999999999… is too large",
        ),
        (
            "sample = SLD('air')(0, 0) | SLD('Si')(0, 0)\nsample[0].interface.equals(1)\n",
            "line 2: a constraint needs",
        ),
    ],
)
def test_bad_scripts_say_where(text, message):
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace("+", r"\+")):
        model_from_script(text)


def test_code_in_a_script_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    text = (
        f"open({str(marker)!r}, 'w').write('x')\n"
        "sample = SLD('Si')(0.0, 0.0) | SLD('air')(0.0, 0.0)\n"
    )
    assert [layer.name for layer in model_from_script(text).all_layers()] == ["air", "Si"]
    assert not marker.exists()


@given(st.text(max_size=200))
def test_any_text_is_a_model_or_a_model_error(text):
    with contextlib.suppress(ModelError):
        model_from_script(text)


def test_long_stacks_are_read_and_absurd_ones_refused_cleanly():
    layers = " | ".join(f"SLD('L{i}')(1.0, 0.0)" for i in range(100))
    model = model_from_script(f"sample = SLD('Si')(0, 0) | {layers} | SLD('air')(0, 0)\n")
    assert len(model.layers) == 100  # the most a model has
    layers = " | ".join(f"SLD('L{i}')(1.0, 0.0)" for i in range(101))
    with pytest.raises(ModelError, match="101 layers, at most 100"):
        model_from_script(f"sample = SLD('Si')(0, 0) | {layers} | SLD('air')(0, 0)\n")
    absurd = " | ".join(f"SLD('L{i}')(1.0, 0.0)" for i in range(20000))
    with pytest.raises(ModelError, match="nested too deeply"):  # Python's own parser gives up
        model_from_script(f"sample = {absurd}\n")
