"""The refl1d adapter against independent sources: the known answer of double_layer.txt
(README in shared/data) and the refl1d command line on the generated script."""

import subprocess
import sys

import numpy as np
import pytest

from beamtime.fitting import refl1d_adapter
from beamtime.fitting.data import ReflData, parse_data, with_resolution
from beamtime.fitting.layers import LayerModel
from tests.conftest import SHARED
from tests.fitting.test_layers import session_model

DATA = SHARED / "data" / "reflectivity" / "double_layer.txt"


@pytest.fixture(scope="module")
def data():
    return parse_data(DATA.read_bytes())


def solution() -> LayerModel:
    model = session_model()
    model["layers"][0]["thickness"] = 44.75
    model["layers"][1]["thickness"] = 577.6
    return LayerModel.from_dict(model)


def test_the_solution_fits_the_data(data):
    # The README: the data were simulated from this solution with 5 % noise; refl1d's best
    # fit has χ² 0.862, the solution itself is close to it.
    assert refl1d_adapter.evaluate(solution(), data).chisq == pytest.approx(0.86, abs=0.02)


def test_lm_recovers_the_manual_sessions_thicknesses(data):
    # The shared README: refl1d's LM from A = 500 (400–600), B = 40 (30–50), layers front to
    # back air / B / A / Si, gives A 577.57, B 44.83, χ² 0.862.
    result = refl1d_adapter.fit(LayerModel.from_dict(session_model()), data, "lm")
    assert result.values["A thickness"] == pytest.approx(577.57, abs=0.01)
    assert result.values["B thickness"] == pytest.approx(44.83, abs=0.01)
    assert result.chisq == pytest.approx(0.862, abs=0.001)
    assert 0 < result.errors["A thickness"] < 1
    fitted = {layer.name: layer.thickness.value for layer in result.model.layers}
    assert fitted == {"B": result.values["B thickness"], "A": result.values["A thickness"]}


def test_dream_gives_uncertainties_and_reports_its_progress(data):
    events = []
    result = refl1d_adapter.fit(
        LayerModel.from_dict(session_model()),
        data,
        "dream",
        {"samples": 2000, "burn": 50},
        progress=lambda e: events.append(e),
    )
    assert result.values["A thickness"] == pytest.approx(577.6, abs=2)
    assert 0 < result.errors["A thickness"] < 2
    assert events[-1]["percent"] == 100.0
    assert [e["step"] for e in events] == sorted(e["step"] for e in events)


def test_a_fit_stops_when_asked(data):
    calls = []
    result = refl1d_adapter.fit(
        LayerModel.from_dict(session_model()),
        data,
        "dream",
        {"samples": 100000, "burn": 1000},
        progress=lambda e: calls.append(e) or len(calls) < 3,
    )
    assert result.stopped is True
    assert calls[-1]["percent"] < 50


def test_fitting_needs_a_free_parameter(data):
    with pytest.raises(ValueError, match="no free parameter"):
        refl1d_adapter.fit(solution(), data)


def test_a_q_range_without_data_is_refused(data):
    model = solution()
    model.q_min, model.q_max = 0.5, 0.6
    with pytest.raises(ValueError, match="no data point lies in the Q range"):
        refl1d_adapter.evaluate(model, data)


@pytest.mark.parametrize(
    "data",
    [
        ReflData(np.array([0.01]), np.array([1.0]), np.array([0.1]), np.array([2e-4])),
        ReflData(np.full(3, 0.01), np.ones(3), np.full(3, 0.1), np.full(3, 2e-4)),
        {"++": ReflData(np.array([0.01]), np.array([1.0]), np.array([0.1]), np.array([2e-4]))},
        with_resolution(parse_data(b"0.01 1 0.1 1e-20\n0.02 1 0.1 1e-20\n")),
    ],
    ids=["one point", "one Q", "polarized, one point", "vanishing dQ"],
)
def test_what_refl1d_cannot_compute_is_a_value_error_not_a_500(data):
    """refl1d's resolution convolution divides by zero on these (data stored before uploads
    needed 2 points at different Q); the pages and the API show a ValueError's message."""
    with pytest.raises(ValueError, match="refl1d cannot compute the model .*division by zero"):
        refl1d_adapter.evaluate(solution(), data)


def test_the_script_gives_refl1ds_command_line_the_same_chisq(data, tmp_path):
    model = LayerModel.from_dict(session_model())
    assert refl1d_chisq(model, tmp_path) == pytest.approx(
        refl1d_adapter.evaluate(model, data).chisq, rel=1e-4
    )


def constrained(expression="0.07748 * A.thickness") -> LayerModel:
    """The session with B's thickness tied to A's (their true ratio is 44.75 / 577.6)."""
    model = session_model()
    model["layers"][0]["thickness"] = 40
    # With one free thickness LM is local: from 500 it stops at the range's end (χ² 1549);
    # from 560 it is in the valley of the answer.
    model["layers"][1]["thickness"]["value"] = 560
    model["constraints"] = {"B.thickness": expression}
    return LayerModel.from_dict(model)


def test_a_constraint_ties_one_parameter_to_others_during_the_fit(data):
    result = refl1d_adapter.fit(constrained(), data, "lm")
    assert list(result.values) == ["A thickness"]  # B is no longer fitted
    assert result.values["A thickness"] == pytest.approx(577.6, abs=2)
    problem = refl1d_adapter.build_problem(result.model, data)
    b = next(slab for slab in problem.fitness.sample if slab.name == "B")
    assert b.thickness.value == pytest.approx(0.07748 * result.values["A thickness"])


def test_a_constrained_parameter_cannot_also_be_free():
    model = session_model()
    model["constraints"] = {"B.thickness": "0.1 * A.thickness"}
    with pytest.raises(Exception, match="constrained, so it cannot be fitted too"):
        LayerModel.from_dict(model)


@pytest.mark.parametrize(
    "attack",
    [
        "__import__('os').system('true')",
        "A.thickness.__class__",
        "(lambda: 1)()",
        "A.thickness ** 1e100",
    ],
)
def test_injection_through_a_model_is_refused(attack):
    with pytest.raises(Exception, match="constraint on B.thickness"):
        constrained(attack)


def test_the_script_keeps_the_constraint(data, tmp_path):
    model = constrained("0.07754 * A.thickness + sqrt(4) - 2")
    assert refl1d_chisq(model, tmp_path) == pytest.approx(
        refl1d_adapter.evaluate(model, data).chisq, rel=1e-4
    )


def test_co_refinement_shares_parameters_across_data_sets(data):
    """A second contrast of the same sample, simulated by refl1d itself: B's SLD differs.
    refl1d stacks from the substrate up: air / B / A / Si is Si | A | B | air."""
    from refl1d.names import SLD, Experiment, QProbe

    from beamtime.fitting.data import ReflData

    q = data.q
    probe = QProbe(q, data.dq / refl1d_adapter.FWHM_PER_SIGMA)
    sample = (
        SLD("Si", rho=2.07)(0, 1.566)
        | SLD("A", rho=9.436)(577.6, 9.977)
        | SLD("B", rho=3.0)(44.75, 1.0)
        | SLD("air")
    )
    _, r = Experiment(probe=probe, sample=sample).reflectivity()
    second = ReflData(q, r, r * 0.05, data.dq)
    models = [LayerModel.from_dict(session_model())]
    other = session_model()
    other["layers"][0]["sld"] = 3.0
    models.append(LayerModel.from_dict(other))
    result = refl1d_adapter.fit_together(
        models, [data, second], ["A.thickness", "B.thickness"], "lm"
    )
    assert set(result.values) == {"1: A thickness", "1: B thickness"}  # shared: fitted once
    assert result.values["1: A thickness"] == pytest.approx(577.6, abs=2)
    assert [m.layers[1].thickness.value for m in result.models] == [
        result.values["1: A thickness"]
    ] * 2
    assert refl1d_adapter.asymmetry([2.0, 1.0], [1.0, 1.0]) == [pytest.approx(1 / 3), 0.0]


def test_sharing_an_unknown_parameter_is_refused(data):
    with pytest.raises(ValueError, match="data set 1 has no parameter C.thickness"):
        model = LayerModel.from_dict(session_model())
        refl1d_adapter.fit_together([model, model], [data, data], ["C.thickness"])


def refl1d_chisq(model: LayerModel, tmp_path) -> float:
    """χ² as refl1d's own command line reports it for the script Beamtime writes."""
    script = tmp_path / "model.py"
    script.write_text(refl1d_adapter.to_script(model, str(DATA)))
    out = subprocess.run(
        [sys.executable, "-m", "refl1d.main", str(script), "--chisq"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    line = next(line for line in out.stdout.splitlines() if line.startswith("chisq"))
    return float(line.split()[1].split("(")[0])


def with_constraint(target: str, expression: str, b_start: float = 40) -> LayerModel:
    model = session_model()
    model["layers"][0]["thickness"]["value"] = b_start
    model["constraints"] = {target: expression}
    return LayerModel.from_dict(model)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("sqrt(B.thickness - 45)", "cannot be computed (invalid value encountered in sqrt)"),
        ("1 / (B.thickness - 40)", "cannot be computed (float division by zero)"),
        ("B.thickness - 45", "gives -5, but a roughness cannot be negative"),
    ],
)
def test_values_made_by_constraints_are_checked_like_typed_ones(data, expression, problem):
    model = with_constraint("A.roughness", expression)
    for attempt in (lambda: refl1d_adapter.evaluate(model, data), lambda: fit_lm(model, data)):
        with pytest.raises(ValueError) as raised:
            attempt()
        assert str(raised.value) == f"constraint on A.roughness: {expression} {problem}"


def fit_lm(model, data):
    return refl1d_adapter.fit(model, data, "lm")


def test_a_fit_that_ends_where_a_constraint_is_impossible_fails_and_says_why(data):
    # Valid at the start (B = 46 gives Si's roughness 0.5), but the data want B ≈ 44.8, where
    # the constraint gives a negative roughness: bumps' χ² there is infinite.
    model = with_constraint("Si.roughness", "B.thickness - 45.5", b_start=46)
    model.layers[1].thickness.value = 590
    with pytest.raises(
        refl1d_adapter.FitError,
        match=r"constraint on Si.roughness: "
        r"B.thickness - 45.5 gives -[\d.]+ at the end of the fit, but a "
        r"roughness cannot be negative",
    ):
        fit_lm(model, data)


def test_fitted_values_and_uncertainties_must_be_finite():
    refl1d_adapter.check_finite({"A thickness": 577.6}, {"A thickness": 0.1})
    with pytest.raises(refl1d_adapter.FitError, match="the uncertainty of A thickness is not "):
        refl1d_adapter.check_finite({"A thickness": 577.6}, {"A thickness": float("nan")})
    with pytest.raises(refl1d_adapter.FitError, match="the fit ended with B thickness = inf"):
        refl1d_adapter.check_finite({"B thickness": float("inf")}, {"B thickness": 1.0})
