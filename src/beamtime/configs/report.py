"""The hardware status report that updates the focal plane (``POST /fplane``).

The request body is ``{"config": REPORT, "commit": true|false, "start": DATE?}``, where
REPORT is the complete hardware status at ``timestamp``::

    {"timestamp": "2026-11-21T05:40:00Z",
     "slots": {"013": {"type": "VIRUS", "ifuid": "024", "specid": "037", "specslot": "042",
                       "ifurot": 0.0, "platesc": 1.0, "active": true,
                       "measured": {"x": -399.2, "y": -200.4}}, ...}}

A slot that the report does not list is empty from ``start`` on. ``type`` is one of
VIRUS, LRS, HRS, HPF; IDs are three digits (``"024"`` or ``24``), ``000`` meaning none;
``active`` defaults to true, ``ifurot`` to 0 and ``platesc`` to 1; ``measured`` is the
measured position in arcsec, when known. Nothing else is accepted.
"""

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from beamtime.configs.fplane import CENTRE, UNIT_TYPES, slot_names

MAX_AGE = timedelta(hours=6)
FUTURE_GRACE = timedelta(minutes=10)


class ReportError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


def _three_digits(value) -> str:
    if isinstance(value, bool):
        raise ValueError("must be a three-digit ID")
    if isinstance(value, int) and 0 < value < 1000:
        return f"{value:03d}"
    if isinstance(value, str) and len(value) == 3 and value.isdigit() and value != "000":
        return value
    raise ValueError(f"{value!r} is not a three-digit ID from 001 to 999")


class Position(Strict):
    x: float = Field(allow_inf_nan=False)
    y: float = Field(allow_inf_nan=False)


class Unit(Strict):
    type: Literal[UNIT_TYPES]
    ifuid: str | int
    specid: str | int
    specslot: str | int
    ifurot: float = Field(default=0.0, allow_inf_nan=False, ge=-360, le=360)
    platesc: float = Field(default=1.0, allow_inf_nan=False, gt=0, le=10)
    active: bool = True
    measured: Position | None = None

    _ids = field_validator("ifuid", "specid", "specslot")(_three_digits)


class Report(Strict):
    timestamp: datetime
    slots: dict[str, Unit]


def _location(error: dict) -> str:
    return ".".join(str(p) for p in ("config", *error["loc"]))


def read_report(config) -> tuple[datetime, dict[str, dict]]:
    """Validate a report; return its timestamp (UTC) and the state (slot → attributes)."""
    try:
        report = Report.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ReportError(_location(first), first["msg"].removeprefix("Value error, ")) from None
    valid = set(slot_names())
    units, specs = {}, {}
    for slot, unit in sorted(report.slots.items()):
        if slot not in valid:
            why = "holds no unit" if slot == CENTRE else "is not an IFU slot (000 to 099)"
            raise ReportError(f"config.slots.{slot}", f"slot {slot!r} {why}")
        if unit.ifuid in units:
            raise ReportError(
                f"config.slots.{slot}.ifuid",
                f"IFU {unit.ifuid} is in two slots, {units[unit.ifuid]} and {slot}",
            )
        units[unit.ifuid] = slot
        spec = (unit.specid, unit.specslot)
        if spec in specs:
            raise ReportError(
                f"config.slots.{slot}.specslot",
                f"spectrograph {unit.specid} slot {unit.specslot} is used twice, "
                f"by {specs[spec]} and {slot}",
            )
        specs[spec] = slot
    timestamp = report.timestamp
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)
    state = {slot: unit.model_dump() for slot, unit in report.slots.items()}
    return timestamp.astimezone(UTC), state


def check_timestamp(timestamp: datetime, now: datetime) -> str | None:
    """Refuse data older than 6 hours; return a warning for data more than 10 minutes ahead."""
    if timestamp < now - MAX_AGE:
        raise ReportError(
            "config.timestamp",
            f"the data are from {timestamp:%Y-%m-%dT%H:%M:%SZ}, more than 6 hours ago; "
            "send a fresh hardware status",
        )
    if timestamp > now + FUTURE_GRACE:
        minutes = (timestamp - now).total_seconds() / 60
        return (
            f"the data timestamp {timestamp:%Y-%m-%dT%H:%M:%SZ} is {minutes:.0f} minutes "
            "in the future"
        )
    return None
