"""The comparison table of docs/reductus-comparison.md: Beamtime's refl reduction against
reductus 1.0.1 (run in its own environment by bench/reductus_harness.py) on every PBR file of
shared/data/ncnr-pbr and shared/data/reductus-pbr, and on the stock templates. For each file
and template: the largest relative deviation of Qz, dQ, v and dv over all points.

    PYTHONPATH=src .venv/bin/python bench/reductus_comparison.py \
        --reductus .reductus-env/bin/python [--out docs/reductus-comparison.md]
"""

import argparse
import datetime
import json
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np

from beamtime.reduction import sources
from beamtime.reduction.dataflow.calc import MemoryCache, calculate
from beamtime.reduction.dataflow.template import Template
from beamtime.reduction.instruments.refl import registry
from beamtime.reduction.instruments.templates import predefined

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HARNESS = Path(__file__).parent / "reductus_harness.py"
QUANTITIES = ("Qz", "dQ", "v", "dv")


def reductus(python: str, case: str, files: list[str], *options: str) -> list[dict]:
    done = subprocess.run(
        [python, HARNESS, case, *(str(DATA / f) for f in files), *options],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)["datasets"]


def deviation(ours, theirs: dict) -> tuple[float, str]:
    """The largest relative deviation over the four quantities, and which one it is.
    NaN where reductus has NaN counts as agreement (its uncertainty there is 0: skipped)."""
    worst, where = 0.0, ""
    defined = np.isfinite(np.array(theirs["v"], dtype=float))
    for name in QUANTITIES:
        mine = np.asarray(getattr(ours, name), dtype=float)
        ref = np.array(theirs[name], dtype=float)
        if name == "dv":
            mine, ref = mine[defined], ref[defined]
        both = np.isfinite(mine) & np.isfinite(ref)
        if np.any(np.isfinite(mine) != np.isfinite(ref)) and name != "dv":
            return float("inf"), name
        if not both.any():
            continue
        scale = np.where(ref[both] != 0, np.abs(ref[both]), 1.0)
        value = float(np.max(np.abs(mine[both] - ref[both]) / scale))
        if value > worst:
            worst, where = value, name
    return worst, where


def diagram(files: list[str], base: str = "monitor") -> Template:
    info = [{"source": "local", "path": f, "mtime": 0} for f in files]
    nodes = [
        {"module": "refl.load", "config": {"filelist": info}},
        {"module": "refl.normalize", "config": {"base": base}},
    ]
    wires = [{"source": [0, "output"], "target": [1, "data"]}]
    return Template("compare", nodes, wires, "refl")


def files_table(python: str) -> list[str]:
    files = sorted(
        f"{folder}/{p.name}"
        for folder in ("ncnr-pbr", "reductus-pbr")
        for p in (DATA / folder).iterdir()
        if p.name.endswith(".pbr")
    )
    template = diagram(files)
    cache = MemoryCache()
    rows = defaultdict(lambda: {"xs": [], "points": 0, "intent": set(), "load": 0.0, "norm": 0.0})
    loaded = calculate(template, registry, 0, "output", cache)
    normalized = calculate(template, registry, 1, "output", cache)
    their_load = reductus(python, "load", files)
    their_norm = reductus(python, "normalize_monitor", files)
    assert len(loaded) == len(their_load) == len(normalized) == len(their_norm)
    for mine, norm, ref, ref_norm in zip(loaded, normalized, their_load, their_norm, strict=True):
        file = mine.name.rsplit(":", 1)[0]
        row = rows[file]
        row["xs"].append(mine.polarization)
        row["points"] += len(mine)
        same = mine.intent == ref["intent"]
        row["intent"].add(mine.intent if same else f"{mine.intent} ≠ {ref['intent']}")
        row["load"] = max(row["load"], deviation(mine, ref)[0])
        row["norm"] = max(row["norm"], deviation(norm, ref_norm)[0])
    lines = [
        "| file | cross-sections | points | intent (both) | load | normalize (monitor) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for file, row in sorted(rows.items()):
        intents = ", ".join(sorted(row["intent"]))
        lines.append(
            f"| {file} | {' '.join(row['xs'])} | {row['points']} | {intents}"
            f" | {row['load']:.1e} | {row['norm']:.1e} |"
        )
    return lines


TEMPLATES = [
    # (predefined name, files per loader title, node title, harness case, files, options)
    (
        "Unpolarized (reductus)",
        {
            "specular": ["ncnr-pbr/mli0115.nxs.pbr"],
            "background−": ["ncnr-pbr/mli01120.nxs.pbr"],
            "direct beam": ["ncnr-pbr/mli0159.nxs.pbr"],
        },
        "divide by direct beam",
        "divide_intensity",
        ["ncnr-pbr/mli0115.nxs.pbr", "ncnr-pbr/mli01120.nxs.pbr", "ncnr-pbr/mli0159.nxs.pbr"],
        (),
    ),
    (
        "Polarized (reductus)",
        {"specular": ["reductus-pbr/mli0170.nxs.pbr"], "direct beam": ["ncnr-pbr/mli0159.nxs.pbr"]},
        "correct polarization",
        "correct_polarization",
        ["reductus-pbr/mli0170.nxs.pbr", "ncnr-pbr/mli0159.nxs.pbr"],
        (),
    ),
    (
        "Polarized with footprint (reductus)",
        {"specular": ["reductus-pbr/mli0170.nxs.pbr"], "direct beam": ["ncnr-pbr/mli0159.nxs.pbr"]},
        "correct footprint",
        "correct_polarization",
        ["reductus-pbr/mli0170.nxs.pbr", "ncnr-pbr/mli0159.nxs.pbr"],
        ("--footprint",),
    ),
    (
        "Spin asymmetry (reductus)",
        {"specular": ["reductus-pbr/mli0170.nxs.pbr"], "direct beam": ["ncnr-pbr/mli0159.nxs.pbr"]},
        "divide by direct beam",
        "divide_intensity",
        ["reductus-pbr/mli0170.nxs.pbr", "ncnr-pbr/mli0159.nxs.pbr"],
        (),
    ),
    (
        "Specular with backgrounds and direct beam",
        {
            "specular": ["ncnr-pbr/mli0115.nxs.pbr"],
            "background−": ["ncnr-pbr/mli01120.nxs.pbr"],
            "direct beam": ["ncnr-pbr/mli0159.nxs.pbr"],
        },
        "rescale",
        "reflectivity",
        ["ncnr-pbr/mli0115.nxs.pbr", "ncnr-pbr/mli01120.nxs.pbr", "ncnr-pbr/mli0159.nxs.pbr"],
        ("--scale", "1", "--dscale", "0", "--width", "10"),
    ),
]


def loaded(template: dict, loaders: dict) -> list[dict]:
    """The template's nodes, each refl.load given the files (of the "local" source) that
    ``loaders`` names for its title, none if it names none."""
    return [
        {
            **n,
            "config": {
                **n.get("config", {}),
                "filelist": [
                    {"source": "local", "path": f, "mtime": 0} for f in loaders.get(n["title"], [])
                ],
            },
        }
        if n["module"] == "refl.load"
        else n
        for n in template["nodes"]
    ]


def templates_table(python: str) -> list[str]:
    lines = [
        "| template | files | node compared | data sets | largest deviation (quantity) |",
        "| --- | --- | --- | --- | --- |",
    ]
    stock = {t["name"]: t for t in predefined("refl")}
    for name, loaders, title, case, files, options in TEMPLATES:
        found = stock[name]
        nodes = loaded(found, loaders)
        template = Template(name, nodes, found["wires"], "refl")
        index = [n["title"] for n in nodes].index(title)
        ours = calculate(template, registry, index, "output", MemoryCache())
        theirs = reductus(python, case, files, *options)
        ours = sorted(ours, key=lambda d: d.polarization)
        theirs = sorted(theirs, key=lambda d: d["polarization"])
        worst = max((deviation(a, b) for a, b in zip(ours, theirs, strict=True)), default=(0, ""))
        lines.append(
            f"| {name} | {', '.join(Path(f).name for f in files)} | {title} | {len(ours)}"
            f" | {worst[0]:.1e} ({worst[1] or '—'}) |"
        )
    return lines


# The corrections compared in tests/reduction/test_reductus_corrections.py, step by step:
# (step, files, what is compared and how close, where the two differ and why).
STEPS = [
    (
        "fit dead time (auto, NP, mixed; detector and monitor)",
        "two copies of reductus-pbr/fp_slitAperture4.softPosition7377 carrying a simulated"
        " calibration (transmission 0.1 and 1, τNP 5 µs, τP 1 µs, 2e3–4e5 counts/s)",
        "τNP, τP, incident rates 1e-6; their uncertainties and the attenuation 1e-5; the"
        " counts corrected with the fit 1e-6",
        "no real file holds an attenuated/unattenuated pair (their rates stay below 5000"
        " counts/s). reductus 1.0.1 fails on a wired fit (its constants are given as"
        " controls there) and its mode P holds τNP at the starting guess (ours holds 0,"
        " checked against the simulated truth); where its three Newton steps have not"
        " converged (≤ 1/4 of the points, the highest rates) ours solve R(I) = C/t to 1e-10",
    ),
    (
        "monitor saturation",
        "ncnr-pbr/mli0111 with an NG7-style countrate_correction curve written in",
        "Qz, dQ, v, dv 1e-6 after normalizing; the same points left out (beyond the curve)",
        "no PBR file holds a saturation curve: there both pass the data unchanged",
    ),
    (
        "detector saturation",
        "ncnr-pbr/mli0111",
        "passes the data unchanged (NeXus files hold no detector curve)",
        "reductus 1.0.1 fails on every NeXus file (it takes its default curve, a number,"
        " for a table)",
    ),
    (
        "divergence fb (slits 3 and 4 at 500/1500 and 200/2600 mm)",
        "ncnr-pbr/mli0111, mli0159, mli0181 (4 cross-sections), reductus-pbr/"
        "fp_slitAperture4.softPosition7377, fp_slitAperture3.softPosition7379",
        "dT, Qz, dQ, v, dv 1e-6 after normalizing",
        "the files hold no slit distances: reductus is given the same ones (after its"
        " super_load divergence fb does nothing, so it loads with ncnr_load); slits 1 and 2"
        " alone are checked against the trapezoid formula",
    ),
    (
        "smooth slits (span 2; span 20 degree 2; span 40 degree 3 dx 0.001)",
        "reductus-pbr/fp_slitAperture4.softPosition7377 and 7378 with slits 1 and 2 written"
        " to follow slit 4; ncnr-pbr/mli0159 (4 cross-sections)",
        "slit1, slit2, v, dv 1e-6 (the merged settings and the values at them)",
        "no PBR scan moves slits 1 and 2; on a real scan at one setting reductus gives NaN"
        " (ours: the mean, checked). reductus evaluates a moving window (span < points) at"
        " uninitialized numbers: there ours is checked to reproduce the points with"
        " degree span − 1. reductus keeps the old dT; ours moves it to the merged settings",
    ),
    (
        "load with Qz basis detector, sample, target (in `test_reductus.py`)",
        "ncnr-pbr/mli0115 (specular), mli01120 (background−), mli0181 (rocking curve);"
        " mli0115 less mli01120",
        "Qz, dQ, v, dv 1e-6 after normalizing, after subtracting the background (align"
        " none) and after interpolating it (align auto)",
        "by the sample angle alone the subtracted values move by 3e-5 of their uncertainty"
        " with reductus' float32 angles: there reductus is given them as float64 (then"
        " 2e-13). With basis target reductus 1.0.1 leaves an interpolated background its own"
        " Qz_target (16 Qz for 14 values): ours is checked to stand at the specular's aimed"
        " sample angles",
    ),
    (
        "average flux (in `test_reductus.py`)",
        "ncnr-pbr/mli0115 (2 cross-sections) and mli0111, the direct beam mli0159 −− "
        "normalized by time",
        "number incident, average flux, times, the total 1e-6; the uncertainties 1e-6 once "
        "the timer's share is changed",
        "reductus 1.0.1 cannot run it (it imports FluxData from a module its package lacks: "
        "the harness names it). It takes a 1 µs timer step in each point's time; ours the "
        "counter's 1 ms, σt² = Δ²/12, as normalizing by time does: its uncertainties are "
        "compared with S²(Δ²/12 − 1e-12) a point added",
    ),
    (
        "mix cross sections (in `test_reductus.py`)",
        "reductus-pbr/mli0170 (4 cross-sections)",
        "the mixed list's polarizations; Qz, dQ, v, dv 1e-6 after join",
        "none",
    ),
    (
        "rescale, one factor per data set (in `test_reductus.py`)",
        "ncnr-pbr/mli0111, mli0115, mli0159: 7 data sets in one bundle",
        "Qz, dQ, v, dv 1e-6 against reductus' own template engine (its pairing of scale* and"
        " dscale* with the data sets): a factor and an uncertainty per data set, one"
        " uncertainty for all, one factor for all, none",
        "a wrong count and a negative uncertainty are refused as reductus refuses them",
    ),
    (
        "join grouped by probe and by instrument (in `test_reductus_corrections.py`)",
        "the specular and rocking-curve files of the join comparison; ncnr-pbr/mli0111 and mli0115",
        "the groups; Qz, dQ, v, dv 1e-6",
        'every shared file is neutrons on "NCNR PBR": all cross-sections join into one data'
        " set, as in reductus",
    ),
    (
        "slit distances, wavelength spread and dead times read from the file (in"
        " `test_file_constants.py`)",
        "copies of ncnr-pbr/mli0111 and mli0115 with the fields written in, in m, cm, mm, nm,"
        " µs and ms",
        "Qz, dQ, v, dv, dT, dL 1e-6: load, angular resolution, divergence fb, footprint, both"
        " dead-time steps, background field",
        "no shared file holds them. reductus 1.0.1 fails on a detector dead time stored as a"
        " one-element array (it is given a scalar); its background field takes the file's"
        " slit distances even when the controls give others, ours the controls",
    ),
    (
        "half-polarized and unpolarized scans: load, extract xs (+, −, unpolarized), spin"
        " asymmetry (in `test_reductus.py`)",
        "copies of ncnr-pbr/mli0111 (both flippers BEAM_OUT), mli0115 (back flipper"
        " UNPOLARIZED) and mli0164 (no front flipper direction)",
        'the cross-sections ("", −, +, −) and the data sets kept; Qz, dQ, v, dv 1e-6 after'
        " normalizing; the spin asymmetry's Qz and v 1e-6",
        "no shared file is half or unpolarized. Of − with 15 points and + with 14, reductus"
        " keeps all 15 Qz of − beside 14 values; ours keeps 14 points",
    ),
    (
        "spin asymmetry (in `test_reductus.py`)",
        "reductus-pbr/mli0170 (4 cross-sections), joined",
        "Qz, dQ, v 1e-6; dv against the derivative's propagation, "
        "σS² = ((2R−−σ++)² + (2R++σ−−)²)/(R++ + R−−)⁴, 1e-12",
        "reductus 1.0.1 swaps σ++ and σ−− in its propagation: its dv differs from ours by up"
        " to 35 % on mli0170",
    ),
]


def steps_table() -> list[str]:
    lines = [
        "| step | files | compared (relative) | notes |",
        "| --- | --- | --- | --- |",
    ]
    return lines + [f"| {' | '.join(row)} |" for row in STEPS]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reductus", default=".reductus-env/bin/python")
    p.add_argument("--out", default="docs/reductus-comparison.md")
    a = p.parse_args()
    sources.configure([sources.LocalSource("local", DATA)])
    text = [
        "# Beamtime's reflectometry reduction against reductus 1.0.1",
        "",
        "Made by `bench/reductus_comparison.py` (reductus run by `bench/reductus_harness.py` in",
        "its own environment, with the 1×1-string shim the PBR READMEs describe) on"
        f" {datetime.date.today().isoformat()}.",
        "Each figure is the largest relative deviation |ours − reductus|/|reductus| over all",
        "points of Qz, dQ, v and dv (where reductus has no value, NaN, neither have we and the",
        "uncertainty is not compared). The CI test (`tests/reduction/test_reductus.py`) holds",
        "every one of them to 1e-6.",
        "",
        "## Every PBR file: load (raw counts) and normalize by monitor",
        "",
        *files_table(a.reductus),
        "",
        "## Templates",
        "",
        *templates_table(a.reductus),
        "",
        "## Corrections, step by step (`tests/reduction/test_reductus_corrections.py`)",
        "",
        *steps_table(),
        "",
    ]
    Path(a.out).write_text("\n".join(text))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
