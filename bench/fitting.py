"""Reflectivity fitting figures for the manual session's model (A = 500 in 400–600, B = 40 in
30–50) against double_layer.txt, each beside its anchor in the same run: an LM fit through
the refl1d command line on the generated script vs Beamtime's submit-to-result over HTTP with
a warm worker; evaluate over HTTP vs in-process; a DREAM fit in-process (bumps) vs Beamtime;
and fits/minute for 20 queued fits with 2 and 1 worker processes (the serve's own Celery
worker, its pool resized with `pool_shrink`). HTTP fits are polled every 10 ms.

    .venv/bin/python bench/fitting.py [--runs 5] [--evals 50] [--dream-runs 5] [--queued 20]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from bumps.fitters import fit as bumps_fit

from beamtime.fitting import refl1d_adapter
from beamtime.fitting.data import parse_data
from beamtime.fitting.layers import LayerModel

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is no package; share daq.py, serve.py
from serve import machine  # noqa: E402

from daq import beamtime, start_serve  # noqa: E402

DATA = "/work/shared/data/reflectivity/double_layer.txt"


def free(value: float, low: float, high: float) -> dict:
    return {"value": value, "free": True, "min": low, "max": high}


MODEL = {  # tests/fitting/test_layers.py::session_model
    "front": {"name": "air"},
    "layers": [
        {"name": "B", "thickness": free(40, 30, 50), "sld": 5.912, "roughness": 1.0},
        {"name": "A", "thickness": free(500, 400, 600), "sld": 9.436, "roughness": 9.977},
    ],
    "back": {"name": "Si", "sld": 2.07, "roughness": 1.566},
}
LM = {"steps": 200}
DREAM = {"samples": 10000, "burn": 100}
FINISHED = ("done", "failed", "cancelled")
SETUP = """
from django.contrib.auth import get_user_model
from beamtime.core.models import ApiKey
print(ApiKey.issue(get_user_model().objects.create_user("bench"), "bench")[1])
"""
TIMELINE = """
import json
from beamtime.fitting.models import FitJob
print(json.dumps({j.pk: [t.timestamp() for t in (j.created_at, j.started_at, j.finished_at)]
                  for j in FitJob.objects.filter(pk__in=%r)}))
"""
POOL = """
import time
from beamtime.celery import app
def size():
    stats = app.control.inspect(timeout=3).stats() or {}
    return sum(len(s["pool"]["processes"]) for s in stats.values())
have = size()
if have > %(n)d:
    app.control.pool_shrink(have - %(n)d, reply=True)
elif 0 < have < %(n)d:
    app.control.pool_grow(%(n)d - have, reply=True)
deadline = time.monotonic() + 20  # a process leaves the pool once idle, not at once
while have and size() != %(n)d and time.monotonic() < deadline:
    time.sleep(0.5)
print(size())
"""


def shell(home: Path, code: str) -> str:
    return beamtime(home, "manage", "shell", "--no-imports", "-c", code).strip().splitlines()[-1]


class Client:
    def __init__(self, url: str, key: str):
        self.url, self.headers = url, {"Authorization": f"Bearer {key}"}

    def call(self, path: str, payload=None, raw: bytes | None = None, ctype="application/json"):
        data = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
        headers = self.headers | ({"Content-Type": ctype} if data is not None else {})
        request = urllib.request.Request(self.url + path, data=data, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def upload(self, path: Path) -> int:
        boundary = "beamtime-bench-boundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{path.name}"\r\nContent-Type: text/plain\r\n\r\n'
        )
        body = head.encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        ctype = f"multipart/form-data; boundary={boundary}"
        return self.call("api/fitting/datasets", raw=body, ctype=ctype)["id"]

    def submit(self, dataset: int, engine: str, options: dict) -> int:
        payload = {"dataset": dataset, "model": MODEL, "engine": engine, "options": options}
        return self.call("api/fitting/fits", payload)["id"]

    def wait(self, pk: int, t0: float, poll: float, timeout: float = 600.0) -> None:
        while time.monotonic() - t0 < timeout:
            job = self.call(f"api/fitting/fits/{pk}")
            if job["state"] in FINISHED:
                if job["state"] != "done":
                    sys.exit(f"fit {pk} {job['state']}: {job['message']}")
                return
            time.sleep(poll)
        sys.exit(f"fit {pk} not done within {timeout} s")


def fit_http(client: Client, dataset: int, engine: str, options: dict, poll=0.01) -> dict:
    """Submit one fit, poll every `poll` s until done; the client-side times of the stages."""
    wall, t0 = time.time(), time.monotonic()
    pk = client.submit(dataset, engine, options)
    post = time.monotonic() - t0
    client.wait(pk, t0, poll)
    total = time.monotonic() - t0
    return {"id": pk, "total": total, "post": post, "seen": wall + total}


STAGES = ("POST→202", "queued (Celery dispatch)", "worker (claim→finished)", "finished→seen")


def breakdown(home: Path, runs: list[dict], anchor: float | None = None) -> None:
    """Median ms of: POST → 202, row created → worker claims it, claim → finished, → seen;
    with an anchor (s), also the worker's part beside it."""
    times = json.loads(shell(home, TIMELINE % [r["id"] for r in runs]))
    stages = [[], [], [], []]
    for r in runs:
        created, started, finished = times[str(r["id"])]
        values = (r["post"], started - created, finished - started, r["seen"] - finished)
        for stage, value in zip(stages, values, strict=True):
            stage.append(value)
    medians = [ms(stage) for stage in stages]
    parts = (f"{name} {m:.0f}" for name, m in zip(STAGES, medians, strict=True))
    print("    median ms: " + ", ".join(parts))
    if anchor:
        worker = medians[2] / 1000
        print(f"    the worker's part alone: {worker:.2f} s, {(worker / anchor - 1) * 100:+.1f} %")


def cli_fit(script: Path, out: Path, export: bool) -> tuple[float, float]:
    """Wall seconds of one `refl1d --batch` LM fit, and the fit time refl1d itself prints."""
    argv = [str(Path(sys.executable).parent / "refl1d"), str(script), "--fit=lm", "--steps=200"]
    argv += ["--batch", f"--session={out}.h5"] + ([f"--export={out}"] if export else [])
    t0 = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=script.parent)
    wall = time.monotonic() - t0
    found = re.search(r"^time ([\d.]+) (milli)?seconds", done.stdout, re.M)
    if done.returncode or not found:
        sys.exit(f"refl1d failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return wall, float(found[1]) / (1000 if found[2] else 1)


def throughput(client: Client, dataset: int, n: int, timeout: float = 900.0) -> float:
    """Fits/minute: queue n LM fits at once, then poll the oldest unfinished one every 50 ms."""
    t0 = time.monotonic()
    pending = [client.submit(dataset, "lm", LM) for _ in range(n)]
    for pk in pending:
        client.wait(pk, t0, poll=0.05, timeout=timeout)
    return n / (time.monotonic() - t0) * 60


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="CLI and HTTP LM fits, each")
    parser.add_argument("--evals", type=int, default=50, help="evaluate calls, each way")
    parser.add_argument("--dream-runs", type=int, default=5, help="DREAM fits, each way")
    parser.add_argument("--queued", type=int, default=20, help="fits queued at once")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds, each")
    parser.add_argument("--seed", type=int, default=1, help="numpy seed of in-process DREAM")
    parser.add_argument("--data", default=DATA)
    args = parser.parse_args()
    print(machine(f"load average {os.getloadavg()[0]:.2f} at start"))
    model, data_path = LayerModel.from_dict(MODEL), Path(args.data)
    data = parse_data(data_path.read_bytes())
    with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
        script = Path(tmp) / "model.py"
        script.write_text(refl1d_adapter.to_script(model, str(data_path)))
        cli = {}
        for export in (True, False):
            cli[export] = [
                cli_fit(script, Path(tmp) / f"out{export:d}{i}", export) for i in range(args.runs)
            ]
        anchor = statistics.median(w for w, _ in cli[True])
        print(f"LM fit, steps 200, {args.runs} runs each:")
        print(
            f"  refl1d CLI --batch --session --export (anchor): {anchor:6.2f} s wall, "
            f"of which fitting {ms([f for _, f in cli[True]]):.0f} ms"
        )
        print(
            f"  refl1d CLI --batch --session only:               "
            f"{statistics.median(w for w, _ in cli[False]):6.2f} s wall"
        )

        home = Path(tmp) / "var"
        proc = None
        try:
            proc, url, _ = start_serve(home)
            client = Client(url, shell(home, SETUP))
            dataset = client.upload(data_path)
            fit_http(client, dataset, "lm", LM)  # warm-up: the worker's first fit
            runs = [fit_http(client, dataset, "lm", LM) for _ in range(args.runs)]
            totals = sorted(r["total"] for r in runs)
            p50, p90 = ms(totals), totals[min(len(totals) - 1, int(0.9 * len(totals)))] * 1000
            print(
                f"  beamtime submit→result over HTTP, warm worker: p50 {p50:6.0f} ms, p90 "
                f"{p90:4.0f} ms (goal p50 < 250 ms)   ratio {p50 / 1000 / anchor:.3f}"
            )
            breakdown(home, runs)

            site, local = [], []
            for _ in range(args.evals):
                t0 = time.perf_counter()
                client.call(f"api/fitting/datasets/{dataset}/evaluate", {"model": MODEL})
                site.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                refl1d_adapter.evaluate(model, data)
                local.append(time.perf_counter() - t0)
            print(f"evaluate, {args.evals} calls:")
            print(
                f"  beamtime POST …/evaluate: p50 {ms(site):5.1f} ms (goal < 30 ms)   "
                f"in-process refl1d_adapter.evaluate (anchor): {ms(local):5.1f} ms   "
                f"ratio {ms(site) / ms(local):.1f}"
            )

            inproc, remote, slow = [], [], []
            for _ in range(args.dream_runs):  # interleaved, so drift hits both alike
                np.random.seed(args.seed)
                t0 = time.monotonic()
                bumps_fit(refl1d_adapter.build_problem(model, data), method="dream", **DREAM)
                inproc.append(time.monotonic() - t0)
                remote.append(fit_http(client, dataset, "dream", DREAM))
                slow.append(fit_http(client, dataset, "dream", DREAM, poll=1.0))
            a, b = statistics.median(inproc), statistics.median(r["total"] for r in remote)
            dream = f"samples {DREAM['samples']}, burn {DREAM['burn']}"
            print(f"DREAM fit, {dream}, median of {args.dream_runs}:")
            print(f"  bumps.fitters.fit in-process (anchor): {a:6.2f} s")
            print(
                f"  beamtime submit→result over HTTP:      {b:6.2f} s   "
                f"{(b / a - 1) * 100:+.1f} % (goal ≤ +5 %)"
            )
            breakdown(home, remote, a)
            print("  the same, polled every 1 s instead of 10 ms:")
            breakdown(home, slow, a)

            throughput(client, dataset, 4)  # warm both pool processes
            print(
                f"throughput, {args.queued} LM fits queued at once, median of {args.rounds} "
                "rounds (the serve's own worker):"
            )
            for processes in (2, 1):
                if int(shell(home, POOL % {"n": processes})) != processes:
                    sys.exit(f"could not set the worker pool to {processes} processes")
                rate = statistics.median(
                    throughput(client, dataset, args.queued) for _ in range(args.rounds)
                )
                serial = 60 / anchor * processes  # that many CLI fits side by side, no overhead
                print(
                    f"  {processes} worker process(es): {rate:6.0f} fits/minute   refl1d CLI × "
                    f"{processes} (anchor): {serial:4.0f}   ratio {rate / serial:.0f}"
                )
            print(f"load average {os.getloadavg()[0]:.2f} at the end")
        finally:
            if proc:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
