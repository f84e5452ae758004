"""ORSO reflectivity text files (``.ort``, https://www.reflectometry.org/) as data sets, read
with orsopy: the first data set's Qz, R, sR and sQz become the Q, R, dR and dQ columns (ORSO's
uncertainties are 1-σ unless the header says FWHM; Q in 1/nm is turned into 1/Å), and its
header is kept, as YAML, for the data set's page. A file with several data sets gives the
one asked for (the first by default), and says so."""

import io
import json

from beamtime.fitting.data import FWHM_PER_SIGMA, DataError, ReflData, parse_data
from beamtime.reduction.export import read_provenance

MAGIC = b"# # ORSO reflectivity data file"
Q_UNITS = {"1/angstrom": 1.0, "1/nm": 0.1}  # to 1/Å
MAX_HEADER_CHARS = 200_000


def is_orso(content: bytes) -> bool:
    return content.removeprefix(b"\xef\xbb\xbf").startswith(MAGIC)


def read_orso(content: bytes, number: int = 1) -> tuple[str, dict, dict]:
    """(data set ``number`` (from 1) as 4-column text ``Q R dR dQ``, dQ 1-σ; the metadata to
    keep; the Beamtime provenance if a reduction wrote the file). DataError says what is wrong."""
    from orsopy import fileio  # 1.5 s to import: only for a request that reads ORSO

    try:
        text = content.decode("utf-8-sig")
    except UnicodeError:
        raise DataError("ORSO: not a text file (UTF-8)") from None
    try:
        datasets = fileio.load_orso(io.StringIO(text))
    except Exception as exc:  # orsopy raises many kinds (YAML, schema, numbers): say which
        problem = f"{type(exc).__name__}: {exc}"[:200]
        raise DataError(f"ORSO: the file cannot be read ({problem})") from None
    if not datasets:
        raise DataError("ORSO: the file holds no data set")
    if not 1 <= number <= len(datasets):
        raise DataError(f"ORSO data set: {number} asked for, the file holds {len(datasets)}")
    first = datasets[number - 1]
    name = str(first.info.data_set) if first.info.data_set is not None else "1"
    columns = _columns(first.info.columns, first.data.shape)
    q = first.data[:, 0] * Q_UNITS[columns[0]]
    r = first.data[:, 1]
    dr = first.data[:, 2] / (FWHM_PER_SIGMA if columns[2] == "FWHM" else 1.0)
    dq = None
    if columns[3] is not None:
        dq = first.data[:, 3] * Q_UNITS[columns[0]]
        dq = dq / (FWHM_PER_SIGMA if columns[3] == "FWHM" else 1.0)
    table = ReflData(q, r, dr, dq).to_text().split("\n", 1)[1]  # without its FWHM header line
    try:
        parse_data(table.encode())  # the same rules as a plain file, rows counted from 1
    except DataError as exc:
        where = f"data row {exc.line}: " if exc.line else ""
        raise DataError(f"ORSO data set {name!r}: {where}{exc.message}") from None
    header = first.info.to_yaml()
    metadata = {
        "format": "ORSO",
        "data_set": name,
        "data_sets": [str(d.info.data_set) for d in datasets],
        "header": header if len(header) <= MAX_HEADER_CHARS else header[:MAX_HEADER_CHARS] + "…",
    }
    if len(datasets) > 1:
        metadata["note"] = (
            f"The file holds {len(datasets)} data sets; this is number {number}, {name!r}. "
            "Upload the file again choosing another number for another."
        )
    return table, metadata, _provenance(first.info)


def _columns(columns, shape) -> tuple[str, str, str, str | None]:
    """The Q unit, "R", how dR is given and how dQ is (None: no dQ column); DataError unless
    the first columns are Qz, R and R's uncertainty, as ORSO prescribes."""
    if len(shape) != 2 or shape[1] < 3 or len(columns) < 3:
        raise DataError("ORSO: the data set needs the columns Qz, R and sR (R's uncertainty)")
    qz, r, sr = columns[:3]
    if qz.name != "Qz" or (qz.unit or "1/angstrom") not in Q_UNITS:
        raise DataError(f"ORSO: column 1 is {qz.name} [{qz.unit}], not Qz in 1/angstrom or 1/nm")
    if r.name != "R":
        raise DataError(f"ORSO: column 2 is {r.name}, not R")
    if getattr(sr, "error_of", None) != "R":
        raise DataError("ORSO: column 3 is not R's uncertainty (sR): the fit needs dR")
    dq = None
    if len(columns) > 3 and shape[1] > 3 and getattr(columns[3], "error_of", None) == "Qz":
        dq = columns[3].value_is or "sigma"
    return qz.unit or "1/angstrom", "R", sr.value_is or "sigma", dq


def _provenance(info) -> dict:
    """The reduction's provenance, as Beamtime writes it in the header's reduction comment."""
    comment = getattr(info.reduction, "comment", None)
    if not isinstance(comment, str) or not comment.startswith("provenance: "):
        return {}
    try:
        return read_provenance("# " + json.dumps(json.loads(comment.removeprefix("provenance: "))))
    except ValueError:
        return {}
