"""Data routers: is each online and its staging folder clean, and filing a run's files into
STAGING/EXPERIMENT/run_NNNN/ on its host, retried with back-off until it succeeds.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from beamtime.daq import alarms
from beamtime.daq.fanout import log_error
from beamtime.daq.models import DataRouter, Experiment
from beamtime.daq.safety import staging_of
from beamtime.daq.workers import UnsafePath, WorkerError, worker_for


def check_router(router: DataRouter) -> DataRouter:
    """Is the router's process running, is its staging folder free of run files? A folder
    the facility does not allow (saved before BEAMTIME_DAQ_STAGING_ROOTS) is never looked at:
    it raises an alarm and counts as not clean, so no run starts."""
    staging, refused = router.staging_directory, ""
    try:
        staging = staging_of(router) if staging else ""
    except UnsafePath as exc:
        staging, refused = "", str(exc)
    alarm = f"staging:{router.name}"
    if refused:
        alarms.raise_alarm(router.experiment_id, alarm, refused)
    else:
        alarms.clear_alarm(router.experiment_id, alarm)
    try:
        with worker_for(router.ip_address) as worker:
            online = worker.process_running(router.process_name)
            clean = worker.staging_is_clean(staging) if staging else not refused
            free = worker.free_fraction(staging) if staging else 1
    except WorkerError as exc:
        if router.is_online or router.last_checked is None:
            log_error(router, str(exc))
        online, clean, free = False, router.staging_directory_is_clean, None
    if free is not None and staging and router.filing_run is None:
        alarm_left_over_files(router, clean)
    if router.filing_run is not None:
        clean = False  # a run waits to be filed: not clean, whatever the folder says now
    if free is not None:
        disk = f"disk:{router.name}"
        if free < settings.DAQ_STAGING_MIN_FREE:
            alarms.raise_alarm(
                router.experiment_id,
                disk,
                f"the staging disk of {router.name} is nearly full ({free:.0%} free)",
            )
        else:
            alarms.clear_alarm(router.experiment_id, disk)
    key = f"router-offline:{router.name}"
    if not online and (router.is_online or router.last_checked is None):
        alarms.raise_alarm(router.experiment_id, key, f"data router {router.name} is offline")
    elif online and not router.is_online:
        alarms.clear_alarm(router.experiment_id, key)
    now = timezone.now()
    DataRouter.objects.filter(pk=router.pk).update(
        is_online=online, staging_directory_is_clean=clean, last_checked=now
    )
    router.is_online, router.staging_directory_is_clean, router.last_checked = online, clean, now
    return router


def alarm_left_over_files(router: DataRouter, clean: bool) -> None:
    """Run files in the staging folder between runs, with no filing under way or waiting
    (a failed filing has its own alarm), block the next Start: alarm until they are gone.
    While a run records, or a transition (a Stop filing its run) is under way, they are
    expected; that is read after the folder was, so a Start begun meanwhile is seen."""
    key = f"dirty:{router.name}"
    if clean:
        alarms.clear_alarm(router.experiment_id, key)
        return
    experiment = Experiment.objects.filter(pk=router.experiment_id, transition="").first()
    if experiment is not None and not experiment.is_running:
        alarms.raise_alarm(
            router.experiment_id,
            key,
            f"run files wait in the staging folder of {router.name} with no run to file them "
            "under: Start is refused until they are moved",
        )


BACKOFF = [10, 20, 40, 80, 160, 300]  # seconds before retry 1, 2, …; then every 300 s


def backoff(attempts: int) -> int:
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


def organize_files(router: DataRouter, experiment_name: str, run_number: int) -> bool:
    """File the run's data into STAGING/EXPERIMENT/run_NNNN/ on the router's host; True when
    the staging folder is clean afterwards. Safe to repeat after a crash. A failure is kept
    on the router (run, attempts, error, next try) and retried with back-off by
    ``retry_filing`` until it succeeds."""
    rows = DataRouter.objects.filter(pk=router.pk)
    if not router.staging_directory:  # nowhere to look (set-up requires one now)
        rows.update(staging_directory_is_clean=True, filing_run=None)
        return True
    rows.update(filing_run=run_number, filing_next_try=None, staging_directory_is_clean=False)
    try:
        staging = staging_of(router)
        with worker_for(router.ip_address) as worker:
            result = worker.organize_run(staging, experiment_name, run_number)
            clean = worker.staging_is_clean(staging)
    except WorkerError as exc:
        attempts = (rows.values_list("filing_attempts", flat=True).first() or 0) + 1
        wait = backoff(attempts)
        rows.update(
            filing_attempts=attempts,
            filing_error=str(exc)[:300],
            filing_next_try=timezone.now() + timedelta(seconds=wait),
        )
        log_error(
            router, f"run {run_number:04d} not filed (attempt {attempts}, next in {wait} s): {exc}"
        )
        alarms.raise_alarm(
            router.experiment_id,
            f"filing:{router.name}",
            f"run {run_number} could not be filed on {router.name}; retrying",
        )
        return False
    for name, kept_as in result.renamed.items():
        log_error(
            router, f"run {run_number:04d}: {name} existed already; the new file is {kept_as}"
        )
    alarms.clear_alarm(router.experiment_id, f"filing:{router.name}")
    rows.update(
        staging_directory_is_clean=clean,
        filing_run=None,
        filing_attempts=0,
        filing_error="",
        filing_next_try=None,
    )
    return clean


def retry_filing(router: DataRouter, now=None) -> bool | None:
    """File the router's waiting run if its next try is due; None when nothing was due.
    The try is claimed with a conditional UPDATE, so two workers never file at once."""
    now = now or timezone.now()
    due = DataRouter.objects.filter(
        pk=router.pk, filing_run__isnull=False, filing_next_try__lte=now
    )
    if router.filing_next_try is None or not due.update(filing_next_try=None):
        return None
    return organize_files(router, router.experiment.name, router.filing_run)
