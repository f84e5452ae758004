"""The HETDEX focal-plane ("fplane") text format and the focal-plane geometry.

A file is a header line and one row per IFU slot::

    ##IFUSLOT X_FP Y_FP SPECID SPECSLOT IFUID IFUROT PLATESC
    001 -450.0 150.0 037 042 024 0.0 1.00

IDs are three digits, zero-padded; X_FP/Y_FP are focal-plane positions in arcsec.
A "full" file lists every slot, with the ones not in use commented out (``#``), and
includes the LRS, HRS and HPF units; a "short" file lists only the active VIRUS IFUs.

Slots form a 10 × 10 grid: slot ``0RC`` is row R, column C, nominally at
X = (C − 5) · 100″, Y = (R − 5) · 100″. Slot 055, the centre, holds no unit.
"""

import re
from dataclasses import dataclass

HEADER = "##IFUSLOT X_FP Y_FP SPECID SPECSLOT IFUID IFUROT PLATESC"
PITCH = 100.0
CENTRE = "055"
UNIT_TYPES = ("VIRUS", "LRS", "HRS", "HPF")
EMPTY_ID = "000"
ID = re.compile(r"\d{3}")


def slot_names() -> list[str]:
    return [f"0{row}{col}" for row in range(10) for col in range(10) if f"0{row}{col}" != CENTRE]


def nominal_position(slot: str) -> tuple[float, float]:
    row, col = int(slot[1]), int(slot[2])
    return (col - 5) * PITCH, (row - 5) * PITCH


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

    def line(self) -> str:
        text = (
            f"{self.slot} {self.x:.1f} {self.y:.1f} {self.specid} {self.specslot} "
            f"{self.ifuid} {self.ifurot:.1f} {self.platesc:.2f}"
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
        value = float(text)
    except ValueError:
        raise FplaneError(line, f"{name} {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FplaneError(line, f"{name} {text!r} is not a finite number")
    return value


def parse(text: str) -> list[Row]:
    """Rows of an fplane file; blank lines and ``##`` comments are skipped.

    Raise FplaneError naming the line of the first malformed row.
    """
    rows, seen = [], set()
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("##"):
            continue
        commented = stripped.startswith("#")
        fields = stripped.lstrip("#").split()
        if len(fields) != 8:
            raise FplaneError(number, f"expected 8 columns ({HEADER[2:]}), found {len(fields)}")
        slot, x, y, specid, specslot, ifuid, rot, scale = fields
        for name, value in (
            ("IFUSLOT", slot),
            ("SPECID", specid),
            ("SPECSLOT", specslot),
            ("IFUID", ifuid),
        ):
            if not ID.fullmatch(value):
                raise FplaneError(number, f"{name} {value!r} is not a three-digit ID")
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
            )
        )
    return rows


def rows_for(configuration: dict[str, dict], *, actual_pos: bool, full: bool) -> list[Row]:
    """The rows of the file for a configuration (slot → unit attributes)."""
    rows = []
    for slot in slot_names():
        unit = configuration.get(slot)
        x, y = nominal_position(slot)
        if unit is None:
            if full:
                rows.append(Row(slot, x, y, EMPTY_ID, EMPTY_ID, EMPTY_ID, 0.0, 1.0, commented=True))
            continue
        if not full and not (unit["type"] == "VIRUS" and unit["active"]):
            continue
        if actual_pos and unit.get("measured"):
            x, y = unit["measured"]["x"], unit["measured"]["y"]
        rows.append(
            Row(
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
        )
    return rows
