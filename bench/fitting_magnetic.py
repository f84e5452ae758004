"""Polarized fitting speed under `beamtime serve` with its own Celery worker, each figure beside
its in-process anchor in the same run: a magnetic model (150 Å Fe on Si, ρM and θM, thickness)
against four cross-sections of 100 points each (simulated with refl1d, 3 % noise, dQ/Q 2 %),
uploaded as four column files through the JSON API.

- evaluate over HTTP, `POST /api/fitting/datasets/{id}/evaluate` (all four curves and the
  spin asymmetry; goal p50 < 50 ms), beside refl1d_adapter.evaluate in-process;
- an LM fit of thickness, ρM and θM, submit → result over HTTP, polled every 10 ms (goal
  p50 < 1 s), beside refl1d_adapter.fit in-process;
- DREAM (samples 10000, burn 100) on the same problem, in-process: refl1d_adapter.fit (with
  the posterior it keeps: statistics, R̂, draws, nuclear and magnetic SLD bands) beside bumps'
  own ``bumps.fitters.fit(problem, method="dream")``, seeded alike and interleaved, wall and
  CPU time (goal: within 5 %).

    PYTHONPATH=src .venv/bin/python bench/fitting_magnetic.py [--evals 50] [--runs 10]
        [--dream-runs 5]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from beamtime.fitting import refl1d_adapter
from beamtime.fitting.data import ReflData
from beamtime.fitting.layers import LayerModel

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is no package
from serve import machine, start_serve, stop  # noqa: E402

from fitting import SETUP, Client, free, ms, shell  # noqa: E402

FILES = {"++": "fe_pp.txt", "+-": "fe_pm.txt", "-+": "fe_mp.txt", "--": "fe_mm.txt"}


TRUE = {  # tests/fitting/test_magnetism.py: the film the data are simulated from
    "front": {"name": "air"},
    "layers": [
        {
            "name": "Fe",
            "thickness": 150.0,
            "sld": 8.02,
            "roughness": 4.0,
            "rhoM": 5.06,
            "thetaM": 250,
        },
    ],
    "back": {"name": "Si", "sld": 2.07, "roughness": 3.0},
}
START = {
    **TRUE,
    "layers": [
        TRUE["layers"][0]
        | {"thickness": free(140, 100, 200), "rhoM": free(4, 2, 8), "thetaM": free(260, 220, 300)}
    ],
}
LM = {"steps": 200}
DREAM = {"samples": 10000, "burn": 100}


def simulated(points: int) -> dict[str, ReflData]:
    q = np.linspace(0.008, 0.12, points)
    flat = ReflData(q, np.ones_like(q), np.ones_like(q), 0.02 * q)
    curve = refl1d_adapter.evaluate(LayerModel.from_dict(TRUE), dict.fromkeys(FILES, flat))
    rng = np.random.default_rng(7)
    data = {}
    for name, xs in curve.cross_sections.items():
        r = np.array(xs["r"])
        dr = 0.03 * r
        data[name] = ReflData(q, r + dr * rng.standard_normal(points), dr, 0.02 * q)
    return data


def upload(client: Client, folder: Path, data: dict[str, ReflData]) -> int:
    """The four cross-sections as column files (Q R dR dQ-FWHM), one multipart POST."""
    boundary, body = "beamtime-bench-boundary", b""
    for name, xs in data.items():
        path = folder / FILES[name]
        np.savetxt(path, np.column_stack([xs.q, xs.r, xs.dr, xs.dq]))
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{path.name}"\r\nContent-Type: text/plain\r\n\r\n'
        )
        body += head.encode() + path.read_bytes() + b"\r\n"
    field = f'--{boundary}\r\nContent-Disposition: form-data; name="cross_sections"\r\n\r\n'
    body += field.encode() + ",".join(data).encode() + f"\r\n--{boundary}--\r\n".encode()
    ctype = f"multipart/form-data; boundary={boundary}"
    return client.call("api/fitting/datasets/polarized", raw=body, ctype=ctype)["id"]


def fit_http(client: Client, dataset: int) -> float:
    t0 = time.monotonic()
    payload = {"dataset": dataset, "model": START, "engine": "lm", "options": LM}
    pk = client.call("api/fitting/fits", payload)["id"]
    client.wait(pk, t0, 0.01)
    return time.monotonic() - t0


def dream(start: LayerModel, data: dict, runs: int) -> None:
    """Beamtime's DREAM path beside bumps' own on the same refl1d problem, interleaved."""
    from bumps.fitters import fit as bumps_fit

    times = {"bumps": [], "adapter": []}
    for run in range(runs):
        for way in times:
            np.random.seed(1 + run)
            t0, c0 = time.perf_counter(), time.process_time()
            if way == "bumps":
                bumps_fit(refl1d_adapter.build_problem(start, data), method="dream", **DREAM)
            else:
                refl1d_adapter.fit(start, data, "dream", DREAM)
            times[way].append((time.perf_counter() - t0, time.process_time() - c0))
    wall = {way: statistics.median(w for w, _ in found) for way, found in times.items()}
    cpu = {way: statistics.median(c for _, c in found) for way, found in times.items()}
    print(f"DREAM {DREAM}, {runs} runs each, median wall / CPU:")
    print(f"  bumps in-process    {wall['bumps']:.2f} / {cpu['bumps']:.2f} s")
    print(
        f"  refl1d_adapter.fit  {wall['adapter']:.2f} / {cpu['adapter']:.2f} s   "
        f"{(wall['adapter'] / wall['bumps'] - 1) * 100:+.1f} / "
        f"{(cpu['adapter'] / cpu['bumps'] - 1) * 100:+.1f} % (goal within 5 %)"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--evals", type=int, default=50, help="evaluate calls, each way")
    parser.add_argument("--runs", type=int, default=10, help="LM fits, each way")
    parser.add_argument("--points", type=int, default=100, help="points per cross-section")
    parser.add_argument("--dream-runs", type=int, default=5, help="DREAM fits, each way")
    args = parser.parse_args()
    print(machine(f"load average {os.getloadavg()[0]:.2f} at start"))
    data = simulated(args.points)
    start = LayerModel.from_dict(START)
    local_fits = []
    for _ in range(args.runs + 1):  # the first warms numba's kernels
        t0 = time.perf_counter()
        result = refl1d_adapter.fit(start, data, "lm", LM)
        local_fits.append(time.perf_counter() - t0)
    print(
        f"in-process LM: χ² {result.chisq:.3f}, "
        + ", ".join(f"{k} {v:.3f} ± {result.errors[k]:.3f}" for k, v in result.values.items())
    )
    dream(start, data, args.dream_runs)
    with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
        home = Path(tmp) / "var"
        proc = None
        try:
            proc, url, _ = start_serve(home)
            client = Client(url, shell(home, SETUP))
            dataset = upload(client, Path(tmp), data)
            site, local = [], []
            model = LayerModel.from_dict(TRUE)
            client.call(f"api/fitting/datasets/{dataset}/evaluate", {"model": TRUE})  # warm
            for _ in range(args.evals):
                t0 = time.perf_counter()
                answer = client.call(f"api/fitting/datasets/{dataset}/evaluate", {"model": TRUE})
                site.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                refl1d_adapter.evaluate(model, data)
                local.append(time.perf_counter() - t0)
            assert set(answer["cross_sections"]) == set(FILES), answer
            print(f"evaluate, 4 × {args.points} points, {args.evals} calls:")
            print(
                f"  HTTP p50 {ms(site):6.1f} ms (goal < 50 ms), p90 "
                f"{sorted(site)[int(0.9 * len(site))] * 1000:.1f} ms; in-process p50 "
                f"{ms(local):.1f} ms; ratio {ms(site) / ms(local):.1f}"
            )
            fit_http(client, dataset)  # warm-up: the worker's first fit
            runs = sorted(fit_http(client, dataset) for _ in range(args.runs))
            print(f"LM fit (steps 200), 4 × {args.points} points, {args.runs} fits:")
            print(
                f"  submit→result over HTTP p50 {ms(runs):6.0f} ms (goal < 1 s), p90 "
                f"{runs[int(0.9 * len(runs))] * 1000:.0f} ms; in-process p50 "
                f"{ms(local_fits[1:]):.0f} ms"
            )
        finally:
            if proc is not None:
                stop(proc)


if __name__ == "__main__":
    main()
