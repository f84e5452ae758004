"""Constraints: user expressions checked against a whitelist and compiled to bumps
expressions that refl1d evaluates, never executed as Python."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from refl1d.names import SLD, Experiment, FitProblem, QProbe

from beamtime.fitting.constraints import (
    FUNCTIONS,
    MAX_CHAIN_DEPTH,
    MAX_DEPTH,
    Constraint,
    ConstraintError,
    apply,
    check_all,
    compile,
    parse,
    references,
)
from beamtime.fitting.layers import MAX_LAYERS, LayerModel
from beamtime.fitting.models import SavedModel
from beamtime.fitting.refl1d_adapter import REFL1D_NAME
from tests.fitting.test_api import auth, upload

# The brief's example, in the two-layer sample of the manual's fitting session.
EXAMPLE = ("B.thickness", "0.1 * A.thickness + 5")


def make_sample():
    """Layers A and B on Si as refl1d slabs, and their parameters under our names."""
    slabs = [SLD("A", rho=2)(100, 5), SLD("B", rho=4)(10, 3), SLD("Si", rho=2.07)(0, 0)]
    parameters = {
        f"{slab.name}.{name}": getattr(slab.material if name in ("sld", "isld") else slab, attr)
        for slab in slabs
        for name, attr in REFL1D_NAME.items()
    }
    q = np.linspace(0.01, 0.2, 20)
    probe = QProbe(q, q * 0.01, R=np.full_like(q, 0.1), dR=np.full_like(q, 0.01))
    parameters["scale"], parameters["background"] = probe.intensity, probe.background
    return Experiment(probe=probe, sample=slabs[0] | slabs[1] | slabs[2]), parameters


NAMES = set(make_sample()[1])


def constrain(target: str, expression: str):
    """Constrain ``target`` in a fresh sample; return the sample's parameters."""
    _, parameters = make_sample()
    apply([parse(target, expression, NAMES)], parameters)
    return parameters


def test_the_example_parses_and_names_what_it_uses():
    constraint = parse(*EXAMPLE, NAMES)
    assert constraint == Constraint("B.thickness", "0.1 * A.thickness + 5")
    assert references(constraint) == {"A.thickness"}


def test_references_include_bare_names_and_function_arguments():
    constraint = parse("A.sld", "sqrt(B.sld) * scale - background / 2", NAMES)
    assert references(constraint) == {"B.sld", "scale", "background"}


def test_parse_strips_the_expression():
    assert parse("B.thickness", "  2 * A.thickness\n", NAMES).expression == "2 * A.thickness"


def test_the_model_names_its_parameters():
    names = LayerModel().parameter_names()
    assert {"air.sld", "material.thickness", "Si.roughness", "scale", "background"} <= names
    # a layer's four and its magnetism (2); the front medium's SLD; the back medium's SLD,
    # iSLD, roughness and magnetism; scale, background, the guide field's angle and strength
    # and the θ offset
    assert len(names) == 6 + 1 + 5 + 5
    assert {"material.rhoM", "Si.thetaM", "guide_angle", "guide_field", "theta_offset"} <= names
    assert "air.rhoM" not in names
    assert not {"air.roughness", "air.isld", "air.thickness", "Si.thickness"} & names


def test_refl1d_evaluates_the_compiled_expression():
    parameters = constrain(*EXAMPLE)
    assert parameters["B.thickness"].value == pytest.approx(15)
    parameters["A.thickness"].value = 200
    assert parameters["B.thickness"].value == pytest.approx(25)


def test_compile_returns_an_expression_for_equals():
    _, parameters = make_sample()
    expression = compile(parse(*EXAMPLE, NAMES), parameters)
    parameters["B.thickness"].equals(expression)
    parameters["A.thickness"].value = 50
    assert parameters["B.thickness"].value == pytest.approx(10)


def test_a_function_and_a_power_follow_their_parameters():
    parameters = constrain("B.sld", "sqrt(A.sld) + A.roughness ** 2")
    parameters["A.sld"].value, parameters["A.roughness"].value = 9, 3
    assert parameters["B.sld"].value == pytest.approx(3 + 9)


def test_constant_parts_are_computed_once():
    parameters = constrain("B.thickness", "A.thickness * 2 ** (1/2) + -(3 - 1)")
    assert parameters["B.thickness"].value == pytest.approx(100 * 2**0.5 - 2)


def test_a_constant_expression_fixes_the_target():
    assert constrain("B.thickness", "12.5")["B.thickness"].value == 12.5


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_whitelisted_function_compiles_and_evaluates(name):
    parameters = constrain("B.sld", f"{name}(A.sld)")
    parameters["A.sld"].value = 0.5
    expected = getattr(np, name)(0.5)
    assert parameters["B.sld"].value == pytest.approx(expected)


def test_a_constraint_chain_is_evaluated_through():
    _, parameters = make_sample()
    constraints = [
        parse("B.thickness", "A.thickness + 1", NAMES),
        parse("B.roughness", "B.thickness / 2", NAMES),
    ]
    apply(constraints, parameters)
    parameters["A.thickness"].value = 9
    assert parameters["B.roughness"].value == pytest.approx(5)


def test_the_fit_problem_fits_the_source_and_updates_the_target():
    experiment, parameters = make_sample()
    parameters["A.thickness"].range(50, 300)
    parameters["B.thickness"].range(5, 50)  # constrained now, so no longer fitted
    apply([parse(*EXAMPLE, NAMES)], parameters)
    problem = FitProblem(experiment)
    assert problem.labels() == ["A thickness"]
    problem.setp([200])
    assert parameters["B.thickness"].value == pytest.approx(25)
    assert np.isfinite(problem.chisq())


INJECTIONS = [
    ("__import__('os').system('x')", "__import__"),
    ("import os", "import"),
    ("A.thickness.__class__", "__class__"),
    ("A.thickness.__class__.__bases__[0].__subclasses__()", "__"),
    ("(lambda: 1)()", "lambda"),
    ("A.thickness ** 1e100", "1e100"),
    ("9 ** 9 ** 9", "9 ** 9"),
    ("A.thickness ** 11", "11"),
    ("A.thickness ** A.sld", "exponent"),
    ("[1,2]", "list"),
    ("(1, 2)", "tuple"),
    ('"a"', '"a"'),
    ("b'a'", "b'a'"),
    ("True", "True"),
    ("1j", "1j"),
    ("1e999", "1e999"),
    ("10000000000000", "too large"),
    ("open('f')", "open"),
    ("A.thickness if 1 else 2", "if"),
    ("A.thickness; 1", ";"),
    ("A.thickness and 1", "and"),
    ("not A.thickness", "not"),
    ("A.thickness // 2", "//"),
    ("A.thickness % 2", "%"),
    ('f"{A.thickness}"', "f-string"),
    ("A.__dict__", "__dict__"),
    ("getattr(A, 'x')", "getattr"),
    ("x := 1", ":="),
    ("(x := 1)", ":="),
    ("A.thickness > 1", "comparison"),
    ("A[0]", "indexing"),
    ("A.thickness(1)", "calling 'A.thickness'"),
    ("sqrt(A.thickness, 2)", "one argument"),
    ("sqrt(x=A.thickness)", "one argument"),
    ("[x for x in A]", "comprehension"),
    ("Z.thickness", "no layer 'Z'"),
    ("A.colour", "'A.colour' is not a parameter"),
    ("A.thickness.value", "'A.thickness.value' is not a parameter"),
    ("colour", "'colour' is not a parameter"),
    ("A", "'A' is not a parameter"),
    ("B.thickness + 1", "itself"),
    ("1 / 0", "division by zero"),
    ("log(0)", "log(0)"),
    ("exp(1000)", "exp(1000)"),
    ("(-8) ** (1/3)", "(-8) ** (1/3)"),
    ("A.thickness + " + "1 + " * 60 + "1", "too long"),
    ("-" * 25 + "A.thickness", "nested too deeply"),
    ("", "empty"),
    ("a\0b", "null"),
]


@pytest.mark.parametrize(("expression", "found"), INJECTIONS)
def test_anything_but_arithmetic_on_parameters_is_rejected(expression, found):
    with pytest.raises(ConstraintError) as error:
        parse("B.thickness", expression, NAMES)
    assert found in str(error.value)
    assert str(error.value).startswith("constraint on B.thickness: ")
    assert error.value.field == "constraints.B.thickness"
    assert "\n" not in str(error.value)


def test_the_target_must_be_a_parameter():
    with pytest.raises(ConstraintError, match="'Z.thickness' is not a parameter") as error:
        parse("Z.thickness", "1", NAMES)
    assert error.value.field == "constraints"


def test_a_constraint_built_by_hand_is_checked_when_compiled():
    _, parameters = make_sample()
    with pytest.raises(ConstraintError, match="__class__"):
        compile(Constraint("B.thickness", "A.thickness.__class__"), parameters)


def test_a_target_may_be_constrained_once():
    constraints = [parse(*EXAMPLE, NAMES), parse("B.thickness", "A.thickness", NAMES)]
    with pytest.raises(ConstraintError, match="constrained twice") as error:
        check_all(constraints, NAMES)
    assert error.value.field == "constraints.B.thickness"


def test_constraints_may_not_form_a_cycle():
    constraints = [
        parse("B.thickness", "2 * A.thickness", NAMES),
        parse("A.thickness", "B.thickness - 1", NAMES),
    ]
    with pytest.raises(ConstraintError, match="cycle: A.thickness → B.thickness → A.thickness"):
        check_all(constraints, NAMES)


def test_a_longer_cycle_is_found_and_apply_refuses_it():
    _, parameters = make_sample()
    constraints = [
        Constraint("A.sld", "B.sld + 1"),
        Constraint("B.sld", "sqrt(scale)"),
        Constraint("scale", "A.sld / 2"),
        Constraint("B.thickness", "A.sld"),
    ]
    with pytest.raises(ConstraintError, match="cycle: A.sld → B.sld → scale → A.sld"):
        apply(constraints, parameters)
    assert parameters["A.sld"].fittable  # nothing was tied


def test_a_chain_and_shared_sources_are_not_cycles():
    check_all(
        [
            Constraint("B.thickness", "A.thickness + 1"),
            Constraint("B.roughness", "B.thickness + A.thickness"),
            Constraint("A.roughness", "B.roughness * B.thickness"),
        ],
        NAMES,
    )


def chain(length: int, expression: str = "{} + 1") -> dict[str, str]:
    """L0.thickness from L0.sld from L0.roughness from L1.thickness … , ``length`` long."""
    names = [f"L{i}.{p}" for i in range(MAX_LAYERS) for p in ("thickness", "sld", "roughness")]
    return {names[i]: expression.format(names[i + 1]) for i in range(length)}


def chained_model(constraints: dict[str, str]) -> dict:
    layers = [{"name": f"L{i}", "thickness": 10, "sld": 1} for i in range(MAX_LAYERS)]
    return {"front": {"name": "air"}, "layers": layers, "back": {"name": "Si"}} | {
        "constraints": constraints
    }


def test_a_chain_of_constraints_has_a_depth_limit_counting_each_expression():
    plain = [Constraint(f"P{i}.thickness", f"P{i + 1}.thickness") for i in range(MAX_CHAIN_DEPTH)]
    names = {c.target for c in plain} | {f"P{MAX_CHAIN_DEPTH}.thickness", "Q.thickness"}
    check_all(plain, names)  # each 1 level deep: exactly the limit
    with pytest.raises(ConstraintError) as error:
        check_all([*plain, Constraint("Q.thickness", "P0.thickness")], names)
    assert error.value.field == "constraints.Q.thickness"
    length = MAX_CHAIN_DEPTH + 1
    assert f"a chain of {length} constraints, {length} levels deep" in str(error.value)
    names = LayerModel.from_dict(chained_model({})).parameter_names()
    with pytest.raises(ConstraintError, match="a chain of 101 constraints, 202 levels deep"):
        check_all([Constraint(*c) for c in chain(101).items()], names)


@pytest.mark.django_db
def test_a_too_long_chain_is_refused_by_name_and_one_at_the_limit_evaluates(client, alice):
    """bumps evaluates a chain by recursion: one too deep gave a RecursionError, a 500, in
    every request (its saved model too); the deepest allowed is still computed in a request."""
    headers = auth(alice)
    pk = upload(client, headers).json()["id"]
    for url in (f"/api/fitting/datasets/{pk}/evaluate", "/api/fitting/models"):
        response = client.post(
            url,
            {"model": chained_model(chain(200))},
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 422, url
        assert response.json()["error"].startswith(
            "constraints.L0.thickness: constraint on L0.thickness: constraints nest too deeply"
        )
    nested = "abs(" * (MAX_DEPTH - 1) + "{}" + ")" * (MAX_DEPTH - 1)  # the deepest expression
    deepest = chain(MAX_CHAIN_DEPTH // MAX_DEPTH, nested)
    response = client.post(
        f"/api/fitting/datasets/{pk}/evaluate",
        {"model": chained_model(deepest)},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200, response.content
    assert not SavedModel.objects.exists()


# Python's parser warns on some text (e.g. "1if"), which is rejected anyway.
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@settings(max_examples=500)
@given(st.text(max_size=60))
def test_any_text_parses_or_is_rejected_with_a_message(text):
    try:
        constraint = parse("B.thickness", text, NAMES)
    except ConstraintError as error:
        assert "\n" not in str(error)
    else:
        assert references(constraint) <= NAMES - {"B.thickness"}


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@settings(max_examples=500)
@given(st.text(alphabet="AB.thicknesldroug()*+-/ 0123456789e_,", max_size=60))
def test_near_miss_expressions_parse_or_are_rejected_with_a_message(text):
    try:
        constraint = parse("B.thickness", text, NAMES)
    except ConstraintError as error:
        assert "\n" not in str(error)
    else:
        assert references(constraint) <= NAMES - {"B.thickness"}


# Values given to the sources; the generator computes each expression's value alongside
# its text, with the numpy functions bumps evaluates.
SOURCES = {"A.thickness": 100.0, "A.sld": 2.0, "A.roughness": 5.0, "B.sld": 4.0, "scale": 1.0}


def leaves():
    names = st.sampled_from(sorted(SOURCES)).map(lambda name: (name, SOURCES[name]))
    numbers = st.floats(0, 1000, allow_subnormal=False).map(lambda x: (repr(x), x))
    integers = st.integers(0, 9).map(lambda k: (str(k), float(k)))
    atoms = st.one_of(names, numbers, integers)
    powers = st.tuples(atoms, st.integers(0, 3)).map(
        lambda t: (f"{t[0][0]} ** {t[1]}", t[0][1] ** t[1])
    )
    return st.one_of(atoms, powers)


def arithmetic(depth: int):
    if depth == 0:
        return leaves()
    sub = arithmetic(depth - 1)
    positive = st.one_of(
        st.integers(1, 9).map(lambda k: (str(k), float(k))),
        sub.map(lambda e: (f"(abs({e[0]}) + 1)", abs(e[1]) + 1)),
    )
    return st.one_of(
        leaves(),
        st.tuples(sub, st.sampled_from("+-*"), sub).map(
            lambda t: (
                f"({t[0][0]} {t[1]} {t[2][0]})",
                {"+": t[0][1] + t[2][1], "-": t[0][1] - t[2][1], "*": t[0][1] * t[2][1]}[t[1]],
            )
        ),
        st.tuples(sub, positive).map(lambda t: (f"({t[0][0]} / {t[1][0]})", t[0][1] / t[1][1])),
        sub.map(lambda e: (f"-({e[0]})", -e[1])),
        st.tuples(st.sampled_from(["sin", "cos", "tan", "abs"]), sub).map(
            lambda t: (f"{t[0]}({t[1][0]})", float(getattr(np, t[0])(t[1][1])))
        ),
        sub.map(lambda e: (f"sqrt(abs({e[0]}))", float(np.sqrt(abs(e[1]))))),
        sub.map(lambda e: (f"log(abs({e[0]}) + 1)", float(np.log(abs(e[1]) + 1)))),
        sub.map(lambda e: (f"exp(cos({e[0]}))", float(np.exp(np.cos(e[1]))))),
    )


@settings(max_examples=300)
@given(arithmetic(3))
def test_valid_arithmetic_always_parses_and_compiles(generated):
    text, expected = generated
    assume(len(text) <= 200)
    experiment, parameters = make_sample()
    for name, value in SOURCES.items():
        parameters[name].value = value
    constraint = parse("B.thickness", text, NAMES)
    parameters["B.thickness"].equals(compile(constraint, parameters))
    assert parameters["B.thickness"].value == pytest.approx(expected, rel=1e-9, abs=1e-12)
