"""Magnetic layer models and polarized data, against references that do not come from the code
under test: Fresnel's formula for one interface, refl1d's plain (non-magnetic) model built by
hand, and polarized data simulated by refl1d's own magnetic model built by hand.

refl1d's angle convention (its gepore validation notebooks): a guide field angle (Aguide) of
270° is a field in the sample plane, and a magnetization angle thetaM of 270° is parallel to
it — then there is no spin flip, ++ sees the SLD ρ + ρM and -- sees ρ − ρM; thetaM 90° is
antiparallel (++ sees ρ − ρM).
"""

import numpy as np
import pytest
from refl1d.names import SLD, Experiment, Magnetism, PolarizedQProbe, QProbe

from beamtime.fitting import refl1d_adapter
from beamtime.fitting.data import ReflData
from beamtime.fitting.layers import LayerModel, ModelError
from tests.fitting.test_layers import refusal
from tests.fitting.test_physics import fresnel

GRID = np.linspace(0.002, 0.12, 400)
FWHM_PER_SIGMA = 2 * np.sqrt(2 * np.log(2))


def flat(q, dq=None) -> ReflData:
    """Data at these Q (no resolution unless dq, FWHM): only the Q matter."""
    q = np.asarray(q, dtype=float)
    return ReflData(q, np.ones_like(q), np.full_like(q, 0.1), dq)


def film(rho_m=5.0, theta_m=270.0, **extra) -> dict:
    """Iron on silicon in air, as the model's JSON: Fe 150 Å, ρ 8.02, magnetic SLD rho_m."""
    return {
        "front": {"name": "air"},
        "layers": [
            {
                "name": "Fe",
                "thickness": 150.0,
                "sld": 8.02,
                "roughness": 4.0,
                "rhoM": rho_m,
                "thetaM": theta_m,
            }
        ],
        "back": {"name": "Si", "sld": 2.07, "roughness": 3.0},
        **extra,
    }


def four(q=GRID, dq=None) -> dict[str, ReflData]:
    return {name: flat(q, dq) for name in ("++", "+-", "-+", "--")}


def plain_refl1d(rho: float, q=GRID, dq=None) -> np.ndarray:
    """refl1d's non-magnetic reflectivity of the same film with SLD ``rho``, built by hand
    (refl1d stacks from the substrate up; an interface is the roughness on a slab's top)."""
    sigma = np.zeros_like(q) if dq is None else dq / FWHM_PER_SIGMA
    probe = QProbe(q, sigma, R=np.ones_like(q), dR=np.full_like(q, 0.1))
    sample = SLD("Si", rho=2.07)(0, 3.0) | SLD("Fe", rho=rho)(150.0, 4.0) | SLD("air", rho=0)
    return Experiment(probe=probe, sample=sample).reflectivity()[1]


def test_magnetization_parallel_to_the_field_reflects_as_the_sld_plus_and_minus_rho_m():
    curve = refl1d_adapter.evaluate(LayerModel.from_dict(film()), four())
    r = {name: np.array(c["r"]) for name, c in curve.cross_sections.items()}
    assert list(r) == ["++", "+-", "-+", "--"]
    assert np.abs(r["+-"]).max() < 1e-12 and np.abs(r["-+"]).max() < 1e-12  # no spin flip
    assert r["++"] == pytest.approx(plain_refl1d(8.02 + 5.0), abs=1e-6)
    assert r["--"] == pytest.approx(plain_refl1d(8.02 - 5.0), abs=1e-6)


def test_antiparallel_magnetization_swaps_the_two_spin_states():
    curve = refl1d_adapter.evaluate(LayerModel.from_dict(film(theta_m=90.0)), four())
    assert curve.cross_sections["++"]["r"] == pytest.approx(plain_refl1d(8.02 - 5.0), abs=1e-6)
    assert curve.cross_sections["--"]["r"] == pytest.approx(plain_refl1d(8.02 + 5.0), abs=1e-6)


def test_one_magnetic_interface_follows_fresnel_with_rho_plus_and_minus_rho_m():
    """A magnetic substrate under air (no roughness, no resolution): R = 1 below the critical
    edge of ρ ± ρM, Fresnel's |(k₀−k₁)/(k₀+k₁)|² above, for each spin state."""
    model = LayerModel.from_dict(
        {
            "front": {"name": "air"},
            "layers": [],
            "back": {"name": "Ni", "sld": 9.41, "rhoM": 1.46},
        }
    )
    curve = refl1d_adapter.evaluate(model, {"++": flat(GRID), "--": flat(GRID)})
    assert curve.cross_sections["++"]["r"] == pytest.approx(fresnel(GRID, 0, 9.41 + 1.46), abs=1e-6)
    assert curve.cross_sections["--"]["r"] == pytest.approx(fresnel(GRID, 0, 9.41 - 1.46), abs=1e-6)
    q_c = 4 * np.sqrt(np.pi * (9.41 - 1.46) * 1e-6)  # below both edges: total reflection
    below = q_c > GRID
    assert np.array(curve.cross_sections["--"]["r"])[below] == pytest.approx(1, abs=1e-6)


def test_each_cross_section_is_computed_at_its_own_q():
    q_up, q_down = GRID[::2], GRID[1::3]
    curve = refl1d_adapter.evaluate(
        LayerModel.from_dict(film()), {"++": flat(q_up), "--": flat(q_down)}
    )
    assert set(curve.cross_sections) == {"++", "--"}  # no spin flip asked for, none given
    assert curve.cross_sections["++"]["q"] == pytest.approx(q_up)
    assert curve.cross_sections["++"]["r"] == pytest.approx(plain_refl1d(13.02, q_up), abs=1e-6)
    assert curve.cross_sections["--"]["r"] == pytest.approx(plain_refl1d(3.02, q_down), abs=1e-6)


def test_each_cross_section_keeps_its_resolution():
    """dQ (FWHM in Beamtime's data, 1-σ in refl1d) per cross-section: the numbers of refl1d's
    own polarized model of the same film built by hand."""
    q_up, q_down = GRID[::2], GRID[1::3]
    data = {"++": flat(q_up, 0.03 * q_up), "-+": flat(q_down, 0.05 * q_down)}
    curve = refl1d_adapter.evaluate(LayerModel.from_dict(film(theta_m=240.0)), data)
    up = QProbe(q_up, 0.03 * q_up / FWHM_PER_SIGMA, R=np.ones_like(q_up), dR=0.1 + 0 * q_up)
    down = QProbe(q_down, 0.05 * q_down / FWHM_PER_SIGMA, R=1 + 0 * q_down, dR=0.1 + 0 * q_down)
    magnetism = Magnetism(rhoM=5.0, thetaM=240.0)
    sample = (
        SLD("Si", rho=2.07)(0, 3.0)
        | SLD("Fe", rho=8.02)(150.0, 4.0, magnetism=magnetism)
        | SLD("air")
    )
    probe = PolarizedQProbe(mp=down, pp=up, name="by hand")
    mm, mp, pm, pp = Experiment(probe=probe, sample=sample).reflectivity()
    assert curve.cross_sections["++"]["r"] == pytest.approx(pp[1], rel=1e-9)
    assert curve.cross_sections["-+"]["r"] == pytest.approx(mp[1], rel=1e-9)
    assert min(mp[1]) > 1e-6  # 30° off the field: spin flip


def test_the_profiles_give_nuclear_and_magnetic_sld_against_depth_from_the_front():
    sharp = film(theta_m=200.0)  # interfaces of 0.5 Å: 5 Å away the SLD is the layer's
    sharp["layers"][0]["roughness"] = sharp["back"]["roughness"] = 0.5
    curve = refl1d_adapter.evaluate(LayerModel.from_dict(sharp), four())
    z = np.array(curve.profile_z)
    assert np.all(np.diff(z) > 0)
    at = {
        name: np.interp([-5, 75, 155], z, values)
        for name, values in (
            ("rho", curve.profile_sld),
            ("rhoM", curve.profile_rhoM),
            ("thetaM", curve.profile_thetaM),
        )
    }
    assert at["rho"] == pytest.approx([0, 8.02, 2.07], abs=1e-3)  # air, Fe, Si
    assert at["rhoM"] == pytest.approx([0, 5.0, 0], abs=1e-3)
    assert at["thetaM"][1] == pytest.approx(200.0)


def test_a_model_without_magnetism_on_polarized_data_has_equal_spin_states():
    model = LayerModel.from_dict(film(rho_m=0.0))
    curve = refl1d_adapter.evaluate(model, four())
    assert curve.cross_sections["++"]["r"] == pytest.approx(plain_refl1d(8.02), abs=1e-9)
    assert curve.cross_sections["--"]["r"] == curve.cross_sections["++"]["r"]
    assert max(curve.cross_sections["+-"]["r"]) == 0
    assert set(curve.profile_rhoM) == {0.0}


def test_constraints_reach_magnetic_parameters_and_the_guide_field():
    tied = film(constraints={"Si.rhoM": "0.1 * Fe.rhoM", "guide_field": "0.5"})
    typed = film()
    typed["back"]["rhoM"] = 0.5
    typed["guide_field"] = 0.5
    data = four()
    assert refl1d_adapter.evaluate(LayerModel.from_dict(tied), data).chisq == pytest.approx(
        refl1d_adapter.evaluate(LayerModel.from_dict(typed), data).chisq, rel=1e-12
    )
    bad = film(constraints={"Fe.thetaM": "Fe.rhoM * 100"})  # 500°: beyond refl1d's 0–360
    with pytest.raises(ValueError, match="constraint on Fe.thetaM: Fe.rhoM \\* 100 gives 500"):
        refl1d_adapter.evaluate(LayerModel.from_dict(bad), data)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda m: m["front"].update(rhoM=1.0), "front.rhoM", "front medium cannot be magnetic"),
        (
            lambda m: m["front"].update(rhoM={"value": 0, "free": True, "min": 0, "max": 1}),
            "front.rhoM",
            "front medium cannot be magnetic",
        ),
        (lambda m: m["front"].update(thetaM=90.0), "front.thetaM", "front medium has no"),
        (lambda m: m["layers"][0].update(thetaM=400.0), "layers.0.thetaM.value", "at most 360"),
        (lambda m: m["layers"][0].update(rhoM="x"), "layers.0.rhoM", "must be a number"),
        (lambda m: m.update(guide_angle=400.0), "guide_angle.value", "at most 360"),
        (lambda m: m.update(guide_field=-1.0), "guide_field.value", "at least 0"),
    ],
)
def test_bad_magnetism_names_the_field(change, field, message):
    error = refusal(film(), change)
    assert error.field == field and message in str(error)


def test_bad_polarized_data_say_what_is_wrong():
    model = LayerModel.from_dict(film())
    with pytest.raises(ValueError, match="Fe.rhoM: these data are not polarized"):
        refl1d_adapter.evaluate(model, flat(GRID))
    with pytest.raises(ValueError, match="cross-section 'up': not one of"):
        refl1d_adapter.evaluate(model, {"up": flat(GRID)})
    with pytest.raises(ValueError, match="no cross-section"):
        refl1d_adapter.evaluate(model, {})
    narrow = LayerModel.from_dict(film(q_min=0.05, q_max=0.1))
    with pytest.raises(ValueError, match="cross-section --: no data point lies in the Q range"):
        refl1d_adapter.evaluate(narrow, {"++": flat(GRID), "--": flat([0.01, 0.02])})
    free_field = LayerModel.from_dict(
        film(rho_m=0.0, guide_angle={"value": 270, "free": True, "min": 200, "max": 300})
    )
    with pytest.raises(ValueError, match="guide_angle: the guide field matters for polarized"):
        refl1d_adapter.fit(free_field, flat(GRID))


def test_models_saved_before_magnetism_load_unchanged():
    old = {
        "front": {"name": "air", "sld": 0.0},
        "layers": [{"name": "A", "thickness": 50.0, "sld": 2.0, "isld": 0.0, "roughness": 1.0}],
        "back": {"name": "Si", "sld": 2.07, "isld": 0.0, "roughness": 5.0},
        "scale": 1.0,
        "background": 0.0,
        "q_min": 0.0,
        "q_max": 1.0,
        "constraints": {},
    }
    model = LayerModel.from_dict(old)
    assert model.magnetic_layers() == []
    assert model.layers[0].rhoM.value == 0 and model.layers[0].thetaM.value == 270
    assert (model.guide_angle.value, model.guide_field.value) == (270, 0)
    # and it computes unpolarized data exactly as before: refl1d's plain model
    q = GRID
    probe = QProbe(q, 0 * q, R=np.ones_like(q), dR=np.full_like(q, 0.1))
    sample = SLD("Si", rho=2.07)(0, 5.0) | SLD("A", rho=2.0)(50.0, 1.0) | SLD("air", rho=0)
    reference = Experiment(probe=probe, sample=sample).reflectivity()[1]
    assert refl1d_adapter.evaluate(model, flat(q)).r == pytest.approx(reference, abs=1e-12)


def test_magnetism_round_trips_and_reversing_keeps_it_per_layer():
    data = film(rho_m={"value": 5.0, "free": True, "min": 3.0, "max": 7.0}, theta_m=250.0)
    data["layers"].append({"name": "Cr", "thickness": 20.0, "sld": 3.0, "rhoM": -0.5})
    data["guide_angle"], data["guide_field"] = 260.0, 0.7
    model = LayerModel.from_dict(data)
    assert LayerModel.from_dict(model.to_dict()) == model
    assert [name for name, _ in model.free_parameters()] == ["Fe.rhoM"]
    flipped = model.reversed()
    assert [layer.name for layer in flipped.all_layers()] == ["Si", "Cr", "Fe", "air"]
    assert flipped.param("Fe.rhoM") == model.param("Fe.rhoM")
    assert flipped.param("Fe.thetaM").value == 250.0
    assert flipped.param("Cr.rhoM").value == -0.5
    assert (flipped.guide_angle.value, flipped.guide_field.value) == (260.0, 0.7)
    magnetic_back = film()
    magnetic_back["back"]["rhoM"] = 1.0
    with pytest.raises(ModelError, match="back medium is magnetic"):
        LayerModel.from_dict(magnetic_back).reversed()


# A synthetic polarized measurement: 150 Å of Fe (ρ 8.02, ρM 5.06) on Si, magnetization 20°
# off the in-plane field so that the spin-flip cross-sections are measurable, 4 × 100 points,
# dQ/Q 2 % (FWHM), 3 % noise, simulated by refl1d's magnetic model built here by hand.
TRUE = {"Fe thickness": 150.0, "Fe rhoM": 5.06, "Fe thetaM": 250.0}


def simulated() -> dict[str, ReflData]:
    rng = np.random.default_rng(7)
    q = np.linspace(0.008, 0.12, 100)
    dq = 0.02 * q
    probes = [QProbe(q, dq / FWHM_PER_SIGMA) for _ in range(4)]  # mm, mp, pm, pp
    magnetism = Magnetism(rhoM=TRUE["Fe rhoM"], thetaM=TRUE["Fe thetaM"])
    sample = (
        SLD("Si", rho=2.07)(0, 3.0)
        | SLD("Fe", rho=8.02)(TRUE["Fe thickness"], 4.0, magnetism=magnetism)
        | SLD("air", rho=0)
    )
    probe = PolarizedQProbe(xs=probes, name="sim", Aguide=270.0, H=0.0)
    theory = Experiment(probe=probe, sample=sample).reflectivity()
    data = {}
    for name, (_, r) in zip(("--", "-+", "+-", "++"), theory, strict=True):
        dr = 0.03 * r
        data[name] = ReflData(q, r + dr * rng.standard_normal(len(q)), dr, dq)
    return data


def start() -> LayerModel:
    data = film(
        rho_m={"value": 4.0, "free": True, "min": 2.0, "max": 8.0},
        theta_m={"value": 260.0, "free": True, "min": 220.0, "max": 300.0},
    )
    data["layers"][0]["thickness"] = {"value": 140.0, "free": True, "min": 100.0, "max": 200.0}
    return LayerModel.from_dict(data)


def dream_job(owner, dataset=None, **options):
    """A DREAM fit of start() to the simulated film (or to dataset), run by the job runner."""
    from beamtime.fitting import jobs
    from beamtime.fitting.models import Dataset, FitJob

    job = FitJob.objects.create(
        owner=owner,
        dataset=dataset or Dataset.polarized(owner, "Fe on Si", simulated()),
        model=start().to_dict(),
        engine="dream",
        options=options,
    )
    assert jobs.run(job.pk) == FitJob.DONE
    job.refresh_from_db()
    return job


def test_lm_recovers_a_simulated_iron_film_within_its_uncertainties():
    result = refl1d_adapter.fit(start(), simulated(), "lm")
    for label, true in TRUE.items():
        assert abs(result.values[label] - true) < 3 * result.errors[label], label
        assert result.errors[label] < 0.02 * true  # and the data do determine it
    assert result.chisq == pytest.approx(1.0, abs=0.3)
    fitted = result.model.layers[0]
    assert fitted.rhoM.value == result.values["Fe rhoM"]


def test_dream_samples_the_simulated_iron_film():
    result = refl1d_adapter.fit(start(), simulated(), "dream", {"steps": 150, "burn": 150})
    for label, true in TRUE.items():
        assert abs(result.values[label] - true) < 4 * result.errors[label], label


def test_co_refinement_shares_a_magnetic_parameter_between_polarized_data_sets():
    result = refl1d_adapter.fit_together(
        [start(), start()], [simulated(), simulated()], ["Fe.rhoM"], "lm"
    )
    assert "2: Fe rhoM" not in result.values and "2: Fe thickness" in result.values
    assert result.models[1].layers[0].rhoM.value == result.values["1: Fe rhoM"]
    assert abs(result.values["1: Fe rhoM"] - TRUE["Fe rhoM"]) < 3 * result.errors["1: Fe rhoM"]


def test_the_spin_asymmetry_of_cross_sections_at_different_q_is_refl1ds():
    """-- measured at other Q than ++: interpolated onto ++'s Q as refl1d's spin_asymmetry
    does, within --'s Q range (no extrapolation); the errors as refl1d propagates them."""
    from refl1d.probe.probe import spin_asymmetry

    rng = np.random.default_rng(3)
    q_up, q_down = np.linspace(0.01, 0.1, 40), np.linspace(0.02, 0.12, 33)
    r_up, r_down = rng.uniform(0.1, 1, 40), rng.uniform(0.1, 1, 33)
    dr_up, dr_down = 0.05 * r_up, 0.07 * r_down
    found = refl1d_adapter.spin_asymmetry(
        {"q": q_up, "r": r_up, "dr": dr_up}, {"q": q_down, "r": r_down, "dr": dr_down}
    )
    inside = q_up >= 0.02
    q, sa, dsa = spin_asymmetry(q_up, r_up, dr_up, q_down, r_down, dr_down)
    assert found["q"] == pytest.approx(q[inside])
    assert found["sa"] == pytest.approx(sa[inside], rel=1e-12)
    assert found["dsa"] == pytest.approx(dsa[inside], rel=1e-12)
    assert found["undefined"] == []
    model_only = refl1d_adapter.spin_asymmetry({"q": q_up, "r": r_up}, {"q": q_up, "r": r_up})
    assert model_only["dsa"] is None and set(model_only["sa"]) == {0.0}
