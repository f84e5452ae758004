"""FPlane service figures: how the lookup of a configuration scales with the length of the
history (10², 10⁴, 10⁶ entries; then with 100 corrections and 10 tags), and GET
/fplane/<date> under load from a second process, beside a bare Django view of the same
server answering the same bytes (bench/bare_urls.py).

    .venv/bin/python bench/fplane.py [--quick | --sizes N,…] [--http-only] [--clients 8]
        [--duration 10]

The clients ask for random instants of the five years (as nights and as DATE-OBS), so each
request falls in one of 1826 validity intervals: the first run starts from empty caches, the
second finds the files the first one rendered. Beside each load, the CPU time the gunicorn
workers spent per request (read from /proc), which other processes on the machine do not
change much. Run it on an otherwise idle machine; it prints one line per figure and the
ratios.
"""

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is no package; share serve.py
from serve import machine, setup_django, start_serve  # noqa: E402

T0 = datetime(2016, 1, 1, 18, tzinfo=UTC)
YEARS5 = 1826  # days in five years, one of them a leap year
ANCHOR_DATE = "20180715"
QUERY = "?actual_pos=0&full_fplane=1"
WARMUP = 1.0  # seconds
CHUNK = 20_000  # steps per bulk_create round: bounds the memory the 10⁶ fill needs


def in_fresh_process(fn, *args):
    """Django's settings read BEAMTIME_HOME once, at import: each database needs its own
    interpreter, and the load generator must not share the GIL with anything else."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def unit(slot: int, version: int) -> dict:
    # The IFU moves on at each version; (slot + 99·version) mod 999 never repeats between
    # slots at one instant, as neighbouring slots differ by at most one version.
    return {
        "type": "VIRUS",
        "ifuid": f"{(slot + 99 * version) % 999 + 1:03d}",
        "specid": f"{slot + 1:03d}",
        "specslot": f"{slot + 101:03d}",
        "ifurot": 0.0,
        "platesc": 1.0,
        "active": True,
        "measured": None,
    }


def fill(steps: int, step: timedelta) -> tuple[datetime, datetime]:
    """A full configuration of the hetdex slots at T0, then ``steps`` changes of one slot
    each, round robin, ``step`` apart. Written with bulk_create and explicit ids (the
    database is fresh) because apply_change, a transaction per change, would take hours
    for 10⁶. Return the start of the first and of the last change."""
    from django.db import connection, transaction

    from beamtime.configs.instruments import HETDEX
    from beamtime.configs.models import Change, ConfigEntry, Instrument

    hetdex = Instrument.objects.get(name=HETDEX)
    slots = list(hetdex.slots.order_by("name"))
    n = len(slots)
    with transaction.atomic():  # foreign keys are checked at commit: closed_by may point ahead
        for lo in range(0, steps + 1, CHUNK):
            ks = range(lo, min(lo + CHUNK, steps + 1))
            Change.objects.bulk_create(
                Change(id=k + 1, instrument=hetdex, valid_from=T0 + k * step, source="import")
                for k in ks
            )
            entries = []
            for k in ks:
                for s in range(n) if k == 0 else [(k - 1) % n]:
                    replaced_at = s + 1 if k == 0 else k + n  # the step that next changes slot s
                    closed = replaced_at <= steps
                    entries.append(
                        ConfigEntry(
                            slot=slots[s],
                            attributes=unit(s, 0 if k == 0 else (k - 1) // n + 1),
                            valid_from=T0 + k * step,
                            valid_until=T0 + replaced_at * step if closed else None,
                            opened_by_id=k + 1,
                            closed_by_id=replaced_at + 1 if closed else None,
                        )
                    )
            ConfigEntry.objects.bulk_create(entries)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return T0, T0 + steps * step


def lookup_figures(home: Path, entries: int, samples: int) -> dict:
    setup_django(home)
    from beamtime.configs import store
    from beamtime.configs.instruments import HETDEX
    from beamtime.configs.models import ConfigEntry, Instrument

    instrument = Instrument.objects.get(name=HETDEX)
    t0 = time.monotonic()
    first, last = fill(entries - instrument.slots.count(), timedelta(hours=1))
    filled = time.monotonic() - t0
    assert ConfigEntry.objects.count() == entries
    rng = random.Random(1)
    plain = time_lookups(instrument, first, last, rng, samples)
    # Corrections and tags: 100 revisions of short intervals, a published tag every 10.
    slots = sorted(instrument.slots.values_list("name", flat=True))
    tags = []
    for i in range(100):
        if i % 10 == 0:
            tags.append(store.tag(instrument, f"R{i // 10}", publish=True).as_of)
        latest = min(last, datetime.now(UTC) - timedelta(days=1))  # no start ahead of now
        start = first + (latest - first) * rng.random()
        store.correct(
            instrument,
            {rng.choice(slots): unit(0, 10_000 + i)},
            valid_from=start,
            valid_until=start + timedelta(hours=5),
            reason="bench",
        )
    revised = time_lookups(instrument, first, last, rng, samples)
    tagged = time_lookups(instrument, first, last, rng, samples, tags)
    return {"fill": filled, "plain": plain, "revised": revised, "tagged": tagged}


def time_lookups(instrument, first, last, rng, samples: int, tags=None) -> dict:
    """Median and p99 of configuration_at at random instants (as known at a random tag), and
    medians of what GET /fplane/<date> does: locate (the instrument's revision and the
    interval holding the instant: every request) and file_at (rendering: a cache miss)."""
    from beamtime.configs import served, store
    from beamtime.configs.instruments import HETDEX

    store.configuration_at(instrument, last)  # warm the connection and the page cache
    times, located, rendered = [], [], []
    for _ in range(samples):
        when = first + (last - first) * rng.random()
        as_of = rng.choice(tags) if tags else None
        t0 = time.perf_counter()
        found = store.configuration_at(instrument, when, as_of)
        t1 = time.perf_counter()
        where = served.locate(HETDEX, f"{when:%Y%m%dT%H:%M:%S}")
        t2 = time.perf_counter()
        served.LINES.clear()  # a miss of the seat lines too: the worst case
        text, _ = served.file_at(instrument, when, as_of, actual_pos=False, full=True)
        t3 = time.perf_counter()
        times.append(t1 - t0)
        located.append(t2 - t1)
        rendered.append(t3 - t2)
        assert len(found) == instrument.slots.count() and where.boundary is not None
        assert text.count("\n") == 85  # the header and the 84 seats
    return {
        "p50": percentile(times, 50),
        "p99": percentile(times, 99),
        "locate": percentile(located, 50),
        "file_at": percentile(rendered, 50),
    }


def build_history(home: Path) -> None:
    setup_django(home)
    fill(YEARS5, timedelta(days=1))


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def observed(rng: random.Random) -> str:
    """A date as observers ask for one: a random instant of the five years, half the time as
    its night (YYYYMMDD), half as a FITS DATE-OBS (YYYYMMDDTHH:MM:SS)."""
    when = T0 + timedelta(seconds=rng.randrange(YEARS5 * 86400))
    return f"{when:%Y%m%d}" if rng.random() < 0.5 else f"{when:%Y%m%dT%H:%M:%S}"


def load(port: int, template: str, clients: int, duration: float) -> dict:
    """``clients`` connections, each asking for ``template`` with an observed date in place of
    {date}, back to back; requests of the first WARMUP seconds (workers opening their
    database connections) are not counted."""
    measure_from = time.perf_counter() + WARMUP
    deadline = measure_from + duration

    def client(seed: int) -> tuple[list[float], int]:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies, sent = [], 0
        while time.perf_counter() < deadline:
            path = template.format(date=observed(rng))
            t0 = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            sent += 1
            if response.status != 200:
                raise RuntimeError(f"{template}: HTTP {response.status}")
            if t0 >= measure_from:
                latencies.append(time.perf_counter() - t0)
        conn.close()
        return latencies, sent

    with ThreadPoolExecutor(clients) as pool:
        done = list(pool.map(client, range(clients)))
    latencies = [x for one, _ in done for x in one]
    return {
        "sent": sum(sent for _, sent in done),
        "rps": len(latencies) / (time.perf_counter() - measure_from),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
    }


def web_cpu(root: int) -> float:
    """CPU seconds used so far by the gunicorn processes under process ``root`` (Linux)."""
    parents, names = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                names[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parents[int(entry.name)] = stat.rsplit(")", 1)[1].split()
    total = 0.0
    for pid, fields in parents.items():
        ancestor = pid
        while ancestor in parents and ancestor != root:
            ancestor = int(parents[ancestor][1])
        if ancestor == root and b"gunicorn" in names[pid]:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def timed_load(proc, port: int, template: str, clients: int, duration: float) -> dict:
    """load(), and the web workers' CPU time per request it sent."""
    before = web_cpu(proc.pid)
    result = in_fresh_process(load, port, template, clients, duration)
    result["cpu"] = (web_cpu(proc.pid) - before) / result["sent"]
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="lookups up to 10⁵ entries only")
    parser.add_argument("--sizes", help="history lengths to time, comma-separated: 100,1000000")
    parser.add_argument("--clients", type=int, default=8, choices=range(1, 65), metavar="K")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds, at most 120")
    parser.add_argument("--samples", type=int, default=200, help="lookups timed per size")
    parser.add_argument("--http-only", action="store_true", help="no lookup figures")
    args = parser.parse_args()
    duration = min(max(args.duration, 1.0), 120.0)
    print(machine())

    sizes = [100, 10_000, 100_000] if args.quick else [100, 10_000, 1_000_000]
    if args.sizes:
        sizes = [int(size) for size in args.sizes.split(",")]
    for entries in [] if args.http_only else sizes:
        with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
            r = in_fresh_process(lookup_figures, Path(tmp), entries, max(args.samples, 2))
        for kind, label in [
            ("plain", ""),
            ("revised", " + 100 revisions, latest"),
            ("tagged", " + 100 revisions, as of 1 of 10 tags"),
        ]:
            print(
                f"configuration_at, {entries:>9,} entries{label}: median "
                f"{r[kind]['p50'] * 1e3:6.2f} ms, p99 {r[kind]['p99'] * 1e3:6.2f} ms; "
                f"locate {r[kind]['locate'] * 1e3:5.2f} ms, file_at "
                f"{r[kind]['file_at'] * 1e3:5.2f} ms"
            )
        print(f"  (fill {r['fill']:.0f} s)")

    with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
        home = Path(tmp) / "var"
        in_fresh_process(build_history, home)
        anchor_file = Path(tmp) / f"fplane{ANCHOR_DATE}.txt"
        os.environ["FPLANE_BENCH_FILE"] = str(anchor_file)  # read by bench/bare_urls.py
        proc, url, _ = start_serve(home, "bare_settings")
        try:
            with urllib.request.urlopen(f"{url}fplane/{ANCHOR_DATE}{QUERY}", timeout=30) as r:
                anchor_file.write_bytes(r.read())
            port = int(url.rsplit(":", 1)[1].strip("/"))
            site = timed_load(proc, port, "/fplane/{date}" + QUERY, args.clients, duration)
            anchor = timed_load(proc, port, "/bare/{date}", args.clients, duration)
            again = timed_load(proc, port, "/fplane/{date}" + QUERY, args.clients, duration)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    print(
        f"GET /fplane/<date>, 5 years of daily changes ({YEARS5} changes), "
        f"{args.clients} clients, {duration:.0f} s, one server (gunicorn, 2 workers):"
    )
    for name, r in [
        ("GET /fplane/<date>, first run", site),
        ("bare view, same bytes", anchor),
        ("GET /fplane/<date>, second run", again),
    ]:
        print(
            f"  {name:31s} {r['rps']:7.0f} req/s  p50 {r['p50'] * 1e3:6.1f} ms  "
            f"p99 {r['p99'] * 1e3:6.1f} ms  web CPU {r['cpu'] * 1e3:5.2f} ms/request"
        )
    print(
        f"  ratio (fplane / bare view req/s): first run {site['rps'] / anchor['rps']:.2f}, "
        f"second run {again['rps'] / anchor['rps']:.2f}"
    )
    print(
        f"  ratio (bare view / fplane web CPU per request): first run "
        f"{anchor['cpu'] / site['cpu']:.2f}, second run {anchor['cpu'] / again['cpu']:.2f}"
    )


if __name__ == "__main__":
    main()
