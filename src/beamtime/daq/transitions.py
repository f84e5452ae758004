"""Global transitions, one at a time per experiment, and what they do with the run.

A transition is claimed in the request with one conditional UPDATE (works alike on SQLite and
PostgreSQL), carried out by a Celery task (tasks.py) calling the functions below, and released
when it ends. Stop may take over a claim held by a Start: stopping must always be possible.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from beamtime.daq import alarms, router_control, server_control
from beamtime.daq.ecc.protocol import State
from beamtime.daq.fanout import in_parallel
from beamtime.daq.models import DataRouter, ECCServer, Experiment, LogEntry, RunMetadata
from beamtime.daq.workers import WorkerError, run_file_names, worker_for

log = logging.getLogger("beamtime.daq")


class Busy(Exception):
    """Another transition is under way; the message names it."""


def claim_ttl() -> timedelta:
    """After this long a claim is taken to be left by a worker that died."""
    return timedelta(seconds=2 * settings.DAQ_TRANSITION_TIMEOUT + 60)


def under_way(experiment: Experiment) -> str:
    """The experiment's transition under way, as claim sees it: "" if none, or if its claim
    has expired (left by a worker that died)."""
    started = experiment.transition_started_at
    if started is not None and started < timezone.now() - claim_ttl():
        return ""
    return experiment.transition


def claim(experiment: Experiment, name: str, take_over: tuple[str, ...] = ()) -> None:
    """Make ``name`` the experiment's one transition under way, or raise Busy naming the one
    that is (``take_over``: claims that may be replaced, e.g. Stop replaces a Start)."""
    now = timezone.now()
    free = Q(transition="") | Q(transition_started_at__lt=now - claim_ttl())
    if take_over:
        free |= Q(transition__in=take_over)
    taken = Experiment.objects.filter(free, pk=experiment.pk).update(
        transition=name, transition_started_at=now
    )
    if not taken:
        current = Experiment.objects.filter(pk=experiment.pk).values_list("transition", flat=True)
        raise Busy(f"{current.first() or 'another transition'} is in progress: wait for it to end")
    experiment.transition = name


def release(experiment_pk: int, name: str) -> None:
    Experiment.objects.filter(pk=experiment_pk, transition=name).update(
        transition="", transition_started_at=None
    )


def servers_of(experiment_pk: int) -> list[ECCServer]:
    return list(server_control.with_links(ECCServer.objects.filter(experiment_id=experiment_pk)))


def step_all(experiment_pk: int, target: int) -> list[bool]:
    """Every server one step to ``target``, at once."""
    return in_parallel(servers_of(experiment_pk), lambda s: server_control.change_state(s, target))


def start_all(experiment_pk: int, run_pk: int) -> bool:
    """Start every server for the run; the run records only if every server does. Otherwise
    the start is rolled back: servers that started are stopped, the run is kept as aborted
    with the reason, and whatever files were written are filed under its number."""
    servers = servers_of(experiment_pk)
    started = in_parallel(servers, lambda s: server_control.change_state(s, State.RUNNING))
    if all(started):
        # False when Stop took over meanwhile: the run is closed, nothing more to do here.
        recording = RunMetadata.objects.filter(pk=run_pk, state=RunMetadata.STARTING)
        return bool(recording.update(state=RunMetadata.RECORDING))
    failed = [s for s, ok in zip(servers, started, strict=True) if not ok]
    reason = "; ".join(f"{s.name}: {s.error_message or 'did not start'}" for s in failed)
    in_parallel(servers, server_control.stop_server)
    run = RunMetadata.objects.select_related("experiment").get(pk=run_pk)
    aborted = RunMetadata.objects.filter(pk=run_pk, state=RunMetadata.STARTING).update(
        state=RunMetadata.ABORTED, stop_datetime=timezone.now(), abort_reason=reason[:2000]
    )
    if aborted:
        LogEntry.objects.create(
            experiment_id=experiment_pk,
            source=str(run),
            message=f"start failed and was rolled back; the run is kept as aborted ({reason})",
        )
        file_run(experiment_pk, run.experiment.name, run.run_number)
    return False


def stop_all(experiment_pk: int, run_number: int | None) -> list[bool]:
    """Stop every server that runs and can be reached, then file the run's data. The run was
    closed when Stop was clicked (runs.stop_run); what could not be reached is logged."""
    stopped = in_parallel(servers_of(experiment_pk), server_control.stop_server)
    if run_number is not None:
        experiment = Experiment.objects.get(pk=experiment_pk)
        file_run(experiment_pk, experiment.name, run_number)
    return stopped


def file_run(experiment_pk: int, experiment_name: str, run_number: int) -> list[bool]:
    routers = list(DataRouter.objects.filter(experiment_id=experiment_pk))
    DataRouter.objects.filter(experiment_id=experiment_pk).update(staging_directory_is_clean=False)
    return in_parallel(
        routers, lambda r: router_control.organize_files(r, experiment_name, run_number)
    )


def staged_bytes(experiment: Experiment) -> int:
    """The bytes of run files waiting in the routers' staging folders (the current run's);
    a router that cannot be reached counts nothing (its alarm says so)."""
    total = 0
    for router in experiment.data_routers.exclude(staging_directory=""):
        try:
            with worker_for(router.ip_address) as worker:
                entries = worker.entries(router.staging_directory)
        except WorkerError:
            continue
        total += sum(entries[name] for name in run_file_names(entries))
    return total


def limit_reached(experiment: Experiment, run: RunMetadata) -> str:
    """Which limit ``run`` has reached ("" for none)."""
    if (
        experiment.run_limit_seconds
        and run.duration.total_seconds() >= experiment.run_limit_seconds
    ):
        return f"its limit of {experiment.run_limit_seconds} s"
    if experiment.run_limit_bytes and staged_bytes(experiment) >= experiment.run_limit_bytes:
        return f"its limit of {experiment.run_limit_bytes} bytes"
    return ""


def enforce_run_limit(experiment: Experiment) -> str:
    """Stop the recording run once it has reached the experiment's limit (a duration, a data
    volume), as Stop all does, and start the next one if asked. A run past its limit that is
    not stopped (the experiment says alarm only, or another transition holds it) raises an
    alarm, cleared when the run ends. Return what was done ("" when nothing was due)."""
    from beamtime.daq.runs import RunRefused, start_run, stop_run

    run = experiment.latest_run
    if run is None:
        return ""
    alarm_key = "run-limit"
    reached = limit_reached(experiment, run) if run.state == RunMetadata.RECORDING else ""
    if not reached:
        alarms.clear_alarm(experiment.pk, alarm_key)
        return ""
    if not experiment.stop_at_limit:
        alarms.raise_alarm(experiment.pk, alarm_key, f"run {run.run_number} is past {reached}")
        return "alarm"
    try:
        claim(experiment, "stop (run limit)")
    except Busy:  # someone acts already: say so, and look again at the next beat
        alarms.raise_alarm(
            experiment.pk, alarm_key, f"run {run.run_number} is past {reached} and still records"
        )
        return ""
    try:
        stopped = stop_run(experiment)
        LogEntry.objects.create(
            experiment=experiment,
            source=str(stopped),
            message=f"stopped after {reached}",
        )
        stop_all(experiment.pk, stopped.run_number)
    finally:
        release(experiment.pk, "stop (run limit)")
    if not experiment.restart_after_limit:
        return "stopped"
    try:
        claim(experiment, "start (run limit)")
    except Busy:
        return "stopped"
    try:
        for server in servers_of(experiment.pk):
            server_control.refresh_state(server)
        run = start_run(Experiment.objects.get(pk=experiment.pk))
        start_all(experiment.pk, run.pk)
    except RunRefused as exc:
        LogEntry.objects.create(
            experiment=experiment, source="run limit", message=f"next run not started: {exc}"
        )
        return "stopped"
    finally:
        release(experiment.pk, "start (run limit)")
    return "restarted"
