"""Running a fit job: claim it once, report progress to its row, honour a cancel, and
never leave it "running" when the fit ends, fails or its worker dies."""

import time
from datetime import timedelta

from django.utils import timezone

from beamtime.fitting import refl1d_adapter
from beamtime.fitting.layers import LayerModel
from beamtime.fitting.models import Dataset, FitJob

REPORT_EVERY = 0.5  # seconds between progress writes
STALE_AFTER = timedelta(minutes=2)  # a running fit silent this long lost its worker


def run(job_pk: int) -> str:
    """Run one queued job; return its final state. A second delivery of the same job does
    nothing: the conditional update lets only one worker claim it."""
    now = timezone.now()
    claimed = FitJob.objects.filter(pk=job_pk, state=FitJob.QUEUED).update(
        state=FitJob.RUNNING, started_at=now, heartbeat=now
    )
    if not claimed:
        return FitJob.objects.get(pk=job_pk).state
    job = FitJob.objects.select_related("dataset").get(pk=job_pk)
    last = 0.0

    def progress(event: dict) -> bool:
        nonlocal last
        if time.monotonic() - last < REPORT_EVERY:
            return True
        last = time.monotonic()
        FitJob.objects.filter(pk=job_pk).update(
            step=event["step"],
            chisq=event["chisq"],
            percent=event["percent"],
            heartbeat=timezone.now(),
        )
        return not FitJob.objects.filter(pk=job_pk, cancel_requested=True).exists()

    try:
        models = [LayerModel.from_dict(job.model)]
        datasets = [job.dataset.data()]
        for partner in job.partners:
            models.append(LayerModel.from_dict(partner["model"]))
            datasets.append(Dataset.objects.get(pk=partner["dataset"], owner=job.owner).data())
        result = refl1d_adapter.fit_together(
            models, datasets, job.shared, job.engine, job.options, progress
        )
    except Exception as exc:  # refl1d, bumps or the data: the job fails with the reason
        finish(job_pk, FitJob.FAILED, message=f"{type(exc).__name__}: {exc}")
        return FitJob.FAILED
    state = FitJob.CANCELLED if result.stopped else FitJob.DONE
    finish(
        job_pk,
        state,
        chisq=result.chisq,
        message="cancelled: the result is where the fit had got to" if result.stopped else "",
        result={
            "values": result.values,
            "errors": result.errors,
            "chisq": result.chisq,
            "model": result.model.to_dict(),
            "models": [m.to_dict() for m in result.models],
        },
    )
    return state


def finish(job_pk: int, state: str, **fields) -> None:
    FitJob.objects.filter(pk=job_pk).exclude(state__in=FitJob.FINISHED).update(
        state=state, finished_at=timezone.now(), **fields
    )


def fail_stale() -> int:
    """Mark running fits whose worker stopped reporting as failed; return how many."""
    return FitJob.objects.filter(
        state=FitJob.RUNNING, heartbeat__lt=timezone.now() - STALE_AFTER
    ).update(
        state=FitJob.FAILED,
        finished_at=timezone.now(),
        message="the worker running this fit stopped (killed or restarted); submit it again",
    )
