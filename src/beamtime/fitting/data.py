"""Uploaded reflectivity data: columns Q [1/Å], R, dR and optionally dQ [1/Å] — the full width
at half maximum (SNS, the default) or the 1-σ width (refl1d's load4, reductus, ORSO), as the
uploader says; 3-column data get the constant dQ/Q the uploader chooses (``with_resolution``).

Every mistake a file can contain becomes a DataError whose one-line message names the line
(and column), because that message is shown as-is to the person who uploaded the file.
"""

import math
import re
from dataclasses import dataclass

import numpy as np

MAX_POINTS = 100_000
MAX_BYTES = 10 * 1024 * 1024
COLUMNS = ("Q", "R", "dR", "dQ")
# The smallest Q [1/Å] a file may hold: a reflectometer measures from about 1e-3; far below,
# the data are not in 1/Å, and refl1d's resolution convolution divides by zero (Q ~ 1e-160).
MIN_Q = 1e-6
# float() also takes "1_000", non-ASCII digits, "nan" and "inf"; a data file holds plain decimal
# numbers, so anything else is refused rather than read in a way the user did not intend.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_NOT_IN_A_NUMBER = re.compile(r"[^0-9eE+\-.\s]")


class DataError(ValueError):
    """A problem with an uploaded data file, worded for the person who uploaded it."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message, line)  # both in args, so the error survives pickling
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


@dataclass(frozen=True, eq=False)
class ReflData:
    q: np.ndarray
    r: np.ndarray
    dr: np.ndarray
    dq: np.ndarray | None  # FWHM; None when the file has 3 columns

    def __len__(self) -> int:
        return len(self.q)

    def __eq__(self, other: object) -> bool:
        # The generated dataclass __eq__ would compare arrays with ==, which has no truth value.
        if not isinstance(other, ReflData):
            return NotImplemented
        mine, theirs = self._columns(), other._columns()
        return len(mine) == len(theirs) and all(map(np.array_equal, mine, theirs))

    def _columns(self) -> list[np.ndarray]:
        return [c for c in (self.q, self.r, self.dr, self.dq) if c is not None]

    def to_text(self) -> str:
        # repr() gives the shortest text that reads back as the same float: exact round trip.
        header = "# Q [1/Å]  R  dR" + ("  dQ [1/Å, FWHM]" if self.dq is not None else "")
        rows = (" ".join(repr(float(v)) for v in row) for row in zip(*self._columns(), strict=True))
        return "\n".join([header, *rows]) + "\n"


FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
DQ_COLUMNS = {"fwhm": "FWHM", "sigma": "1-σ"}  # what the 4th column may be
MAX_DQ_OVER_Q = 0.5


def with_resolution(data: ReflData, dq_column: str = "fwhm", dq_over_q: float | None = None):
    """The data with dQ as FWHM: a 4th column read as ``dq_column`` ("fwhm" or "sigma"); for
    3 columns, ``dq_over_q`` × Q (a FWHM fraction, 0 for none) — DataError if not given."""
    if dq_column not in DQ_COLUMNS:
        raise DataError(f"dQ column: {dq_column!r} is neither 'fwhm' nor 'sigma'")
    if data.dq is not None:
        factor = FWHM_PER_SIGMA if dq_column == "sigma" else 1.0
        return ReflData(data.q, data.r, data.dr, data.dq * factor)
    if dq_over_q is None:
        raise DataError(
            "3 columns: there is no dQ, so say the resolution dQ/Q (FWHM, e.g. 0.025), "
            "or 0 for none"
        )
    if not (math.isfinite(dq_over_q) and 0 <= dq_over_q <= MAX_DQ_OVER_Q):
        raise DataError(f"dQ/Q: {dq_over_q:g} is not between 0 and {MAX_DQ_OVER_Q:g}")
    return ReflData(data.q, data.r, data.dr, data.q * dq_over_q)


def parse_data(content: bytes, stored: bool = False) -> ReflData:
    """Read an uploaded file; raise DataError, with a one-line message, for anything wrong.
    ``stored``: data kept from an upload before a curve needed 2 points at different Q and
    Q ≥ MIN_Q are still read (refl1d_adapter.evaluate says what it cannot compute)."""
    if len(content) > MAX_BYTES:
        raise DataError(f"file is {len(content)} bytes, larger than the limit of {MAX_BYTES}")
    try:
        if b"\0" in content:  # valid UTF-8, but a sure sign of a binary file
            raise UnicodeError
        text = content.decode("utf-8-sig")  # a BOM is still UTF-8; some Windows editors add it
    except UnicodeError:
        raise DataError("not a text file (UTF-8)") from None

    data = []  # (line number, line without its comment), data lines only
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.split("#", 1)[0].strip()
        if line:
            data.append((number, line))
            if len(data) > MAX_POINTS:  # stop reading: a huge upload is refused at once
                raise DataError(f"more than {MAX_POINTS} points (line {number} is one too many)")
    if not data:
        raise DataError("no data")

    first, line = data[0]
    comma = "," in line
    width = len(_fields(line, comma))
    if width not in (3, 4):
        raise DataError(f"{width} columns found, 3 or 4 expected (Q R dR [dQ])", first)
    read = _read_at_once(data, comma, width) or _read_line_by_line(data, comma, width, first)
    if stored:
        return read
    if read.q[0] < MIN_Q:  # Q ascends: the first is the least
        raise DataError(f"Q {read.q[0]:g} is below {MIN_Q:g} 1/Å: is Q in 1/Å?", first)
    if read.q[0] == read.q[-1]:
        raise DataError(
            f"{len(read)} point{'s' if len(read) > 1 else ''} at one Q: a curve needs at least "
            "2 points at different Q"
        )
    return read


def _read_at_once(data: list[tuple[int, str]], comma: bool, width: int) -> ReflData | None:
    """The common case, a file with nothing wrong, read with a few whole-array operations;
    None at the first doubt, so that the line-by-line reading finds and names the fault."""
    lines = [line for _, line in data]
    if comma or any(len(line.split()) != width for line in lines):
        return None
    body = " ".join(lines)
    if _NOT_IN_A_NUMBER.search(body):  # within these characters float() reads what _NUMBER does
        return None
    try:
        values = [float(field) for field in body.split()]
    except ValueError:
        return None
    columns = np.array(values).reshape(-1, width).T.copy()
    q, dr = columns[0], columns[2]
    ok = np.isfinite(columns).all() and q[0] > 0 and (np.diff(q) >= 0).all() and (dr > 0).all()
    if not ok or (width == 4 and not (columns[3] > 0).all()):
        return None
    return ReflData(*columns[:3], dq=columns[3] if width == 4 else None)


def _read_line_by_line(data, comma: bool, width: int, first: int) -> ReflData:
    rows = []
    previous = (0, "")  # line number and Q field of the row before, for a message
    for number, line in data:
        if ("," in line) != comma:
            this, that = ("no comma", "commas") if comma else ("a comma", "spaces")
            message = f"{this}, but line {first} is separated by {that} (one separator per file)"
            raise DataError(message, number)
        fields = _fields(line, comma)
        if len(fields) != width:
            raise DataError(
                f"{width} columns expected (as on line {first}), found {len(fields)}", number
            )
        row = [_number(field, column, number) for column, field in enumerate(fields)]
        if row[0] <= 0:
            raise DataError(f"Q {_clip(fields[0])} is not greater than 0", number)
        if rows and row[0] < rows[-1][0]:  # repeated Q (two measurements at one Q) are fine
            raise DataError(
                f"Q {_clip(fields[0])} is less than the Q before it "
                f"({_clip(previous[1])} on line {previous[0]})",
                number,
            )
        if row[2] <= 0:  # dR weights the fit (1/dR²), so it must be a real uncertainty
            raise DataError(f"dR {_clip(fields[2])} is not greater than 0", number)
        if width == 4 and row[3] <= 0:
            raise DataError(f"negative or zero dQ {_clip(fields[3])}", number)
        rows.append(row)
        previous = (number, fields[0])

    columns = np.array(rows, dtype=float).T.copy()
    return ReflData(*columns[:3], dq=columns[3] if width == 4 else None)


def _fields(line: str, comma: bool) -> list[str]:
    return [f.strip() for f in line.split(",")] if comma else line.split()


def _number(field: str, column: int, line: int) -> float:
    if not _NUMBER.fullmatch(field):
        special = field.lower().lstrip("+-") in ("nan", "inf", "infinity")
        problem = "is not finite" if special else "is not a number"
        raise DataError(f"{_where(field, column)} {problem}", line)
    value = float(field)
    if not math.isfinite(value):  # e.g. 1e999, which float() turns into inf
        raise DataError(f"{_where(field, column)} is too large (not finite)", line)
    return value


def _where(field: str, column: int) -> str:
    return f"column {column + 1} ({COLUMNS[column]}) {_clip(field)!r}"


def _clip(field: str) -> str:
    # A single "number" can be megabytes long; keep the message to one readable line.
    return field if len(field) <= 30 else field[:30] + "…"
