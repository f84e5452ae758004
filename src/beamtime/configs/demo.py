"""A plausible multi-year history of the HETDEX focal plane: LRS2 in its real seats, VIRUS
IFUs installed in batches from the centre out from first light on, a swap, a spectrograph
out of service and back, and measured positions arriving.

LRS2-B (IFUSLOT 056, SPECID 503, IFUID 7001) and LRS2-R (066, SPECID 502, IFUID 7002) are as
in HETDEX's own files; their SPECSLOT is 000 (none), as no public file gives one. HRS and HPF
are left out: no public fplane file shows where they would be.
"""

import random
from datetime import UTC, datetime

from beamtime.configs import store
from beamtime.configs.fplane import LRS2, nominal_position, slot_names
from beamtime.configs.models import Instrument

LRS2_UNITS = {
    "056": {"specid": "503", "ifuid": "7001"},  # LRS2-B
    "066": {"specid": "502", "ifuid": "7002"},  # LRS2-R
}
CENTRAL = {"054", "055", "064", "065"}  # empty in every known file


def _by_distance_from_centre() -> list[str]:
    virus = [s for s in slot_names() if s not in LRS2 and s not in CENTRAL]
    return sorted(virus, key=lambda s: (sum(v * v for v in nominal_position(s)), s))


def _unit(kind: str, n: int, active: bool = True) -> dict:
    return {
        "type": kind,
        "ifuid": f"{n + 1:03d}",
        "specid": f"{301 + n:03d}",  # one spectrograph unit per IFU
        "specslot": f"{101 + n:03d}",
        "ifurot": 0.0,
        "platesc": 1.0,
        "active": active,
        "measured": None,
    }


def load(stdout) -> None:
    hetdex = Instrument.objects.get(name="hetdex")
    if hetdex.changes.exists():
        return
    rng = random.Random(2017)
    order = _by_distance_from_centre()
    state: dict[str, dict] = {}
    numbered = 0

    def install(count: int):
        nonlocal numbered  # VIRUS IFUs installed so far, filling slots from the centre out
        for slot in order[numbered : numbered + count]:
            state[slot] = _unit("VIRUS", numbered)
            numbered += 1

    def record(when: datetime, reason: str):
        store.apply_change(
            hetdex,
            {k: dict(v) for k, v in state.items()},
            valid_from=when,
            reason=reason,
            source="demo",
            replace_all=True,
        )

    for slot, ids in LRS2_UNITS.items():
        state[slot] = {**_unit("LRS", 0), **ids, "specslot": "000"}
    install(16)
    record(datetime(2017, 1, 10, 18, tzinfo=UTC), "first light: 16 VIRUS IFUs and LRS2")
    for year, month in [
        (2017, 5),
        (2017, 9),
        (2018, 1),
        (2018, 6),
        (2019, 1),
        (2019, 7),
        (2020, 2),
    ]:
        install(8)
        record(datetime(year, month, 3, 17, tzinfo=UTC), "8 more VIRUS IFUs installed")
        if (year, month) == (2018, 1):
            a, b = order[3], order[5]
            state[a], state[b] = (
                {**state[b], "specid": state[a]["specid"], "specslot": state[a]["specslot"]},
                {**state[a], "specid": state[b]["specid"], "specslot": state[b]["specslot"]},
            )
            record(datetime(2018, 3, 2, 20, tzinfo=UTC), f"IFUs in slots {a} and {b} swapped")
        if (year, month) == (2018, 6):
            broken = order[10]
            state[broken] = {**state[broken], "active": False}
            record(
                datetime(2018, 9, 20, 16, tzinfo=UTC),
                f"spectrograph {state[broken]['specid']} out of service",
            )
            state[broken] = {**state[broken], "active": True}
            record(
                datetime(2018, 11, 5, 16, tzinfo=UTC),
                f"spectrograph {state[broken]['specid']} repaired",
            )
        if (year, month) == (2019, 1):
            for slot, unit in state.items():
                x, y = nominal_position(slot)
                unit["measured"] = {
                    "x": round(x + rng.uniform(-2, 2), 2),
                    "y": round(y + rng.uniform(-2, 2), 2),
                }
            record(datetime(2019, 2, 14, 15, tzinfo=UTC), "measured IFU positions from astrometry")
    stdout.write(f"Demo: HETDEX focal plane with {hetdex.changes.count()} changes since 2017.\n")
