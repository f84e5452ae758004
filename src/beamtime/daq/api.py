"""JSON API for run control: the status, the global controls, one server's controls,
choosing a configuration, clearing the log. Only members of the active experiment (and
staff) reach any of it."""

from datetime import datetime

from ninja import Router, Schema
from ninja.errors import HttpError

from beamtime.core.access import active_experiment_for, ecc_server_for
from beamtime.daq import control, tasks
from beamtime.daq.ecc.protocol import State, operation_between
from beamtime.daq.runs import RunRefused, start_run, stop_run
from beamtime.daq.status import status

router = Router(tags=["run control"])


class ServerOut(Schema):
    success: bool
    pk: int
    name: str
    error_message: str
    state: int
    state_name: str
    transitioning: bool
    online: bool
    selected_config: str | None


class RouterOut(Schema):
    pk: int
    name: str
    online: bool
    clean: bool


class LogOut(Schema):
    pk: int
    created_at: datetime
    source: str
    message: str


class StatusOut(Schema):
    experiment: str
    overall_state: int | None
    overall_state_name: str
    run_number: int | None
    running: bool
    start_time: datetime | None
    run_duration: str | None
    individual_results: list[ServerOut]
    data_routers: list[RouterOut]
    log_entries: list[LogOut]


class ConfigIn(Schema):
    config: str  # "describe/prepare/configure"


ACTIONS = ["describe", "prepare", "configure", "start", "stop", "reset"]


@router.get(
    "/status", response=StatusOut, summary="State of the active experiment, from the database"
)
def get_status(request):
    return status(active_experiment_for(request.user))


@router.post(
    "/actions/{action}", response=StatusOut, summary="A global control: acts on every ECC server"
)
def global_action(request, action: str):
    experiment = active_experiment_for(request.user)
    servers = list(experiment.ecc_servers.select_related("selected_config"))
    state, name = control.overall_state(servers)
    if action not in ACTIONS:
        raise HttpError(404, f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    if state is None or state < 0 or any(s.is_transitioning for s in servers):
        raise HttpError(
            409, f"the global controls act only when all ECC servers share one state; now: {name}"
        )
    try:
        target = control.step_target(state, action)
        operation_between(State(state), State(target))
        if action == "start":
            start_run(experiment, request.user)
        elif action == "stop" or (action == "reset" and state == State.RUNNING):
            stop_run(experiment)
    except (ValueError, RunRefused) as exc:
        raise HttpError(409, str(exc)) from None
    tasks.change_state_all(servers, target)
    return status(experiment)


@router.post("/servers/{pk}/actions/{action}", response=ServerOut, summary="One server's control")
def server_action(request, pk: int, action: str):
    server = ecc_server_for(request.user, pk)
    if server.is_transitioning:
        raise HttpError(409, f"{server.name} is changing state already")
    try:
        target = control.step_target(server.state, action)
        operation_between(State(server.state), State(target))
    except ValueError as exc:
        raise HttpError(409, str(exc)) from None
    tasks.change_state.delay(server.pk, target)
    return server.to_dict()


@router.post("/servers/{pk}/config", response=ServerOut, summary="Choose the configuration set")
def choose_config(request, pk: int, payload: ConfigIn):
    server = ecc_server_for(request.user, pk)
    if server.state != State.IDLE:
        raise HttpError(409, f"{server.name} must be Idle to change its configuration")
    parts = payload.config.split("/")
    config = server.configs.filter(
        **dict(zip(["describe", "prepare", "configure"], parts, strict=False))
    ).first()
    if len(parts) != 3 or config is None:
        raise HttpError(422, f"{server.name} offers no configuration set {payload.config!r}")
    server.selected_config = config
    server.save(update_fields=["selected_config"])
    return server.to_dict()


@router.delete("/log", response=StatusOut, summary="Clear the log entries")
def clear_log(request):
    experiment = active_experiment_for(request.user)
    experiment.log_entries.all().delete()
    return status(experiment)
