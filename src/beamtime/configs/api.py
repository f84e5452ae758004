"""JSON API for configuration history: instruments, the configuration at a date, the
history of one slot, the difference between two dates, the audit trail; importing fplane
files (staff)."""

from datetime import datetime

from django.apps import apps as django_apps
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from beamtime.configs import importer, store
from beamtime.configs.dates import DateError, parse_datestr
from beamtime.configs.fplane import slot_problem
from beamtime.configs.models import Instrument
from beamtime.configs.report import ReportError, read_report
from beamtime.configs.rest import MAX_BODY_DEPTH, depth
from beamtime.core.access import (
    experiments_for_user,
    instrument_for_user,
    instruments_for_user,
)
from beamtime.core.auth import key_allows

router = Router(tags=["configurations"])


class InstrumentOut(Schema):
    name: str
    title: str
    kind: str
    timezone: str
    description: str


class EntryOut(Schema):
    slot: str
    attributes: dict
    valid_from: datetime
    valid_until: datetime | None
    change: int
    recorded_at: datetime
    superseded_at: datetime | None
    superseded_by: int | None


class ConfigurationOut(Schema):
    instrument: str
    at: datetime
    as_of: datetime | None
    tag: str | None
    revision: int | None
    entries: list[EntryOut]


class ChangeOut(Schema):
    id: int
    revision: int
    correction: bool
    valid_from: datetime
    valid_until: datetime | None
    made_at: datetime
    made_by: str | None
    reason: str
    source: str


class DiffRow(Schema):
    slot: str
    before: dict | None
    after: dict | None
    fields: list[str]


class DiffOut(Schema):
    instrument: str
    before: datetime
    after: datetime
    slots: list[DiffRow]


def instant(instrument, text: str, field: str) -> datetime:
    try:
        return parse_datestr(text, instrument.timezone)[0]
    except DateError as exc:
        raise HttpError(400, f"{field}: {exc}") from None


def known(instrument, as_of: str, tag: str):
    try:
        return store.as_known(instrument, as_of, tag)
    except store.ViewError as exc:
        raise HttpError(400, str(exc)) from None


@router.get("/", response=list[InstrumentOut], summary="Instruments with a configuration history")
def instruments(request):
    return instruments_for_user(request.user)


@router.get("/{name}/at", response=ConfigurationOut, summary="The configuration valid at a date")
def configuration(request, name: str, when: str = "latest", as_of: str = "", tag: str = ""):
    instrument = instrument_for_user(request.user, name)
    at = instant(instrument, when, "when")
    seen_at, tagged = known(instrument, as_of, tag)
    entries = store.configuration_at(instrument, at, seen_at).values()
    revision = store.revision_at(instrument, seen_at)
    return {
        "instrument": name,
        "at": at,
        "as_of": seen_at,
        "tag": tagged.name if tagged else None,
        "revision": revision.revision if revision else None,
        "entries": [e.to_dict() for e in sorted(entries, key=lambda e: e.slot.name)],
    }


class RunConfigurationOut(ConfigurationOut):
    run: int
    experiment: str


@router.get(
    "/{name}/runs/{number}",
    response=RunConfigurationOut,
    summary="The configuration of a DAQ run: the one valid when the run started",
)
def run_configuration(request, name: str, number: int, as_of: str = "", tag: str = ""):
    instrument = instrument_for_user(request.user, name)
    # Runs point at the change of this instrument valid at their start (daq/runs.py).
    RunMetadata = django_apps.get_model("daq", "RunMetadata")
    run = (
        RunMetadata.objects.filter(config_change__instrument=instrument, run_number=number)
        .select_related("experiment")
        .first()
    )
    if run is None or not experiments_for_user(request.user).filter(pk=run.experiment_id).exists():
        raise HttpError(404, f"no run {number} recorded with {name}")  # nor for others
    seen_at, tagged = known(instrument, as_of, tag)
    entries = store.configuration_at(instrument, run.start_datetime, seen_at).values()
    revision = store.revision_at(instrument, seen_at)
    return {
        "instrument": name,
        "run": run.run_number,
        "experiment": run.experiment.name,
        "at": run.start_datetime,
        "as_of": seen_at,
        "tag": tagged.name if tagged else None,
        "revision": revision.revision if revision else None,
        "entries": [e.to_dict() for e in sorted(entries, key=lambda e: e.slot.name)],
    }


@router.get(
    "/{name}/slots/{slot}/history", response=list[EntryOut], summary="Every entry a slot has had"
)
def slot_history(
    request, name: str, slot: str, as_of: str = "", tag: str = "", superseded: bool = False
):
    """As known at as_of or tag (default: the latest revision); superseded=true adds the
    entries corrections replaced."""
    instrument = instrument_for_user(request.user, name)
    slot = get_object_or_404(instrument.slots, name=slot)
    seen_at, _ = known(instrument, as_of, tag)
    return [e.to_dict() for e in store.slot_history(slot, seen_at, everything=superseded)]


@router.get("/{name}/diff", response=DiffOut, summary="What differs between two dates")
def diff(request, name: str, before: str, after: str = "latest", as_of: str = "", tag: str = ""):
    instrument = instrument_for_user(request.user, name)
    a, b = instant(instrument, before, "before"), instant(instrument, after, "after")
    seen_at, _ = known(instrument, as_of, tag)
    return {
        "instrument": name,
        "before": a,
        "after": b,
        "slots": store.diff(instrument, a, b, seen_at),
    }


@router.get("/{name}/changes", response=list[ChangeOut], summary="The audit trail, newest first")
def changes(request, name: str, limit: int = 100):
    instrument = instrument_for_user(request.user, name)
    return [
        c.to_dict()
        for c in instrument.changes.select_related("made_by")[: max(1, min(limit, 1000))]
    ]


class FileIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=20_000)
    start: str = Field(default="", max_length=40)


class ImportIn(Schema):
    files: list[FileIn] = Field(min_length=1)  # at most importer.MAX_FILES: a 400 says so
    dry_run: bool = False


class ImportedOut(Schema):
    file: str
    start: datetime
    change: int | None
    changed_slots: list[str]


class ErrorOut(Schema):
    error: str
    field: str | None = None


@router.post(
    "/{name}/import",
    response={200: list[ImportedOut], 400: ErrorOut, 403: ErrorOut},
    summary="Import fplane files as history (staff; all or nothing)",
)
def import_fplane(request, name: str, payload: ImportIn):
    instrument = instrument_for_user(request.user, name)
    if not request.user.is_staff or not key_allows(request, "write:fplane"):
        return Status(
            403, {"error": "importing history needs a staff user (and a key's write:fplane scope)"}
        )
    if instrument.kind != Instrument.FPLANE:
        return Status(400, {"error": f"{name} is not a focal plane", "field": "name"})
    files = [importer.FplaneFile(f.name, f.text, f.start) for f in payload.files]
    try:
        outcomes = importer.import_files(
            instrument, files, user=request.user, dry_run=payload.dry_run
        )
    except importer.ImportRefused as exc:
        return Status(400, {"error": str(exc), "field": exc.field})
    return [o.to_dict() for o in outcomes]


def may_write(request) -> bool:
    """Staff, or a user allowed to change configurations; by key, only with write:fplane."""
    user = request.user
    return key_allows(request, "write:fplane") and (
        user.is_staff or user.has_perm("configs.add_change")
    )


def refused(exc: store.ChangeRefused):
    status = 409 if type(exc) is store.ChangeRefused and exc.field == "start" else 400
    return Status(status, {"error": str(exc), "field": exc.field or None})


class WriteIn(Schema):
    slots: dict[str, dict | None] = Field(max_length=10_000)
    reason: str = Field(default="", max_length=2000)


class ChangeIn(WriteIn):
    valid_from: str = Field(default="", max_length=40)
    replace_all: bool = False


class CorrectionIn(WriteIn):
    valid_from: str = Field(max_length=40)
    valid_until: str = Field(default="", max_length=40)


def checked_slots(instrument, slots: dict) -> dict:
    """For a focal plane, each unit checked as a hardware report's; others as given, nested
    no deeper than a report may be (a deeper value could be neither stored nor shown)."""
    for name, value in slots.items():
        if depth(value) > MAX_BODY_DEPTH:
            raise HttpError(400, f"slots.{name}: nested more than {MAX_BODY_DEPTH} levels deep")
    if instrument.kind != Instrument.FPLANE:
        return slots
    units = {k: v for k, v in slots.items() if v is not None}
    try:
        _, state = read_report({"timestamp": "2000-01-01T00:00:00Z", "slots": units})
    except ReportError as exc:
        raise HttpError(400, str(exc).removeprefix("config.")) from None
    for name in slots.keys() - units.keys():
        if problem := slot_problem(name):
            raise HttpError(400, f"slots.{name}: {problem}")
    return {**state, **{k: None for k in slots.keys() - units.keys()}}


class MessageOut(Schema):
    message: str


WRITE_RESPONSES = {201: ChangeOut, 200: MessageOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut}
NO_RIGHT = {
    "error": "changing configurations needs staff or the configs.add_change permission "
    "(and a key's write:fplane scope)"
}


def recorded(unchanged: str, write, *args, **kwargs):
    """The answer to a write through the API: 201 with what it made, 200 with ``unchanged``
    when the history already says so, 400/409 when the store refuses it."""
    try:
        made = write(*args, source="api", **kwargs)
    except store.ChangeRefused as exc:
        return refused(exc)
    if made is None:
        return Status(200, {"message": unchanged})
    return Status(201, made.to_dict())


@router.post("/{name}/changes", response=WRITE_RESPONSES, summary="Record a change from a date on")
def change(request, name: str, payload: ChangeIn):
    instrument = instrument_for_user(request.user, name)
    if not may_write(request):
        return Status(403, NO_RIGHT)
    start = instant(instrument, payload.valid_from, "valid_from")
    return recorded(
        "no change: this is already the configuration",
        store.apply_change,
        instrument,
        checked_slots(instrument, payload.slots),
        valid_from=start,
        user=request.user,
        reason=payload.reason,
        replace_all=payload.replace_all,
    )


@router.post(
    "/{name}/corrections",
    response=WRITE_RESPONSES,
    summary="Correct a past interval: a new revision; what it replaces is kept",
)
def correction(request, name: str, payload: CorrectionIn):
    instrument = instrument_for_user(request.user, name)
    if not may_write(request):
        return Status(403, NO_RIGHT)
    start = instant(instrument, payload.valid_from, "valid_from")
    end = instant(instrument, payload.valid_until, "valid_until") if payload.valid_until else None
    return recorded(
        "no change: the history already says this",
        store.correct,
        instrument,
        checked_slots(instrument, payload.slots),
        valid_from=start,
        valid_until=end,
        user=request.user,
        reason=payload.reason,
    )


class TagIn(Schema):
    name: str = Field(max_length=64)
    as_of: str = Field(default="", max_length=40)
    description: str = Field(default="", max_length=2000)
    publish: bool = False


class TagOut(Schema):
    name: str
    as_of: datetime
    description: str
    published_at: datetime | None
    made_by: str | None


@router.get("/{name}/tags", response=list[TagOut], summary="Named views of the history")
def tags(request, name: str):
    instrument = instrument_for_user(request.user, name)
    return [t.to_dict() for t in instrument.tags.select_related("made_by")]


@router.post(
    "/{name}/tags",
    response={201: TagOut, 400: ErrorOut, 403: ErrorOut},
    summary="Name the history as known now (or at as_of); immutable once published",
)
def make_tag(request, name: str, payload: TagIn):
    instrument = instrument_for_user(request.user, name)
    if not (request.user.is_staff and key_allows(request, "write:fplane")):
        return Status(403, {"error": "tags are made by staff (with a key: write:fplane)"})
    as_of = instant(instrument, payload.as_of, "as_of") if payload.as_of else None
    try:
        row = store.tag(
            instrument,
            payload.name,
            as_of=as_of,
            description=payload.description,
            publish=payload.publish,
            user=request.user,
        )
    except store.ChangeRefused as exc:
        return Status(400, {"error": str(exc), "field": exc.field})
    return Status(201, row.to_dict())


@router.post(
    "/{name}/tags/{tag}/publish",
    response={200: TagOut, 400: ErrorOut, 403: ErrorOut},
    summary="Publish a tag: from then on it never changes",
)
def publish_tag(request, name: str, tag: str):
    instrument = instrument_for_user(request.user, name)
    if not (request.user.is_staff and key_allows(request, "write:fplane")):
        return Status(403, {"error": "tags are published by staff (with a key: write:fplane)"})
    try:
        return Status(200, store.publish(instrument, tag).to_dict())
    except store.ChangeRefused as exc:
        return Status(400, {"error": str(exc), "field": exc.field})
