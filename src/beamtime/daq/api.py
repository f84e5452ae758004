"""JSON API for run control — everything the pages do: the status, the global and per-server
controls, choosing a configuration, the log, the run log and its observables, easy setup.
Only members of the active experiment (and staff) reach any of it."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.forms import model_to_dict
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from ninja import Body, Field, Router, Schema, Status
from ninja.errors import HttpError

from beamtime.core.access import active_experiment_for, ecc_server_for, observable_for
from beamtime.daq import actions, alarms, server_control
from beamtime.daq.access import coordinated_experiment_for
from beamtime.daq.actions import ActionRefused
from beamtime.daq.easy_setup import EasySetupForm, easy_setup
from beamtime.daq.models import Experiment
from beamtime.daq.observables import ObservableForm, reorder
from beamtime.daq.run_diff import run_diff
from beamtime.daq.runs import RunRefused, activate_experiment
from beamtime.daq.runsheet import RunSheetForm, observable_field, run_table_csv
from beamtime.daq.setup_forms import FORMS
from beamtime.daq.setup_views import ExperimentForm
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
    online: bool | None  # None until first checked
    clean: bool
    staging_directory: str
    filing: str  # "run 7: retry 3 in 30 s: connection refused", or ""


class LogOut(Schema):
    pk: int
    created_at: datetime
    source: str
    message: str
    traceback: str


class StatusOut(Schema):
    experiment: str
    overall_state: int | None
    overall_state_name: str
    run_number: int | None
    running: bool
    run_state: str | None
    run_title: str
    run_class: str
    abort_reason: str
    transition: str
    run_limit_seconds: int | None
    run_limit_bytes: int | None
    stop_at_limit: bool
    start_time: datetime | None
    run_duration: str | None
    individual_results: list[ServerOut]
    data_routers: list[RouterOut]
    log_entries: list[LogOut]


class ConfigIn(Schema):
    config: str  # "describe/prepare/configure"
    for_all: bool = False  # also on every Idle server that offers it


class ConfigOut(Schema):
    config: str
    last_fetched: datetime


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


@router.post("/routers/{pk}/retry-filing", response=StatusOut, summary="Retry a failed filing now")
def retry_filing(request, pk: int):
    experiment = active_experiment_for(request.user)
    router = get_object_or_404(experiment.data_routers, pk=pk)
    try:
        actions.retry_filing_now(router)
    except ActionRefused as exc:
        raise refused(exc) from None
    return status(experiment)


@router.post(
    "/servers/{pk}/config",
    response=StatusOut,
    summary="Choose the configuration set (while Idle), optionally for every server offering it",
)
def choose_config(request, pk: int, payload: ConfigIn):
    server = ecc_server_for(request.user, pk)
    try:
        actions.choose_config(server, payload.config, payload.for_all)
    except ActionRefused as exc:
        raise refused(exc) from None
    return status(server.experiment)


def configs_out(configs) -> list[dict]:
    return [{"config": str(c), "last_fetched": c.last_fetched} for c in configs]


@router.get(
    "/servers/{pk}/configs", response=list[ConfigOut], summary="The sets the server offered"
)
def list_configs(request, pk: int):
    return configs_out(ecc_server_for(request.user, pk).configs.all())


@router.post(
    "/servers/{pk}/configs/refresh",
    response=list[ConfigOut],
    summary="Ask the server for its configuration sets now",
)
def refresh_configs(request, pk: int):
    return configs_out(server_control.refresh_configs(ecc_server_for(request.user, pk)))


class AlarmOut(Schema):
    id: int
    key: str
    message: str
    raised_at: datetime
    cleared_at: datetime | None
    acknowledged_at: datetime | None


@router.get("/alarms", response=list[AlarmOut], summary="Alarms of the active experiment")
def list_alarms(request, active: bool = True):
    alarms_ = active_experiment_for(request.user).alarms.all()
    return alarms_.filter(cleared_at=None) if active else alarms_[:200]


@router.post("/alarms/{pk}/acknowledge", response=AlarmOut, summary="Acknowledge an alarm")
def acknowledge_alarm(request, pk: int):
    alarm = get_object_or_404(active_experiment_for(request.user).alarms, pk=pk)
    alarms.acknowledge(alarm, request.user)
    alarm.refresh_from_db()
    return alarm


class RunLimitIn(Schema):
    run_limit_seconds: int | None = Field(None, ge=10, le=7 * 24 * 3600)
    restart_after_limit: bool = False
    run_limit_bytes: int | None = Field(None, ge=1, le=2**62)
    stop_at_limit: bool = True  # False: only raise an alarm


@router.put(
    "/run-limit",
    response=RunLimitIn,
    summary="Stop runs after a duration or a data volume (coordinators)",
)
def set_run_limit(request, payload: RunLimitIn):
    experiment = coordinated_experiment_for(request.user, "set the run limit")
    Experiment.objects.filter(pk=experiment.pk).update(**payload.dict())
    return payload


@router.delete("/log", response=StatusOut, summary="Clear the log entries (coordinators)")
def clear_log(request):
    experiment = coordinated_experiment_for(request.user, "clear the log")
    experiment.log_entries.all().delete()
    return status(experiment)


# -- run log ----------------------------------------------------------------------------------


class RunOut(Schema):
    run_number: int
    run_class: str
    title: str
    start: datetime
    stop: datetime | None
    duration: str
    configs: dict
    values: dict


class RunIn(Schema):
    run_class: str | None = None
    title: str | None = None
    values: dict[str, int | float | str | None] = {}
    same_as_previous: bool = False  # fill what stays empty from the run before


def run_out(run) -> dict:
    return {
        "run_number": run.run_number,
        "run_class": run.run_class,
        "title": run.title,
        "start": run.start_datetime,
        "stop": run.stop_datetime,
        "duration": run.duration_string,
        "configs": run.configs,
        "values": {
            m.observable.name: m.value for m in run.measurements.select_related("observable")
        },
    }


def form_error(form) -> HttpError:
    field, errors = next(iter(form.errors.items()))
    label = form.fields[field].label if field in form.fields else field
    return HttpError(422, f"{label}: {errors[0]}")


@router.get(
    "/runs", response=list[RunOut], summary="Every run of the active experiment, newest first"
)
def runs(request):
    return [run_out(run) for run in active_experiment_for(request.user).runs.all()]


@router.get("/runs.csv", summary="The runs table as CSV (as the Runs page downloads it)")
def runs_csv(request):
    experiment = active_experiment_for(request.user)
    response = HttpResponse(run_table_csv(experiment), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(experiment.name)}-runs.csv"'
    return response


@router.get(
    "/runs/{a}/diff/{b}",
    summary="The ECC configurations (.xcfg files) of two runs compared, per server and step",
)
def diff_runs(request, a: int, b: int):
    runs = active_experiment_for(request.user).runs
    return run_diff(get_object_or_404(runs, run_number=a), get_object_or_404(runs, run_number=b))


@router.patch("/runs/{number}", response=RunOut, summary="Fill in a run's metadata (the run sheet)")
def update_run(request, number: int, payload: RunIn):
    run = get_object_or_404(active_experiment_for(request.user).runs, run_number=number)
    observables = {o.name: o for o in run.experiment.observables.all()}
    unknown = sorted(set(payload.values) - observables.keys())
    if unknown:
        raise HttpError(422, f"values: no observable {unknown[0]!r} in this experiment")
    data = RunSheetForm.for_run(run, same_as_previous=payload.same_as_previous).initial
    if payload.run_class:
        data["run_class"] = payload.run_class
    if payload.title is not None:
        data["title"] = payload.title
    data |= {observable_field(observables[name]): value for name, value in payload.values.items()}
    form = RunSheetForm({k: "" if v is None else v for k, v in data.items()}, run=run)
    if not form.is_valid():
        raise form_error(form)
    return run_out(form.save())


class ObservableOut(Schema):
    id: int
    name: str
    value_type: str
    units: str
    comment: str
    order: int
    is_hidden: bool


class ObservableIn(Schema):
    name: str
    value_type: str = "float"
    units: str = ""
    comment: str = ""


@router.get(
    "/observables", response=list[ObservableOut], summary="The run sheet's fields, in order"
)
def list_observables(request):
    return active_experiment_for(request.user).observables.all()


@router.post("/observables", response={201: ObservableOut}, summary="Add an observable")
def add_observable(request, payload: ObservableIn):
    form = ObservableForm(payload.dict(), experiment=active_experiment_for(request.user))
    if not form.is_valid():
        raise form_error(form)
    return Status(201, form.save())


# Declared before /observables/{pk}, which would otherwise take this path.
class OrderIn(Schema):
    order: list[int]


@router.post("/observables/order", response=list[ObservableOut], summary="Reorder the observables")
def order_observables(request, payload: OrderIn):
    experiment = active_experiment_for(request.user)
    try:
        reorder(experiment, payload.order)
    except ValueError as exc:
        raise HttpError(422, f"order: {exc}") from None
    return experiment.observables.all()


@router.put("/observables/{pk}", response=ObservableOut, summary="Change an observable")
def change_observable(request, pk: int, payload: ObservableIn):
    observable = observable_for(request.user, pk)
    form = ObservableForm(payload.dict(), instance=observable, experiment=observable.experiment)
    if not form.is_valid():
        raise form_error(form)
    return form.save()


@router.delete(
    "/observables/{pk}",
    response={204: None},
    summary="Hide an observable (coordinators); the values past runs recorded are kept",
)
def hide_observable(request, pk: int):
    observable = observable_for(request.user, pk)
    coordinated_experiment_for(request.user, "hide observables")
    observable.is_hidden = True
    observable.save(update_fields=["is_hidden"])
    return Status(204, None)


@router.post(
    "/observables/{pk}/show", response=ObservableOut, summary="Show a hidden observable again"
)
def show_observable(request, pk: int):
    observable = observable_for(request.user, pk)
    coordinated_experiment_for(request.user, "show observables")
    observable.is_hidden = False
    observable.save(update_fields=["is_hidden"])
    return observable


class EasySetupIn(Schema):
    num_cobos: int
    one_ecc_server: bool = False
    first_cobo_ecc_ip: str
    first_cobo_data_router_ip: str
    staging_directory: str = ""
    mutant_is_present: bool = False
    mutant_ecc_ip: str = ""
    mutant_data_router_ip: str = ""


@router.post(
    "/easy-setup", response=StatusOut, summary="Replace the ECC servers, routers and sources"
)
def post_easy_setup(request, payload: EasySetupIn):
    experiment = coordinated_experiment_for(request.user)
    data = {k: v for k, v in payload.dict().items() if v not in (False, "")}
    form = EasySetupForm(data, experiment=experiment)
    if not form.is_valid():
        raise form_error(form)
    if experiment.is_running:
        raise HttpError(409, "a run is in progress: stop it before replacing the set-up")
    easy_setup(experiment, form.cleaned_data)
    return status(experiment)


# -- set-up: ECC servers, data routers, data sources; experiments ---------------------------


def component_form(kind: str, experiment, data=None, instance=None):
    if kind not in FORMS:
        raise HttpError(404, f"unknown kind {kind!r} (one of {', '.join(FORMS)})")
    return FORMS[kind](data, instance=instance, experiment=experiment)


def component_out(obj) -> dict:
    return {"id": obj.pk, **model_to_dict(obj, exclude=["experiment", "id", "selected_config"])}


def changeable_setup(request):
    """The experiment whose set-up the user may change now: coordinators, no run recording."""
    experiment = coordinated_experiment_for(request.user)
    if experiment.is_running:
        raise HttpError(409, "a run is recording: stop it before changing the set-up")
    return experiment


def save_component(form) -> dict:
    if not form.is_valid():
        raise form_error(form)
    try:
        with transaction.atomic():
            return component_out(form.save())
    except IntegrityError:
        raise HttpError(409, "this name or link is in use already in this experiment") from None


@router.get(
    "/setup/{kind}", response=list[dict], summary="ECC servers, data routers or data sources"
)
def list_components(request, kind: str):
    experiment = active_experiment_for(request.user)
    model = component_form(kind, experiment)._meta.model
    return [component_out(obj) for obj in model.objects.filter(experiment=experiment)]


@router.post("/setup/{kind}", response={201: dict}, summary="Add one (coordinators)")
def add_component(request, kind: str, payload: dict = Body(...)):
    experiment = changeable_setup(request)
    return Status(201, save_component(component_form(kind, experiment, payload)))


@router.put("/setup/{kind}/{pk}", response=dict, summary="Change one (coordinators)")
def change_component(request, kind: str, pk: int, payload: dict = Body(...)):
    experiment = changeable_setup(request)
    model = component_form(kind, experiment)._meta.model
    instance = get_object_or_404(model, pk=pk, experiment=experiment)
    return save_component(component_form(kind, experiment, payload, instance))


@router.delete("/setup/{kind}/{pk}", response={204: None}, summary="Delete one (coordinators)")
def delete_component(request, kind: str, pk: int):
    experiment = changeable_setup(request)
    model = component_form(kind, experiment)._meta.model
    get_object_or_404(model, pk=pk, experiment=experiment).delete()
    return Status(204, None)


class ExperimentOut(Schema):
    id: int
    name: str
    is_active: bool
    members: list[str]
    coordinators: list[str]


class ExperimentIn(Schema):
    name: str
    members: list[str] = []  # user names
    coordinators: list[str] = []


def experiment_out(e) -> dict:
    return {
        "id": e.pk,
        "name": e.name,
        "is_active": e.is_active,
        "members": [u.get_username() for u in e.members.all()],
        "coordinators": [u.get_username() for u in e.coordinators.all()],
    }


def save_experiment(payload: ExperimentIn, instance=None) -> dict:
    """Through the page's form (name checked as a folder name); people by user name."""
    users = get_user_model().objects
    data = {"name": payload.name}
    for field in ("members", "coordinators"):
        names = getattr(payload, field)
        found = {u.get_username(): u.pk for u in users.filter(username__in=names)}
        missing = [n for n in names if n not in found]
        if missing:
            raise HttpError(422, f"{field}: no user {missing[0]!r}")
        data[field] = [found[n] for n in names]
    form = ExperimentForm(data, instance=instance)
    if not form.is_valid():
        raise form_error(form)
    return experiment_out(form.save())


def staff_only(request):
    if not request.user.is_staff:
        raise HttpError(403, "only staff manage experiments")


@router.get("/experiments", response=list[ExperimentOut], summary="All experiments (staff)")
def list_experiments(request):
    staff_only(request)
    return [experiment_out(e) for e in Experiment.objects.prefetch_related("members")]


@router.post("/experiments", response={201: ExperimentOut}, summary="Create an experiment (staff)")
def create_experiment(request, payload: ExperimentIn):
    staff_only(request)
    return Status(201, save_experiment(payload))


@router.put("/experiments/{pk}", response=ExperimentOut, summary="Rename, set people (staff)")
def change_experiment(request, pk: int, payload: ExperimentIn):
    staff_only(request)
    return save_experiment(payload, get_object_or_404(Experiment, pk=pk))


@router.post(
    "/experiments/{pk}/activate", response=ExperimentOut, summary="Make one active (staff)"
)
def activate(request, pk: int):
    staff_only(request)
    experiment = get_object_or_404(Experiment, pk=pk)
    try:
        activate_experiment(experiment)
    except RunRefused as exc:
        raise HttpError(409, str(exc)) from None
    experiment.refresh_from_db()
    return experiment_out(experiment)
