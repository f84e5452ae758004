"""The hardware status report that updates the focal plane (``POST /fplane``).

The request body is ``{"config": REPORT, "commit": true|false, "start": DATE?}``, where
REPORT is the complete hardware status at ``timestamp``::

    {"timestamp": "2026-11-21T05:40:00Z",
     "slots": {"073": {"type": "VIRUS", "ifuid": "024", "specid": "037", "specslot": "042",
                       "ifurot": 0.0, "platesc": 1.0, "active": true,
                       "measured": {"x": 149.2, "y": 150.4}}, ...}}

Slots are seats of the plate (fplane.py: column 01–10 then row 0–9). A slot that the report
does not list is empty from ``start`` on. ``type`` is one of VIRUS, LRS, HRS, HPF; LRS units
sit in 056 (LRS2-B) and 066 (LRS2-R), and those seats hold nothing else. IDs are ASCII
digits, three or four (``"024"``, ``24`` → ``"024"``, LRS2's ``7001``); an IFUID is never
``000``, a SPECID or SPECSLOT of ``000`` means none (an IFU not connected). ``active``
defaults to true, ``ifurot`` to 0 and ``platesc`` to 1; ``measured`` is the measured position
in arcsec (kept to 0.001″), when known. Numbers are JSON numbers (``true`` or ``"1"`` is
refused, not read as 1). Nothing else is accepted.
"""

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from beamtime.configs.fplane import LRS2, UNIT_TYPES, shown, slot_problem

MAX_AGE = timedelta(hours=6)
FUTURE_GRACE = timedelta(minutes=10)


class ReportError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


def _id(value, *, none_allowed: bool) -> str:
    """An ID as stored: ASCII digits, zero-padded to three; ``000`` only when allowed."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9999:
        text = f"{value:03d}"
    elif isinstance(value, str) and value.isascii() and value.isdigit() and 3 <= len(value) <= 4:
        text = value
    else:
        raise ValueError(f'{shown(value)} is not an ID of three or four digits (e.g. "024" or 24)')
    if int(text) == 0 and not none_allowed:
        raise ValueError(f"{shown(value)} is not an ID: 000 means none")
    return text


class Position(Strict):
    x: float = Field(strict=True, allow_inf_nan=False, ge=-10_000, le=10_000)
    y: float = Field(strict=True, allow_inf_nan=False, ge=-10_000, le=10_000)

    @field_validator("x", "y")
    @classmethod
    def _milli_arcsec(cls, value: float) -> float:
        return round(value, 3)


class Unit(Strict):
    type: Literal[UNIT_TYPES]
    ifuid: str
    specid: str
    specslot: str
    # strict: a JSON number (true is not 1.0, "1" is not a number)
    ifurot: float = Field(default=0.0, strict=True, allow_inf_nan=False, ge=-360, le=360)
    platesc: float = Field(default=1.0, strict=True, allow_inf_nan=False, gt=0, le=10)
    active: bool = True
    measured: Position | None = None

    # "before": pydantic would otherwise turn true into 1 and 1 into "001" first.
    @field_validator("ifuid", mode="before")
    @classmethod
    def _ifuid(cls, value) -> str:
        return _id(value, none_allowed=False)

    @field_validator("specid", "specslot", mode="before")
    @classmethod
    def _spec(cls, value) -> str:
        return _id(value, none_allowed=True)

    @field_validator("active", mode="before")
    @classmethod
    def _boolean(cls, value) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, not {shown(value)}")
        return value


class Report(Strict):
    timestamp: datetime
    slots: dict[str, Unit]


def _key(part) -> str:
    """A part of a field's name (a slot, a key) as given; one of a megabyte cut short."""
    return str(part) if len(str(part)) <= 80 else shown(str(part))


def _location(error: dict) -> str:
    return ".".join(_key(p) for p in ("config", *error["loc"]))


def read_report(config) -> tuple[datetime, dict[str, dict]]:
    """Validate a report; return its timestamp (UTC) and the state (slot → attributes)."""
    try:
        report = Report.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ReportError(_location(first), first["msg"].removeprefix("Value error, ")) from None
    units, specs = {}, {}
    for slot, unit in sorted(report.slots.items()):
        if problem := slot_problem(slot):
            raise ReportError(f"config.slots.{_key(slot)}", problem)
        if (unit.type == "LRS") != (slot in LRS2):
            raise ReportError(
                f"config.slots.{slot}.type",
                f"an LRS unit sits in 056 (LRS2-B) or 066 (LRS2-R), not in {slot}"
                if unit.type == "LRS"
                else f"slot {slot} holds {LRS2[slot]}, not a {unit.type} unit",
            )
        if unit.ifuid in units:
            raise ReportError(
                f"config.slots.{slot}.ifuid",
                f"IFU {unit.ifuid} is in two slots, {units[unit.ifuid]} and {slot}",
            )
        units[unit.ifuid] = slot
        if unit.specid == "000":
            if unit.active:
                raise ReportError(
                    f"config.slots.{slot}.specid",
                    "an active unit needs a spectrograph (SPECID 000 means none)",
                )
            continue
        # One IFU per spectrograph unit: HETDEX's readers index the file by SPECID.
        if unit.specid in specs:
            raise ReportError(
                f"config.slots.{slot}.specid",
                f"spectrograph {unit.specid} is used twice, by {specs[unit.specid]} and {slot}",
            )
        specs[unit.specid] = slot
    timestamp = report.timestamp
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)
    try:
        timestamp = timestamp.astimezone(UTC)
    except OverflowError:
        raise ReportError("config.timestamp", f"{report.timestamp} is out of range") from None
    state = {slot: unit.model_dump() for slot, unit in report.slots.items()}
    return timestamp, state


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
