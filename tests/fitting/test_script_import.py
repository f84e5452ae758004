import contextlib
import re

import pytest
from hypothesis import given, settings
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


def test_a_stack_s_slabs_by_name_and_an_instrument_s_simulation():
    text = """
from refl1d.names import *
nickel = Material("Ni")
stack = silicon(0, 5) | nickel(100, 5) | air
substrate, film, ambient = stack
film.thickness.range(50, 150)
instrument = SNS.Liquids()
M = instrument.simulate(stack, T=[0.3, 0.7], slits=[0.06, 0.14], uncertainty=5)
"""
    model = model_from_script(text)
    assert [la.name for la in model.all_layers()] == ["air", "Ni", "Si"]
    assert (model.layers[0].thickness.min, model.layers[0].thickness.max) == (50, 150)


def test_material_names_become_layer_names():
    model = model_from_script("sample = SLD('Si')(0, 0) | SLD('B+1')(5, 0) | SLD('2')(1, 0) | air")
    assert [layer.name for layer in model.all_layers()] == ["air", "L2", "B_1", "Si"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sample = (", "line 1: not Python"),
        ("import os\n", "no sample"),
        ("sample = SLD('A')(1, 2) | open('x')\n", "line 1: open is not a material"),
        (
            "sample = SLD('air')(0, 0) | SLD('Si')(0, 0)\nsample[1].thickness.value = 'x'\n",
            "line 2: a number",
        ),
        ("sample = SLD('Si')(0, 0) | SLD('A')(-5, 0) | SLD('air')(0, 0)\n", "layers.0.thickness"),
        ("sample = SLD('Si')(0, 0) | SLD('air')(0, 3)\n", "line 1: the last slab is the front"),
        (
            "x = 1\n\nsample = silicon(0, 0) | SLD('air')(0, 3)\n",
            "line 3: the last slab is the front",
        ),
        (
            "sample = SLD('Si')(5, 0) | SLD('air')(0, 0)\nsample[0].thickness.range(1, 9)\n",
            "line 1: the first slab (the back medium) is semi-infinite",
        ),
        (
            f"sample = SLD('Si')(0, 0) | SLD('A')({'9' * 400}, 0) | SLD('air')(0, 0)\n",
            "line 1: the number 99999999999999999999… is too large",
        ),
        (
            "sample = SLD('air')(0, 0) | SLD('Si')(0, 0)\nsample[0].material.density.pm(1)\n",
            "line 2: .density cannot be read here",
        ),
        (
            "film = SLD('A', 4)\nsample = silicon(0, 2) | film(10, 2) | air\n"
            "while sample:\n    sample[1].interface.range(0, 5)\n",
            "line 3: this statement changes the sample",
        ),
        (
            "other = SLD('B', 1)(5, 1)\nsample = silicon(0, 2) | SLD('A', 4)(10, 2) | air\n"
            "sample[1].thickness = other.thickness * 2\n",
            "line 3: the constraint refers to a parameter that is not in the sample",
        ),
        ("sample = silicon(0, 2) | Material('Xx')(10, 2) | air\n", "line 1: 'Xx' is not"),
        ("\nsample = silicon(0, 2) | Material('((')(10, 2) | air\n", "line 2: '((' is not"),
        ("sample = silicon(0, 2) | Material('')(10, 2) | air\n", "line 1: '' is not"),
        ("M = MixedExperiment(samples=[a, b])\n", "line 1: MixedExperiment cannot"),
        ("ni = Material('Ni')\nni.rho.range(9, 10)\n", "line 2: Material('Ni') has no rho"),
        (
            "x = 1\np = NeutronProbe(T=T, L=5, back_reflectivity=flag)\n",
            "line 2: back_reflectivity must be True or False",
        ),
        ("m = Mixture.bymass('Si', 'SiO2', 50)\n", "line 1: Mixture.bymass cannot be represented"),
        (
            "m = Mixture.byvolume('Si', 'SiO2@2.2', 50, 'Ni', 10, name='SiOx')\n"
            "sample = silicon(0, 1) | m(9, 1) | air\n"
            "m.fraction[0].range(0, 60)\nm.fraction[1].range(0, 20)\n",
            "line 2: SiOx: only one fraction of a Mixture can be fitted",
        ),
        (
            "m = Mixture.byvolume('Si', 'SiO2@2.2', 50)\nsample = silicon(0, 1) | m(9, 1) | air\n"
            "m.rho.range(0, 6)\n",
            "line 3: a Mixture has no rho",
        ),
        (
            "sample = silicon(0, 1) | air\nsample['Ni'].interface.range(0, 5)\n",
            "no slab named 'Ni'",
        ),
        (
            "probe = XrayProbe(T=T, dT=0.01, L=1.54, dL=0.01)\n"
            "sample = silicon(0, 1) | Material('Ni')(50, 2) | air\n",
            "line 1: an X-ray probe: Beamtime computes Si's SLD for neutrons",
        ),
        (
            "sample = silicon(0, 1) | SLD('a', 1)(5, 1) | air\n"
            "if len(T) > 2:\n    sample[1].thickness.range(0, 9)\n",
            "line 2: this condition cannot be decided without running the script",
        ),
        (
            "fit = sys.argv[1] if len(sys.argv) > 1 else 'x'\nsample = silicon(0, 1) | air\n"
            "if fit == 'y':\n    sample[0].interface.range(0, 9)\n"
            "else:\n    raise ValueError(fit)\n",
            "line 6: the script stops here with an error",
        ),
    ],
)
def test_bad_scripts_say_where(text, message):
    with pytest.raises(ModelError, match=re.escape(message)):
        model_from_script(text)


def test_code_in_a_script_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    text = (
        f"open({str(marker)!r}, 'w').write('x')\n"
        "sample = SLD('Si')(0.0, 0.0) | SLD('air')(0.0, 0.0)\n"
    )
    assert [layer.name for layer in model_from_script(text).all_layers()] == ["air", "Si"]
    assert not marker.exists()


@settings(deadline=None)  # periodictable loads its tables on first use
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


# Scripts in the style of refl1d's documentation (doc/examples), written for these tests.
HAND_WRITTEN = """
import numpy as np
from refl1d.names import *

T = np.linspace(0.15, 4.0, 120)
probe = NeutronProbe(T=T, dT=0.02, L=1.798, dL=0.03)

chromium = Material("Cr")
oxide = Material("SiO2", density=2.2)
nickel = Material("Ni")
cap = SLD(name="Au cap", rho=4.66, irho=0.0165)
spacer = SLD("spacer", 3.1)

sample = (silicon(0, 4) | oxide(15, 3) | nickel(60, 5) | spacer(25, 4) | nickel(40, 5)
          | spacer(20, 3) | chromium(20, 6) | cap(90, 7) | air)

sample[2].thickness.range(40, 90)
sample[2].interface.pm(2)
cap.rho.pmp(10)
spacer.rho.range(2.5, 3.5)
film = sample[7]
film.thickness.pm(15)
probe.intensity.range(0.9, 1.1)
probe.background.value = 2e-7
sample[0].interface.value = 3.5
sample[6].thickness = sample[3].thickness * 0.8 + 2
film.interface.equals(np.sqrt(sample[1].interface * 4))

M = Experiment(probe=probe, sample=sample)
problem = FitProblem(M)
"""


def _refl1d_and_beamtime(text):
    """Run this test's own script with refl1d; evaluate Beamtime's import of it at the same Q."""
    import numpy as np

    from beamtime.fitting.data import ReflData
    from beamtime.fitting.refl1d_adapter import FWHM_PER_SIGMA, evaluate

    namespace = {}
    exec(compile(text, "hand_written.py", "exec"), namespace)  # trusted test code
    experiment = namespace["M"]
    probe = experiment.probe
    data = ReflData(
        probe.Q, np.ones_like(probe.Q), np.ones_like(probe.Q), probe.dQ * FWHM_PER_SIGMA
    )
    model = model_from_script(text)
    return experiment, model, np.array(evaluate(model, data).r)


def test_a_hand_written_script_computes_refl1d_s_reflectivity():
    import numpy as np

    experiment, model, r = _refl1d_and_beamtime(HAND_WRITTEN)
    expected = experiment.reflectivity()[1]
    np.testing.assert_allclose(r, expected, rtol=1e-8, atol=0)
    assert [layer.name for layer in model.all_layers()] == [
        "air", "Au_cap", "Cr", "spacer_2", "Ni_2", "spacer", "Ni", "SiO2", "Si",
    ]  # fmt: skip
    sample = experiment.sample
    for name, place in {
        "Ni.thickness": sample[2].thickness,  # the lower nickel slab, named first
        "Ni.roughness": sample[2].interface,
        "Au_cap.sld": sample[7].material.rho,
        "Au_cap.thickness": sample[7].thickness,
        "spacer.sld": sample[3].material.rho,
        "scale": experiment.probe.intensity,
    }.items():
        param = model.param(name)
        assert param.free and (param.min, param.max) == tuple(place.bounds), name
    assert model.constraints == {
        "spacer_2.sld": "spacer.sld",  # one material in two slabs: refl1d shares its rho
        "Cr.thickness": "spacer.thickness * 0.8 + 2",
        "Au_cap.roughness": "sqrt(SiO2.roughness * 4)",
    }
    assert model.background.value == 2e-7 and model.back.roughness.value == 3.5


def test_refl1d_s_own_materials_and_a_sample_named_only_in_the_experiment():
    import numpy as np

    text = """
from refl1d.names import *
import numpy
Probe.show_resolution = False
nickel = Material("Ni")
stack = sapphire(0, 3) | Slab(nickel, 80, 4) | gold(45, 2) | air
stack[1].interface.range(0, 10)
probe = NeutronProbe(T=numpy.linspace(0.1, 3, 80), dT=0.01, L=1.798, dL=0.02)
M = Experiment(probe=probe, sample=stack)
"""
    experiment, model, r = _refl1d_and_beamtime(text)
    np.testing.assert_allclose(r, experiment.reflectivity()[1], rtol=1e-8, atol=0)
    assert [la.name for la in model.all_layers()] == ["air", "gold", "Ni", "sapphire"]


def test_materials_take_their_sld_at_the_probe_s_wavelength():
    import numpy as np

    # as refl1d's nickel film example: the absorption of nickel depends on the wavelength
    text = """
import numpy
from refl1d.names import Material, Experiment, NeutronProbe, FitProblem, silicon, air
nickel = Material("Ni")
sample = silicon(0, 5) | nickel(100, 5) | air
sample[1].thickness.pm(50)
probe = NeutronProbe(T=numpy.linspace(0.05, 5, 100), dT=0.01, L=4.75, dL=0.0475)
M = Experiment(probe=probe, sample=sample)
"""
    experiment, model, r = _refl1d_and_beamtime(text)
    np.testing.assert_allclose(r, experiment.reflectivity()[1], rtol=1e-8, atol=0)
    assert model.layers[0].isld.value > 0


line = st.sampled_from(
    [
        "nickel = Material('Ni')",
        "a = SLD(name='A', rho=4.2, irho=0.01)",
        "b = SLD('B', -0.5)",
        "sample = silicon(0, 5) | nickel(100, 5) | a(20, 3) | air",
        "sample = silicon(0, 5) | b(10, 1) | air",
        "sample[1].thickness.range(10, 200)",
        "sample[1].thickness.pm(5)",
        "sample[2].interface.pmp(10)",
        "sample[-1].interface.range(0, 3)",
        "sample[0].thickness = 4",
        "sample[1].material.rho.value = 7",
        "nickel.rho.range(9, 10)",
        "sample[2].thickness = sample[1].thickness * 2",
        "a.rho = b.rho + 1",
        "probe.intensity.range(0.9, 1.1)",
        "probe.background.pmp(5)",
        "M = Experiment(probe=probe, sample=sample)",
        "M = Experiment(sample=nickel)",
        "for s in sample: s.interface.pm(1)",
        "sample = sample | sample",
        "sample[9].thickness.range(1, 2)",
        "x = sample[1].thickness ** 2",
        "a(1, 2, 3)",
    ]
)


@settings(deadline=None)  # periodictable loads its tables on first use
@given(st.lists(line, max_size=12))
def test_any_sequence_of_refl1d_lines_is_a_model_or_an_error_naming_where(lines):
    try:
        model_from_script("\n".join(lines))
    except ModelError as error:
        assert error.field != "script" or "line" in str(error) or "no sample" in str(error)


template = st.sampled_from(
    [
        "m = Material({t!r}, density={n})",
        "m = SLD(name={t!r}, rho={n}, irho={n})",
        "sample = silicon(0, {n}) | m({n}, {n}) | air",
        "sample[{n}].thickness.pm({n})",
        "sample[1].interface.pmp({n}, {n})",
        "m.rho.range({n}, {n})",
        "sample[1].thickness = {t}",
        "probe = NeutronProbe(T=T, L={n})",
        "keep = (Q >= {n}) & (Q <= {n})",
    ]
)
filled = st.tuples(
    template,
    st.text(max_size=12),
    st.one_of(st.integers(-(10**30), 10**30), st.floats(allow_nan=True)).map(repr),
).map(lambda t: t[0].format(t=t[1], n=t[2]))


@settings(deadline=None)  # periodictable loads its tables on first use
@given(st.lists(filled, max_size=8))
def test_odd_values_in_refl1d_lines_are_a_model_or_an_error_naming_where(lines):
    try:
        model_from_script("\n".join(lines))
    except ModelError as error:
        assert error.field != "script" or "line" in str(error) or "no sample" in str(error)


def test_a_medium_s_thickness_is_ignored_as_refl1d_ignores_it():
    import numpy as np

    text = """
from refl1d.names import *
import numpy as np
film = SLD("film", rho=5.1, irho=0.01)
sample = silicon(100, 4) | film(120, 3) | SLD("air", 0)(50, 0)
probe = NeutronProbe(T=np.linspace(0.1, 3, 90), dT=0.01, L=1.798, dL=0.02)
M = Experiment(probe=probe, sample=sample)
"""
    experiment, model, r = _refl1d_and_beamtime(text)
    np.testing.assert_allclose(r, experiment.reflectivity()[1], rtol=1e-8, atol=0)
    assert [la.name for la in model.all_layers()] == ["air", "film", "Si"]


REPEATS = """
from refl1d.names import *
from refl1d.sample.layers import Repeat
import numpy as np
a = SLD("a", rho=6.0)
b = SLD(name="b", rho=1.5, irho=0.02)
bilayer = a(30, 3) | b(45, 4)
sample = (silicon(0, 5) | bilayer * 4
          | Repeat(SLD("c", 3.0)(20, 2) | SLD("d", 0.5)(15, 1), repeat=2, interface=6) | air)
sample[1][0].thickness.range(20, 40)
sample[1][1].interface.pm(2)
b.rho.pm(0.5)
probe = NeutronProbe(T=np.linspace(0.1, 4, 150), dT=0.01, L=1.798, dL=0.02)
M = Experiment(probe=probe, sample=sample)
"""


def test_repeated_stacks_are_written_out_sharing_their_parameters_as_refl1d_s_do():
    import numpy as np

    from beamtime.fitting.data import ReflData
    from beamtime.fitting.refl1d_adapter import FWHM_PER_SIGMA, evaluate

    experiment, model, r = _refl1d_and_beamtime(REPEATS)
    np.testing.assert_allclose(r, experiment.reflectivity()[1], rtol=1e-8, atol=0)
    assert [la.name for la in model.all_layers()] == [
        "air", "d_2", "c_2", "d", "c", "b_4", "a_4", "b_3", "a_3", "b_2", "a_2", "b", "a", "Si",
    ]  # fmt: skip
    assert model.param("a.thickness").free and model.param("b.sld").free
    copies = {f"{n}_{k}": n for n in ("a", "b") for k in (2, 3, 4)}
    expected = {f"{c}.thickness": f"{n}.thickness" for c, n in copies.items() if n == "a"}
    expected |= {f"{c}.sld": f"{n}.sld" for c, n in copies.items() if n == "b"}
    # the last copy's top (b_4) has the repeat's own interface, as in refl1d
    expected |= {f"{c}.roughness": "b.roughness" for c in ("b_2", "b_3")}
    assert model.constraints == expected
    assert model.param("d_2.roughness").value == 6 and model.param("b_4.roughness").value == 4

    # moving the shared parameters moves every copy, in refl1d and in Beamtime alike
    sample = experiment.sample
    sample[1][0].thickness.value, sample[1][1].interface.value = 35.0, 5.5
    sample[1][1].material.rho.value = 1.8
    experiment.update()
    changed = model.to_dict()
    for layer in changed["layers"]:
        if layer["name"] == "a":
            layer["thickness"]["value"] = 35.0
        if layer["name"] == "b":
            layer["roughness"]["value"], layer["sld"]["value"] = 5.5, 1.8
    probe = experiment.probe
    ones = np.ones_like(probe.Q)
    data = ReflData(probe.Q, ones, ones, probe.dQ * FWHM_PER_SIGMA)
    moved = np.array(evaluate(LayerModel.from_dict(changed), data).r)
    np.testing.assert_allclose(moved, experiment.reflectivity()[1], rtol=1e-8, atol=0)
    assert not np.allclose(moved, r)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("s = silicon(0, 1) | (SLD('a', 1)(5, 1) | air) * 60 | air\n", "line 1: the repeats make"),
        ("s = silicon(0, 1) | (SLD('a', 1)(5, 1) | air) * 1.5\n", "line 1: the repeat count"),
        ("s = silicon(0, 1) | SLD('a', 1)(5, 1) * 2\n", "line 1: only a stack can be repeated"),
        ("s = Repeat(silicon, 2)\n", "line 1: Repeat needs a stack"),
        ("s = Repeat(silicon | air, -1)\n", "line 1: the repeat count"),
    ],
)
def test_repeats_refl1d_cannot_build_or_too_long_are_refused(text, message):
    with pytest.raises(ModelError, match=re.escape(message)):
        model_from_script(text.replace("s = ", "sample = "))


def test_loops_over_slices_of_a_stack_read_as_refl1d_runs_them():
    import numpy as np

    text = """
from refl1d.names import *
import numpy as np
oxide = SLD(name="SiOx", rho=3.8)
polymer = SLD(name="P2VP", rho=1.79)
top = SLD(name="dPS", rho=6.31)
sample = silicon(0, 10) | oxide(17.2, 10) | polymer(20, 7) | top(90, 5) | air
for L in sample[1:-1]:
    L.thickness.pmp(50)
    L.interface.range(0, 20)
for L in sample[::2][1:2]:
    L.interface.value = 4
probe = NeutronProbe(T=np.linspace(0.1, 3, 90), dT=0.01, L=1.798, dL=0.02)
M = Experiment(probe=probe, sample=sample)
"""
    experiment, model, r = _refl1d_and_beamtime(text)
    np.testing.assert_allclose(r, experiment.reflectivity()[1], rtol=1e-8, atol=0)
    for name, slab in zip(("SiOx", "P2VP", "dPS"), experiment.sample[1:-1], strict=True):
        for mine, theirs in (("thickness", slab.thickness), ("roughness", slab.interface)):
            param = model.param(f"{name}.{mine}")
            assert param.free and (param.min, param.max) == tuple(theirs.bounds), name
    assert (model.param("P2VP.roughness").value, model.param("dPS.roughness").value) == (4, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("s = silicon(0, 1) | air\nfor L in s[1:2.5]:\n    pass\n", "line 2: only a stack"),
        ("s = silicon(0, 1) | air\nfor L in s[::0]:\n    pass\n", "line 2: a slice step"),
        (
            "s = silicon(0, 1) | air\nfor L in s:\n    for M in s:\n" + "        x = 1\n" * 5001,
            "line 5002: the loops run more than 10000",
        ),
        ("s = silicon(0, 1) | air\nfor L in s[0].thickness:\n    pass\n", "line 2: only a loop"),
    ],
)
def test_loops_that_cannot_be_read_are_refused(text, message):
    with pytest.raises(ModelError, match=re.escape(message)):
        model_from_script(text.replace("s = ", "sample = ").replace(" in s", " in sample"))


def test_back_reflectivity_reads_as_the_sample_seen_from_the_back():
    import numpy as np

    text = """
from refl1d.names import *
import numpy
nickel = Material("Ni")
sample = silicon(0, 12) | nickel(100, 5) | SLD("cap", rho=2.5, irho=0.3)(40, 3) | air
sample[1].thickness.range(80, 120)
T = numpy.linspace(0.05, 5, 100)
probe = NeutronProbe(T=T, dT=0.01, L=4.75, dL=0.0475, back_reflectivity=True)
M = Experiment(probe=probe, sample=sample)
"""
    experiment, model, r = _refl1d_and_beamtime(text)
    np.testing.assert_allclose(r, experiment.reflectivity()[1], rtol=1e-8, atol=0)
    assert [la.name for la in model.all_layers()] == ["Si", "Ni", "cap", "air"]
    assert model.param("Ni.thickness").free and model.param("Ni.roughness").value == 12


def test_a_material_s_density_is_fitted_as_its_sld_as_refl1d_fits_it():
    import numpy as np

    text = """
from refl1d.names import *
import numpy as np
nickel = Material("Ni")
oxide = Material("SiO2", density=2.2)
sample = silicon(0, 4) | oxide(20, 3) | nickel(90, 5) | air
nickel.density.range(7.5, 9.5)
oxide.density.value = 2.4
probe = NeutronProbe(T=np.linspace(0.1, 3, 90), dT=0.01, L=4.75, dL=0.02)
M = Experiment(probe=probe, sample=sample)
"""
    experiment, model, r = _refl1d_and_beamtime(text)
    np.testing.assert_allclose(r, experiment.reflectivity()[1], rtol=1e-8, atol=0)
    nickel = experiment.sample[2].material
    rho, irho = (float(v) for v in nickel.sld(experiment.probe))  # refl1d's SLD of nickel
    sld = model.param("Ni.sld")
    assert sld.free and sld.value == pytest.approx(rho, rel=1e-12)
    # the SLD's range is the density's: refl1d's SLD at the density's two ends
    for end, bound in zip((7.5, 9.5), (sld.min, sld.max), strict=True):
        nickel.density.value = end
        assert bound == pytest.approx(float(nickel.sld(experiment.probe)[0]), rel=1e-12)
    ratio = float(model.constraints["Ni.isld"].split("*")[1])
    assert ratio == pytest.approx(irho / rho, rel=1e-12)  # irho follows the density too


def test_if_statements_on_the_script_s_own_values_and_enumerate_loops():
    """As refl1d's xray/model.py: a search chosen by a command-line argument (none given: the
    default), branches on it, and loops numbering the slabs."""
    model = model_from_script(
        "import sys\n"
        "search = sys.argv[1] if len(sys.argv) > 1 else 'loose'\n"
        "sample = silicon(0, 3) | SLD('a', 4)(50, 2) | SLD('b', 1)(20, 2) | air\n"
        "if search == 'tight':\n"
        "    sample[1].thickness.range(45, 55)\n"
        "elif search == 'loose':\n"
        "    for i, L in enumerate(sample[:-1]):\n"
        "        if i > 0:\n"
        "            L.thickness.range(0, 100)\n"
        "        L.interface.range(0, 10)\n"
        "else:\n"
        "    raise ValueError(search)\n"
    )
    free = {name: (p.min, p.max) for name, p in model.free_parameters()}
    assert free == {
        "b.thickness": (0, 100),
        "a.thickness": (0, 100),
        "b.roughness": (0, 10),
        "a.roughness": (0, 10),
        "Si.roughness": (0, 10),
    }
