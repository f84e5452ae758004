"""A refl1d script of several experiments or probes of one sample imported on the models page:
a saved model per experiment (refl1d's doc/examples/zeeman: one magnetic sample in guide
fields of 0 and 0.4 T) or per probe (TOF/du53: four runs, an intensity each, one θ offset),
co-refined from the fit page with the others' saved models, fitted, shown, and each model
downloaded as a script that reads back the same. The data are refl1d's own."""

import re
from pathlib import Path

import pytest
from bumps.fitproblem import load_problem
from django.core.files.uploadedfile import SimpleUploadedFile

from beamtime.fitting.data import ReflData
from beamtime.fitting.layers import LayerModel, ModelError
from beamtime.fitting.models import Dataset, FitJob, SavedModel
from beamtime.fitting.refl1d_adapter import CROSS_SECTIONS, FWHM_PER_SIGMA
from beamtime.fitting.script_import import import_script, model_from_script
from tests.fitting.test_jobs import finished
from tests.fitting.test_magnetic_pages import editor_post
from tests.fitting.test_pages import editor_post as page_post

pytestmark = pytest.mark.django_db
ZEEMAN = Path(__file__).parent / "data" / "refl1d_examples" / "zeeman" / "model.py"
FREED = "\nL1.rho.range(1, 3)\nsample[2].thickness.range(150, 250)  # L2\n"  # added to the script


def refl1d_data(monkeypatch) -> list[dict[str, ReflData]]:
    """refl1d's reflectivity of each experiment of the script (noise-free, 5 % errors),
    without its point at Q = 0 (no upload holds one)."""
    monkeypatch.chdir(ZEEMAN.parent)
    found = []
    for experiment in load_problem(ZEEMAN.name).models:
        sections = {}
        for (ours, theirs), (q, r) in zip(
            CROSS_SECTIONS.items(), experiment.reflectivity(), strict=True
        ):
            dq = getattr(experiment.probe, theirs).dQ * FWHM_PER_SIGMA
            keep = q > 0
            sections[ours] = ReflData(q[keep], r[keep], 0.05 * r[keep] + 1e-6, dq[keep])
        found.append(sections)
    return found


@pytest.mark.django_db(transaction=True)
def test_a_script_of_two_experiments_imports_fits_and_downloads(
    client, alice, monkeypatch, celery_worker
):
    client.force_login(alice)
    script = ZEEMAN.read_text() + FREED
    response = client.post(
        "/fitting/models/import",
        {"script": SimpleUploadedFile("zeeman.py", script.encode())},
        follow=True,
    )
    assert "2 experiments or probes of one sample, saved as 2 models to co-refine" in (
        response.content.decode()
    )
    first, second = SavedModel.objects.order_by("pk")
    assert first.title == "zeeman.py · experiment 1 of 2 (H = 0 T, Aguide = 270°)"
    assert second.title == "zeeman.py · experiment 2 of 2 (H = 0.4 T, Aguide = 270°)"
    assert "share these parameters: L2.thickness, L1.sld" in second.notes
    assert [s.layer_model().guide_field.value for s in (first, second)] == [0.0, 0.4]

    # each experiment's model downloads as a script that reads back the same model
    for saved in (first, second):
        text = client.get(f"/fitting/models/{saved.pk}/script").content.decode()
        assert model_from_script(text).to_dict() == saved.model

    zero, field = (
        Dataset.polarized(alice, name, sections)
        for name, sections in zip(("0 T", "0.4 T"), refl1d_data(monkeypatch), strict=True)
    )
    start = first.layer_model().to_dict()
    page = client.get(f"/fit/upload/{zero.pk}?model={first.pk}")
    assert f'name="partner_model_{field.pk}"' in page.content.decode()
    post = editor_post(start, action="co_refine", engine="lm")
    post |= {"partners": [str(field.pk)], "shared": "L2.thickness, L1.sld"}
    post[f"partner_model_{field.pk}"] = str(second.pk)
    response = client.post(f"/fit/upload/{zero.pk}", post)
    job = FitJob.objects.get()
    assert response["Location"] == f"/fitting/jobs/{job.pk}/"
    assert job.partners == [{"dataset": field.pk, "model": second.model}]
    assert finished(job).state == FitJob.DONE, job.message
    values = job.result["values"]
    assert set(values) == {"1: L1 sld", "1: L2 thickness"}  # the second set's are shared
    assert values["1: L1 sld"] == pytest.approx(2.0, abs=1e-3)
    assert values["1: L2 thickness"] == pytest.approx(200.0, abs=0.1)
    assert job.result["models"][1]["guide_field"]["value"] == 0.4
    shown = client.get(f"/fitting/jobs/{job.pk}/").context["sets"]
    assert [s["dataset"].name for s in shown] == ["0 T", "0.4 T"]


def test_a_partner_model_must_be_ones_own(client, alice, charlie, monkeypatch):
    zero, field = (
        Dataset.polarized(alice, name, sections)
        for name, sections in zip(("0 T", "0.4 T"), refl1d_data(monkeypatch), strict=True)
    )
    model = import_script(ZEEMAN.read_text() + FREED).models[0].to_dict()
    charlies = SavedModel.objects.create(owner=charlie, model=model)
    client.force_login(alice)
    post = editor_post(model, action="co_refine", partners=[str(field.pk)], shared="L1.sld")
    post[f"partner_model_{field.pk}"] = str(charlies.pk)
    assert client.post(f"/fit/upload/{zero.pk}", post).status_code == 404
    post[f"partner_model_{field.pk}"] = "x1"
    page = client.post(f"/fit/upload/{zero.pk}", post)
    assert page.context["error"] == "co-refine: 'x1' is not the number of a saved model"
    assert not FitJob.objects.exists()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (  # several experiments of one sample must stay one sample
            "M0 = Experiment(probe=probe0, sample=sample)\n"
            "M1 = Experiment(probe=probeH, sample=sample[1:])\n",
            "line 31: a second Experiment with another sample",
        ),
        (  # each experiment's probe keeps its own intensity: not read
            "probeH.intensity.range(0.9, 1.1)\n"
            "M0 = Experiment(probe=probe0, sample=sample)\n"
            "M1 = Experiment(probe=probeH, sample=sample)\n",
            "line 30: 2 experiments or probes: Beamtime reads no probe's own intensity",
        ),
        (  # one experiment, two probes in different fields
            "M0 = Experiment(probe=probe0, sample=sample)\n",
            "line 28: probes with different H: one experiment sees one guide field",
        ),
    ],
)
def test_what_several_experiments_cannot_be_is_refused_naming_the_line(lines, message):
    head = ZEEMAN.read_text().split("M0 = Experiment")[0]  # the script up to its experiments
    with pytest.raises(ModelError, match=re.escape(message)):
        import_script(head + lines)


def test_one_model_is_asked_of_a_script_of_two_experiments():
    with pytest.raises(ModelError, match="2 experiments or probes of one sample: import it as"):
        model_from_script(ZEEMAN.read_text())
    assert LayerModel.from_dict(import_script(ZEEMAN.read_text()).models[1].to_dict())


DU53 = ZEEMAN.parent.parent / "TOF" / "du53.py"


@pytest.mark.django_db(transaction=True)
def test_du53_s_four_runs_co_refine_to_refl1d_s_chisq(client, alice, monkeypatch, celery_worker):
    """refl1d's TOF/du53.py imports as four models (a run each: its angle, its intensity
    free); co-refined from the fit page (the sample and the θ offset shared), the fit's χ²
    is refl1d's χ² of the script with the fitted values put in."""
    monkeypatch.chdir(DU53.parent)
    problem = load_problem(DU53.name)
    (experiment,) = problem.models
    client.force_login(alice)
    client.post(
        "/fitting/models/import", {"script": SimpleUploadedFile("du53.py", DU53.read_bytes())}
    )
    saved = list(SavedModel.objects.order_by("pk"))
    assert [s.title for s in saved] == [
        f"du53.py · experiment {n} of 4 (angle {angle}°)"
        for n, angle in zip((1, 2, 3, 4), ("0.3", "0.7", "1.5", "3"), strict=True)
    ]
    runs = []
    for probe in experiment.probe.probes:
        data = ReflData(probe.Q.copy(), probe.R, probe.dR, probe.dQ * FWHM_PER_SIGMA)
        client.post(
            "/fitting/upload",
            {"file": SimpleUploadedFile(f"run{len(runs)}.txt", data.to_text().encode())},
        )
        runs.append(Dataset.objects.latest("pk"))
    shared = saved[0].notes.rpartition("share these parameters: ")[2].rstrip(".")
    post = page_post(saved[0].model, action="co_refine", engine="lm", steps="30")
    first = saved[0].layer_model()
    post |= {"angle": "0.3", "scale-free": "on", "theta_offset-free": "on"}
    post |= {"scale-value": str(first.scale.value), "theta_offset-value": "0"}
    post |= {"scale-min": str(first.scale.min), "scale-max": str(first.scale.max)}
    post |= {"theta_offset-min": "-0.05", "theta_offset-max": "0.05"}
    post |= {"partners": [str(run.pk) for run in runs[1:]], "shared": shared}
    post |= {
        f"partner_model_{run.pk}": str(s.pk) for run, s in zip(runs[1:], saved[1:], strict=True)
    }
    response = client.post(f"/fit/upload/{runs[0].pk}", post)
    job = FitJob.objects.get()
    assert response["Location"] == f"/fitting/jobs/{job.pk}/", response.context["error"]
    assert job.model == saved[0].model  # the page's form carried everything
    assert finished(job).state == FitJob.DONE, job.message
    values = job.result["values"]
    assert {"1: scale", "2: scale", "3: scale", "4: scale", "1: theta_offset"} <= set(values)
    assert len(values) == len(problem.getp()) == 14
    fitted = [LayerModel.from_dict(m) for m in job.result["models"]]
    sample = experiment.sample
    for layer in fitted[0].layers:
        slab = sample[layer.name]
        slab.thickness.value, slab.interface.value = layer.thickness.value, layer.roughness.value
        slab.material.rho.value = layer.sld.value
    for probe, model in zip(experiment.probe.probes, fitted, strict=True):
        probe.intensity.value = model.scale.value
    experiment.probe.probes[0].theta_offset.value = fitted[0].theta_offset.value
    problem.model_update()
    assert job.result["chisq"] == pytest.approx(problem.chisq(), rel=1e-9)
    assert job.result["chisq"] < 9.49  # better than the script's start (refl1d: 9.496)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (  # two of four probes tie their θ offset to the first's
            ("for p in probes[1:]:", "for p in probes[1:3]:"),
            "line 29: some probes share their theta_offset, others do not",
        ),
        (
            ("for run, T, I in (", "for run, T, I in runs + ("),
            "line 4: a list of probes is read from a tuple of literal values only",
        ),
        (
            ("(2893, 0.3, 2.93), ", "(2893, 0.3), "),
            "line 4: each item of the list of probes needs a value for each name",
        ),
        (
            (
                "    p.theta_offset = probes[0].theta_offset",
                "    p.theta_offset = 2 * probes[0].theta_offset",
            ),
            "line 26: a probe's theta_offset can be a number, a range or another's",
        ),
        (
            (
                "probes[0].theta_offset.pm(0.05)",
                "probes[0].theta_offset.pm(0.05)\nprobe.intensity.value = 2",
            ),
            "line 25: a ProbeSet has no intensity of its own: set each probe's",
        ),
    ],
)
def test_a_probe_set_beamtime_cannot_hold_is_refused_naming_the_line(change, message):
    text = DU53.read_text().replace(*change)
    assert text != DU53.read_text()
    with pytest.raises(ModelError, match=re.escape(message)):
        import_script(text)
