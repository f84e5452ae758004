"""Reduced reflectivity as an ORSO reflectivity text file (.ort, https://www.reflectometry.org/),
written with orsopy: columns Qz, R, sR (1-σ) and sQz (the 1-σ resolution), one data set per
cross-section, the raw files as read (with their versions) and the whole provenance in the
header."""

import datetime
import io
import json

import numpy as np

import beamtime

# ORSO's names for the cross-sections (front spin, back spin).
# reductus' signs (front, back) as ORSO names them; one sign is half-polarized data, taken as
# the incident beam's (a polarizer, no analyzer): reductus does not keep which side it was.
POLARIZATION = {"--": "mm", "-+": "mp", "+-": "pm", "++": "pp", "+": "po", "-": "mo"}


def raw_files(header: dict) -> list:
    """Every raw file the provenance names: the template's, as the config read them."""
    from orsopy import fileio  # for this export only

    files = {}
    config = header.get("config") or {}
    for index, node in enumerate(header.get("template", {}).get("nodes", [])):
        chosen = {**(node.get("config") or {}), **config.get(str(index), {})}
        for info in chosen.get("filelist") or []:
            files[(info["source"], info["path"])] = info.get("mtime")
    return [
        fileio.File(
            file=f"{source}:{path}",
            timestamp=datetime.datetime.fromtimestamp(mtime, datetime.UTC) if mtime else None,
        )
        for (source, path), mtime in files.items()
    ]


def orso_text(values: list, header: dict) -> str:
    """The data sets (refldata) as one ORSO text file."""
    from orsopy import fileio  # for this export only

    datasets = []
    for value in values:
        info = fileio.Orso.empty()
        info.data_set = f"{value.name} {value.polarization}".strip()
        info.columns = [
            fileio.Column("Qz", "1/angstrom"),
            fileio.Column("R"),
            fileio.ErrorColumn("R", "uncertainty", "sigma", "gaussian"),
            fileio.ErrorColumn("Qz", "resolution", "sigma", "gaussian"),
        ]
        source = info.data_source
        source.experiment.probe = "neutron"
        source.experiment.instrument = "NCNR PBR"
        source.sample.name = value.sample_name
        settings = source.measurement.instrument_settings
        settings.wavelength = fileio.Value(value.wavelength, "angstrom")
        settings.polarization = POLARIZATION.get(value.polarization, "unpolarized")
        source.measurement.data_files = raw_files(header)
        info.reduction.software = fileio.Software("Beamtime", beamtime.__version__)
        info.reduction.timestamp = datetime.datetime.now(datetime.UTC)
        info.reduction.comment = "provenance: " + json.dumps(header, separators=(",", ":"))
        table = np.column_stack([value.Qz, value.v, value.dv, value.dQ])
        datasets.append(fileio.OrsoDataset(info, table))
    buffer = io.StringIO()
    fileio.save_orso(datasets, buffer)
    return buffer.getvalue()
