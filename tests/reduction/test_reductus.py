"""Beamtime's refl reduction against reductus 1.0.1 on the same NCNR PBR files: Qz, dQ, value
and uncertainty agree to 1e-6 relative after every step.

reductus lives in its own environment (never a dependency of Beamtime): `.ci/run` makes it
and names its python in BEAMTIME_REDUCTUS_PYTHON; bench/reductus_harness.py runs the same
steps there and prints the numbers as JSON.
"""

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from beamtime.reduction.dataflow.cache import Recent
from beamtime.reduction.dataflow.calc import MemoryCache
from beamtime.reduction.dataflow.calc import calculate as engine_calculate
from beamtime.reduction.dataflow.template import Template, TemplateError
from beamtime.reduction.instruments.refl import registry
from tests.conftest import require
from tests.reduction.conftest import PBR, data_sources, fileinfo


def calculate(*args, **kwargs):
    """The engine as a server runs it: each result is kept with its arrays read-only
    (dataflow.cache.Recent), so a step that changed its inputs in place would fail here."""
    return engine_calculate(*args, recent=Recent(10**7), **kwargs)


HARNESS = Path(__file__).resolve().parents[2] / "bench" / "reductus_harness.py"
REDUCTUS = os.environ.get("BEAMTIME_REDUCTUS_PYTHON", "")
RTOL = 1e-6


def reductus(case: str, files: list[str], *options: str) -> list[dict]:
    return reductus_run(case, files, *options)["datasets"]


def reductus_run(case: str, files: list[str], *options: str) -> dict:
    """The harness's whole answer: {reductus, case, files, params, datasets}."""
    require(bool(REDUCTUS) and Path(REDUCTUS).exists(), "reductus (BEAMTIME_REDUCTUS_PYTHON)")
    done = subprocess.run(
        [REDUCTUS, HARNESS, case, *(str(PBR / f) for f in files), *options],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class Diagram:
    """A template built step by step: each call adds a node and returns its index."""

    def __init__(self):
        self.nodes, self.wires = [], []

    def __call__(self, module: str, *inputs: tuple, **config) -> int:
        """inputs: (node, terminal) from the node's output, or (node, output, terminal)."""
        self.nodes.append({"module": f"refl.{module}", "config": config})
        index = len(self.nodes) - 1
        for wire in inputs:
            source, output, terminal = wire if len(wire) == 3 else (wire[0], "output", wire[1])
            self.wires.append({"source": [source, output], "target": [index, terminal]})
        return index

    def load(
        self, *files: str, base: str = "monitor", join: bool = False, basis: str = "actual"
    ) -> int:
        loaded = self("load", filelist=[fileinfo(f) for f in files], Qz_basis=basis)
        node = self("normalize", (loaded, "data"), base=base)
        return self("join", (node, "data")) if join else node

    def run(self, node: int) -> list:
        template = Template("test", self.nodes, self.wires, "refl")
        return calculate(template, registry, node, "output", MemoryCache())


def compare(ours: list, theirs: list[dict], finite: bool = False):
    """finite: ours are finite where reductus' are not (compared where reductus' are).
    Where reductus has no value (NaN) neither have we, and the uncertainty is not compared
    (reductus gives it as 0, we as NaN)."""
    assert len(ours) == len(theirs)
    ours = sorted(ours, key=lambda d: d.polarization)
    theirs = sorted(theirs, key=lambda d: d["polarization"])
    for mine, ref in zip(ours, theirs, strict=True):
        assert mine.polarization == ref["polarization"]
        for name, value in (("Qz", mine.Qz), ("dQ", mine.dQ), ("v", mine.v), ("dv", mine.dv)):
            expected = np.array(ref[name], dtype=float)  # null (not finite) as NaN
            if finite:
                assert np.all(np.isfinite(value)), f"{mine.name} {name}"
                value, expected = value[np.isfinite(expected)], expected[np.isfinite(expected)]
            elif name == "dv":
                defined = np.isfinite(np.array(ref["v"], dtype=float))
                value, expected = value[defined], expected[defined]
            np.testing.assert_allclose(value, expected, rtol=RTOL, err_msg=f"{mine.name} {name}")


ALL_FILES = sorted(f.name for f in PBR.iterdir() if f.name.endswith(".pbr"))
ALL_BUT_ABORTED = [
    "mli0111.nxs.pbr",
    "mli0115.nxs.pbr",
    "mli01120.nxs.pbr",
    "mli0159.nxs.pbr",
    "mli0164.nxs.pbr",
    "mli0181.nxs.pbr",
]


@pytest.mark.parametrize("base", ["monitor", "time", "roi", "auto", "none"])
def test_normalized_counts_agree(pbr_source, base):
    for file in ALL_BUT_ABORTED:
        d = Diagram()
        compare(d.run(d.load(file, base=base)), reductus(f"normalize_{base}", [file]))


def test_normalizing_by_reactor_power_fails_as_in_reductus(pbr_source):
    d = Diagram()
    with pytest.raises(
        TemplateError, match=r"\(base\): mli0115.nxs.pbr:DOWN_DOWN holds no reactor"
    ):
        d.run(d.load("mli0115.nxs.pbr", base="power"))
    with pytest.raises(AssertionError, match="source power is unknown"):
        reductus("normalize_power", ["mli0115.nxs.pbr"])


@pytest.mark.parametrize("base", ["monitor", "time", "roi", "auto"])
def test_the_aborted_scan_agrees_too(pbr_source, base):
    d = Diagram()
    file = "mli01121.nxs.pbr"
    compare(d.run(d.load(file, base=base)), reductus(f"normalize_{base}", [file]))


def test_joined_points_agree(pbr_source):
    files = ["mli0111.nxs.pbr", "mli0115.nxs.pbr"]
    d = Diagram()
    compare(d.run(d.load(*files, join=True)), reductus("join", files))


def test_rescaled_masked_and_footprint_corrected_points_agree(pbr_source):
    file = ["mli0111.nxs.pbr"]
    d = Diagram()
    compare(
        d.run(d("rescale", (d.load(*file), "data"), scale=2.0, dscale=0.1)),
        reductus("rescale", file, "--scale", "2", "--dscale", "0.1"),
    )
    d = Diagram()
    compare(
        d.run(d("mask_points", (d.load(*file), "data"), mask_indices=[[0, 3, 50]])),
        reductus("mask", file, "--mask", "0,3,50"),
    )
    # No width: a sample longer than the beam, the limit reductus reaches with a long one
    # (its own default, the file's infinite width, gives NaN everywhere).
    for width, offset, io in (("10", "0", "1"), ("3", "1.5", "0.8"), (None, "0", "1.2")):
        d = Diagram()
        config = {"sample_width": None if width is None else float(width)}
        node = d("footprint", (d.load(*file), "data"), **config, offset=float(offset), Io=float(io))
        options = ("--width", width or "1e7", "--offset", offset, "--io", io)
        compare(d.run(node), reductus("footprint", file, *options))
    assert all(
        np.isnan(np.array(x["v"], dtype=float)).all()
        for x in reductus("footprint", file, "--width", "none")
    )


# Three files, seven data sets (1 + 2 + 4 cross-sections) in one bundle.
BUNDLE = ["mli0111.nxs.pbr", "mli0115.nxs.pbr", "mli0159.nxs.pbr"]
RESCALES = [
    ([0.5, 2.0, 3.0, 1.0, 0.25, 7.5, 1.5], [0.01, 0.1, 0.0, 0.2, 0.0, 0.5, 0.05]),
    ([0.5, 2.0, 3.0, 1.0, 0.25, 7.5, 1.5], [0.1]),  # one uncertainty for all
    ([2.0], [0.1]),  # one factor for all
    ([], []),  # the defaults: 1 ± 0
]


def listed(values: list[float]) -> str:
    return ",".join(map(str, values))


@pytest.mark.parametrize(("scale", "dscale"), RESCALES)
def test_rescale_pairs_its_lists_with_the_bundle_as_reductus_engine_does(pbr_source, scale, dscale):
    """reductus' own engine (process_template) pairs scale* and dscale* with the data sets."""
    d = Diagram()
    ours = d.run(d("rescale", (d.load(*BUNDLE), "data"), scale=scale, dscale=dscale))
    theirs = reductus(
        "rescale_engine", BUNDLE, f"--scales={listed(scale)}", f"--dscales={listed(dscale)}"
    )
    assert len(ours) == len(theirs) == 7
    assert [x.name.split(".")[0] + ":" + x.name.rsplit(":", 1)[1] for x in ours] == [
        f"{ref['name']}:{ref['entry']}" for ref in theirs
    ]
    compare_in_order(ours, theirs)
    factors = (scale or [1.0]) * (7 // len(scale or [1.0]))
    for mine, plain, factor in zip(ours, d.run(d.load(*BUNDLE)), factors, strict=True):
        np.testing.assert_allclose(mine.v, factor * plain.v, rtol=1e-12)


def test_a_saved_single_scale_still_scales_every_data_set(pbr_source):
    """A template saved when rescale took one number: that number for every data set."""
    d = Diagram()
    ours = d.run(d("rescale", (d.load(*BUNDLE), "data"), scale=2.0, dscale=0.1))
    compare_in_order(ours, reductus("rescale_engine", BUNDLE, "--scales=2", "--dscales=0.1"))


def test_a_wrong_count_of_scales_or_a_negative_uncertainty_is_refused(pbr_source):
    for config, message in (
        ({"scale": [1.0, 2.0]}, r"\(scale\): 2 values for 7 data sets"),
        ({"dscale": [0.1] * 8}, r"\(dscale\): 8 values for 7 data sets"),
        ({"dscale": [0.1, -0.1, 0, 0, 0, 0, 0]}, r"\(dscale\): an uncertainty cannot be negative"),
    ):
        d = Diagram()
        with pytest.raises(TemplateError, match=message):
            d.run(d("rescale", (d.load(*BUNDLE), "data"), **config))
    with pytest.raises(AssertionError, match="Need one value of scale for each dataset"):
        reductus("rescale_engine", BUNDLE, "--scales=1,2")
    with pytest.raises(AssertionError, match=r"invalid value for dscale, -0.1 not in"):
        reductus("rescale_engine", BUNDLE, "--dscales=0.1,-0.1")


def test_background_subtraction_and_division_by_the_direct_beam_agree(pbr_source):
    d = Diagram()
    spec = d.load("mli0115.nxs.pbr", join=True)
    subtracted = d(
        "subtract_background", (spec, "data"), (d.load("mli01120.nxs.pbr", join=True), "backm")
    )
    compare(d.run(subtracted), reductus("background", ["mli0115.nxs.pbr", "mli01120.nxs.pbr"]))
    divided = d(
        "divide_intensity", (subtracted, "data"), (d.load("mli0159.nxs.pbr", join=True), "base")
    )
    result = d.run(divided)
    assert {r.normbase for r in result} == {"reflectivity"}
    compare(
        result,
        reductus("divide_intensity", ["mli0115.nxs.pbr", "mli01120.nxs.pbr", "mli0159.nxs.pbr"]),
    )


@pytest.mark.parametrize("basis", ["detector", "sample", "target"])
def test_qz_from_the_basis_reductus_loads_with_agrees(pbr_source, basis):
    """super_load's Qz_basis: Qz from the detector angle, the sample angle or NICE's target,
    for a specular scan, a background and a rocking curve, and the steps after it that
    place points by their Qz (background subtraction, interpolation with align auto)."""
    option = ("--qz-basis", basis)
    for file in ("mli0115.nxs.pbr", "mli01120.nxs.pbr", "mli0181.nxs.pbr"):
        d = Diagram()
        compare(d.run(d.load(file, basis=basis)), reductus("normalize_monitor", [file], *option))
    files = ["mli0115.nxs.pbr", "mli01120.nxs.pbr"]
    d = Diagram()
    spec = d.load(files[0], join=True, basis=basis)
    back = d.load(files[1], join=True, basis=basis)
    subtracted = d("subtract_background", (spec, "data"), (back, "backm"))
    # By the sample angle alone, the background's Qz moves with reductus' float32 angles
    # (3e-5 of the uncertainty after subtracting): reductus is given them as float64.
    exact = ("--float64-angles",) if basis == "sample" else ()
    compare(d.run(subtracted), reductus("background", files, *option, *exact))
    interpolated = d("interpolate_background", (spec, "data"), (back, "backm"))
    ours = _run_terminal(d, interpolated, "outm")
    if basis != "target":
        theirs = reductus("interpolate_background", files, "--align", "auto", *option)
        compare(ours, theirs)
        return
    # reductus 1.0.1 leaves the background its own Qz_target there (16 Qz for 14 values):
    # ours stand at the specular's aimed sample angles.
    joined = {x.polarization: x for x in d.run(spec)}
    for minus in ours:
        np.testing.assert_array_equal(minus.Ti, joined[minus.polarization].Ti_target)


@pytest.fixture
def counted_once(tmp_path):
    """mli0115 as a counter that stores one detector count for all the points of a scan
    writes it: liveROI holds the first point's count only (liveMonitor still one per point)."""
    import h5py

    from beamtime.reduction import sources

    path = tmp_path / "once.nxs.pbr"
    path.write_bytes((PBR / "mli0115.nxs.pbr").read_bytes())
    with h5py.File(path, "r+") as f:
        for entry in ("DOWN_DOWN", "UP_UP"):
            field = f"{entry}/DAS_logs/counter/liveROI"
            first = f[field][:1]
            del f[field]
            f[field] = first
    with data_sources(sources.LocalSource("local", tmp_path)):
        yield path


def test_a_count_written_once_is_repeated_over_the_points_as_reductus_does(counted_once):
    d = Diagram()
    raw = d("load", filelist=[fileinfo(counted_once.name)])
    loaded = d.run(raw)
    assert [len(item) for item in loaded] == [15, 14]
    assert all(np.all(item.v == item.v[0]) for item in loaded)
    compare(loaded, reductus("load", [str(counted_once)]))
    d = Diagram()
    compare(d.run(d.load(counted_once.name)), reductus("normalize_monitor", [str(counted_once)]))


def test_the_slit_scans_cross_sections_can_be_chosen(pbr_source):
    file = "mli0159.nxs.pbr"
    d = Diagram()
    chosen = {**fileinfo(file), "entries": ["DOWN_DOWN", "UP_UP"]}
    node = d("normalize", (d("load", filelist=[chosen]), "data"), base="monitor")
    result = d.run(node)
    assert [r.polarization for r in result] == ["--", "++"]
    compare(result, reductus("normalize_monitor", [file], "--entries", "DOWN_DOWN,UP_UP"))


def predefined_template(name: str, files: dict[str, list]) -> Template:
    """A predefined template of the refl instrument, its loaders given files by title."""
    from beamtime.reduction.instruments.templates import predefined

    (found,) = [t for t in predefined("refl") if t["name"] == name]
    nodes = [
        {**n, "config": {**n.get("config", {}), "filelist": files.get(n["title"], [])}}
        if n["module"] == "refl.load"
        else n
        for n in found["nodes"]
    ]
    return Template(name, nodes, found["wires"], "refl")


def test_the_background_template_runs_with_one_background_sign(pbr_source):
    files = ["mli0115.nxs.pbr", "mli01120.nxs.pbr", "mli0159.nxs.pbr"]
    template = predefined_template(
        "Specular with backgrounds and direct beam",
        {
            "specular": [fileinfo(files[0])],
            "background+": [],  # left empty: that branch passes nothing
            "background−": [fileinfo(files[1])],
            "direct beam": [fileinfo(files[2])],
        },
    )
    titles = [n["title"] for n in template.nodes]
    cache = MemoryCache()
    assert calculate(template, registry, titles.index("background+"), "output", cache) == []
    subtracted = calculate(template, registry, titles.index("subtract background"), "output", cache)
    compare(subtracted, reductus("background", files[:2]))
    last = len(template.nodes) - 1
    compare(
        calculate(template, registry, last, "output", cache),
        reductus("reflectivity", files, "--scale", "1", "--dscale", "0", "--width", "10"),
    )


# Every PBR file of reductus' public test data that Beamtime has (both folders).
EVERY_FILE = sorted(
    f"{folder.name}/{f.name}"
    for folder in (PBR, PBR.parent / "reductus-pbr")
    for f in folder.iterdir()
    if f.name.endswith(".pbr")
)


@pytest.fixture
def every_file():
    """Both folders of PBR files as the server's local data (named "local")."""
    from beamtime.reduction import sources

    with data_sources(sources.LocalSource("local", PBR.parent)):
        yield


@pytest.mark.parametrize("intent", ["auto", "infer"])
def test_every_file_loads_with_the_numbers_and_intent_reductus_gives(every_file, intent):
    assert len(EVERY_FILE) == 111
    d = Diagram()
    node = d("load", filelist=[fileinfo(f) for f in EVERY_FILE], intent=intent)
    ours = d.run(node)
    theirs = reductus("load", [str(PBR.parent / f) for f in EVERY_FILE], "--intent", intent)
    assert len(ours) == len(theirs) == 123
    for mine, ref in zip(ours, theirs, strict=True):
        assert mine.name.endswith(f":{ref['entry']}") and mine.polarization == ref["polarization"]
        assert mine.intent == ref["intent"], mine.name
        for name, value in (("Qz", mine.Qz), ("dQ", mine.dQ), ("v", mine.v), ("dv", mine.dv)):
            expected = np.array(ref[name], dtype=float)  # null (not finite) as NaN
            np.testing.assert_allclose(value, expected, rtol=RTOL, err_msg=f"{mine.name} {name}")


def same_sets(ours: list, theirs: list[dict]):
    """The same data sets, in the same order: file, entry and intent."""
    assert [(d.name.split(".")[0], d.name.rsplit(":", 1)[1]) for d in ours] == [
        (ref["name"], ref["entry"]) for ref in theirs
    ]
    assert [d.intent for d in ours] == [r["intent"] for r in theirs]


def test_mark_intent_infers_what_reductus_infers(pbr_source):
    d = Diagram()
    node = d("mark_intent", (d("load", filelist=[fileinfo(f) for f in ALL_FILES]), "data"))
    d.nodes[node]["config"] = {"intent": "infer"}
    ours = d.run(node)
    theirs = reductus("load", ALL_FILES, "--intent", "infer")
    same_sets(ours, theirs)
    assert {x.intent for x in ours} == {"specular", "background-", "intensity", "rock sample"}
    compare_in_order(ours, theirs)


def test_group_by_intent_groups_as_reductus_does(pbr_source):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(f) for f in ALL_FILES])
    grouped = d("group_by_intent", (loaded, "data"))
    template = Template("test", d.nodes, d.wires, "refl")
    cache = MemoryCache()
    names = ("specular", "backp", "backm", "intensity", "rock", "other")
    groups = [calculate(template, registry, grouped, name, cache) for name in names]
    answer = reductus_run("group_by_intent", ALL_FILES)
    assert [len(g) for g in groups] == answer["params"]["group_sizes"]
    assert [bool(g) for g in groups] == [True, False, True, True, True, False]  # no background+
    same_sets([x for g in groups for x in g], answer["datasets"])


@pytest.mark.parametrize("xs", ["++", "+-", "--"])
def test_extract_xs_keeps_the_cross_section_reductus_keeps(pbr_source, xs):
    files = ["mli0115.nxs.pbr", "mli0181.nxs.pbr"]
    d = Diagram()
    node = d("extract_xs", (d("load", filelist=[fileinfo(f) for f in files]), "data"), xs=xs)
    ours = d.run(node)
    theirs = reductus("extract_xs", files, "--xs", spins(xs))
    same_sets(ours, theirs)
    assert {x.polarization for x in ours} == {xs}
    compare_in_order(ours, theirs)


@pytest.mark.parametrize(
    ("key", "comparator", "value"),
    [("intent", "eq", "specular"), ("polarization", "ne", "--"), ("intent", "lt", "rock")],
)
def test_filter_keeps_what_reductus_keeps(pbr_source, key, comparator, value):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(f) for f in ALL_FILES])
    node = d("filter", (loaded, "data"), key=key, comparator=comparator, value=value)
    ours = d.run(node)
    options = ("--key", key, "--comparator", comparator, "--value", spins(value))
    theirs = reductus("filter", ALL_FILES, *options)
    assert ours
    same_sets(ours, theirs)


def test_filter_by_wavelength_compares_numbers(pbr_source):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo("mli0115.nxs.pbr")])
    kept = d("filter", (loaded, "data"), key="wavelength", comparator="gt", value="4.7")
    assert len(d.run(kept)) == 2  # the README: 4.75 Å
    d.nodes[kept]["config"]["value"] = "4.8"
    assert d.run(kept) == []
    d.nodes[kept]["config"]["value"] = "blue"
    with pytest.raises(TemplateError, match="'blue' is not a number"):
        d.run(kept)


def spins(xs: str) -> str:
    """A cross-section as the harness takes it: p and m for + and -."""
    return xs.replace("+", "p").replace("-", "m")


def compare_in_order(ours: list, theirs: list[dict]):
    for mine, ref in zip(ours, theirs, strict=True):
        for name, value in (("Qz", mine.Qz), ("dQ", mine.dQ), ("v", mine.v), ("dv", mine.dv)):
            expected = np.array(ref[name], dtype=float)  # null (not finite) as NaN
            np.testing.assert_allclose(value, expected, rtol=RTOL, err_msg=f"{mine.name} {name}")


def corrected(file: str, step: str, base: str = "monitor", **config) -> list:
    """file → load → normalize → step(**config)."""
    d = Diagram()
    return d.run(d(step, (d.load(file, base=base), "data"), **config))


@pytest.mark.parametrize(("file", "offset"), [("mli0115.nxs.pbr", 0.1), ("mli0164.nxs.pbr", -0.25)])
def test_theta_offset_agrees(pbr_source, file, offset):
    theirs = reductus("theta_offset", [file], "--theta-offset", str(offset))
    compare(corrected(file, "theta_offset", offset=offset), theirs)


@pytest.mark.parametrize("step", ["back_reflection", "absolute_angle"])
def test_the_sense_of_the_angles_agrees(pbr_source, step):
    file = "mli0164.nxs.pbr"  # Ti from -1.9 to 2.4 degrees
    ours = corrected(file, step)
    assert (ours[0].Ti < 0).any() != (step == "absolute_angle")
    compare(ours, reductus(step, [file]))


def test_sample_broadening_agrees(pbr_source):
    file = "mli0111.nxs.pbr"
    ours = corrected(file, "sample_broadening", width=0.01)
    compare(ours, reductus("sample_broadening", [file], "--broadening", "0.01"))


@pytest.mark.parametrize("file", ["mli0111.nxs.pbr", "mli0159.nxs.pbr", "mli0181.nxs.pbr"])
def test_a_sample_narrower_than_the_beam_narrows_the_resolution_as_in_reductus(pbr_source, file):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(file)])
    narrowed = d("angular_resolution", (loaded, "data"), sample_width=5.0)
    ours = d.run(d("normalize", (narrowed, "data"), base="monitor"))
    wide = d.run(d("normalize", (loaded, "data"), base="monitor"))
    if file != "mli0159.nxs.pbr":  # not for the direct beam
        assert all(np.any(a.dT < b.dT) for a, b in zip(ours, wide, strict=True))
    compare(ours, reductus("normalize_monitor", [file], "--sample-width", "5"))


DEAD_TIMES = [(5.0, 0.0), (0.0, 2.0), (5.0, 2.0)]


@pytest.mark.parametrize(("nonparalyzing", "paralyzing"), DEAD_TIMES)
@pytest.mark.parametrize("step", ["detector_dead_time", "monitor_dead_time"])
def test_dead_time_corrections_agree(pbr_source, step, nonparalyzing, paralyzing):
    for file in ("mli0159.nxs.pbr", "mli0111.nxs.pbr"):  # the direct beam: the highest rates
        d = Diagram()
        loaded = d("load", filelist=[fileinfo(file)])
        fixed = d(step, (loaded, "data"), nonparalyzing=nonparalyzing, paralyzing=paralyzing)
        ours = d.run(d("normalize", (fixed, "data"), base="monitor"))
        raw = d.run(d("normalize", (loaded, "data"), base="monitor"))
        assert all(np.any(a.v != b.v) for a, b in zip(ours, raw, strict=True))
        options = ("--nonparalyzing", str(nonparalyzing), "--paralyzing", str(paralyzing))
        # reductus' paralyzing model gives a point without counts a NaN uncertainty
        compare(ours, reductus(step, [file], *options), finite=True)


def test_a_detector_dead_time_must_be_given_and_comes_before_normalizing(pbr_source):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo("mli0159.nxs.pbr")])
    node = d("detector_dead_time", (loaded, "data"))
    with pytest.raises(TemplateError, match=r"\(nonparalyzing\): the files hold no dead time"):
        d.run(node)
    normalized = d("normalize", (loaded, "data"))
    late = d("detector_dead_time", (normalized, "data"), nonparalyzing=1.0)
    with pytest.raises(TemplateError, match="before normalizing"):
        d.run(late)
    with pytest.raises(AssertionError, match="no valid deadtime"):
        reductus("detector_dead_time", ["mli0159.nxs.pbr"])


# In the every_file source (both folders):
BEAM_NCNR = "mli0159.nxs.pbr"  # the same, in the folder pbr_source serves
SPIN_FLIP = "reductus-pbr/mli0170.nxs.pbr"  # specular, all four cross-sections
BEAM = "ncnr-pbr/mli0159.nxs.pbr"  # the direct beam in all four
TWO = "ncnr-pbr/mli0115.nxs.pbr"  # specular, -- and ++


def both(*files: str) -> list[str]:
    return [str(PBR.parent / f) for f in files]


def polarized(spec: str, **estimate) -> tuple[Diagram, int, int]:
    """spec and the direct beam, normalized and joined; the estimate and its correction."""
    d = Diagram()
    joined = d.load(spec, join=True)
    pol = d("estimate_polarization", (d.load(BEAM, join=True), "data"), **estimate)
    correct = d("correct_polarization", (joined, "data"), (pol, "polarization", "polarization"))
    return d, pol, correct


ESTIMATES = [
    ({}, ()),
    ({"FRbalance": 30.0}, ("--frbalance", "30")),
    ({"clip": True, "Emin": 99.0, "Imin": 1.0}, ("--clip", "--emin", "99", "--imin", "1")),
]


@pytest.mark.parametrize(("estimate", "options"), ESTIMATES)
def test_the_polarization_efficiencies_agree(every_file, estimate, options):
    d, pol, _ = polarized(SPIN_FLIP, **estimate)
    (ours,) = _run_terminal(d, pol, "polarization")
    theirs = reductus_run("estimate_polarization", both(BEAM), *options)["params"]["efficiency"]
    effs = ours.efficiency_errors()
    np.testing.assert_allclose(ours.dT, theirs["dtheta"], rtol=RTOL)
    for k, (value, error) in effs.items():
        np.testing.assert_allclose(value, theirs[k], rtol=RTOL, err_msg=k)
        np.testing.assert_allclose(error, theirs[f"d{k}"], rtol=RTOL, err_msg=f"d{k}")
    if estimate.get("clip"):  # Emin 99 %: the clipped polarizers sit at the limit
        assert np.all(effs["fp"][0] >= 0.99 - 1e-12)


def _run_terminal(d: Diagram, node: int, terminal: str) -> list:
    template = Template("test", d.nodes, d.wires, "refl")
    return calculate(template, registry, node, terminal, MemoryCache())


@pytest.mark.parametrize(
    ("spec", "options"),
    [(SPIN_FLIP, ()), (SPIN_FLIP, ("--no-spinflip",)), (TWO, ())],
)
def test_the_polarization_correction_agrees(every_file, spec, options):
    d, _, corrected = polarized(spec)
    if options:
        d.nodes[corrected]["config"] = {"spinflip": False}
    ours = d.run(corrected)
    theirs = reductus("correct_polarization", both(spec, BEAM), *options)
    fixed = {"--", "++"} | (set() if options or spec != SPIN_FLIP else {"+-", "-+"})
    assert {x.polarization for x in ours if x.normbase == "reflectivity"} == fixed
    compare(ours, theirs)


# A flipper's direction in each copy: None deletes the field. No shared file is half or
# unpolarized; NICE writes BEAM_OUT for a flipper out of the beam.
FLIPPERS = {
    "mli0111.nxs.pbr": {"DOWN_DOWN": ("BEAM_OUT", "BEAM_OUT")},
    "mli0115.nxs.pbr": {"DOWN_DOWN": ("DOWN", "UNPOLARIZED"), "UP_UP": ("UP", "UNPOLARIZED")},
    "mli0164.nxs.pbr": {"DOWN_DOWN": (None, "DOWN")},
}


@pytest.fixture
def half_polarized(tmp_path):
    """Copies of real files as half-polarized and unpolarized scans, under their own names
    (reductus names a data set by its file) as the server's local data."""
    from beamtime.reduction import sources

    for name, entries in FLIPPERS.items():
        shutil.copy(PBR / name, tmp_path / name)
        with h5py.File(tmp_path / name, "r+") as f:
            for entry, directions in entries.items():
                for side, direction in zip(("front", "back"), directions, strict=True):
                    field = f"{entry}/DAS_logs/{side}Polarization/direction"
                    del f[field]
                    if direction is not None:
                        f[field] = np.array([[direction.encode()]])
    with data_sources(sources.LocalSource("local", tmp_path)):
        yield tmp_path


def test_half_and_unpolarized_scans_load_as_reductus_reads_them(half_polarized):
    d = Diagram()
    ours = d.run(d.load(*FLIPPERS))
    theirs = reductus("normalize_monitor", [str(half_polarized / f) for f in FLIPPERS])
    assert [x.polarization for x in ours] == [r["polarization"] for r in theirs]
    assert [x.polarization for x in ours] == ["", "-", "+", "-"]
    same_sets(ours, theirs)
    compare_in_order(ours, theirs)


@pytest.mark.parametrize(("xs", "kept"), [("+", 1), ("-", 2), ("unpolarized", 1)])
def test_extract_xs_keeps_the_half_or_unpolarized_scans_reductus_keeps(half_polarized, xs, kept):
    d = Diagram()
    ours = d.run(
        d("extract_xs", (d("load", filelist=[fileinfo(f) for f in FLIPPERS]), "data"), xs=xs)
    )
    theirs = reductus("extract_xs", [str(half_polarized / f) for f in FLIPPERS], "--xs", spins(xs))
    assert len(ours) == len(theirs) == kept
    assert [x.polarization for x in ours] == [r["polarization"] for r in theirs]
    same_sets(ours, theirs)


def test_the_spin_asymmetry_of_half_polarized_scans_agrees(half_polarized):
    d = Diagram()
    joined = d.load("mli0115.nxs.pbr", join=True)
    (ours,) = d.run(d("spin_asymmetry", (joined, "data")))
    (theirs,) = reductus("spin_asymmetry", [str(half_polarized / "mli0115.nxs.pbr")])
    assert ours.polarization == theirs["polarization"] == "-"
    # − holds 15 points, + 14: reductus keeps all of −'s Qz beside the 14 values
    assert len(ours) == len(theirs["v"]) == 14 and len(theirs["Qz"]) == 15
    for name, value in (("Qz", ours.Qz), ("v", ours.v)):
        expected = np.array(theirs[name], dtype=float)[:14]
        np.testing.assert_allclose(value, expected, rtol=RTOL, err_msg=name)


def test_the_spin_asymmetry_agrees(every_file):
    d = Diagram()
    joined = d.load(SPIN_FLIP, join=True)
    (ours,) = d.run(d("spin_asymmetry", (joined, "data")))
    (theirs,) = reductus("spin_asymmetry", both(SPIN_FLIP))
    for name, value in (("Qz", ours.Qz), ("dQ", ours.dQ), ("v", ours.v)):
        expected = np.array(theirs[name], dtype=float)
        np.testing.assert_allclose(value, expected, rtol=RTOL, err_msg=name)
    # reductus 1.0.1 swaps the two uncertainties in its propagation; ours is the derivative's
    pp, mm = ({x.polarization: x for x in d.run(joined)}[xs] for xs in ("++", "--"))
    total = pp.v + mm.v
    expected = np.sqrt((2 * mm.v * pp.dv) ** 2 + (2 * pp.v * mm.dv) ** 2) / total**2
    np.testing.assert_allclose(ours.dv, expected, rtol=1e-12)


@pytest.mark.parametrize("mix", [("--mix-sf",), ("--mix-nsf",), ("--mix-sf", "--mix-nsf")])
def test_mixed_cross_sections_agree(every_file, mix):
    d = Diagram()
    loaded = d("normalize", (d("load", filelist=[fileinfo(SPIN_FLIP)]), "data"), base="monitor")
    chosen = {"mix_sf": "--mix-sf" in mix, "mix_nsf": "--mix-nsf" in mix}
    mixed = d("mix_cross_sections", (loaded, "data"), **chosen)
    answer = reductus_run("mix_cross_sections", both(SPIN_FLIP), *mix)
    assert [x.polarization for x in d.run(mixed)] == answer["params"]["mixed"]
    joined = {x.polarization: x for x in d.run(d("join", (mixed, "data")))}
    compare(list(joined.values()), answer["datasets"])
    # partners joined from the same two data sets are the same numbers
    for control, (one, other) in {"mix_sf": ("+-", "-+"), "mix_nsf": ("++", "--")}.items():
        if chosen[control]:
            np.testing.assert_array_equal(joined[one].v, joined[other].v)


def test_the_average_flux_agrees(pbr_source):
    """The neutrons incident during mli0115 (two cross-sections) and mli0111, from the
    direct beam mli0159's −− normalized by time. reductus 1.0.1 takes a 1 µs timer step
    in each point's time (and 1 µs for a data set's whole time) where ours is the counter's
    1 ms, σt² = Δ²/12 a point, as in normalizing by time: its uncertainties are checked
    with that share changed, σ² + S²(Δ²/12 − 1e-12) a point (S the beam's rate)."""
    d = Diagram()
    spec = d.load("mli0115.nxs.pbr", "mli0111.nxs.pbr")
    beam = d("extract_xs", (d.load("mli0159.nxs.pbr", base="time", join=True), "data"), xs="--")
    node = d("average_flux", (spec, "data"), (beam, "base"), beam_height=20.0)
    (ours,) = _run_terminal(d, node, "flux")
    files = ["mli0115.nxs.pbr", "mli0111.nxs.pbr", "mli0159.nxs.pbr"]
    theirs = reductus_run("average_flux", files, "--xs", "mm", "--beam-height", "20")
    fluxes, total = theirs["params"]["flux"]["fluxes"], theirs["params"]["flux"]["total_flux"]
    for mine, key in (("number", "number_incident"), ("flux", "average_flux")):
        np.testing.assert_allclose(getattr(ours, mine), [f[key] for f in fluxes], rtol=RTOL)
    np.testing.assert_allclose(ours.time, [f["total_time"] for f in fluxes], rtol=RTOL)
    np.testing.assert_allclose(ours.total["flux"], total["aggregated_average_flux"], rtol=RTOL)

    (rate,) = d.run(beam)[0].v  # the beam: one point
    timer = rate**2 * (1e-6 / 12 - 1e-12)  # Δ = 1 ms
    sets = d.run(spec)
    areas = [x.slit2 * 20.0 / 100 for x in sets]  # cm²
    np.testing.assert_allclose(
        ours.dnumber,
        [
            np.sqrt(f["number_incident_error"] ** 2 + timer * len(x))
            for f, x in zip(fluxes, sets, strict=True)
        ],
        rtol=RTOL,
    )
    expected = [
        np.sqrt(
            f["average_flux_error"] ** 2
            + (np.sum(timer / a**2) + f["average_flux"] ** 2 * (len(a) / 12e6 - 1e-12))
            / f["total_time"] ** 2
        )
        for f, a in zip(fluxes, areas, strict=True)
    ]
    np.testing.assert_allclose(ours.dflux, expected, rtol=RTOL)
    np.testing.assert_allclose(ours.dtime, np.sqrt([len(a) / 12e6 for a in areas]), rtol=1e-12)


def test_average_flux_needs_a_beam_normalized_by_time(pbr_source):
    d = Diagram()
    node = d("average_flux", (d.load("mli0115.nxs.pbr"), "data"), (d.load(BEAM_NCNR), "base"))
    with pytest.raises(TemplateError, match=r"\(base\): normalize the direct beam by time"):
        _run_terminal(d, node, "flux")


def test_polarization_needs_polarized_data_and_the_whole_beam(every_file):
    d, pol, corrected = polarized("ncnr-pbr/mli0111.nxs.pbr")  # -- only
    with pytest.raises(TemplateError, match=r"\(data\): no \+\+ cross-section"):
        d.run(corrected)
    d = Diagram()
    partial = {**fileinfo(BEAM), "entries": ["DOWN_DOWN", "UP_UP", "UP_DOWN"]}
    beam = d("normalize", (d("load", filelist=[partial]), "data"), base="monitor")
    with pytest.raises(TemplateError, match="lacks the cross-section -\\+"):
        _run_terminal(d, d("estimate_polarization", (beam, "data")), "polarization")


def stock(name: str, files: dict[str, list[str]]) -> tuple[Template, dict[str, int]]:
    """A reductus stock template as predefined, its loaders given files; node index by title."""
    template = predefined_template(name, {t: [fileinfo(f) for f in fs] for t, fs in files.items()})
    return template, {n["title"]: i for i, n in enumerate(template.nodes)}


def test_the_stock_unpolarized_template_agrees(pbr_source):
    files = ["mli0115.nxs.pbr", "mli01120.nxs.pbr", "mli0159.nxs.pbr"]
    template, node = stock(
        "Unpolarized (reductus)",
        {"specular": files[:1], "background−": files[1:2], "direct beam": files[2:]},
    )
    ours = calculate(template, registry, node["divide by direct beam"], "output", MemoryCache())
    compare(ours, reductus("divide_intensity", files))


def test_the_stock_polarized_and_spin_asymmetry_templates_agree(every_file):
    template, node = stock("Polarized (reductus)", {"specular": [SPIN_FLIP], "direct beam": [BEAM]})
    cache = MemoryCache()
    ours = calculate(template, registry, node["correct polarization"], "output", cache)
    assert len(ours) == 4
    compare(ours, reductus("correct_polarization", both(SPIN_FLIP, BEAM)))
    (asymmetry,) = calculate(template, registry, node["spin asymmetry"], "output", cache)
    (theirs,) = reductus("spin_asymmetry", both(SPIN_FLIP))
    np.testing.assert_allclose(asymmetry.v, np.array(theirs["v"], dtype=float), rtol=RTOL)
    template, node = stock(
        "Spin asymmetry (reductus)", {"specular": [SPIN_FLIP], "direct beam": [BEAM]}
    )
    (again,) = calculate(template, registry, node["spin asymmetry"], "output", MemoryCache())
    np.testing.assert_array_equal(again.v, asymmetry.v)
    divided = calculate(template, registry, node["divide by direct beam"], "output", cache)
    compare(divided, reductus("divide_intensity", both(SPIN_FLIP, BEAM)))


@pytest.mark.parametrize(
    ("file", "fit", "options"),
    [
        ("mli0111.nxs.pbr", {"Qmin": 0.002, "Qmax": 0.012}, ("--qmin", "0.002", "--qmax", "0.012")),
        ("mli0111.nxs.pbr", {"Qmax": 0.012, "origin": True}, ("--qmax", "0.012", "--origin")),
        ("mli0115.nxs.pbr", {}, ()),
    ],
)
def test_the_fitted_footprint_agrees(pbr_source, file, fit, options):
    d = Diagram()
    joined = d.load(file, join=True)
    fitted = d("fit_footprint", (joined, "data"), **fit)
    errors = {"slope_error": 1.0, "intercept_error": 0.01}
    node = d(
        "correct_footprint", (joined, "data"), (fitted, "fitted_footprint", "fitted_footprint")
    )
    d.nodes[node]["config"] = errors
    (ours,) = _run_terminal(d, fitted, "fitted_footprint")
    answer = reductus_run(
        "fit_footprint", [file], *options, "--slope-error", "1", "--intercept-error", "0.01"
    )
    p, dp = answer["params"]["footprint"]["p"], answer["params"]["footprint"]["dp"]
    np.testing.assert_allclose([ours.slope, ours.intercept], p, rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(ours.dslope, dp[0], rtol=RTOL)
    if not fit.get("origin"):
        np.testing.assert_allclose(ours.dintercept, dp[1], rtol=RTOL)
    compare(d.run(node), answer["datasets"])


@pytest.mark.parametrize(
    ("correct", "options"),
    [
        ({"Qmin": 0.004, "Qmax": 0.01}, ("--correct-qmin", "0.004", "--correct-qmax", "0.01")),
        ({"Qmax": 0.008, "slope": 20.0}, ("--correct-qmax", "0.008", "--slope", "20")),
        ({"intercept": 0.9, "intercept_error": 0.05}, ("--intercept", "0.9")),
    ],
)
def test_the_footprint_corrected_over_a_range_or_by_a_given_line_agrees(
    pbr_source, correct, options
):
    """correct_footprint's correction range (ours Qmin, Qmax) and a slope or intercept given
    in place of the fitted one, on the fit over Qz ≤ 0.012 of mli0111."""
    file = "mli0111.nxs.pbr"
    d = Diagram()
    joined = d.load(file, join=True)
    fitted = d("fit_footprint", (joined, "data"), Qmax=0.012)
    node = d(
        "correct_footprint", (joined, "data"), (fitted, "fitted_footprint", "fitted_footprint")
    )
    d.nodes[node]["config"] = {"slope_error": 1.0, **correct}
    errors = ("--slope-error", "1", "--intercept-error", str(correct.get("intercept_error", 0)))
    theirs = reductus("fit_footprint", [file], "--qmax", "0.012", *options, *errors)
    compare(d.run(node), theirs)


def test_a_footprint_needs_a_fit_or_a_line(pbr_source):
    d = Diagram()
    node = d("correct_footprint", (d.load("mli0111.nxs.pbr"), "data"))
    with pytest.raises(TemplateError, match=r"\(slope\): wire a fitted footprint"):
        d.run(node)
    d.nodes[node]["config"] = {"slope": 0.0, "intercept": 2.0}
    (halved,) = d.run(node)
    (plain,) = d.run(d.load("mli0111.nxs.pbr"))
    np.testing.assert_allclose(halved.v, plain.v / 2)


def test_the_stock_polarized_template_with_footprint_agrees(every_file):
    template, node = stock(
        "Polarized with footprint (reductus)", {"specular": [SPIN_FLIP], "direct beam": [BEAM]}
    )
    ours = calculate(template, registry, node["correct footprint"], "output", MemoryCache())
    assert len(ours) == 4
    compare(ours, reductus("correct_polarization", both(SPIN_FLIP, BEAM), "--footprint"))


def test_the_polarization_steps_are_cached_like_the_others(every_file):
    """reductus computes its polarization steps again on every request: here a changed
    control after them computes that step alone, and one of estimate polarization computes
    it and what follows, never the loaders, joins or subtraction again."""
    template, node = stock(
        "Polarized with footprint (reductus)", {"specular": [SPIN_FLIP], "direct beam": [BEAM]}
    )
    cache, computed = MemoryCache(), []

    def heard(number, count, module):
        computed.append(module)

    def run(config=None):
        computed.clear()
        last = node["correct footprint"]
        return calculate(template, registry, last, "output", cache, config, progress=heard)

    first = run()
    assert "refl.estimate_polarization" in computed and "refl.load" in computed
    run()
    assert computed == []  # all cached
    run({str(node["correct footprint"]): {"slope_error": 0.1}})
    assert computed == ["refl.correct_footprint"]
    again = run({str(node["estimate polarization"]): {"FRbalance": 40.0}})
    assert computed == [
        "refl.estimate_polarization",
        "refl.correct_polarization",
        "refl.extract_xs",
        "refl.fit_footprint",
        "refl.correct_footprint",
    ]
    assert not np.array_equal(first[0].v, again[0].v)


def test_an_efficiency_outside_zero_to_one_names_clip(pbr_source):
    d = Diagram()
    three = {**fileinfo("mli0159.nxs.pbr"), "entries": ["DOWN_DOWN", "DOWN_UP", "UP_UP"]}
    spin_flip = {**fileinfo("mli0159.nxs.pbr"), "entries": ["UP_DOWN"]}
    beam = d("normalize", (d("load", filelist=[three]), "data"), base="monitor")
    flipped = d("normalize", (d("load", filelist=[spin_flip]), "data"), base="monitor")
    louder = d("rescale", (flipped, "data"), scale=50.0)  # +- as bright as the beam: unphysical
    estimate = d("estimate_polarization", (beam, "data"), (louder, "data"))
    with pytest.raises(
        TemplateError, match=r"\(clip\): the \w+ \w+ efficiency is .* at slit 1 = 0.9984 mm"
    ):
        _run_terminal(d, estimate, "polarization")
    d.nodes[estimate]["config"] = {"clip": True}
    (clipped,) = _run_terminal(d, estimate, "polarization")
    assert clipped.efficiency()["reject"].all()


@pytest.mark.parametrize("align", ["none", "auto"])
def test_background_alignment_agrees(pbr_source, align):
    for spec in ("mli0115.nxs.pbr", "mli0111.nxs.pbr"):
        d = Diagram()
        back = d.load("mli01120.nxs.pbr", join=True)
        node = d("subtract_background", (d.load(spec, join=True), "data"), (back, "backm"))
        d.nodes[node]["config"] = {"align": align}
        ours = d.run(node)
        compare(ours, reductus("background", [spec, "mli01120.nxs.pbr"], "--align", align))


@pytest.mark.parametrize("align", ["sample", "detector"])
def test_background_aligned_by_one_angle_is_subtracted_at_that_angles_qz(pbr_source, align):
    """reductus 1.0.1 discards the aligned copy of the background (its align_background
    returns a copy that subtract_background drops), so sample and detector alignment are
    checked against numpy's interpolation at the specular Qz of that angle instead."""
    d = Diagram()
    back = d.load("mli01120.nxs.pbr", join=True)
    spec = d.load("mli0111.nxs.pbr", join=True)
    node = d("subtract_background", (spec, "data"), (back, "backm"))
    d.nodes[node]["config"] = {"align": align}
    (ours,) = d.run(node)
    (data,) = d.run(spec)
    (bg,) = [b for b in d.run(back) if b.polarization == "--"]
    angle = bg.Ti if align == "sample" else bg.Td / 2
    qz = 4 * np.pi / bg.wavelength * np.sin(np.radians(angle))
    order = np.argsort(qz)
    expected = data.v - np.interp(data.Qz, qz[order], bg.v[order])
    np.testing.assert_allclose(ours.v, expected, rtol=1e-12, atol=1e-15)
    d.nodes[node]["config"] = {"align": "none"}
    (plain,) = d.run(node)
    assert not np.allclose(plain.v, ours.v)


@pytest.mark.parametrize(
    ("coeff", "cov"),
    [((30.0,), ()), ((20.0, 5.0), (4.0, 0.5, 0.5, 1.0)), ((1e6,), ())],  # the last: all dark
)
def test_dark_current_agrees(pbr_source, coeff, cov):
    for file in ("mli0159.nxs.pbr", "mli0111.nxs.pbr"):
        d = Diagram()
        loaded = d("load", filelist=[fileinfo(file)])
        dark = d("dark_current", (loaded, "data"), poly_coeff=list(coeff), poly_cov=list(cov))
        ours = d.run(d("normalize", (dark, "data"), base="monitor"))
        options = ["--dark", ",".join(map(str, coeff))]
        if cov:
            options += ["--dark-cov", ",".join(map(str, cov))]
        theirs = reductus("dark_current", [file], *options)
        if cov and file == "mli0111.nxs.pbr":  # reductus: a point without counts has no
            for x in theirs:  # Poisson variance once the dark current's is added
                x["dv"] = [None if c == 0 else e for c, e in zip(x["counts"], x["dv"], strict=True)]
            ours = [replace(x, dv=np.where(x.v == 0, np.nan, x.dv)) for x in ours]
        compare(ours, theirs)
