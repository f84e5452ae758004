"""Exports of reduced data, each starting with its provenance: the template, the config, the
node and terminal exported and the Beamtime version, from which the reduction can be rebuilt
("reload exported").

Column text: the first line is ``# `` and the provenance as one line of JSON (with the
``resolution`` chosen for dQ: FWHM, the default, or sigma), then ``#`` comment lines naming
the data set and the columns (``dQ_FWHM`` or ``dQ_sigma``), then the numbers (readable by
the fitting app, refl1d and numpy.loadtxt; the fitting app takes dQ as FWHM). HDF5: one
group per data set holding the same columns and facts as the text, and every other field of
the data, the provenance in the file's ``provenance`` attribute. ORSO (``.ort``, via
orsopy): the reflectivity with dQ as 1-σ, the provenance in the header's reduction comment.
"""

import io
import json
import re
import zipfile

import numpy as np

import beamtime
from beamtime.reduction.dataflow.calc import DataType
from beamtime.reduction.resolution import FWHM_TO_SIGMA

PROVENANCE_KEYS = ("template", "config", "node", "terminal")


def provenance(template: dict, config: dict, node: int, terminal: str) -> dict:
    return {
        "beamtime": beamtime.__version__,
        "template": template,
        "config": config,
        "node": node,
        "terminal": terminal,
    }


def _safe(name: str) -> str:
    return re.sub(r"[^\w.+-]+", "_", name).strip("_") or "data"


def _columns(value, datatype: DataType, header: dict) -> dict:
    """The value's columns; with ``"resolution": "sigma"`` in the header, those given as
    FWHM (names ending ``_FWHM``) as 1-σ (``_sigma``)."""
    columns = datatype.columns(value)
    if header.get("resolution") != "sigma":
        return columns
    return {
        (k.removesuffix("_FWHM") + "_sigma" if k.endswith("_FWHM") else k): (
            np.asarray(c) * FWHM_TO_SIGMA if k.endswith("_FWHM") else c
        )
        for k, c in columns.items()
    }


def text_file(value, datatype: DataType, header: dict) -> str:
    """The column text of one value (FWHM or 1-σ as the header's ``resolution`` says)."""
    columns = _columns(value, datatype, header)
    meta = datatype.metadata(value)
    lines = ["# " + json.dumps(header, separators=(",", ":"))]
    lines += [f"# {key}: {json.dumps(v)}" for key, v in meta.items()]
    lines.append("# columns: " + " ".join(columns))
    table = np.column_stack([np.asarray(c, dtype=float) for c in columns.values()])
    lines += [" ".join(f"{x:.10g}" for x in row) for row in table]
    return "\n".join(lines) + "\n"


def hdf5_file(values: list, names: list[str], datatype: DataType, header: dict) -> bytes:
    """One group per value, named ``names``: the text's columns (datasets, FWHM or 1-σ as
    there, their names in order in the attribute ``columns``) and facts (attributes), then
    every other field the value is kept as; the provenance in the file's attribute
    ``provenance``."""
    import h5py  # for this export only: web workers do not load it otherwise

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["provenance"] = json.dumps(header)
        for name, value in zip(names, values, strict=True):
            group = f.create_group(name)
            columns = _columns(value, datatype, header)
            group.attrs["columns"] = " ".join(columns)
            for key, column in columns.items():
                group.create_dataset(key, data=np.asarray(column, dtype=float))
            fields = {**datatype.metadata(value), **datatype.to_stored(value)}
            for key, item in fields.items():
                if key in group or key in group.attrs or item is None:
                    continue  # written already; HDF5 has no null: an absent value is left out
                if isinstance(item, (list, tuple, np.ndarray)):
                    array = np.asarray(item)
                    if array.dtype.kind in "biuf":
                        group.create_dataset(key, data=array.astype(float))
                    else:  # names
                        strings = [str(x) for x in item]
                        group.create_dataset(key, data=strings, dtype=h5py.string_dtype())
                elif isinstance(item, dict):
                    group.attrs[key] = json.dumps(item)
                else:
                    group.attrs[key] = item
    return buffer.getvalue()


def export(values: list, datatype: DataType, header: dict, form: str) -> tuple[str, bytes, str]:
    """(file name, contents, media type) of ``values`` exported as ``form``, "text", "hdf5"
    or "orso" (ORSO reflectivity text, every data set in one file). Several text files come
    zipped, each with the whole provenance."""
    if form == "orso":
        if datatype.orso is None:
            noun = datatype.noun or f"{datatype.name} data"
            raise ValueError(f"{noun} are not a reflectivity: export them as text or HDF5")
        return "reduced.ort", datatype.orso(values, header).encode(), "text/plain"
    names = [_safe(datatype.metadata(v).get("name", "data")) for v in values]
    names = [f"{i:02d}_{n}" if len(values) > 1 else n for i, n in enumerate(names)]
    if form == "hdf5":
        return "reduced.h5", hdf5_file(values, names, datatype, header), "application/x-hdf5"
    texts = [text_file(v, datatype, {**header, "index": i}) for i, v in enumerate(values)]
    if len(texts) == 1:
        return names[0] + ".txt", texts[0].encode(), "text/plain"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in zip(names, texts, strict=True):
            z.writestr(name + ".txt", text)
    return "reduced.zip", buffer.getvalue(), "application/zip"


def read_provenance(text: str) -> dict:
    """The provenance at the head of an exported text file; ValueError says what is wrong."""
    first = text.split("\n", 1)[0]
    if not first.startswith("# {"):
        raise ValueError("line 1: not a Beamtime reduction export (no provenance header)")
    try:
        header = json.loads(first[2:])
    except ValueError as exc:
        raise ValueError(f"line 1: the provenance header is damaged ({exc})") from None
    missing = [k for k in PROVENANCE_KEYS if not isinstance(header, dict) or k not in header]
    if missing:
        raise ValueError(f"line 1: the provenance header lacks {', '.join(missing)}")
    return header


def fingerprint(template, config, node) -> str | None:
    """What a reduction computes at ``node``: the steps it depends on (modules, their controls
    with the files as source and path, whatever their version) and the wires between them,
    numbered in their order in the template — so the same reduction has the same fingerprint
    whatever else the template holds, where its nodes sit, or how they are titled. None for a
    malformed template."""
    return fingerprints(template, config, [node]).get(node) if isinstance(node, int) else None


def fingerprints(template, config, nodes) -> dict[int, str]:
    """The fingerprint of each of ``nodes`` that has one, the template's wires sorted by the
    node they go into once for all: each node's then reads only the wires of its steps."""
    try:
        into: dict[int, list[dict]] = {}
        for wire in template["wires"]:
            into.setdefault(wire["target"][0], []).append(wire)
    except (KeyError, TypeError, IndexError):
        return {}
    found = {node: _fingerprint(template, config, node, into) for node in nodes}
    return {node: key for node, key in found.items() if key is not None}


def _fingerprint(template, config, node: int, into: dict[int, list[dict]]) -> str | None:
    import hashlib

    try:
        nodes = template["nodes"]
        upstream, todo = set(), [node]
        while todo:
            index = todo.pop()
            if not isinstance(index, int) or not 0 <= index < len(nodes) or index in upstream:
                continue
            upstream.add(index)
            todo += [wire["source"][0] for wire in into.get(index, [])]
        if node not in upstream:
            return None
        order = {old: new for new, old in enumerate(sorted(upstream))}
        config = config if isinstance(config, dict) else {}
        steps = [
            {
                "module": nodes[i]["module"],
                "config": _unversioned(
                    {**(nodes[i].get("config") or {}), **(config.get(str(i)) or {})}
                ),
            }
            for i in sorted(upstream)
        ]
        joined = sorted(
            [order[w["source"][0]], w["source"][1], order[w["target"][0]], w["target"][1]]
            for i in upstream
            for w in into.get(i, [])
        )
        text = json.dumps(
            {"instrument": template.get("instrument"), "steps": steps, "wires": joined},
            sort_keys=True,
        )
    except (KeyError, TypeError, IndexError, AttributeError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def _unversioned(value):
    """``value`` with every file's version (its ``mtime``, and ``size``) left out."""
    if isinstance(value, dict):
        if "source" in value and "path" in value:
            return {k: _unversioned(v) for k, v in value.items() if k not in ("mtime", "size")}
        return {k: _unversioned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unversioned(v) for v in value]
    return value
