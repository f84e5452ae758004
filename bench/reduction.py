"""Data reduction figures, side by side with reductus 1.0.1 in one run, on the same NCNR PBR
files and the same steps: load → normalize (monitor) → join for the specular (mli0111,
mli0115), background (mli01120) and direct-beam (mli0159) scans, subtract the background,
divide by the direct beam, rescale.

- cold: a fresh process with an empty cache. reductus: its steps in a fresh process (its
  imports timed apart); Beamtime: the first calculate over HTTP of a freshly started
  `beamtime serve` with an empty cache, and the engine alone in a fresh process.
- warm: the request again after changing the rescale factor (only that step recomputes).
- cached: the same request once more (everything in the cache).

With ``--template polarized``: reductus' stock polarized template (Beamtime's copy of it) on
the four-cross-section specular scan mli0170 and the direct beam mli0159 (empty background
loaders): load → normalize → mask → join, estimate the polarization from the direct beam,
subtract the (absent) background, correct the polarization (4×4). Its warm repeat changes the
estimate's FR balance, so the estimate and the correction are computed again, as reductus
computes them again on every request; the anchor for the repeat is the time reductus spends in
those two steps alone (a lower bound of its repeat: its cache reads are not counted).

    .venv/bin/python bench/reduction.py [--reductus /path/to/reductus-env/bin/python] [--runs 5]
        [--template unpolarized|polarized]
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PBR = DATA / "ncnr-pbr"
POLARIZED = {
    "specular": ["reductus-pbr/mli0170.nxs.pbr"],
    "direct beam": ["ncnr-pbr/mli0159.nxs.pbr"],
}
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

    spec, back, direct = (
        chain([f"ncnr-pbr/{f}" for f in SPECULAR]),
        chain([f"ncnr-pbr/{f}" for f in BACKGROUND]),
        chain([f"ncnr-pbr/{f}" for f in DIRECT]),
    )
    subtracted = add("subtract_background", (spec, "data"), (back, "backm"))
    divided = add("divide_intensity", (subtracted, "data"), (direct, "base"))
    add("rescale", (divided, "data"), scale=1.0)
    return {"name": "bench", "instrument": "refl", "nodes": nodes, "wires": wires}


def polarized_template() -> dict:
    """The stock polarized template with the files of POLARIZED in its loaders."""
    from beamtime.reduction.instruments.templates import predefined

    stock = next(t for t in predefined("refl") if t["name"] == "Polarized (reductus)")
    nodes = [
        {
            **n,
            "config": {
                **n.get("config", {}),
                "filelist": [
                    {"source": "local", "path": f, "mtime": 0}
                    for f in POLARIZED.get(n["title"], [])
                ],
            },
        }
        if n["module"] == "refl.load"
        else n
        for n in stock["nodes"]
    ]
    return {**stock, "nodes": nodes}


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
calculate(t, registry, int(sys.argv[3]), "output", DiskCache(tempfile.mkdtemp()))
print(t1 - t0, time.perf_counter() - t1)
"""


def reductus(python: str, polarized: bool) -> tuple[float, float, float | None]:
    """(wall seconds of the fresh process, seconds of the reduction inside it, seconds of the
    polarization steps in it)."""
    if polarized:
        case, files = "correct_polarization", [str(DATA / f) for f in sum(POLARIZED.values(), [])]
    else:
        case, files = "divide_intensity", [str(PBR / f) for f in SPECULAR + BACKGROUND + DIRECT]
    t0 = time.perf_counter()
    out = subprocess.run(
        [python, HARNESS, case, *files], check=True, capture_output=True, text=True
    ).stdout
    params = json.loads(out)["params"]
    return time.perf_counter() - t0, params["seconds"], params.get("polarization_seconds")


def calculate(url: str, key: str, body: dict) -> float:
    request = urllib.request.Request(
        url + "api/reduction/calculate",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        values = json.load(response)["values"]
    elapsed = time.perf_counter() - t0
    assert values and "reflectivity" in values[0]["ylabel"], values
    return elapsed


def ms(values) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


def ratio(a, b) -> str:
    return f"{statistics.median(a) / statistics.median(b):.3f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reductus", default=os.environ.get("BEAMTIME_REDUCTUS_PYTHON", ""))
    parser.add_argument("--runs", type=int, default=5, help="cold starts of each, and repeats")
    parser.add_argument("--template", choices=["unpolarized", "polarized"], default="unpolarized")
    args = parser.parse_args()
    if not args.reductus:
        sys.exit("name reductus' python with --reductus or BEAMTIME_REDUCTUS_PYTHON")
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start"
    )
    polarized = args.template == "polarized"
    if polarized:
        found = polarized_template()
        node = [n["title"] for n in found["nodes"]].index("correct polarization")
        changed = [n["title"] for n in found["nodes"]].index("estimate polarization")
        control, values = "FRbalance", [45.0, 55.0, 40.0, 60.0, 35.0]
    else:
        found = template()
        node = changed = len(found["nodes"]) - 1
        control, values = "scale", [2.0, 3.0, 4.0, 5.0, 6.0]
    body = {"template": found, "config": {}, "node": node}
    walls, steps, polarization = zip(
        *(reductus(args.reductus, polarized) for _ in range(args.runs)), strict=True
    )
    print(
        f"{args.runs} runs each, medians; {args.template} template of {len(found['nodes'])} nodes"
    )
    print(f"  reductus 1.0.1, fresh process: {ms(walls)} wall, of which the reduction {ms(steps)}")
    if polarized:
        print(f"  reductus' polarization steps alone (what it repeats): {ms(polarization)}")
    alone = [
        [
            float(x)
            for x in subprocess.run(
                [sys.executable, "-c", ENGINE_ALONE, str(DATA), json.dumps(found), str(node)],
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
            proc, url, _ = start_serve(home, REDUCTION_LOCAL_DATA=str(DATA))
            try:
                key = shell(home, SETUP)
                cold.append(calculate(url, key, body))
                for value in values[:3]:
                    config = {str(changed): {control: value + 0.1 * run}}
                    warm.append(calculate(url, key, {**body, "config": config}))
                    cached.append(calculate(url, key, {**body, "config": config}))
            finally:
                proc.terminate()
                proc.wait(30)
    goal = "≤ 0.5" if polarized else "≤ 1"
    print(
        f"  beamtime over HTTP, fresh server, empty cache (cold): {ms(cold)}   "
        f"ratio to reductus' reduction {ratio(cold, steps)} (goal {goal})"
    )
    if polarized:
        print(
            f"  beamtime warm, {control} of the estimate changed: {ms(warm)}   ratio to "
            f"reductus' polarization steps {ratio(warm, polarization)} (goal ≤ 0.05)"
        )
    else:
        print(
            f"  beamtime warm, {control} changed: {ms(warm)}   "
            f"ratio to cold {ratio(warm, cold)} (goal ≤ 0.2)"
        )
    print(f"  beamtime fully cached repeat: {ms(cached)} (goal ≤ 50 ms)")


if __name__ == "__main__":
    main()
