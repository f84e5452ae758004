"""Running a fit job: claim it once, report progress to its row, honour a cancel, and
never leave it "running" when the fit ends, fails or its worker dies."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from beamtime.fitting import posterior, refl1d_adapter
from beamtime.fitting.curves import data_of
from beamtime.fitting.layers import LayerModel
from beamtime.fitting.models import Dataset, FitDraws, FitJob

log = logging.getLogger("beamtime.fitting")

OPTIONS = ("steps", "burn", "samples")  # what a user may set, each from 1 to MAX_OPTION
MAX_OPTION = 1_000_000
REPORT_EVERY = 0.5  # seconds between progress writes
STALE_AFTER = timedelta(minutes=2)  # a running fit silent this long lost its worker
LOST_AFTER = timedelta(minutes=1)  # a fit queued this long ago must have its message waiting
TIME_LIMIT_MARGIN = 15  # seconds before its pool's time limit at which a fit stops itself
MAX_FREE = 50  # free parameters of one fit (all its data sets' together, a shared one once)
MAX_DATASETS = 10  # in one co-refinement: the fitted data set and at most 9 partners


def check_co_refinement(pks: list[int]) -> None:
    """ValueError naming the field unless the data sets of a co-refinement (the fitted one,
    then its partners) are distinct and at most MAX_DATASETS."""
    if len(set(pks)) < len(pks):
        raise ValueError("partners: each data set at most once in a co-refinement")
    if len(pks) > MAX_DATASETS:
        raise ValueError(
            f"partners: at most {MAX_DATASETS} data sets in one co-refinement (this one and "
            f"{MAX_DATASETS - 1} others), not {len(pks)}"
        )


def submit(
    owner, dataset, model: LayerModel, engine: str, options: dict, partners=(), shared=()
) -> FitJob:
    """Queue a fit on the ``fits`` queue; ValueError names what is wrong with the request."""
    from beamtime.fitting.tasks import run_fit  # tasks imports this module

    if engine not in refl1d_adapter.ENGINES:
        raise ValueError(
            f"engine: unknown engine {engine[:30]!r} (one of {', '.join(refl1d_adapter.ENGINES)})"
        )
    for name, value in options.items():
        if name not in OPTIONS:
            raise ValueError(f"options: unknown option {name[:30]!r} (one of {', '.join(OPTIONS)})")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_OPTION:
            raise ValueError(f"{name}: a whole number from 1 to {MAX_OPTION}, not {value!r}")
    check_co_refinement([dataset.pk, *(partner["dataset"] for partner in partners)])
    if not model.free_parameters() and not partners:
        raise ValueError("fit: free at least one parameter (tick its box and give it a range)")
    partner_models = [LayerModel.from_dict(partner["model"]) for partner in partners]
    free = len(model.free_parameters()) + sum(
        name not in shared for other in partner_models for name, _ in other.free_parameters()
    )
    if free > MAX_FREE:
        raise ValueError(f"fit: at most {MAX_FREE} free parameters in one fit, not {free}")
    for number, each in enumerate([model, *partner_models], start=1):
        missing = [name for name in shared if name not in each.parameter_names()]
        if missing:  # said now, not by a failed job
            raise ValueError(f"shared: data set {number} has no parameter {missing[0][:40]!r}")
    if not dataset.is_polarized:  # said now, not by a failed job
        refl1d_adapter.refuse_magnetism(model)
    job = FitJob.objects.create(
        owner=owner,
        dataset=dataset,
        model=model.to_dict(),
        engine=engine,
        options=options,
        partners=list(partners),
        shared=list(shared),
    )
    run_fit.delay(job.pk)
    return job


def cancel(job: FitJob) -> None:
    """Cancel a queued fit at once; ask a running one to stop (its result so far is kept)."""
    FitJob.objects.filter(pk=job.pk, state=FitJob.QUEUED).update(
        state=FitJob.CANCELLED, message="cancelled before it started"
    )
    FitJob.objects.filter(pk=job.pk, state=FitJob.RUNNING).update(cancel_requested=True)


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
    # The fit stops itself before its pool's time limit, keeping where it got to: Celery's
    # soft limit would be swallowed by bumps (it takes any exception in a model's χ² for a bad
    # point), and the hard one kills the process, result and all.
    limit = settings.WORKER_POOLS["fits"]["time_limit"]
    deadline = time.monotonic() + limit - TIME_LIMIT_MARGIN
    timed_out = False

    def progress(event: dict) -> bool:
        nonlocal last, timed_out
        if time.monotonic() - last < REPORT_EVERY:
            return True
        last = time.monotonic()
        FitJob.objects.filter(pk=job_pk).update(
            step=event["step"],
            chisq=event["chisq"],
            percent=event["percent"],
            heartbeat=timezone.now(),
        )
        if last > deadline:
            timed_out = True
            return False
        return not FitJob.objects.filter(pk=job_pk, cancel_requested=True).exists()

    try:
        models = [LayerModel.from_dict(job.model)]
        datasets = [data_of(job.dataset)]
        for number, partner in enumerate(job.partners, start=2):
            partner_data = Dataset.objects.filter(pk=partner["dataset"], owner=job.owner).first()
            if partner_data is None:
                raise ValueError(f"co-refinement: data set {number} has been deleted")
            models.append(LayerModel.from_dict(partner["model"]))
            datasets.append(data_of(partner_data))
        result = refl1d_adapter.fit_together(
            models, datasets, job.shared, job.engine, job.options, progress
        )
    except Exception as exc:  # refl1d, bumps or the data: the job fails with the reason
        # Our own errors (ValueError: the model, the data, the fit) say what is wrong in words.
        reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        log.exception("fit job %s failed: %s", job_pk, reason)  # the traceback for operators
        finish(job_pk, FitJob.FAILED, message=reason)
        return FitJob.FAILED
    state = FitJob.CANCELLED if result.stopped else FitJob.DONE
    if timed_out:
        stopped = (
            f"stopped at the fits' time limit ({limit // 60} min, "
            "BEAMTIME_FIT_TIME_LIMIT_MINUTES): the result is where the fit had got to"
        )
    else:
        stopped = "cancelled: the result is where the fit had got to"
    kept = {}
    if result.posterior is not None:
        keep_draws(job_pk, result.posterior)
        kept["posterior"] = posterior.summary(result.posterior)
    finish(
        job_pk,
        state,
        chisq=result.chisq,
        message=stopped if result.stopped else "",
        result={
            "values": result.values,
            "errors": result.errors,
            "chisq": result.chisq,
            "model": result.model.to_dict(),
            "models": [m.to_dict() for m in result.models],
            **kept,
        },
    )
    return state


def keep_draws(job_pk: int, found: refl1d_adapter.Posterior) -> None:
    """A DREAM fit's draws (bounded by the adapter), in their own row."""
    FitDraws.objects.update_or_create(
        job_id=job_pk,
        defaults={"labels": found.labels, "points": posterior.to_npy(found.draws)},
    )


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


def requeue_lost() -> int:
    """Queue again the fits recorded as queued whose message the broker no longer holds (a
    Redis that lost its data); return how many. A second delivery is harmless: run() claims
    a job once."""
    from beamtime.core.broker import pending_first_args
    from beamtime.fitting.tasks import run_fit

    waiting = pending_first_args(run_fit.name, "fits")
    lost = FitJob.objects.filter(
        state=FitJob.QUEUED, created_at__lt=timezone.now() - LOST_AFTER
    ).exclude(pk__in=waiting)
    pks = list(lost.values_list("pk", flat=True))
    for pk in pks:
        run_fit.delay(pk)
    return len(pks)
