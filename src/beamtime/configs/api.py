"""JSON API for configuration history: instruments, the configuration at a date, the
history of one slot, the difference between two dates, the audit trail; importing fplane
files (staff)."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from beamtime.configs import importer, store
from beamtime.configs.dates import DateError, parse_datestr
from beamtime.configs.models import Instrument
from beamtime.core.access import instrument_for_user
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


class ConfigurationOut(Schema):
    instrument: str
    at: datetime
    entries: list[EntryOut]


class ChangeOut(Schema):
    id: int
    valid_from: datetime
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


@router.get("/", response=list[InstrumentOut], summary="Instruments with a configuration history")
def instruments(request):
    return Instrument.objects.all()


@router.get("/{name}/at", response=ConfigurationOut, summary="The configuration valid at a date")
def configuration(request, name: str, when: str = "latest"):
    instrument = instrument_for_user(request.user, name)
    at = instant(instrument, when, "when")
    entries = store.configuration_at(instrument, at).values()
    return {
        "instrument": name,
        "at": at,
        "entries": [e.to_dict() for e in sorted(entries, key=lambda e: e.slot.name)],
    }


@router.get(
    "/{name}/slots/{slot}/history", response=list[EntryOut], summary="Every entry a slot has had"
)
def slot_history(request, name: str, slot: str):
    instrument = instrument_for_user(request.user, name)
    slot = get_object_or_404(instrument.slots, name=slot)
    return [e.to_dict() for e in store.slot_history(slot)]


@router.get("/{name}/diff", response=DiffOut, summary="What differs between two dates")
def diff(request, name: str, before: str, after: str = "latest"):
    instrument = instrument_for_user(request.user, name)
    a, b = instant(instrument, before, "before"), instant(instrument, after, "after")
    return {"instrument": name, "before": a, "after": b, "slots": store.diff(instrument, a, b)}


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
    files: list[FileIn] = Field(min_length=1, max_length=importer.MAX_FILES)
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
