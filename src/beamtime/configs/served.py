"""Which fplane file answers a request, found by validity interval with one query.

In every view of the history (the latest revision, as known at an instant, a tag) the
configuration changes only at an instant where some change starts or ends: every entry's
interval begins and ends at one (the store writes no other bounds). So the file valid at
``when`` is the file valid at the last such boundary at or before it, and two requests for
instants of one interval get the same bytes.

``locate`` reads, in one statement, the instrument row (its revision, which every write bumps
in its own transaction) and that boundary (an index seek on (instrument, valid_from) and one
on (instrument, valid_until)). The files a process has rendered are kept under
(instrument, revision, view, boundary, options): a write by any process changes the revision
every process reads with its next request, so a file is never served from before the last
committed write, and no process needs to be told of a write. A miss is one more statement,
which reads the entries and, with them, the revision again: a file is kept only when no write
came between the two.
"""

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from beamtime.configs.dates import parse_datestr
from beamtime.configs.fplane import HEADER, SEAT_ORDER, seat_row
from beamtime.configs.models import Change, ConfigEntry, Instrument, Slot


@dataclass(frozen=True)
class Located:
    instrument: Instrument  # pk, name, timezone and revision only: enough for the store
    when: datetime
    stem: str  # for the file name
    boundary: object  # the last change boundary at or before ``when``; None: before the first
    revised_at: object  # with the revision: a restored older database does not match


# The site's time zone per instrument, as last read: a night (YYYYMMDD) is counted in it, so
# it is needed before the query; the query reads it again and a change is seen at once.
TIMEZONES: dict[str, str] = {}


def locate(name: str, datestr: str) -> Located | None:
    """The instrument ``name`` (None: no such instrument) and where ``datestr`` falls in its
    history. Raise DateError for a date the service does not read."""
    zone = TIMEZONES.get(name, "UTC")
    for _ in range(3):
        when, stem = parse_datestr(datestr, zone)
        row = _head(name, when)
        if row is None:
            return None
        pk, row_zone, revision, revised_at, started, ended = row
        if row_zone == zone:
            break
        zone = TIMEZONES[name] = row_zone
    boundary = started if ended is None or (started is not None and started > ended) else ended
    instrument = Instrument(pk=pk, name=name, timezone=zone, revision=revision)
    return Located(instrument, when, stem, boundary, revised_at)


def _head(name: str, when: datetime):
    instruments = connection.ops.quote_name(Instrument._meta.db_table)
    changes = connection.ops.quote_name(Change._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(when)
    last = (  # the latest start (end) at or before the instant: one index seek
        f"(SELECT c.{{0}} FROM {changes} c WHERE c.instrument_id = i.id AND c.{{0}} <= %s "
        f"ORDER BY c.{{0}} DESC LIMIT 1)"
    )
    sql = (
        f"SELECT i.id, i.timezone, i.revision, i.revised_at, "
        f"{last.format('valid_from')}, {last.format('valid_until')} "
        f"FROM {instruments} i WHERE i.name = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [at, at, name])
        return cursor.fetchone()


def file_at(
    instrument: Instrument, when: datetime, as_of: datetime | None, *, actual_pos: bool, full: bool
) -> tuple[str, int | None]:
    """The fplane file valid at ``when`` as known at ``as_of`` (None: the latest revision),
    and the instrument's revision read in the same statement as the entries (None when no
    seat holds anything then): the file is that revision's.

    The same text as rendering ``store.configuration_at`` (a test holds them equal), from one
    statement the ORM need not build; each seat's line is kept per process by what its entry
    says, so only attributes not seen before are decoded and formatted."""
    entries, revision = _entries_at(instrument, when, as_of)
    lines = [HEADER]
    known = LINES.get
    for seat in SEAT_ORDER:
        stored = entries.get(seat)  # the attributes' JSON text, as the database keeps it
        if stored is not None and not isinstance(stored, str):
            stored = json.dumps(stored, sort_keys=True)  # a driver that decodes JSON itself
        key = (seat, stored, actual_pos, full)
        line = known(key)
        if line is None:
            unit = None if stored is None else json.loads(stored)
            row = seat_row(seat, unit, actual_pos=actual_pos, full=full)
            line = row.line() if row else ""
            if len(LINES) >= MAX_LINES:
                LINES.clear()
            LINES[key] = line
        if line:
            lines.append(line)
    return "\n".join(lines) + "\n", revision


def _entries_at(
    instrument: Instrument, when: datetime, as_of: datetime | None
) -> tuple[dict, int | None]:
    """Slot name → the stored attributes of its entry valid at ``when`` as known at
    ``as_of`` (EntryQuerySet.valid_at's query, written out), and the instrument's revision
    read by the same statement, so from the same snapshot."""
    instruments = connection.ops.quote_name(Instrument._meta.db_table)
    entries = connection.ops.quote_name(ConfigEntry._meta.db_table)
    slots = connection.ops.quote_name(Slot._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(when)
    if as_of is None:
        known, open_then, params = "x.superseded_at IS NULL", "", [at, instrument.pk, at]
    else:
        seen = connection.ops.adapt_datetimefield_value(as_of)
        known = "x.recorded_at <= %s AND (x.superseded_at IS NULL OR x.superseded_at > %s)"
        open_then = " OR e.closed_at > %s"
        params = [at, seen, seen, instrument.pk, at, seen]
    sql = (
        f"SELECT s.name, e.attributes, i.revision FROM {instruments} i "
        f"JOIN {slots} s ON s.instrument_id = i.id JOIN {entries} e ON e.id = ("
        f"SELECT x.id FROM {entries} x WHERE x.slot_id = s.id AND x.valid_from <= %s "
        f"AND {known} ORDER BY x.valid_from DESC LIMIT 1) "
        f"WHERE i.id = %s AND (e.valid_until IS NULL OR e.valid_until > %s{open_then})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {name: attributes for name, attributes, _ in rows}, rows[0][2] if rows else None


class Recent:
    """The last ``size`` values put, most recently used kept; safe across threads."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            if len(self.items) > self.size:
                self.items.popitem(last=False)


# A seat's line by what its entry says and the file's options (~0.5 kB with the key); a plain
# dict, emptied when full: a miss looks up 84 lines, and a lock or an LRU order for each cost
# more than the rare line computed twice by two threads.
LINES: dict[tuple, str] = {}
MAX_LINES = 32768
