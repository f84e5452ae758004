"""Polarized data: up to four cross-sections, ``++``, ``+-``, ``-+`` and ``--`` (the incident
neutron's spin, then the reflected one's), each with its own Q points and resolution.

Column files come one per cross-section, named by the uploader or by the file name
(``…_pp.refl``, ``…++.txt``, ``…UP_DOWN.dat``); every mistake is a DataError naming the file.
"""

import re

from beamtime.fitting.data import DataError, ReflData, parse_data, with_resolution

CROSS_SECTIONS = ("++", "+-", "-+", "--")
MAX_FILES = len(CROSS_SECTIONS)
# What a cross-section may be called: ORSO's names (front spin, back spin: p plus, m minus),
# up/down letters and NICE's entry names.
_NAMES = {
    **{xs: xs for xs in CROSS_SECTIONS},
    **dict(zip(("pp", "pm", "mp", "mm"), CROSS_SECTIONS, strict=True)),
    **dict(zip(("uu", "ud", "du", "dd"), CROSS_SECTIONS, strict=True)),
    **dict(zip(("up_up", "up_down", "down_up", "down_down"), CROSS_SECTIONS, strict=True)),
}
ORSO = {"pp": "++", "pm": "+-", "mp": "-+", "mm": "--"}  # ORSO's polarization values
_SIGNS_AT_END = re.compile(r"(?:^|[^+-])([+-]{2})$")
_WORD_AT_END = re.compile(
    r"(?:^|[._:\s-])(up_up|up_down|down_up|down_down|pp|pm|mp|mm|uu|ud|du|dd)$"
)
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,5}$")


def cross_section(label: str) -> str:
    """``label`` as one of ++, +-, -+, --; DataError for anything else."""
    found = _NAMES.get(label.strip().lower())
    if found is None:
        raise DataError(f"cross-section: {label[:20]!r} is not one of {', '.join(CROSS_SECTIONS)}")
    return found


def from_file_name(name: str) -> str | None:
    """The cross-section a file name ends with (before its extensions), or None."""
    stem = name.rsplit("/", 1)[-1]
    for _ in range(3):  # data_pp.refl, data_pp.refl.txt
        for pattern in (_SIGNS_AT_END, _WORD_AT_END):
            match = pattern.search(stem.lower())
            if match:
                return _NAMES[match.group(1)]
        stem, removed = _EXTENSION.subn("", stem)
        if not removed:
            break
    return None


def check_count(files: int) -> None:
    """DataError unless there are one to four files."""
    if not files:
        raise DataError("files: choose one data file per cross-section (at most four)")
    if files > MAX_FILES:
        raise DataError(
            f"files: {files} given; a polarized data set holds at most four cross-sections "
            f"({', '.join(CROSS_SECTIONS)})"
        )


def read_files(
    files: list[tuple[str, bytes, str]], dq_column: str = "fwhm", dq_over_q: float | None = None
) -> dict[str, ReflData]:
    """Column files as cross-sections, dQ as FWHM: ``files`` are (file name, content, the
    cross-section the uploader chose, "" to read it from the name). DataError names the file."""
    from beamtime.fitting.orso import is_orso

    check_count(len(files))
    sections: dict[str, ReflData] = {}
    named: dict[str, str] = {}
    for name, content, chosen in files:
        if is_orso(content):
            raise DataError(
                f"{name}: an ORSO file holds its cross-sections itself: upload it alone"
            )
        if chosen:
            try:
                xs = cross_section(chosen)
            except DataError as exc:
                raise DataError(f"{name}: {exc}") from None
        else:
            xs = from_file_name(name)
            if xs is None:
                raise DataError(
                    f"{name}: the name does not say its cross-section (end it in _pp, _pm, _mp, "
                    "_mm or ++, +-, -+, --), so choose it"
                )
        if xs in sections:
            raise DataError(f"{name}: {named[xs]} is {xs} already (one file per cross-section)")
        if is_orso(content):
            raise DataError(
                f"{name}: an ORSO file holds its cross-sections itself: upload it alone"
            )
        try:
            sections[xs] = with_resolution(parse_data(content), dq_column, dq_over_q)
        except DataError as exc:
            raise DataError(f"{name} ({xs}): {exc}") from None
        named[xs] = name
    return {xs: sections[xs] for xs in CROSS_SECTIONS if xs in sections}
