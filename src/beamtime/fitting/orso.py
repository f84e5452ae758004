"""ORSO reflectivity text files (``.ort``, https://www.reflectometry.org/) as data sets, read
with orsopy: the first data set's Qz, R, sR and sQz become the Q, R, dR and dQ columns (ORSO's
uncertainties are 1-σ unless the header says FWHM; Q in 1/nm is turned into 1/Å), and its
header is kept, as YAML, for the data set's page. A file with several data sets gives the
one asked for (the first by default), and says so; one whose data sets are each a
cross-section of polarized data (the header's polarization pp, pm, mp, mm, ORSO's
``data_source.measurement.instrument_settings.polarization``) gives them all, together."""

import io
import json

from beamtime.fitting.data import FWHM_PER_SIGMA, DataError, ReflData, parse_data
from beamtime.reduction.export import read_provenance

MAGIC = b"# # ORSO reflectivity data file"
Q_UNITS = {"1/angstrom": 1.0, "1/nm": 0.1}  # to 1/Å
MAX_HEADER_CHARS = 200_000


def is_orso(content: bytes) -> bool:
    return content.removeprefix(b"\xef\xbb\xbf").startswith(MAGIC)


def read_orso(datasets: list, number: int = 1) -> tuple[str, dict, dict]:
    """(data set ``number`` (from 1) of the file's ``datasets`` (``load``) as 4-column text
    ``Q R dR dQ``, dQ 1-σ; the metadata to keep; the Beamtime provenance if a reduction wrote
    the file). DataError says what is wrong."""
    if not 1 <= number <= len(datasets):
        raise DataError(f"ORSO data set: {number} asked for, the file holds {len(datasets)}")
    chosen = datasets[number - 1]
    name = _name(chosen, number)
    table = _table(chosen, name)
    metadata = _metadata(chosen, datasets, name)
    if len(datasets) > 1:
        metadata["note"] = (
            f"The file holds {len(datasets)} data sets; this is number {number}, {name!r}. "
            "Upload the file again choosing another number for another."
        )
    return table, metadata, _provenance(chosen.info)


def read_orso_polarized(datasets: list) -> tuple[dict[str, str], dict, dict] | None:
    """The file's ``datasets`` (``load``) as cross-sections when there are two or more and
    each is one (its header's polarization pp, pm, mp or mm): ({"++": 4-column text with dQ 1-σ, …},
    metadata, provenance); None for any other file. DataError when two are the same one."""
    from beamtime.fitting.polarized import CROSS_SECTIONS, ORSO

    states = [_polarization(d.info) for d in datasets]
    if len(datasets) < 2 or not all(s in ORSO for s in states):
        return None
    texts, numbers = {}, {}
    for number, (dataset, state) in enumerate(zip(datasets, states, strict=True), start=1):
        xs = ORSO[state]
        if xs in texts:
            raise DataError(
                f"ORSO: data sets {numbers[xs]} and {number} are both polarization {state} "
                f"({xs}); upload one of them by its number"
            )
        texts[xs], numbers[xs] = _table(dataset, _name(dataset, number)), number
    metadata = _metadata(datasets[0], datasets, _name(datasets[0], 1))
    metadata["cross_sections"] = {xs: _name(datasets[numbers[xs] - 1], numbers[xs]) for xs in texts}
    return (
        {xs: texts[xs] for xs in CROSS_SECTIONS if xs in texts},
        metadata,
        _provenance(datasets[0].info),
    )


def load(content: bytes) -> list:
    """The ORSO file's data sets (orsopy's); DataError if it cannot be read or holds none."""
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
    return datasets


def _name(dataset, number: int) -> str:
    return str(dataset.info.data_set) if dataset.info.data_set is not None else str(number)


def _polarization(info) -> str | None:
    """The header's polarization (data_source.measurement.instrument_settings), e.g. "pp"."""
    try:
        value = info.data_source.measurement.instrument_settings.polarization
    except AttributeError:
        return None
    return getattr(value, "value", value) if value is not None else None


def _table(dataset, name: str) -> str:
    """The data set as the text ``Q R dR [dQ]``, Q in 1/Å, dQ 1-σ; DataError names it."""
    columns = _columns(dataset.info.columns, dataset.data.shape)
    q = dataset.data[:, 0] * Q_UNITS[columns[0]]
    r = dataset.data[:, 1]
    dr = dataset.data[:, 2] / (FWHM_PER_SIGMA if columns[2] == "FWHM" else 1.0)
    dq = None
    if columns[3] is not None:
        dq = dataset.data[:, 3] * Q_UNITS[columns[0]]
        dq = dq / (FWHM_PER_SIGMA if columns[3] == "FWHM" else 1.0)
    table = ReflData(q, r, dr, dq).to_text().split("\n", 1)[1]  # without its FWHM header line
    try:
        parse_data(table.encode())  # the same rules as a plain file, rows counted from 1
    except DataError as exc:
        where = f"data row {exc.line}: " if exc.line else ""
        raise DataError(f"ORSO data set {name!r}: {where}{exc.message}") from None
    return table


def _metadata(chosen, datasets, name: str) -> dict:
    header = chosen.info.to_yaml()
    return {
        "format": "ORSO",
        "data_set": name,
        "data_sets": [str(d.info.data_set) for d in datasets],
        "header": header if len(header) <= MAX_HEADER_CHARS else header[:MAX_HEADER_CHARS] + "…",
    }


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
