"""JSON API for run control: the status, the global controls, one server's controls,
choosing a configuration, clearing the log. Only members of the active experiment (and
staff) reach any of it."""

from datetime import datetime

from ninja import Router, Schema
from ninja.errors import HttpError

from beamtime.core.access import active_experiment_for, ecc_server_for
from beamtime.daq import actions
from beamtime.daq.actions import ActionRefused
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


def refused(exc: ActionRefused) -> HttpError:
    return HttpError(exc.status, str(exc))


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
    try:
        actions.global_action(experiment, action, request.user)
    except ActionRefused as exc:
        raise refused(exc) from None
    return status(experiment)


@router.post("/servers/{pk}/actions/{action}", response=ServerOut, summary="One server's control")
def server_action(request, pk: int, action: str):
    server = ecc_server_for(request.user, pk)
    try:
        actions.server_action(server, action)
    except ActionRefused as exc:
        raise refused(exc) from None
    return server.to_dict()


@router.post(
    "/servers/{pk}/config", response=ServerOut, summary="Choose the configuration set (while Idle)"
)
def choose_config(request, pk: int, payload: ConfigIn):
    server = ecc_server_for(request.user, pk)
    try:
        actions.choose_config(server, payload.config)
    except ActionRefused as exc:
        raise refused(exc) from None
    return server.to_dict()


@router.delete("/log", response=StatusOut, summary="Clear the log entries")
def clear_log(request):
    experiment = active_experiment_for(request.user)
    experiment.log_entries.all().delete()
    return status(experiment)
