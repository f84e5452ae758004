import time
from datetime import timedelta

import pytest
from django.utils import timezone

from beamtime.fitting import jobs
from beamtime.fitting.models import Dataset, FitJob
from tests.fitting.test_layers import session_model
from tests.fitting.test_pages import DOUBLE_LAYER, editor_post, upload


def finished(job: FitJob) -> FitJob:
    """The job read again every 0.1 s until a worker has finished it (at most 30 s)."""
    for _ in range(300):
        job.refresh_from_db()
        if job.finished:
            break
        time.sleep(0.1)
    return job


def make_job(user, model=None, engine="lm", options=None) -> FitJob:
    dataset = Dataset.objects.create(
        owner=user, name="double_layer.txt", content=DOUBLE_LAYER.decode(), points=300
    )
    return FitJob.objects.create(
        owner=user,
        dataset=dataset,
        model=model or session_model(),
        engine=engine,
        options=options or {},
    )


@pytest.mark.django_db
class TestRun:
    def test_a_job_runs_once_and_stores_the_result(self, alice):
        job = make_job(alice)
        assert jobs.run(job.pk) == FitJob.DONE
        job.refresh_from_db()
        assert job.result["values"]["A thickness"] == pytest.approx(577.6, abs=2)
        assert job.chisq == pytest.approx(0.862, abs=0.001)  # shared README
        assert job.started_at <= job.finished_at
        # A second delivery of the same task finds it claimed and does nothing.
        finished = job.finished_at
        assert jobs.run(job.pk) == FitJob.DONE
        job.refresh_from_db()
        assert job.finished_at == finished

    def test_a_fit_that_raises_fails_with_the_reason(self, alice):
        model = session_model()
        model["q_min"], model["q_max"] = 0.5, 0.6
        job = make_job(alice, model=model)
        assert jobs.run(job.pk) == FitJob.FAILED
        job.refresh_from_db()
        assert "no data point lies in the Q range" in job.message and job.finished_at

    def test_a_fit_ending_with_an_infinite_chisq_fails_naming_the_cause(self, alice, caplog):
        # Valid at the start; where the data lead (B ≈ 44.8) the constraint gives Si a
        # negative roughness and bumps' χ² is infinite: failed, never "done" with inf.
        model = session_model()
        model["layers"][0]["thickness"]["value"] = 46
        model["layers"][1]["thickness"]["value"] = 590
        model["constraints"] = {"Si.roughness": "B.thickness - 45.5"}
        job = make_job(alice, model=model)
        assert jobs.run(job.pk) == FitJob.FAILED
        job.refresh_from_db()
        assert job.message.startswith("constraint on Si.roughness: B.thickness - 45.5 gives -")
        assert "at the end of the fit, but a roughness cannot be negative" in job.message
        assert job.result is None and job.finished_at
        # the user reads the reason; the log keeps the traceback for the operator
        assert "Traceback" not in job.message
        (record,) = [r for r in caplog.records if r.name == "beamtime.fitting"]
        assert record.levelname == "ERROR" and f"fit job {job.pk} failed" in record.getMessage()
        assert record.exc_info and "roughness cannot be negative" in str(record.exc_info[1])

    def test_a_co_refinement_whose_partner_was_deleted_fails_saying_so(self, alice):
        job = make_job(alice)
        other = make_job(alice).dataset
        FitJob.objects.filter(pk=job.pk).update(
            partners=[{"dataset": other.pk, "model": session_model()}]
        )
        other.delete()
        assert jobs.run(job.pk) == FitJob.FAILED
        job.refresh_from_db()
        assert job.message == "co-refinement: data set 2 has been deleted"

    def test_a_cancel_request_stops_a_running_fit(self, alice, monkeypatch):
        monkeypatch.setattr(jobs, "REPORT_EVERY", 0.0)
        job = make_job(alice, engine="dream", options={"samples": 200000, "burn": 2000})
        FitJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        assert jobs.run(job.pk) == FitJob.CANCELLED
        job.refresh_from_db()
        assert job.result is not None and job.step < 100

    def test_a_silent_running_fit_is_failed_not_left_running(self, alice):
        stale, fresh = make_job(alice), make_job(alice)
        FitJob.objects.filter(pk=stale.pk).update(
            state=FitJob.RUNNING, heartbeat=timezone.now() - timedelta(minutes=5)
        )
        FitJob.objects.filter(pk=fresh.pk).update(state=FitJob.RUNNING, heartbeat=timezone.now())
        assert jobs.fail_stale() == 1
        stale.refresh_from_db()
        assert stale.state == FitJob.FAILED and "stopped" in stale.message
        assert FitJob.objects.get(pk=fresh.pk).state == FitJob.RUNNING


@pytest.mark.django_db(transaction=True)
def test_the_manual_session_fits_on_a_worker(client, alice, celery_worker):
    client.force_login(alice)
    upload(client, DOUBLE_LAYER)
    dataset = Dataset.objects.get()
    response = client.post(
        f"/fit/upload/{dataset.pk}", editor_post(session_model(), action="fit", engine="lm")
    )
    job = FitJob.objects.get()
    assert response["Location"] == f"/fitting/jobs/{job.pk}/"
    assert finished(job).state == FitJob.DONE, job.message
    page = client.get(f"/fitting/jobs/{job.pk}/")
    shown = {label: (value, error) for label, value, error in page.context["parameters"]}
    # the digits the uncertainty supports (LM: A 577.57 ± 0.14, B 44.83 ± 0.13)
    assert shown == {"A thickness": ("577.57", "0.14"), "B thickness": ("44.83", "0.13")}
    saved = client.post(f"/fitting/jobs/{job.pk}/save", {"title": "fitted"})
    from beamtime.fitting.models import SavedModel

    model = SavedModel.objects.get(title="fitted")
    assert saved["Location"] == f"/fitting/models/{model.pk}/"
    assert model.layer_model().layers[1].thickness.value == pytest.approx(577.57, abs=0.01)
    assert "Fit completed" in page.content.decode()
    csv_lines = client.get(f"/fitting/jobs/{job.pk}/csv").content.decode().splitlines()
    assert csv_lines[0] == "Q,R,dR,R_fit" and len(csv_lines) == 301
