"""The orientation of the stack and the physics of the curves against references that do not
come from the code under test: Fresnel's formula for one interface, Névot–Croce roughness,
Kiessig fringes, real SNS data, refl1d's own stack built by hand (refl1d's sample guide:
``silicon(0, 5) | gold(30, 2) | air`` is gold on silicon with the beam coming from the air,
a silicon:gold interface of 5 Å and a gold:air one of 2 Å) and refl1d's command line.

Front medium: where the neutrons come in. Each layer's roughness: the interface on its front
side. The back medium's roughness: its interface with the last layer.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from refl1d.names import SLD, Experiment, QProbe

from beamtime.fitting import refl1d_adapter
from beamtime.fitting.data import ReflData, parse_data
from beamtime.fitting.layers import LayerModel
from tests.conftest import SHARED
from tests.fitting.test_layers import session_model

REFLECTIVITY = SHARED / "data" / "reflectivity"
REFL1D = str(Path(sys.executable).with_name("refl1d"))  # the environment's command line


def flat(q) -> ReflData:
    """Data at these Q without resolution (3 columns): only the Q matter here."""
    q = np.asarray(q, dtype=float)
    return ReflData(q, np.ones_like(q), np.full_like(q, 0.1), None)


def model(front, back, layers=(), back_roughness=0.0) -> LayerModel:
    """front/back: (name, sld); layers: (name, thickness, sld, roughness) front to back."""
    return LayerModel.from_dict(
        {
            "front": {"name": front[0], "sld": front[1]},
            "layers": [
                {"name": n, "thickness": d, "sld": rho, "roughness": s} for n, d, rho, s in layers
            ],
            "back": {"name": back[0], "sld": back[1], "roughness": back_roughness},
        }
    )


def fresnel(q, rho_front, rho_back, sigma=0.0):
    """|r|² of one interface, SLDs in 1e-6/Å², with the Névot–Croce factor for roughness σ."""
    k0 = q / 2 + 0j
    k1 = np.sqrt(k0**2 - 4 * np.pi * (rho_back - rho_front) * 1e-6)
    r = (k0 - k1) / (k0 + k1) * np.exp(-2 * k0 * k1 * sigma**2)
    return np.abs(r) ** 2


GRID = np.linspace(0.001, 0.1, 500)


@pytest.mark.parametrize(
    ("front", "back"),
    [(("air", 0.0), ("Si", 2.07)), (("D2O", 6.36), ("Si", 2.07)), (("Si", 2.07), ("D2O", 6.36))],
)
def test_one_interface_is_fresnels(front, back):
    q = GRID
    r = np.array(refl1d_adapter.evaluate(model(front, back), flat(q)).r)
    np.testing.assert_allclose(r, fresnel(GRID, front[1], back[1]), rtol=1e-6, atol=1e-12)
    contrast = back[1] - front[1]
    if contrast > 0:  # total reflection below the critical edge, and only then
        qc = 4 * np.sqrt(np.pi * contrast * 1e-6)
        np.testing.assert_allclose(r[q < qc], 1.0, atol=1e-6)
        assert r[q > 1.05 * qc].max() < 0.5
    else:  # the beam comes from the denser side: no total reflection at all
        assert r.max() < 0.8 and r[q > 0.015].max() < 0.05


def test_the_back_mediums_roughness_is_its_interface_with_the_last_layer():
    # air / Si with σ = 5 on Si: Névot–Croce on the one interface.
    r = refl1d_adapter.evaluate(model(("air", 0.0), ("Si", 2.07), back_roughness=5.0), flat(GRID)).r
    np.testing.assert_allclose(r, fresnel(GRID, 0.0, 2.07, sigma=5.0), rtol=1e-6, atol=1e-12)


def test_a_layers_roughness_is_the_interface_on_its_front_side():
    # A layer of Si on Si: the only contrast is air/layer, the layer's front side, so the
    # curve is one interface roughened by the layer's roughness (its back side, layer/Si,
    # has no contrast and the back medium's 9 Å must not matter).
    layer = [("film", 100.0, 2.07, 4.0)]
    curve = refl1d_adapter.evaluate(model(("air", 0.0), ("Si", 2.07), layer, 9.0), flat(GRID))
    np.testing.assert_allclose(curve.r, fresnel(GRID, 0.0, 2.07, sigma=4.0), rtol=1e-6, atol=1e-12)
    # And a layer of air on Si: the only contrast is layer/Si, the back medium's interface.
    layer = [("gap", 100.0, 0.0, 4.0)]
    curve = refl1d_adapter.evaluate(model(("air", 0.0), ("Si", 2.07), layer, 6.0), flat(GRID))
    np.testing.assert_allclose(curve.r, fresnel(GRID, 0.0, 2.07, sigma=6.0), rtol=1e-6, atol=1e-12)


def test_a_films_kiessig_fringes_are_2pi_over_its_thickness_apart():
    d, rho = 300.0, 9.4  # Ni on Si, from air
    q = np.linspace(0.08, 0.3, 20001)
    r = np.array(
        refl1d_adapter.evaluate(model(("air", 0.0), ("Si", 2.07), [("Ni", d, rho, 0.0)]), flat(q)).r
    )
    minima = q[1:-1][(r[1:-1] < r[:-2]) & (r[1:-1] < r[2:])]
    assert len(minima) >= 8
    # Inside the film the wave vector is Q' = √(Q² − 16πρ): minima are 2π/d apart in Q'.
    inside = np.sqrt(minima**2 - 16 * np.pi * rho * 1e-6)
    np.testing.assert_allclose(np.diff(inside), 2 * np.pi / d, rtol=5e-3)
    # and, far above the critical edge, in Q itself
    np.testing.assert_allclose(np.diff(minima)[-3:], 2 * np.pi / d, rtol=1e-2)


def test_the_default_model_totally_reflects_the_real_sns_data():
    data = parse_data((REFLECTIVITY / "sns_ref_l_sample.txt").read_bytes())
    qc = 4 * np.sqrt(np.pi * 2.07e-6)  # air/Si: 0.0102 Å⁻¹
    low = data.q < 0.9 * qc
    assert low.sum() >= 10
    assert np.mean(data.r[low]) == pytest.approx(1.0, abs=0.05)  # the data: R ≈ 1 (README)
    r = np.array(refl1d_adapter.evaluate(LayerModel(), data).r)  # air / 50 Å / Si
    assert r[low].min() > 0.95  # with the data's resolution, still total reflection


ASYMMETRIC = [("Ni", 120.0, 9.4, 3.0), ("Ti", 60.0, -1.95, 7.0)]


def refl1d_reflectivity(stack, q) -> np.ndarray:
    return Experiment(probe=QProbe(q, np.zeros_like(q)), sample=stack).reflectivity()[1]


def slab(name, rho, thickness, interface):
    return SLD(name, rho=rho)(thickness, interface)


def test_the_stack_is_refl1ds_from_the_substrate_up():
    # air / Ni (3 Å at air/Ni) / Ti (7 Å at Ni/Ti) / Si (2 Å at Ti/Si), written as refl1d's
    # guide writes samples: substrate first, each slab with the interface on its upper side.
    by_hand = (
        slab("Si", 2.07, 0, 2.0)
        | slab("Ti", -1.95, 60, 7.0)
        | slab("Ni", 9.4, 120, 3.0)
        | SLD("air", rho=0.0)
    )
    ours = refl1d_adapter.evaluate(model(("air", 0.0), ("Si", 2.07), ASYMMETRIC, 2.0), flat(GRID))
    np.testing.assert_allclose(ours.r, refl1d_reflectivity(by_hand, GRID), rtol=1e-10)


def test_the_reversed_model_is_the_sample_seen_from_the_other_side():
    forward = model(("air", 0.0), ("Si", 2.07), ASYMMETRIC, 2.0)
    # The same sample with the beam coming through the Si: refl1d's substrate is now the air;
    # the interfaces keep their roughness (air/Ni 3, Ni/Ti 7, Ti/Si 2).
    from_the_si_side = (
        slab("air", 0.0, 0, 3.0)
        | slab("Ni", 9.4, 120, 7.0)
        | slab("Ti", -1.95, 60, 2.0)
        | SLD("Si", rho=2.07)
    )
    reversed_r = refl1d_adapter.evaluate(forward.reversed(), flat(GRID)).r
    np.testing.assert_allclose(reversed_r, refl1d_reflectivity(from_the_si_side, GRID), rtol=1e-10)
    assert not np.allclose(reversed_r, refl1d_adapter.evaluate(forward, flat(GRID)).r, rtol=1e-2)


def test_the_sld_profile_runs_from_the_front_surface_down():
    curve = refl1d_adapter.evaluate(
        model(("air", 0.0), ("Si", 2.07), [("Ni", 100.0, 9.4, 0.0)]), flat(GRID)
    )
    z, rho = np.array(curve.profile_z), np.array(curve.profile_sld)
    assert (np.diff(z) > 0).all() and len(z) <= refl1d_adapter.PROFILE_POINTS + 2
    assert np.interp(-5, z, rho) == pytest.approx(0.0, abs=1e-6)  # the front medium, air
    assert np.interp(50, z, rho) == pytest.approx(9.4, abs=1e-6)  # the film
    assert np.interp(105, z, rho) == pytest.approx(2.07, abs=1e-6)  # the substrate


def test_a_huge_layer_gives_a_bounded_profile():
    huge = model(("air", 0.0), ("Si", 2.07), [("thick", 1e5, 4.0, 1.0)])
    curve = refl1d_adapter.evaluate(huge, flat([0.01, 0.02]))
    assert len(curve.profile_z) <= refl1d_adapter.PROFILE_POINTS + 2


def refl1d_lm(script: Path) -> tuple[float, str]:
    """refl1d's command line fits the script with LM in its folder: its χ² and its [final]
    table (the command line the README documents for refl1d 1.0: without --batch it opens its
    web view; --batch needs --session)."""
    out = subprocess.run(
        [REFL1D, str(script), "--fit=lm", "--steps=200", "--batch", "--session=fit.h5"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=script.parent,
    )
    assert out.returncode == 0, out.stderr
    chisq = float(re.search(r"cost ([\d.]+)\(\d+\) \[final\]", out.stdout).group(1))
    return chisq, out.stdout[out.stdout.index("[final]") :]


def test_the_downloaded_script_fits_the_same_with_refl1ds_command_line(tmp_path):
    data = parse_data((REFLECTIVITY / "double_layer.txt").read_bytes())
    start = LayerModel.from_dict(session_model())
    ours = refl1d_adapter.fit(start, data, "lm")
    script = tmp_path / "model.py"
    script.write_text(refl1d_adapter.to_script(start, str(REFLECTIVITY / "double_layer.txt")))
    chisq, final = refl1d_lm(script)
    assert chisq == pytest.approx(ours.chisq, rel=1e-3)
    fitted = {m[0]: float(m[1]) for m in re.findall(r"(\w+ thickness) [.|]+\s+([\d.]+)", final)}
    assert fitted["A thickness"] == pytest.approx(ours.values["A thickness"], abs=0.01)
    assert fitted["B thickness"] == pytest.approx(ours.values["B thickness"], abs=0.01)


def test_data_too_dense_for_their_resolution_are_not_drawn_in_a_request():
    # refl1d's convolution visits every point within ±3.7 σ of each point: 100 000 points
    # with dQ/Q = 2.5 % would take tens of seconds; evaluate refuses at once, saying why.
    q = np.linspace(0.005, 0.3, 100_000)
    dense = ReflData(q, np.ones_like(q), np.ones_like(q), 0.025 * q)
    assert refl1d_adapter.convolution_work(q, 0.025 * q / refl1d_adapter.FWHM_PER_SIGMA) > 4e8
    with pytest.raises(ValueError, match="too dense for their resolution to be drawn at once"):
        refl1d_adapter.evaluate(LayerModel(), dense)
    # the real SNS file (665 points) is far from it
    sns = parse_data((REFLECTIVITY / "sns_ref_l_sample.txt").read_bytes())
    work = refl1d_adapter.convolution_work(sns.q, sns.dq / refl1d_adapter.FWHM_PER_SIGMA)
    assert work < refl1d_adapter.MAX_CONVOLUTION / 100


def test_many_points_times_many_layers_are_not_drawn_in_a_request():
    q = np.linspace(0.005, 0.3, 100_000)
    many = ReflData(q, np.ones_like(q), np.ones_like(q), None)
    layers = [(f"L{i}", 10.0, 1.0, 0.0) for i in range(100)]
    with pytest.raises(ValueError, match=r"100000 points × 102 slabs is too much"):
        refl1d_adapter.evaluate(model(("air", 0.0), ("Si", 2.07), layers), many)


def test_repeated_q_values_give_one_reflectivity_each():
    q = np.array([0.01, 0.02, 0.02, 0.03, 0.05])
    data = ReflData(q, np.array([1.0, 0.1, 0.12, 0.01, 0.001]), np.full(5, 0.01), 0.02 * q)
    r = refl1d_adapter.evaluate(model(("air", 0.0), ("Si", 2.07)), data).r
    assert r[1] == pytest.approx(r[2], rel=1e-12) and np.isfinite(r).all()
