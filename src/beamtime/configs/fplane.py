"""The HETDEX focal-plane ("fplane") text format and the focal-plane geometry.

A file is a header line and one row per IFU slot::

    ##IFUSLOT X_FP Y_FP SPECID SPECSLOT IFUID IFUROT PLATESC
    073 150.0 150.0 037 042 024 0.0 1.00

An IFUSLOT names a seat of the IFU head mounting plate (IHMP) the way HETDEX's software
does (pyhetdex's ``FPlane``): a two-digit column 01–10, then a one-digit row 0–9, i.e.
``'{:02d}{:d}'.format(column, row)``: ``073`` is column 7, row 3; ``103`` is column 10, row 3.
A seat's nominal position, as real fplane files give it, is X = (column − 5.5) · 100″,
Y = (4.5 − row) · 100″. The plate has 84 seats: rows 0–9 in columns 3–8, rows 1–8 in
columns 2 and 9, rows 3–6 in columns 1 and 10. LRS2-B sits in 056 and LRS2-R in 066; the
four central seats (054, 055, 064, 065) are empty in every known file but are still seats.

SPECID, SPECSLOT and IFUID are ASCII digits (three; old files have two-digit SPECIDs,
LRS2's IFUs are 7001 and 7002); ``000`` means none. X_FP/Y_FP are arcsec. A "full" file
lists every seat, the ones not in use commented out (``#``), and includes the LRS2 units; a
"short" file lists only the active VIRUS IFUs.
"""

import re
from dataclasses import dataclass, field

HEADER = "##IFUSLOT X_FP Y_FP SPECID SPECSLOT IFUID IFUROT PLATESC"
PITCH = 100.0
UNIT_TYPES = ("VIRUS", "LRS", "HRS", "HPF")
EMPTY_ID = "000"
# The rows each column of the plate has seats in.
SEAT_ROWS = {1: range(3, 7), 2: range(1, 9), 9: range(1, 9), 10: range(3, 7)} | {
    column: range(10) for column in range(3, 9)
}
LRS2 = {"056": "LRS2-B", "066": "LRS2-R"}
SLOT = re.compile(r"(0[1-9]|10)[0-9]")
ID = re.compile(r"[0-9]{2,4}")  # ASCII only: \d would take any Unicode digit


def slot_name(column: int, row: int) -> str:
    return f"{column:02d}{row:d}"


def column_row(slot: str) -> tuple[int, int]:
    """Column and row of a well-formed IFUSLOT (``073`` → (7, 3))."""
    return int(slot[:2]), int(slot[2])


def slot_names() -> list[str]:
    """The plate's 84 seats, in IFUSLOT order."""
    return sorted(slot_name(c, r) for c, rows in SEAT_ROWS.items() for r in rows)


SEAT_ORDER = tuple(slot_names())
SEATS = frozenset(SEAT_ORDER)


def shown(value, limit: int = 80) -> str:
    """``value`` as an error message quotes it: its repr, cut to ``limit`` characters with an
    ellipsis (a 5 MB value is not echoed back)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def slot_problem(slot: str) -> str | None:
    """Why ``slot`` is not a seat of the plate, or None when it is one."""
    if not SLOT.fullmatch(slot):
        return (
            f"IFUSLOT {shown(slot)} is not a two-digit column 01–10 and a one-digit row 0–9 "
            "(073 = column 7, row 3)"
        )
    if slot not in SEATS:
        column, row = column_row(slot)
        return f"IFUSLOT {slot} (column {column}, row {row}) is not a seat of the plate"
    return None


def nominal_position(slot: str) -> tuple[float, float]:
    column, row = column_row(slot)
    return (column - 5.5) * PITCH, (4.5 - row) * PITCH


def coordinate(value: float) -> str:
    """Arcsec as written: one decimal at least, three at most (-450.0, -201.53)."""
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


@dataclass(frozen=True)
class Row:
    slot: str
    x: float
    y: float
    specid: str
    specslot: str
    ifuid: str
    ifurot: float
    platesc: float
    commented: bool = False
    number: int = field(default=0, compare=False)  # the line it was read from

    def line(self) -> str:
        text = (
            f"{self.slot} {coordinate(self.x)} {coordinate(self.y)} {self.specid} "
            f"{self.specslot} {self.ifuid} {self.ifurot:.1f} {self.platesc:.2f}"
        )
        return "#" + text if self.commented else text


def render(rows: list[Row]) -> str:
    return "\n".join([HEADER, *(r.line() for r in rows)]) + "\n"


class FplaneError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


def _number(text: str, name: str, line: int) -> float:
    try:
        value = float(text) if text.isascii() else None
    except ValueError:
        value = None
    if value is None:
        raise FplaneError(line, f"{name} {shown(text)} is not a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise FplaneError(line, f"{name} {shown(text)} is not a finite number")
    return value


def parse(text: str) -> list[Row]:
    """Rows of an fplane file; blank lines and comments that are not rows are skipped.

    A row is commented out when it starts with ``#`` followed by a well-formed IFUSLOT.
    Raise FplaneError naming the line of the first malformed row.
    """
    rows, seen = [], set()
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("##"):
            continue
        commented = stripped.startswith("#")
        fields = stripped.lstrip("#").split()
        if commented and (len(fields) != 8 or not SLOT.fullmatch(fields[0])):
            continue  # a remark, e.g. "# $Id$" or "# IFUSLOT X_FP ..."
        if len(fields) != 8:
            raise FplaneError(number, f"expected 8 columns ({HEADER[2:]}), found {len(fields)}")
        slot, x, y, specid, specslot, ifuid, rot, scale = fields
        if not SLOT.fullmatch(slot):
            raise FplaneError(number, slot_problem(slot))
        for name, value in (("SPECID", specid), ("SPECSLOT", specslot), ("IFUID", ifuid)):
            if not ID.fullmatch(value):
                raise FplaneError(number, f"{name} {shown(value)} is not an ID of 2 to 4 digits")
        if slot in seen:
            raise FplaneError(number, f"IFUSLOT {slot} appears twice")
        seen.add(slot)
        rows.append(
            Row(
                slot,
                _number(x, "X_FP", number),
                _number(y, "Y_FP", number),
                specid,
                specslot,
                ifuid,
                _number(rot, "IFUROT", number),
                _number(scale, "PLATESC", number),
                commented,
                number,
            )
        )
    return rows


def in_short_file(unit: dict) -> bool:
    """The short file has only active VIRUS IFUs: no LRS2, HRS or HPF, nothing commented."""
    return unit["type"] == "VIRUS" and unit["active"]


def seat_row(slot: str, unit: dict | None, *, actual_pos: bool, full: bool) -> Row | None:
    """The row of one seat holding ``unit`` (None: empty), or None when the file omits it."""
    x, y = nominal_position(slot)
    if unit is None:
        if full:
            return Row(slot, x, y, EMPTY_ID, EMPTY_ID, EMPTY_ID, 0.0, 1.0, commented=True)
        return None
    if not full and not in_short_file(unit):
        return None
    if actual_pos and unit.get("measured"):
        x, y = unit["measured"]["x"], unit["measured"]["y"]
    return Row(
        slot,
        x,
        y,
        unit["specid"],
        unit["specslot"],
        unit["ifuid"],
        unit["ifurot"],
        unit["platesc"],
        commented=not unit["active"],
    )


def rows_for(configuration: dict[str, dict], *, actual_pos: bool, full: bool) -> list[Row]:
    """The rows of the file for a configuration (slot → unit attributes), in IFUSLOT order."""
    rows = (
        seat_row(slot, configuration.get(slot), actual_pos=actual_pos, full=full)
        for slot in SEAT_ORDER
    )
    return [row for row in rows if row is not None]
