"""Where a data set came from, for its pages: the reduction (template, node, Beamtime version),
the raw files it read with the DAQ run and configuration history each belongs to (when the
viewer may see them), and the polarization efficiencies the data were corrected with."""

import math
import re
from zoneinfo import ZoneInfo

from django.urls import reverse

RUN_FOLDER = re.compile(r"run_(\d+)$")
EFFICIENCIES = (  # the estimate's columns shown, with their names
    ("fp", "front polarizer"),
    ("rp", "rear polarizer"),
    ("ff", "front flipper"),
    ("rf", "rear flipper"),
)


def records(dataset, user) -> dict | None:
    """The data set's provenance as its pages show it; None for a plain upload."""
    provenance = dataset.provenance
    if not provenance:
        return None
    template = provenance.get("template") or {}
    nodes = template.get("nodes") or []
    node = provenance.get("node")
    title = nodes[node].get("title", "") if isinstance(node, int) and 0 <= node < len(nodes) else ""
    return {
        "beamtime": provenance.get("beamtime", ""),
        "template": template.get("name", ""),
        "node": title,
        "files": [file_record(f, user) for f in dataset.provenance_files()],
        "efficiencies": [efficiency_table(used) for used in provenance.get("polarization") or []],
    }


def file_record(info: dict, user) -> dict:
    """A raw file as ``source:path``; for a DAQ run's file also its run (number, experiment,
    its files page while the experiment is active, the configuration history at its start)
    when ``user`` may see the experiment."""
    record = {"label": f"{info.get('source')}:{info.get('path')}", "run": None}
    parts = str(info.get("path", "")).split("/")
    match = RUN_FOLDER.match(parts[2]) if info.get("source") == "daq" and len(parts) >= 4 else None
    if match:
        record["run"] = run_record(parts[0], int(match.group(1)), user)
    return record


def run_record(experiment: str, number: int, user) -> dict | None:
    from beamtime.core.access import instruments_for_user
    from beamtime.daq.models import RunMetadata

    run = (
        RunMetadata.objects.filter(experiment__name=experiment, run_number=number)
        .select_related("experiment", "config_change__instrument")
        .first()
    )
    if run is None or not run.experiment.is_member(user):
        return None
    found = {
        "number": number,
        "experiment": experiment,
        "title": run.title,
        "files": "",
        "configs": "",
    }
    if run.experiment.is_active:
        found["files"] = reverse("daq:run-files", args=[number])
    change = run.config_change
    if change is not None and instruments_for_user(user).filter(pk=change.instrument_id).exists():
        at = run.start_datetime.astimezone(ZoneInfo(change.instrument.timezone))
        found["configs"] = (
            reverse("configs:instrument", args=[change.instrument.name])
            + "?at="
            + at.strftime("%Y%m%dT%H:%M:%S.%f")
        )
    return found


def efficiency_table(used: dict) -> dict:
    """One estimate's efficiencies: its node, controls, and a row per slit setting of each
    efficiency in % with its uncertainty."""
    rows = []
    for value in used.get("values") or []:
        for index, slit in enumerate(value.get("slit1") or []):
            cells = [_percent(value, name, index) for name, _ in EFFICIENCIES]
            rows.append({"slit1": slit, "cells": cells})
    controls = {}
    for value in used.get("values") or []:
        controls.update({k: value[k] for k in ("FRbalance", "Emin", "Imin", "clip") if k in value})
    return {
        "title": used.get("title", ""),
        "node": used.get("node"),
        "controls": controls,
        "names": [label for _, label in EFFICIENCIES],
        "rows": rows,
    }


def _percent(value: dict, name: str, index: int) -> str:
    try:
        x, dx = value[name][index], value["d" + name][index]
    except (KeyError, IndexError, TypeError):
        return "–"
    if x is None or not math.isfinite(x):
        return "–"
    if dx is None or not math.isfinite(dx):
        return f"{100 * x:.2f}"
    return f"{100 * x:.2f} ± {100 * dx:.2f}"
