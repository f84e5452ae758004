"""How long the configuration history takes to record a run's ECC configurations
(configs.store.apply_change, as daq.runs.archive_configs calls it when a run starts):
the first run of N servers (N new slots and entries), a run where every server changed its
configuration, and one where a tenth did. Each server's entry carries the three .xcfg texts
(``--xcfg`` bytes each) and their SHA-256, as with BEAMTIME_DAQ_CONFIG_ROOTS set.

    .venv/bin/python bench/config_archive.py [--servers 200] [--xcfg 4000] [--repeat 5]

SQLite in a temporary BEAMTIME_HOME, as `beamtime serve` uses by default. Prints the
median of ``--repeat`` fresh instruments per figure, wall time and this process's CPU time
(on a shared machine the CPU time says more: the wall time includes waiting for a core).
"""

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is no package; share serve.py
from serve import machine, setup_django  # noqa: E402


def state(servers: int, xcfg: int, configure: str, changed: int, before: str) -> dict:
    """What archive_configs records: per server its address, set and .xcfg files; the
    first ``changed`` servers use ``configure``, the others ``before``."""
    rows = {}
    for i in range(servers):
        name = configure if i < changed else before
        text = (f"<Setup name='{name}'>" + "x" * xcfg)[:xcfg]
        digest = hashlib.sha256(text.encode()).hexdigest()
        rows[f"ecc{i:03d}"] = {
            "host": f"10.0.0.{i % 250}:{8083 + i}",
            "describe": "cobo",
            "prepare": "standard",
            "configure": name,
            **{f"{step}_xcfg": text for step in ("describe", "prepare", "configure")},
            **{f"{step}_sha256": digest for step in ("describe", "prepare", "configure")},
        }
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--xcfg", type=int, default=4000, help="bytes per .xcfg file")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(
        machine(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", f"load average {os.getloadavg()[0]:.1f}")
    )
    with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
        setup_django(Path(tmp))
        from beamtime.configs import store
        from beamtime.configs.models import Instrument

        n = args.servers
        runs = [
            (f"first run, {n} servers", n),
            (f"next run, all {n} changed", n),
            (f"next run, {n // 10} changed", n // 10),
        ]
        times = {label: [] for label, _ in runs}
        cpu = {label: [] for label, _ in runs}
        start = datetime.now(UTC) - timedelta(hours=1)
        for r in range(args.repeat):
            instrument = Instrument.objects.create(name=f"ecc-bench-{r}", title="bench")
            for k, (label, changed) in enumerate(runs):
                rows = state(n, args.xcfg, f"set{k}", changed, f"set{k - 1}")
                t0, c0 = time.perf_counter(), time.process_time()
                change = store.apply_change(
                    instrument,
                    rows,
                    valid_from=start + timedelta(minutes=r * 10 + k),
                    source="daq",
                    reason=f"run {k} started",
                    replace_all=True,
                )
                times[label].append(time.perf_counter() - t0)
                cpu[label].append(time.process_time() - c0)
                assert change is not None
        print(f"apply_change, {n} ECC servers, .xcfg {args.xcfg} B each, median of {args.repeat}:")
        for label, values in times.items():
            print(
                f"  {label:<28} {statistics.median(values) * 1000:7.1f} ms "
                f"(CPU {statistics.median(cpu[label]) * 1000:6.1f} ms)"
            )
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
