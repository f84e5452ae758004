"""Data reduction figures, side by side with reductus 1.0.1 in one run, on the same NCNR PBR
files and the same steps: load → normalize (monitor) → join for the specular (mli0111,
mli0115), background (mli01120) and direct-beam (mli0159) scans, subtract the background,
divide by the direct beam, rescale.

- cold: a fresh process with an empty cache. reductus: its steps in a fresh process (its
  imports timed apart); Beamtime: the first calculate over HTTP of a freshly started
  `beamtime serve` with an empty cache, and the engine alone in a fresh process.
- warm: the request again after changing the rescale factor (only that step recomputes).
- cached: the same request once more (everything in the cache).

    .venv/bin/python bench/reduction.py [--reductus /path/to/reductus-env/bin/python] [--runs 5]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is no package
from serve import start_serve  # noqa: E402

from fitting import SETUP, shell  # noqa: E402

PBR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ncnr-pbr"
HARNESS = Path(__file__).parent / "reductus_harness.py"
SPECULAR, BACKGROUND, DIRECT = (
    ["mli0111.nxs.pbr", "mli0115.nxs.pbr"],
    ["mli01120.nxs.pbr"],
    ["mli0159.nxs.pbr"],
)


def template() -> dict:
    nodes, wires = [], []

    def add(module, *inputs, **config):
        nodes.append({"module": f"refl.{module}", "config": config})
        for source, terminal in inputs:
            wires.append({"source": [source, "output"], "target": [len(nodes) - 1, terminal]})
        return len(nodes) - 1

    def chain(files):
        files = [{"source": "local", "path": f, "mtime": 0} for f in files]
        return add("join", (add("normalize", (add("load", filelist=files), "data")), "data"))

    spec, back, direct = chain(SPECULAR), chain(BACKGROUND), chain(DIRECT)
    subtracted = add("subtract_background", (spec, "data"), (back, "backm"))
    divided = add("divide_intensity", (subtracted, "data"), (direct, "base"))
    add("rescale", (divided, "data"), scale=1.0)
    return {"name": "bench", "instrument": "refl", "nodes": nodes, "wires": wires}


ENGINE_ALONE = """
import sys, tempfile, time
t0 = time.perf_counter()
from beamtime.reduction import sources
from beamtime.reduction.dataflow.cache import DiskCache
from beamtime.reduction.dataflow.calc import calculate
from beamtime.reduction.dataflow.template import Template
from beamtime.reduction.instruments.refl import registry
t1 = time.perf_counter()
sources.configure([sources.LocalSource("local", sys.argv[1])])
t = Template.from_dict(__import__("json").loads(sys.argv[2]))
calculate(t, registry, len(t.nodes) - 1, "output", DiskCache(tempfile.mkdtemp()))
print(t1 - t0, time.perf_counter() - t1)
"""


def reductus(python: str) -> tuple[float, float]:
    """(wall seconds of the fresh process, seconds of the reduction inside it)."""
    files = [str(PBR / f) for f in SPECULAR + BACKGROUND + DIRECT]
    t0 = time.perf_counter()
    out = subprocess.run(
        [python, HARNESS, "divide_intensity", *files], check=True, capture_output=True, text=True
    ).stdout
    return time.perf_counter() - t0, json.loads(out)["params"]["seconds"]


def call(url: str, key: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        return response.status, json.load(response)


def calculated(url: str, key: str, body: dict) -> list:
    """The values, as a client does it: a 202 is a job on the reduction pool, polled until it
    is done, then the request again (answered from the cache)."""
    for _ in range(3):
        status, answer = call(url, key, "api/reduction/calculate", body)
        if status != 202:
            return answer["values"]
        while answer["state"] in ("queued", "running"):
            time.sleep(0.05)
            _, answer = call(url, key, answer["url"].lstrip("/"))
        assert answer["state"] == "done", answer
    raise AssertionError("the result did not stay cached")


def calculate(url: str, key: str, body: dict) -> float:
    t0 = time.perf_counter()
    values = calculated(url, key, body)
    elapsed = time.perf_counter() - t0
    assert values and values[0]["ylabel"] == "reflectivity", values
    return elapsed


def ms(values) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


def ratio(a, b) -> str:
    return f"{statistics.median(a) / statistics.median(b):.3f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reductus", default=os.environ.get("BEAMTIME_REDUCTUS_PYTHON", ""))
    parser.add_argument("--runs", type=int, default=5, help="cold starts of each, and repeats")
    args = parser.parse_args()
    if not args.reductus:
        sys.exit("name reductus' python with --reductus or BEAMTIME_REDUCTUS_PYTHON")
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start"
    )
    body = {"template": template(), "config": {}, "node": len(template()["nodes"]) - 1}
    walls, steps = zip(*(reductus(args.reductus) for _ in range(args.runs)), strict=True)
    print(f"{args.runs} runs each, medians; template of {len(body['template']['nodes'])} nodes")
    print(f"  reductus 1.0.1, fresh process: {ms(walls)} wall, of which the reduction {ms(steps)}")
    alone = [
        [
            float(x)
            for x in subprocess.run(
                [sys.executable, "-c", ENGINE_ALONE, str(PBR), json.dumps(body["template"])],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
        ]
        for _ in range(args.runs)
    ]
    engine = [r for _, r in alone]
    print(
        f"  beamtime engine, fresh process, empty disk cache: {ms(i + r for i, r in alone)} "
        f"wall, of which the reduction {ms(engine)}   ratio {ratio(engine, steps)}"
    )
    cold, warm, cached = [], [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
            home = Path(tmp) / "var"
            proc, url, _ = start_serve(home, REDUCTION_LOCAL_DATA=str(PBR))
            try:
                key = shell(home, SETUP)
                cold.append(calculate(url, key, body))
                for scale in range(2, 2 + 3):
                    config = {str(body["node"]): {"scale": float(scale + 10 * run)}}
                    warm.append(calculate(url, key, {**body, "config": config}))
                    cached.append(calculate(url, key, {**body, "config": config}))
            finally:
                proc.terminate()
                proc.wait(30)
    print(
        f"  beamtime over HTTP, fresh server, empty cache (cold): {ms(cold)}   "
        f"ratio to reductus' reduction {ratio(cold, steps)} (goal ≤ 1)"
    )
    print(
        f"  beamtime warm, rescale factor changed: {ms(warm)}   "
        f"ratio to cold {ratio(warm, cold)} (goal ≤ 0.2)"
    )
    print(f"  beamtime fully cached repeat: {ms(cached)} (goal ≤ 50 ms)")


if __name__ == "__main__":
    main()
