"""What the control buttons do, for the pages and the API alike: check, claim the experiment's
one transition (transitions.claim), record or close the run, and hand the work to a task."""

import logging

from django.utils import timezone

from beamtime.daq import states, tasks
from beamtime.daq.ecc.protocol import State, operation_between
from beamtime.daq.models import DataRouter, ECCServer, Experiment
from beamtime.daq.runs import RunRefused, start_run, stop_run
from beamtime.daq.transitions import Busy, claim, release

log = logging.getLogger("beamtime.daq")
ACTIONS = ["describe", "prepare", "configure", "start", "stop", "reset"]


class ActionRefused(Exception):
    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def send(experiment: Experiment, name: str, kind: str, argument=None) -> None:
    """Queue the claimed transition; if the queue cannot take it, give the claim back."""
    try:
        tasks.transition.delay(experiment.pk, name, kind, argument)
    except Exception:
        log.exception("cannot queue the %s transition", name)
        release(experiment.pk, name)
        raise ActionRefused("the task queue does not answer: nothing was done", 503) from None


STOP_TAKES_OVER = ("start",)  # the transitions Stop may replace: stopping must be possible


def unavailable(status: dict, action: str) -> str:
    """Why the status page shows the global ``action`` unavailable now, or "": what
    global_action and stop would refuse, as the status (status.status) shows it."""
    transition = status["transition"]
    if action == "stop":
        return "" if transition in ("", *STOP_TAKES_OVER) else f"{transition} is in progress"
    if status["run_state"] in ("recording", "starting"):
        return "only Stop all acts while a run records"
    return f"{transition} is in progress" if transition else ""


def global_action(experiment: Experiment, action: str, user) -> None:
    """Send every ECC server one step (a run starts or stops with start and stop)."""
    if action not in ACTIONS:
        raise ActionRefused(f"unknown action {action!r} (one of {', '.join(ACTIONS)})", 404)
    if action == "stop":
        return stop(experiment)
    try:
        claim(experiment, action)
    except Busy as exc:
        raise ActionRefused(str(exc)) from None
    try:
        run = experiment.latest_run
        if run is not None and run.stop_datetime is None:
            raise ActionRefused(f"{run} is {run.state}: only Stop all acts until it ends")
        servers = list(experiment.ecc_servers.select_related("selected_config"))
        state, name = states.overall_state(servers)
        if state is None or state < 0 or any(s.is_transitioning for s in servers):
            raise ActionRefused(
                f"the global controls act only when all ECC servers share one state; now: {name}"
            )
        try:
            target = states.step_target(state, action)
            operation_between(State(state), State(target))
            if state == State.RUNNING and target == State.READY:
                raise ValueError("the servers are Running: use Stop all")
            if action == "start":
                run = start_run(experiment, user)
        except (ValueError, RunRefused) as exc:
            raise ActionRefused(str(exc)) from None
    except ActionRefused:
        release(experiment.pk, action)
        raise
    if action == "start":
        send(experiment, action, "start", run.pk)
    else:
        send(experiment, action, "step", int(target))


def stop(experiment: Experiment) -> None:
    """Stop always proceeds: from Running, Mixed or Error, even while a Start is under way.
    The run closes now; every server that can be reached is stopped, then the files filed."""
    try:
        claim(experiment, "stop", take_over=STOP_TAKES_OVER)
    except Busy as exc:
        raise ActionRefused(str(exc)) from None
    try:
        run = stop_run(experiment)
    except RunRefused:
        run = None  # no run: still stop whatever runs (servers started one by one)
    send(experiment, "stop", "stop", run.run_number if run else None)


def server_action(server: ECCServer, action: str) -> None:
    """One server's own controls, for troubleshooting: they never start or stop a run."""
    if action not in ACTIONS:
        raise ActionRefused(f"unknown action {action!r}", 404)
    if server.is_transitioning:
        raise ActionRefused(f"{server.name} is changing state already")
    try:
        target = states.step_target(server.state, action)
        operation_between(State(server.state), State(target))
    except ValueError as exc:
        raise ActionRefused(str(exc)) from None
    name = f"{server.name}: {action}"
    try:
        claim(server.experiment, name)
    except Busy as exc:
        raise ActionRefused(str(exc)) from None
    send(server.experiment, name, "server", (server.pk, int(target)))


def retry_filing_now(router: DataRouter) -> None:
    """Try a waiting filing again now rather than at its next try."""
    if router.filing_run is None:
        raise ActionRefused(f"{router.name} has no run waiting to be filed")
    DataRouter.objects.filter(pk=router.pk, filing_run__isnull=False).update(
        filing_next_try=timezone.now()
    )
    try:
        tasks.retry_filing.delay()
    except Exception:
        log.exception("cannot queue the filing of %s", router.name)
        raise ActionRefused("the task queue does not answer: it will try on its own", 503) from None


def choose_config(server: ECCServer, name: str, for_all: bool = False) -> list[str]:
    """Select the configuration set ``name`` on the server (Idle only); with ``for_all``, on
    every Idle server of the experiment that offers it too. The names of the servers changed."""
    if server.state != State.IDLE:
        raise ActionRefused(f"{server.name} must be Idle to change its configuration")
    parts = name.split("/")
    if (
        len(parts) != 3
        or not server.configs.filter(
            describe=parts[0], prepare=parts[1], configure=parts[2]
        ).exists()
    ):
        raise ActionRefused(f"{server.name} offers no configuration set {name!r}", 422)
    servers = server.experiment.ecc_servers.filter(state=State.IDLE) if for_all else [server]
    changed = []
    for each in servers:
        config = each.configs.filter(
            describe=parts[0], prepare=parts[1], configure=parts[2]
        ).first()
        if config is not None:
            ECCServer.objects.filter(pk=each.pk).update(selected_config=config)
            changed.append(each.name)
    server.refresh_from_db(fields=["selected_config"])
    return changed
