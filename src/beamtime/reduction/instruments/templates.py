"""Predefined templates: the usual reductions of each instrument, offered in the editor."""

import json
from importlib import resources


def predefined(instrument: str) -> list[dict]:
    folder = resources.files("beamtime.reduction") / "predefined" / instrument
    if not folder.is_dir():
        return []
    found = [json.loads(f.read_text()) for f in folder.iterdir() if f.name.endswith(".json")]
    return sorted(found, key=lambda t: t["name"])
