"""Magnetic models as refl1d scripts: a downloaded script fitted by refl1d's command line gives
Beamtime's χ² and values; scripts (Beamtime's and written by hand in refl1d's style) import
with their magnetism and guide field; what a layer model cannot hold is refused by line."""

import re
import subprocess

import numpy as np
import pytest

from beamtime.fitting import refl1d_adapter
from beamtime.fitting.layers import LayerModel, ModelError
from beamtime.fitting.models import SavedModel
from beamtime.fitting.script_import import model_from_script
from tests.fitting.test_magnetism import film, simulated, start
from tests.fitting.test_physics import REFL1D, refl1d_lm


def write_cross_sections(folder, data) -> dict[str, str]:
    """Each cross-section as a 4-column file (Q R dR dQ-FWHM), named as the script reads."""
    files = {}
    for name, xs in data.items():
        path = folder / refl1d_adapter.POLARIZED_FILES[name]
        np.savetxt(path, np.column_stack([xs.q, xs.r, xs.dr, xs.dq]))
        files[name] = path.name
    return files


def test_a_downloaded_magnetic_script_fits_the_same_with_refl1ds_command_line(tmp_path):
    data = simulated()
    ours = refl1d_adapter.fit(start(), data, "lm")
    write_cross_sections(tmp_path, data)
    script = tmp_path / "model.py"
    script.write_text(refl1d_adapter.to_script(start(), refl1d_adapter.data_files(start())))
    chisq, final = refl1d_lm(script)
    assert chisq == pytest.approx(ours.chisq, rel=1e-3)
    fitted = dict(re.findall(r"(Fe rhoM|Fe thetaM|Fe thickness) [.|]+\s+([\d.]+)", final))
    for label in ("Fe rhoM", "Fe thetaM", "Fe thickness"):
        assert float(fitted[label]) == pytest.approx(ours.values[label], rel=1e-4), label


def test_the_start_chisq_of_a_script_with_two_cross_sections_is_beamtimes(tmp_path):
    """Missing cross-sections are skipped by the script as by Beamtime (refl1d --chisq)."""
    data = {name: xs for name, xs in simulated().items() if name in ("++", "--")}
    write_cross_sections(tmp_path, data)
    model = LayerModel.from_dict(film(guide_field=0.5, q_min=0.01, q_max=0.1))
    script = tmp_path / "model.py"
    script.write_text(refl1d_adapter.to_script(model, refl1d_adapter.data_files(model)))
    out = subprocess.run(
        [REFL1D, str(script), "--chisq"], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    chisq = float(re.search(r"chisq ([\d.]+)", out.stdout).group(1))
    assert chisq == pytest.approx(refl1d_adapter.evaluate(model, data).chisq, rel=1e-4)


def test_a_magnetic_model_round_trips_through_its_script():
    data = film(
        rho_m={"value": 5.0, "free": True, "min": 3.0, "max": 7.0},
        guide_angle={"value": 260.0, "free": True, "min": 240.0, "max": 280.0},
        guide_field=0.7,
        constraints={"Si.rhoM": "0.1 * Fe.rhoM", "Cr.thetaM": "Fe.thetaM + 90"},
    )
    data["layers"].append({"name": "Cr", "thickness": 12.0, "sld": 3.0, "rhoM": -0.4})
    model = LayerModel.from_dict(data)
    script = refl1d_adapter.to_script(model, refl1d_adapter.data_files(model))
    assert "magnetism=Magnetism(rhoM=5.0, thetaM=270.0)" in script
    assert "Aguide=260.0, H=0.7" in script
    assert model_from_script(script) == model


def test_a_hand_written_magnetic_script_imports():
    script = """
from refl1d.names import *
Si = SLD(name="Si", rho=2.07)
Fe = SLD(name="Fe", rho=8.0)
Au = SLD(name="Au", rho=4.5)
m = Magnetism(rhoM=4.8, thetaM=250)
sample = Si(0, 3) | Fe(120, 5, magnetism=m) | Au(30, 4, Magnetism(rhoM=0.1)) | air
sample[1].magnetism.rhoM.range(3, 6)
sample["Au"].magnetism.thetaM.value = 260
probe = instrument.load_magnetic("data.reflA", Aguide=250, H=0.5)
probe.H.range(0, 1)
problem = FitProblem(Experiment(probe=probe, sample=sample))
"""
    model = model_from_script(script)
    fe, au = model.layers[1], model.layers[0]  # front to back: Au, then Fe
    assert (au.name, fe.name) == ("Au", "Fe")
    assert (fe.rhoM.value, fe.rhoM.free, fe.rhoM.min, fe.rhoM.max) == (4.8, True, 3, 6)
    assert fe.thetaM.value == 250 and not fe.thetaM.free
    assert (au.rhoM.value, au.thetaM.value) == (0.1, 260)  # refl1d's default angle, then set
    assert model.guide_angle.value == 250
    assert (model.guide_field.value, model.guide_field.free) == (0.5, True)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "sample = Si(0, 3) | Fe(120, 5, magnetism=Magnetism(rhoM=4, dead_below=5)) | air",
            "line 5: Magnetism(dead_below=…) cannot be represented",
        ),
        (
            "sample = Si(0, 3) | Fe(120, 5, magnetism=MagnetismTwist(rhoM=[1, 2])) | air",
            "line 5: MagnetismTwist cannot be represented by a layer model",
        ),
        (
            "sample = Si(0, 3) | Fe(120, 5) | air(0, 0, magnetism=Magnetism(rhoM=1))",
            "line 5: the last slab is the front medium: it cannot be magnetic",
        ),
        (
            "sample = Si(0, 3) | Fe(120, 5, magnetism=Fe) | air",
            "line 5: magnetism= must be a Magnetism",
        ),
    ],
)
def test_magnetism_a_layer_model_cannot_hold_is_refused_by_line(line, message):
    script = f"""from refl1d.names import *
Si = SLD(name="Si", rho=2.07)
Fe = SLD(name="Fe", rho=8.0)

{line}
"""
    with pytest.raises(ModelError, match=re.escape(message)):
        model_from_script(script)


@pytest.mark.django_db
def test_a_saved_magnetic_model_downloads_as_a_polarized_script(client, alice):
    client.force_login(alice)
    saved = SavedModel.objects.create(owner=alice, model=LayerModel.from_dict(film()).to_dict())
    script = client.get(f"/fitting/models/{saved.pk}/script").content.decode()
    for name in ("data_pp.txt", "data_pm.txt", "data_mp.txt", "data_mm.txt"):
        assert f"cross_section({name!r})" in script
    plain = SavedModel.objects.create(owner=alice, model=LayerModel().to_dict())
    assert (
        "np.loadtxt('data.txt')"
        in client.get(f"/fitting/models/{plain.pk}/script").content.decode()
    )
