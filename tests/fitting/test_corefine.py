"""Co-refinement from the fit page: two contrasts of one sample, thicknesses shared."""

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from beamtime.fitting.data import ReflData, parse_data
from beamtime.fitting.models import Dataset, FitJob
from tests.fitting.test_jobs import finished
from tests.fitting.test_layers import session_model
from tests.fitting.test_pages import DOUBLE_LAYER, editor_post


def second_contrast() -> bytes:
    """double_layer's sample with B's SLD at 3.0, simulated by refl1d at the same Q. refl1d
    stacks from the substrate up (the shared README): air / B / A / Si is Si | A | B | air."""
    from refl1d.names import SLD, Experiment, QProbe

    from beamtime.fitting.refl1d_adapter import FWHM_PER_SIGMA

    data = parse_data(DOUBLE_LAYER)
    sample = (
        SLD("Si", rho=2.07)(0, 1.566)
        | SLD("A", rho=9.436)(577.6, 9.977)
        | SLD("B", rho=3.0)(44.75, 1.0)
        | SLD("air")
    )
    _, r = Experiment(probe=QProbe(data.q, data.dq / FWHM_PER_SIGMA), sample=sample).reflectivity()
    return ReflData(data.q, r, r * 0.05, data.dq).to_text().encode()


def contrast_model() -> dict:
    model = session_model()
    model["layers"][0]["sld"] = 3.0
    return model


@pytest.mark.django_db(transaction=True)
def test_two_contrasts_fitted_together(client, alice, celery_worker):
    client.force_login(alice)
    for name, content in [
        ("hydrogenated.txt", DOUBLE_LAYER),
        ("deuterated.txt", second_contrast()),
    ]:
        client.post("/fitting/upload", {"file": SimpleUploadedFile(name, content)})
    first, second = Dataset.objects.order_by("pk")
    # The second set's model, as a fit of it would have left it.
    FitJob.objects.create(
        owner=alice,
        dataset=second,
        model=contrast_model(),
        engine="lm",
        state="done",
        result={"model": contrast_model(), "values": {}, "errors": {}, "chisq": 1.0},
    )
    post = editor_post(
        session_model(),
        action="co_refine",
        partners=[str(second.pk)],
        shared="A.thickness, B.thickness",
    )
    response = client.post(f"/fit/upload/{first.pk}", post)
    job = FitJob.objects.latest("pk")
    assert response["Location"] == f"/fitting/jobs/{job.pk}/"
    assert job.partners[0]["dataset"] == second.pk and job.shared == ["A.thickness", "B.thickness"]
    assert finished(job).state == "done", job.message
    assert job.result["values"]["1: A thickness"] == pytest.approx(577.6, abs=2)
    page = client.get(f"/fitting/jobs/{job.pk}/")
    assert [s["dataset"].name for s in page.context["sets"]] == [
        "hydrogenated.txt",
        "deuterated.txt",
    ]
    asymmetry = page.context["asymmetry"]
    assert (
        len(asymmetry["q"]) == 300
        and np.isfinite([a for a in asymmetry["model"] if a is not None]).all()
    )


@pytest.mark.django_db
def test_co_refining_needs_another_data_set(client, alice):
    client.force_login(alice)
    client.post("/fitting/upload", {"file": SimpleUploadedFile("a.txt", DOUBLE_LAYER)})
    dataset = Dataset.objects.get()
    response = client.post(
        f"/fit/upload/{dataset.pk}", editor_post(session_model(), action="co_refine")
    )
    assert response.context["error"] == "co-refine: tick at least one other data set"
    assert not FitJob.objects.exists()


@pytest.mark.django_db
def test_charlie_cannot_co_refine_with_alices_data(client, alice, charlie):
    alices = Dataset.objects.create(
        owner=alice, name="a", content=DOUBLE_LAYER.decode(), points=300
    )
    client.force_login(charlie)
    client.post("/fitting/upload", {"file": SimpleUploadedFile("c.txt", DOUBLE_LAYER)})
    mine = Dataset.objects.get(owner=charlie)
    post = editor_post(session_model(), action="co_refine", partners=[str(alices.pk)])
    assert client.post(f"/fit/upload/{mine.pk}", post).status_code == 404
    assert not FitJob.objects.exists()


@pytest.mark.django_db
def test_a_co_refinement_takes_each_data_set_once_and_at_most_ten(client, alice, redis_server):
    client.force_login(alice)
    dataset, *others = [
        Dataset.from_upload(alice, f"d{n}", DOUBLE_LAYER, dq_column="fwhm") for n in range(11)
    ]
    page = f"/fit/upload/{dataset.pk}"
    repeated = [str(others[0].pk)] * 600 + [str(dataset.pk)] * 5
    response = client.post(page, editor_post(session_model(), "co_refine", partners=repeated))
    assert response.status_code == 302
    assert [p["dataset"] for p in FitJob.objects.get().partners] == [others[0].pk]
    nine = [str(other.pk) for other in others[:9]]
    response = client.post(page, editor_post(session_model(), "co_refine", partners=nine))
    assert response.status_code == 302 and len(FitJob.objects.first().partners) == 9
    ten = [str(other.pk) for other in others]
    response = client.post(page, editor_post(session_model(), "co_refine", partners=ten))
    assert response.context["error"].startswith(
        "partners: at most 10 data sets in one co-refinement (this one and 9 others), not 11"
    )
    assert FitJob.objects.count() == 2


@pytest.mark.django_db
def test_jobs_refuse_a_co_refinement_repeating_a_data_set(alice):
    from beamtime.fitting import jobs
    from beamtime.fitting.layers import LayerModel

    dataset, other = [Dataset.from_upload(alice, n, DOUBLE_LAYER) for n in ("a", "b")]
    partner = {"dataset": other.pk, "model": session_model()}
    for partners in ([partner, partner], [partner | {"dataset": dataset.pk}]):
        with pytest.raises(ValueError, match="partners: each data set at most once"):
            jobs.submit(alice, dataset, LayerModel.from_dict(session_model()), "lm", {}, partners)
    assert not FitJob.objects.exists()


@pytest.mark.django_db
def test_an_unknown_shared_parameter_is_refused_at_submit(client, alice, redis_server):
    client.force_login(alice)
    dataset, other = [Dataset.from_upload(alice, n, DOUBLE_LAYER) for n in ("a", "b")]
    post = editor_post(
        session_model(), "co_refine", partners=[str(other.pk)], shared="A.thickness, C.sld"
    )
    response = client.post(f"/fit/upload/{dataset.pk}", post)
    assert response.context["error"] == "shared: data set 1 has no parameter 'C.sld'"
    assert not FitJob.objects.exists()
