"""A heavy reduction against `beamtime serve`: the NCNR PBR file mli0115 with its per-point logs
repeated to 10⁶ points (1.5 MB compressed, as in issue 14), load → normalize → join. Figures:
how long the calculate request holds its web thread, how long until the result, how long a
page (`/api/reduction/instruments`) takes meanwhile, and the peak memory of the web workers
and of the reduction pool while it runs.

    .venv/bin/python bench/reduction_pool.py [--points 1000000] [--src OTHER_CHECKOUT/src]

``--src`` runs another checkout's code (e.g. the one before the reduction pool).
"""

import argparse
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import h5py
import numpy as np
from idle_memory import measure
from serve import start_serve

from fitting import SETUP, shell
from reduction import PBR, calculated, call


def blow_up(folder: Path, points: int) -> str:
    path = folder / "large.nxs.pbr"
    shutil.copy(PBR / "mli0115.nxs.pbr", path)
    path.chmod(0o644)
    with h5py.File(path, "r+") as f:
        for entry in f.values():
            logs = entry["DAS_logs"]
            n, items = len(logs["counter/liveROI"]), {}
            logs.visititems(items.__setitem__)
            for key, item in items.items():
                if isinstance(item, h5py.Dataset) and item.shape[:1] == (n,):
                    data = item[()]
                    del logs[key]
                    grown = np.resize(data, (points, *data.shape[1:]))
                    logs.create_dataset(key, data=grown, compression="gzip")
    return path.name


def body(name: str) -> dict:
    files = [{"source": "local", "path": name, "mtime": 0}]
    nodes = [
        {"module": "refl.load", "config": {"filelist": files}},
        {"module": "refl.normalize", "config": {}},
        {"module": "refl.join", "config": {}},
    ]
    wires = [
        {"source": [0, "output"], "target": [1, "data"]},
        {"source": [1, "output"], "target": [2, "data"]},
    ]
    template = {"name": "bench", "instrument": "refl", "nodes": nodes, "wires": wires}
    return {"template": template, "node": 2}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--src", help="run the code of this src folder (default: installed)")
    args = parser.parse_args()
    if args.src:
        os.environ["PYTHONPATH"] = str(Path(args.src).resolve())
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}; "
        f"code: {args.src or 'installed'}; {args.points} points"
    )
    with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        name = blow_up(data, args.points)
        proc, url, _ = start_serve(Path(tmp) / "var", REDUCTION_LOCAL_DATA=str(data))
        try:
            key = shell(Path(tmp) / "var", SETUP)
            call(url, key, "api/reduction/instruments")  # each web worker's imports, once
            call(url, key, "api/reduction/instruments")
            peak, page_times, failed_pages, done = {}, [], [], threading.Event()

            def sample():
                while not done.is_set():
                    for role, _, rss, _ in measure(proc.pid):
                        group = "web" if "gunicorn" in role else role.split(" ")[0]
                        peak[group] = max(peak.get(group, 0), rss)
                    t0 = time.perf_counter()
                    try:
                        call(url, key, "api/reduction/instruments")
                        page_times.append(time.perf_counter() - t0)
                    except OSError:  # e.g. its web worker killed under it
                        failed_pages.append(time.perf_counter() - t0)
                    time.sleep(0.2)

            watcher = threading.Thread(target=sample)
            watcher.start()
            t0 = time.perf_counter()
            try:
                status, _ = call(url, key, "api/reduction/calculate", body(name))
                held = time.perf_counter() - t0
                calculated(url, key, body(name))
            except OSError as exc:  # the web worker killed under the request
                status, held = f"nothing ({exc})", time.perf_counter() - t0
            total = time.perf_counter() - t0
            done.set()
            watcher.join()
            time.sleep(10)
            after = {}
            for role, _, rss, _ in measure(proc.pid):
                group = "web" if "gunicorn" in role else role.split(" ")[0]
                after[group] = max(after.get(group, 0), rss)
        finally:
            proc.terminate()
            proc.wait(60)
    print(f"calculate request: answered {status} after {held:.1f} s (the web thread's share)")
    print(f"result (or failure) after {total:.1f} s")
    pages = sorted(page_times) or [float("nan")]
    print(
        f"a page meanwhile ({len(page_times)} requests): median "
        f"{pages[len(pages) // 2] * 1000:.0f} ms, max {pages[-1] * 1000:.0f} ms; "
        f"{len(failed_pages)} failed"
    )
    for group in ("web", "reduction", "fits", "daq"):
        if group in peak:
            print(
                f"RSS of one {group} process: peak {peak[group] / 1024:.0f} MiB, "
                f"10 s after the result {after[group] / 1024:.0f} MiB"
            )


if __name__ == "__main__":
    sys.exit(main())
