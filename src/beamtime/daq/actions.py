"""What the control buttons do, for the pages and the API alike."""

from beamtime.daq import control, tasks
from beamtime.daq.ecc.protocol import State, operation_between
from beamtime.daq.models import ECCServer, Experiment
from beamtime.daq.runs import RunRefused, start_run, stop_run

ACTIONS = ["describe", "prepare", "configure", "start", "stop", "reset"]


class ActionRefused(Exception):
    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def global_action(experiment: Experiment, action: str, user) -> None:
    """Send every ECC server one step (a run starts or stops with start and stop)."""
    if action not in ACTIONS:
        raise ActionRefused(f"unknown action {action!r} (one of {', '.join(ACTIONS)})", 404)
    servers = list(experiment.ecc_servers.select_related("selected_config"))
    state, name = control.overall_state(servers)
    if state is None or state < 0 or any(s.is_transitioning for s in servers):
        raise ActionRefused(
            f"the global controls act only when all ECC servers share one state; now: {name}"
        )
    stopped = None
    try:
        target = control.step_target(state, action)
        operation_between(State(state), State(target))
        if action == "start":
            start_run(experiment, user)
        elif target == State.READY and state == State.RUNNING:
            stopped = stop_run(experiment)
    except (ValueError, RunRefused) as exc:
        raise ActionRefused(str(exc)) from None
    transition = tasks.change_state.si([s.pk for s in servers], target)
    if stopped is None:
        transition.delay()
    else:  # the routers write until the servers have stopped: file the run's data after that
        routers = list(experiment.data_routers.values_list("pk", flat=True))
        (transition | tasks.organize_files.si(routers, experiment.name, stopped.run_number)).delay()


def server_action(server: ECCServer, action: str) -> None:
    """One server's own controls, for troubleshooting: they never start or stop a run."""
    if action not in ACTIONS:
        raise ActionRefused(f"unknown action {action!r}", 404)
    if server.is_transitioning:
        raise ActionRefused(f"{server.name} is changing state already")
    try:
        target = control.step_target(server.state, action)
        operation_between(State(server.state), State(target))
    except ValueError as exc:
        raise ActionRefused(str(exc)) from None
    tasks.change_state.delay([server.pk], target)


def choose_config(server: ECCServer, name: str) -> None:
    if server.state != State.IDLE:
        raise ActionRefused(f"{server.name} must be Idle to change its configuration")
    parts = name.split("/")
    config = None
    if len(parts) == 3:
        config = server.configs.filter(
            describe=parts[0], prepare=parts[1], configure=parts[2]
        ).first()
    if config is None:
        raise ActionRefused(f"{server.name} offers no configuration set {name!r}", 422)
    server.selected_config = config
    server.save(update_fields=["selected_config"])
