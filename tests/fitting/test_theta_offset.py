"""A θ offset, as refl1d's probe.theta_offset, on one run of refl1d's doc/examples/TOF/du53.py
(SNS Liquids, 0.7°, loaded by refl1d's own SNS loader): the adapter, the fit page, the JSON
API and the downloaded script all give refl1d's χ² of that probe at the same offset."""

import os
from pathlib import Path

import pytest
from bumps.fitproblem import FitProblem, load_problem
from django.core.files.uploadedfile import SimpleUploadedFile
from refl1d.names import Experiment

from beamtime.fitting import refl1d_adapter
from beamtime.fitting.data import ReflData
from beamtime.fitting.layers import LayerModel, ModelError
from beamtime.fitting.models import Dataset
from beamtime.fitting.script_import import import_script, model_from_script
from tests.fitting.test_api import auth
from tests.fitting.test_pages import editor_post

DU53 = Path(__file__).parent / "data" / "refl1d_examples" / "TOF" / "du53.py"
OFFSET = 0.02


@pytest.fixture(scope="module")
def run():
    """refl1d's experiment of du53's second run (0.7°) alone at the θ offset, Beamtime's
    model of it (imported from the script) and the run's points as a data set."""
    here = Path.cwd()
    try:
        os.chdir(DU53.parent)
        (whole,) = load_problem(DU53.name).models
    finally:
        os.chdir(here)
    probe = whole.probe.probes[1]
    data = ReflData(probe.Q.copy(), probe.R, probe.dR, probe.dQ * refl1d_adapter.FWHM_PER_SIGMA)
    probe.theta_offset.value = OFFSET
    experiment = Experiment(probe=probe, sample=whole.sample)
    model = import_script(DU53.read_text()).models[1]
    model.theta_offset.value = OFFSET
    return FitProblem(experiment).chisq(), model, data


def test_the_adapter_moves_the_run_as_refl1d_does(run):
    expected, model, data = run
    assert model.angle == 0.7
    assert refl1d_adapter.evaluate(model, data).chisq == pytest.approx(expected, rel=1e-9)
    unmoved = LayerModel.from_dict(model.to_dict() | {"theta_offset": 0.0})
    assert refl1d_adapter.evaluate(unmoved, data).chisq != pytest.approx(expected, rel=1e-3)


def test_the_downloaded_script_gives_refl1d_the_same_chisq_and_reads_back(run, tmp_path):
    expected, model, data = run
    (tmp_path / "data.txt").write_text(data.to_text())
    script = refl1d_adapter.to_script(model, "data.txt")
    (tmp_path / "model.py").write_text(script)
    here = Path.cwd()
    try:
        os.chdir(tmp_path)
        problem = load_problem("model.py")
    finally:
        os.chdir(here)
    assert problem.chisq() == pytest.approx(expected, rel=1e-9)
    assert model_from_script(script) == model


@pytest.mark.django_db
def test_the_fit_page_and_the_api_carry_the_angle_and_the_offset(client, alice, run):
    expected, model, data = run
    client.force_login(alice)
    client.post(
        "/fitting/upload",
        {"file": SimpleUploadedFile("run2894.txt", data.to_text().encode())},
    )
    dataset = Dataset.objects.get()
    saved = model.to_dict()
    post = editor_post(saved, angle="0.7", **{"theta_offset-value": str(OFFSET)})
    scale = model.scale  # free, as the script's intensity.pmp(5)
    post |= {"scale-value": str(scale.value), "scale-free": "on"}
    post |= {"scale-min": str(scale.min), "scale-max": str(scale.max)}
    post |= {"theta_offset-free": "on", "theta_offset-min": "-0.05", "theta_offset-max": "0.05"}
    answer = client.post(f"/fit/upload/{dataset.pk}/evaluate", post)
    assert answer.status_code == 200, answer.content
    moved = model.to_dict() | {
        "theta_offset": {"value": OFFSET, "free": True, "min": -0.05, "max": 0.05}
    }
    assert answer.json()["chisq"] == pytest.approx(
        refl1d_adapter.evaluate(LayerModel.from_dict(moved), data).chisq, rel=1e-12
    )
    page = client.post(f"/fit/upload/{dataset.pk}", post | {"action": "save", "title": "run"})
    assert page.context["model"].angle == 0.7
    assert page.context["model"].theta_offset.free
    without = post | {"angle": ""}
    answer = client.post(f"/fit/upload/{dataset.pk}/evaluate", without).json()
    assert answer["field"] == "angle"
    assert answer["error"].startswith("data's angle: a θ offset needs the data's angle")
    response = client.post(
        f"/api/fitting/datasets/{dataset.pk}/evaluate",
        {"model": model.to_dict()},
        content_type="application/json",
        headers=auth(alice),
    )
    assert response.json()["chisq"] == pytest.approx(expected, rel=1e-9)


def test_a_theta_offset_without_the_data_s_angle_is_refused():
    default = LayerModel().to_dict()
    free = {"value": 0, "free": True, "min": -1, "max": 1}
    with pytest.raises(ModelError, match="a θ offset needs the data's angle"):
        LayerModel.from_dict(default | {"theta_offset": free})
    with pytest.raises(ModelError, match="a θ offset needs the data's angle"):
        LayerModel.from_dict(default | {"constraints": {"theta_offset": "0.01 * scale"}})
    for angle in (95, -1, float("nan"), "x"):
        with pytest.raises(ModelError, match="the data's angle must be"):
            LayerModel.from_dict(default | {"angle": angle})
    assert LayerModel.from_dict(default | {"angle": 0.7, "theta_offset": free}).angle == 0.7
