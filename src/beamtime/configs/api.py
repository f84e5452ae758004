"""JSON API for configuration history: instruments, the configuration at a date, the
history of one slot, the difference between two dates, the audit trail."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.errors import HttpError

from beamtime.configs import store
from beamtime.configs.dates import DateError, parse_datestr
from beamtime.core.access import instrument_for_user, instruments_for_user

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
    return instruments_for_user(request.user)


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
