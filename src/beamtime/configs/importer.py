"""Importing the past of the focal plane from fplane files.

Each file is a configuration valid from its start: given, or read from the file's name the
way the FPlane service names its files (``fplane20180715.txt`` = midnight of the night
starting 2018-07-15 at the site, ``fplane20180715T03:04:05.txt`` = that instant in UTC).
The files of one request (at most MAX_FILES, so that it ends in seconds) go in
together, in one transaction, in order of their starts; a file whose
configuration is already the one recorded at its start changes nothing, so importing the
same files again is harmless. A file that differs from what is recorded at or after the
latest start cannot be imported: that would rewrite the past.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from beamtime.configs import store
from beamtime.configs.client import MAX_FILES
from beamtime.configs.dates import DateError, parse_datestr
from beamtime.configs.fplane import LRS2, FplaneError, nominal_position, parse
from beamtime.configs.models import Instrument
from beamtime.configs.report import ReportError, read_report

FILE_NAME = re.compile(r"fplane([0-9]{8}(T[0-9]{2}:[0-9]{2}:[0-9]{2})?)\.txt")


class ImportRefused(ValueError):
    """A file that cannot be imported; ``field`` names it (and its line, when known)."""

    def __init__(self, name: str, message: str, line: int | None = None):
        where = f"{name} line {line}" if line else name
        super().__init__(f"{where}: {message}")
        self.field = name


@dataclass
class FplaneFile:
    name: str
    text: str
    start: str = ""  # a date string; empty: from the file's name


@dataclass
class Outcome:
    name: str
    start: datetime
    change: int | None  # the change made, None when the file changed nothing
    slots: list[str] = field(default_factory=list)  # the slots it changed

    def to_dict(self) -> dict:
        return {
            "file": self.name,
            "start": self.start,
            "change": self.change,
            "changed_slots": self.slots,
        }


def start_of(file: FplaneFile, instrument: Instrument) -> datetime:
    text = file.start.strip()
    if not text:
        match = FILE_NAME.fullmatch(file.name.rsplit("/", 1)[-1])
        if match is None:
            raise ImportRefused(
                file.name,
                "give its start, or name it fplaneYYYYMMDD.txt or fplaneYYYYMMDDTHH:MM:SS.txt",
            )
        text = match.group(1)
    try:
        start = parse_datestr(text, instrument.timezone)[0]
    except DateError as exc:
        raise ImportRefused(file.name, f"start: {exc}") from None
    if start > timezone.now() + store.MAX_AHEAD:
        raise ImportRefused(
            file.name, f"start: {start:%Y-%m-%dT%H:%M:%SZ} is more than a day ahead of now"
        )
    return start


def state_of(file: FplaneFile, start: datetime) -> dict[str, dict]:
    """The configuration a file describes (slot → unit), checked like a hardware report."""
    try:
        rows = parse(file.text)
    except FplaneError as exc:
        raise ImportRefused(file.name, str(exc).split(": ", 1)[1], exc.line) from None
    lines = {row.slot: row.number for row in rows}
    slots = {}
    for row in rows:
        if int(row.ifuid) == 0:
            continue  # an empty seat
        unit = {
            "type": "LRS" if row.slot in LRS2 else "VIRUS",
            "ifuid": row.ifuid.zfill(3),
            "specid": row.specid.zfill(3),
            "specslot": row.specslot.zfill(3),
            "ifurot": row.ifurot,
            "platesc": row.platesc,
            "active": not row.commented,
        }
        if (row.x, row.y) != nominal_position(row.slot):
            unit["measured"] = {"x": row.x, "y": row.y}
        slots[row.slot] = unit
    if not slots:  # it would empty the whole focal plane
        raise ImportRefused(file.name, "no unit rows (truncated file?)")
    try:
        _, state = read_report({"timestamp": start.isoformat(), "slots": slots})
    except ReportError as exc:
        # config.slots.073.ifuid: … → the file's line for slot 073
        parts = exc.field.split(".")
        slot = parts[2] if len(parts) > 2 else ""
        message = str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)
        detail = f"{'.'.join(parts[3:])}: " if len(parts) > 3 else ""
        raise ImportRefused(file.name, detail + message, lines.get(slot)) from None
    return state


def import_files(
    instrument: Instrument, files: list[FplaneFile], *, user=None, dry_run: bool = False
) -> list[Outcome]:
    """Record the configurations of ``files``; return what each file did.

    Raise ImportRefused for the first file that cannot be imported; then nothing is written.
    With ``dry_run`` nothing is written either, and the outcomes say what would happen.
    """
    if len(files) > MAX_FILES:
        raise ImportRefused(
            "files",
            f"{len(files)} files in one request, at most {MAX_FILES} go in one: send them in "
            "batches, oldest first (beamtime fplane import does)",
        )
    dated = sorted(
        ((start_of(f, instrument), f) for f in files), key=lambda pair: (pair[0], pair[1].name)
    )
    for (a, first), (b, second) in zip(dated, dated[1:], strict=False):
        if a == b:
            raise ImportRefused(second.name, f"starts at the same instant as {first.name}")
    outcomes = []
    with transaction.atomic():
        for start, file in dated:
            state = state_of(file, start)
            recorded = {
                k: e.attributes for k, e in store.configuration_at(instrument, start).items()
            }
            changed = sorted(
                k for k in recorded.keys() | state.keys() if recorded.get(k) != state.get(k)
            )
            if not changed:
                outcomes.append(Outcome(file.name, start, None))
                continue
            latest = store.latest_start(instrument)
            if latest is not None and start <= latest:
                raise ImportRefused(
                    file.name,
                    f"it differs from what is recorded for {start:%Y-%m-%dT%H:%M:%SZ} (slots "
                    f"{', '.join(changed[:5])}{' …' if len(changed) > 5 else ''}), which is "
                    f"before the latest change ({latest:%Y-%m-%dT%H:%M:%SZ}): the past is "
                    "not rewritten (record a correction instead: POST …/corrections)",
                )
            try:
                change = store.apply_change(
                    instrument,
                    state,
                    valid_from=start,
                    user=user,
                    reason=f"imported from {file.name}",
                    source="import",
                    replace_all=True,
                )
            except store.ChangeRefused as exc:
                raise ImportRefused(file.name, str(exc)) from None
            outcomes.append(Outcome(file.name, start, change.pk if change else None, changed))
        if dry_run:
            transaction.set_rollback(True)
    return outcomes
