"""What changed in the electronics' configuration between two runs: the archived set of each
ECC server (names, SHA-256 and the .xcfg text of each step) compared file by file."""

import difflib

from beamtime.configs import store
from beamtime.daq.models import RunMetadata
from beamtime.daq.runs import STEPS, ecc_instrument


def archived(run: RunMetadata) -> dict[str, dict]:
    """Server name → the attributes archived when ``run`` started."""
    if run.start_datetime is None:
        return {}
    entries = store.configuration_at(ecc_instrument(run.experiment), run.start_datetime)
    return {name: entry.attributes for name, entry in entries.items()}


def step_diff(before: dict, after: dict, step: str, labels: tuple[str, str]) -> dict:
    old = {"name": before.get(step), "sha256": before.get(f"{step}_sha256")}
    new = {"name": after.get(step), "sha256": after.get(f"{step}_sha256")}
    texts = before.get(f"{step}_xcfg"), after.get(f"{step}_xcfg")
    if None in texts:  # not archived (no folder configured, or unreadable)
        lines = []
        same = old == new and old["sha256"] is not None
    else:
        lines = list(
            difflib.unified_diff(
                texts[0].splitlines(),
                texts[1].splitlines(),
                f"{labels[0]}/{step}-{old['name']}.xcfg",
                f"{labels[1]}/{step}-{new['name']}.xcfg",
                lineterm="",
            )
        )
        same = not lines and old["name"] == new["name"]
    return {"step": step, "before": old, "after": new, "same": same, "diff": lines}


def run_diff(a: RunMetadata, b: RunMetadata) -> list[dict]:
    """Per server (in either run): its steps compared, ``archived`` False for a server whose
    files were not archived in one of the runs."""
    before, after = archived(a), archived(b)
    labels = (f"run{a.run_number}", f"run{b.run_number}")
    found = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name, {}), after.get(name, {})
        steps = [step_diff(old, new, step, labels) for step in STEPS]
        found.append(
            {
                "server": name,
                "only_in": None if old and new else labels[0] if old else labels[1],
                "archived": all(
                    f"{s}_xcfg" in d and d[f"{s}_xcfg"] is not None
                    for d in (old, new)
                    for s in STEPS
                ),
                "same": all(s["same"] for s in steps) and bool(old) and bool(new),
                "steps": steps,
            }
        )
    return found
