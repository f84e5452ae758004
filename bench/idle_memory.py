"""Idle memory of the whole platform: `beamtime serve` (Redis, a Celery worker per pool, beat,
gunicorn and its web workers) started in a home of its own, a few pages served, then left
alone; the memory of every process in its tree, by role.

    .venv/bin/python bench/idle_memory.py [--src OTHER_CHECKOUT/src] [--settle 10]

RSS counts the pages a process shares with others (forked Celery pool processes share most of
their parent's) once per process; PSS divides each shared page among its sharers, so the PSS
column adds up to what the tree really holds. ``--src`` runs another checkout's code (for a
before/after comparison, e.g. ``git archive COMMIT src | tar -x -C /tmp/before``).
"""

import argparse
import os
import re
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

from serve import machine, start_serve

PAGES = ["accounts/login/", "", "healthz"]


def children() -> dict[int, list[int]]:
    found = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            found[ppid].append(int(entry.name))
    return found


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    rss = int(re.search(r"^Rss:\s+(\d+)", rollup, re.M).group(1))
    pss = int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1))
    return rss, pss


def role(pid: int, parent_role: str | None) -> str:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    text = " ".join(a.decode(errors="replace") for a in argv if a)
    if "redis" in text and "celery" not in text:
        return "redis"
    if "gunicorn" in text:
        return "web worker (gunicorn)" if parent_role == "gunicorn master" else "gunicorn master"
    if " beat" in text:
        return "celery beat"
    match = re.search(r"--hostname beamtime-(\w+)@", text)
    if match:
        pool = f"{match.group(1)} pool"
        return f"{pool} process" if parent_role and parent_role.startswith(pool) else pool
    if parent_role and parent_role.endswith("pool"):
        return f"{parent_role} process"
    if " serve" in text:
        return "beamtime serve (supervisor)"
    return text[:40]


def measure(root: int) -> list[tuple[str, int, int, int]]:
    """(role, pid, RSS KiB, PSS KiB) of every process under ``root``."""
    roles, rows = {}, []
    kids = children()
    todo = [(root, None)]
    while todo:
        pid, parent = todo.pop(0)
        try:
            roles[pid] = role(pid, parent)
            rss, pss = memory_kib(pid)
        except (OSError, AttributeError):
            continue  # gone meanwhile
        rows.append((roles[pid], pid, rss, pss))
        todo += [(kid, roles[pid]) for kid in kids.get(pid, [])]
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", help="run the code of this src folder (default: installed)")
    parser.add_argument("--settle", type=float, default=10.0, help="idle seconds before measuring")
    args = parser.parse_args()
    if args.src:
        os.environ["PYTHONPATH"] = str(Path(args.src).resolve())
    print(f"{machine()}; code: {args.src or 'installed'}")
    with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
        proc, url, _ = start_serve(Path(tmp) / "var")
        try:
            for _ in range(4):  # with two web workers, each most likely serves some
                for page in PAGES:
                    with urllib.request.urlopen(url + page, timeout=30) as r:
                        r.read()
            time.sleep(args.settle)
            rows = measure(proc.pid)
        finally:
            proc.terminate()
            proc.wait()
    by_role = defaultdict(lambda: [0, 0, 0])
    for name, _, rss, pss in rows:
        by_role[name][0] += 1
        by_role[name][1] += rss
        by_role[name][2] += pss
    print(f"{'process':34} {'count':>5} {'RSS MiB':>9} {'PSS MiB':>9}")
    for name, (count, rss, pss) in sorted(by_role.items(), key=lambda item: -item[1][2]):
        print(f"{name:34} {count:5} {rss / 1024:9.0f} {pss / 1024:9.0f}")
    total_rss = sum(r[2] for r in rows) / 1024
    total_pss = sum(r[3] for r in rows) / 1024
    print(f"{'whole platform':34} {len(rows):5} {total_rss:9.0f} {total_pss:9.0f}")


if __name__ == "__main__":
    sys.exit(main())
