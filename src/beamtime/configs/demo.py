"""A plausible multi-year history of the HETDEX focal plane: IFUs installed in batches
from first light on, a swap, a spectrograph out of service and back, and measured
positions arriving."""

import random
from datetime import UTC, datetime

from beamtime.configs import store
from beamtime.configs.fplane import nominal_position, slot_names
from beamtime.configs.models import Instrument

SPECIAL = {"056": "LRS", "066": "LRS", "046": "HRS", "064": "HPF"}


def _by_distance_from_centre() -> list[str]:
    virus = [s for s in slot_names() if s not in SPECIAL]
    return sorted(virus, key=lambda s: (sum(v * v for v in nominal_position(s)), s))


def _unit(kind: str, n: int, active: bool = True) -> dict:
    return {
        "type": kind,
        "ifuid": f"{n + 1:03d}",
        "specid": f"{n // 2 + 1:03d}",
        "specslot": "001" if n % 2 == 0 else "002",
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

    for i, (slot, kind) in enumerate(SPECIAL.items()):
        state[slot] = _unit(kind, 900 + i)
    install(16)
    record(
        datetime(2017, 1, 10, 18, tzinfo=UTC), "first light: 16 VIRUS IFUs, LRS2, HRS and HPF feeds"
    )
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
