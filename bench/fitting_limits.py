"""Evaluate at the documented maxima of a fitting request: time and peak memory.

Each case runs in a fresh Python process (peak RSS is per process: ru_maxrss), three times;
the figure is the median time and the peak RSS above the process's RSS after the imports.
The maxima (README "Limits"): 100 layers, 10 µm (1e5 Å) thickness, 1000 Å roughness, 100 000
data points, 10 million steps of refl1d's resolution convolution (dense data with a broad
resolution are refused by evaluate, not by fits); a form asking for more layers is refused
before any work.

    PYTHONPATH=src .venv/bin/python bench/fitting_limits.py
"""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

CASE = r"""
import json, resource, statistics, sys, time
import numpy as np
from beamtime.fitting import refl1d_adapter
from beamtime.fitting.data import ReflData, parse_data
from beamtime.fitting.forms import FormError, model_from_post
from beamtime.fitting.layers import LayerModel

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)

def data(points, resolution):
    q = np.linspace(0.005, 0.3, points)
    return ReflData(q, np.exp(-q * 40), np.exp(-q * 40) * 0.05, resolution * q)

def model(layers, thickness, roughness, contrast=1.0):
    return LayerModel.from_dict({
        "front": {"name": "air"},
        "layers": [{"name": f"L{i}", "thickness": thickness, "sld": contrast * (1 + i % 5),
                    "roughness": roughness} for i in range(layers)],
        "back": {"name": "Si", "sld": 2.07, "roughness": roughness},
    })

name, args = sys.argv[1], json.loads(sys.argv[2])
if name == "evaluate":
    d = data(args["points"], args.get("resolution", 0.025))
    m = model(args["layers"], args["thickness"], args["roughness"], args.get("contrast", 1.0))
    def work():
        try:
            return refl1d_adapter.evaluate(m, d)
        except ValueError as exc:
            return str(exc)
elif name == "parse":
    q = np.linspace(0.005, 0.3, args["points"])
    text = "\n".join(f"{x:.6e} {np.exp(-x * 40):.6e} {np.exp(-x * 40) * 0.05:.6e} {0.025 * x:.6e}"
                     for x in q).encode()
    work = lambda: parse_data(text)
elif name == "form":  # the fit page's forms are Django forms: settings needed
    import django
    django.conf.settings.configure(USE_I18N=False)
    django.setup()
    post = {"layer-TOTAL_FORMS": str(args["layer_count"]), "layer-INITIAL_FORMS": "0"}
    def work():
        try:
            model_from_post(post)
        except FormError as exc:
            return str(exc)
base = rss()
times = []
for _ in range(3):
    t0 = time.perf_counter()
    result = work()
    times.append(time.perf_counter() - t0)
if isinstance(result, str):
    extra = {"refused": result[:60] + "…"}
elif name == "evaluate":
    extra = {"profile points": len(result.profile_z)}
else:
    extra = {}
print(json.dumps({"seconds": statistics.median(times), "peak_mib": rss() - base, **extra}))
"""

CASES = [
    ("evaluate", dict(points=300, layers=2, thickness=500.0, roughness=5.0), "the manual's size"),
    ("evaluate", dict(points=300, layers=100, thickness=100.0, roughness=5.0), "100 layers"),
    ("evaluate", dict(points=300, layers=1, thickness=1e5, roughness=1e3), "one 10 µm layer"),
    (
        "evaluate",
        dict(points=10_000, layers=1, thickness=50.0, roughness=5.0),
        "10 000 points, dQ/Q 2.5 % FWHM",
    ),
    (
        "evaluate",
        dict(points=100_000, layers=1, thickness=50.0, roughness=5.0),
        "100 000 points, dQ/Q 2.5 %",
    ),
    (
        "evaluate",
        dict(
            points=100_000, layers=48, thickness=1e5, roughness=1e3, resolution=5e-4, contrast=0.05
        ),
        "the most drawn: 100 000 points × 48 layers of 10 µm, σ 1000 Å, dQ/Q 0.05 %",
    ),
    (
        "evaluate",
        dict(points=100_000, layers=100, thickness=1e5, roughness=1e3, resolution=5e-4),
        "all maxima at once: 100 000 points × 100 layers",
    ),
    (
        "evaluate",
        dict(points=300, layers=100, thickness=1e5, roughness=50.0),
        "100 layers of 10 µm, SLD 1–5: refl1d overflows below the critical edges",
    ),
    ("parse", dict(points=100_000), "parse a 100 000-point upload"),
    ("form", dict(layer_count=400_000), "a form with layer-TOTAL_FORMS=400000"),
]


def main():
    src = Path(__file__).resolve().parents[1] / "src"
    env = os.environ | {"PYTHONPATH": f"{src}:{os.environ.get('PYTHONPATH', '')}"}
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start"
    )
    print("| case | time (median of 3) | peak RSS above imports | notes |")
    print("| --- | --- | --- | --- |")
    for name, args, label in CASES:
        out = subprocess.run(
            [sys.executable, "-c", CASE, name, json.dumps(args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        if out.returncode:
            sys.exit(f"{label}: {out.stderr}")
        found = json.loads(out.stdout.strip().splitlines()[-1])
        notes = ", ".join(f"{k} {v}" for k, v in found.items() if k not in ("seconds", "peak_mib"))
        took, peak = found["seconds"] * 1000, found["peak_mib"]
        print(f"| {label} | {took:.1f} ms | {peak:.0f} MiB | {notes} |")


if __name__ == "__main__":
    main()
