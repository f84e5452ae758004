"""The corrections added last — fitted dead time, saturation, divergence variants, smoothed
slits, background interpolation and the background field, join's options — against reductus
1.0.1 run side by side (bench/reductus_harness.py), to 1e-6 relative."""

import shutil

import h5py
import numpy as np
import pytest

from beamtime.reduction import sources
from beamtime.reduction.dataflow.template import TemplateError
from beamtime.reduction.instruments.refl.deadtimedata import observed
from tests.reduction.conftest import PBR, data_sources, fileinfo
from tests.reduction.test_reductus import RTOL, Diagram, _run_terminal, compare, reductus_run

SLIT_SCAN = PBR.parent / "reductus-pbr" / "fp_slitAperture4.softPosition7377.nxs.pbr"  # 18 points
TAU_NP, TAU_P = 5.0, 1.0  # µs


def simulate(path, transmission: float, seed: int, tau_np=TAU_NP, tau_p=TAU_P):
    """A real slit scan whose detector and monitor counts are replaced by a dead-time
    calibration: incident rates 2e3 to 4e5 counts/s through an attenuator of this
    transmission, counted 10 s a point, seen through the hybrid model, Poisson noise."""
    rng = np.random.default_rng(seed)
    incident = transmission * np.geomspace(2e3, 4e5, 18)
    seen = incident * np.exp(-incident * tau_p * 1e-6) / (1 + incident * tau_np * 1e-6)
    shutil.copy(SLIT_SCAN, path)
    with h5py.File(path, "r+") as f:
        counter = f["entry/DAS_logs/counter"]
        counter["liveROI"][...] = rng.poisson(seen * 10.0)
        counter["liveMonitor"][...] = rng.poisson(seen * 10.0)
        counter["liveTime"][...] = 10.0


@pytest.fixture
def calibration(tmp_path):
    """No real PBR file holds an attenuated/unattenuated pair (their rates stay below
    5000 counts/s): two copies of a real slit scan carry a simulated calibration instead."""
    files = []
    for name, transmission, seed in (("attenuated", 0.1, 1), ("open", 1.0, 2)):
        simulate(tmp_path / f"{name}.nxs.pbr", transmission, seed)
        files.append(f"{name}.nxs.pbr")
    with data_sources(sources.LocalSource("local", tmp_path)):
        yield tmp_path, files


def fitted(files: list[str], **fit) -> tuple[Diagram, dict]:
    """load → fit dead time → {detector,monitor} dead time (the fit wired) → normalize."""
    d = Diagram()
    nodes = {"load": d("load", filelist=[fileinfo(f) for f in files])}
    nodes["fit"] = d("fit_dead_time", (nodes["load"], "data"), **fit)
    step = "monitor_dead_time" if fit.get("source") == "monitor" else "detector_dead_time"
    nodes["corrected"] = d(step, (nodes["load"], "data"), (nodes["fit"], "dead_time", "dead_time"))
    nodes["normalized"] = d("normalize", (nodes["corrected"], "data"), base="monitor")
    return d, nodes


@pytest.mark.parametrize(
    "fit", [{}, {"mode": "NP"}, {"mode": "mixed"}, {"source": "monitor", "mode": "NP"}]
)
def test_the_fitted_dead_time_agrees(calibration, fit):
    folder, files = calibration
    d, node = fitted(files, **fit)
    (ours,) = _run_terminal(d, node["fit"], "dead_time")
    options = [f"--{k}={v}" for k, v in fit.items()]
    answer = reductus_run("fit_dead_time", [str(folder / f) for f in files], *options)
    theirs = answer["params"]["dead_time"]
    for name in ("tau_NP", "tau_P"):
        value, error = theirs[name]
        np.testing.assert_allclose(getattr(ours, name), value, rtol=RTOL, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(getattr(ours, f"d{name}"), error, rtol=1e-5, atol=1e-9)
    (attenuation,) = theirs["attenuators"]
    np.testing.assert_allclose([ours.attenuation[0], ours.dattenuation[0]], attenuation, rtol=1e-5)
    np.testing.assert_allclose(ours.incident, theirs["incident"][0], rtol=RTOL)
    # the truth is within reach: attenuation 10 (and τNP 5 µs, τP 1 µs where both are fitted)
    assert abs(ours.attenuation[0] - 10) < 5 * ours.dattenuation[0]
    converged = solved(d, node, ours, answer["datasets"])
    normalized = d.run(node["normalized"])
    for mine, ref, keep in zip(normalized, answer["datasets"], converged, strict=True):
        for name in ("v", "dv"):
            expected = np.array(ref[name], dtype=float)[keep]
            np.testing.assert_allclose(getattr(mine, name)[keep], expected, rtol=RTOL)


def solved(d: Diagram, node: dict, fit, theirs: list[dict]) -> list:
    """Ours solve R(I)·t = C to 1e-10 everywhere. reductus stops Newton's method after three
    steps, which at the highest rates of a paralyzing model is not yet there: the points
    where reductus' answer solves it to 1e-7 (at least three quarters), to compare on."""
    monitor = fit.source == "monitor"
    keep = []
    for raw, mine, ref in zip(d.run(node["load"]), d.run(node["corrected"]), theirs, strict=True):
        seen = raw.monitor if monitor else raw.v
        for corrected, tolerance in ((mine.monitor if monitor else mine.v, 1e-10), (None, 1e-7)):
            if corrected is None:
                corrected = np.array(ref["monitor" if monitor else "counts"], dtype=float)
            t = raw.count_time
            error = np.abs(observed(corrected / t, fit.tau_NP, fit.tau_P) * t - seen) / seen
            if tolerance == 1e-10:
                assert np.all(error <= tolerance), raw.name
        keep.append(error <= tolerance)
        assert keep[-1].mean() >= 0.75, raw.name
    return keep


def test_the_paralyzing_model_recovers_a_paralyzing_dead_time(tmp_path):
    """reductus' mode P holds τNP at its starting guess, so P is checked against the truth."""
    for name, transmission, seed in (("a", 0.1, 3), ("b", 1.0, 4)):
        simulate(tmp_path / f"{name}.nxs.pbr", transmission, seed, tau_np=0.0, tau_p=4.0)
    with data_sources(sources.LocalSource("local", tmp_path)):
        d, node = fitted(["a.nxs.pbr", "b.nxs.pbr"], mode="P")
        (ours,) = _run_terminal(d, node["fit"], "dead_time")
    assert ours.mode == "P" and ours.tau_NP == 0 and ours.dtau_NP == 0
    assert abs(ours.tau_P - 4.0) < 3 * ours.dtau_P


def test_a_dead_time_fit_needs_pairs_of_scans(calibration):
    _, files = calibration
    d = Diagram()
    node = d("fit_dead_time", (d("load", filelist=[fileinfo(files[1])]), "data"))
    with pytest.raises(TemplateError, match=r"\(data\): wire at least one attenuated"):
        _run_terminal(d, node, "dead_time")
    twice = d("fit_dead_time", (d("load", filelist=[fileinfo(files[1])] * 2), "data"))
    with pytest.raises(TemplateError, match=r"node 3 \(mode\): the dead-time fit does not conv"):
        _run_terminal(d, twice, "dead_time")


@pytest.fixture
def saturating(tmp_path):
    """mli0111 (monitor 4365 to 4491 counts/s) with an NG7-style monitor saturation curve
    written into it: no PBR file has one. The curve ends at 4470 counts/s, so the fastest
    points lie beyond it."""
    path = tmp_path / "saturating.nxs.pbr"
    shutil.copy(PBR / "mli0111.nxs.pbr", path)
    with h5py.File(path, "r+") as f:
        curve = f["DOWN_DOWN/control"].create_group("countrate_correction")
        curve["measured_rate"] = np.array([0.0, 4400.0, 4470.0])
        curve["correction"] = np.array([1.0, 1.02, 1.05])
    with data_sources(sources.LocalSource("local", tmp_path)):
        yield path


def test_monitor_saturation_agrees(saturating):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(saturating.name)])
    corrected = d("monitor_saturation", (loaded, "data"))
    (ours,) = d.run(d("normalize", (corrected, "data"), base="monitor"))
    (theirs,) = reductus_run("monitor_saturation", [str(saturating)])["datasets"]
    kept = np.array(theirs["mask"]) > 0
    assert 0 < len(ours) == kept.sum() < 101  # the fastest points are left out
    for name in ("Qz", "dQ", "v", "dv"):
        expected = np.array(theirs[name], dtype=float)[kept]
        np.testing.assert_allclose(getattr(ours, name), expected, rtol=RTOL, err_msg=name)
    (plain,) = d.run(d.load(saturating.name))
    assert np.all(ours.v <= plain.v[kept]) and np.any(ours.v < plain.v[kept])  # per more monitor


@pytest.fixture
def calibrated(tmp_path):
    """mli0111 with a monitor saturation curve as NG7 measures one: 14 rates, the efficiency
    of a monitor of 12 µs dead time, E(R) = 1/(1 + R·τ) written as the correction 1/E,
    listed from the fastest rate down (the loader orders them; reductus expects them in
    order), its rates placed so that the scan's points (4365 to 4491 counts/s) fall between
    several of them, interpolated on different segments, the fastest beyond the last."""
    path = tmp_path / "calibrated.nxs.pbr"
    shutil.copy(PBR / "mli0111.nxs.pbr", path)
    rates = np.array([0, 1000, 2500, 4000, 4380, 4400, 4410, 4420, 4430, 4440, 4455, 4470, 4480])
    rates = np.append(rates, 4485.0)
    with h5py.File(path, "r+") as f:
        curve = f["DOWN_DOWN/control"].create_group("countrate_correction")
        curve["measured_rate"] = rates[::-1]
        curve["correction"] = (1 + rates * 12e-6)[::-1]
    with data_sources(sources.LocalSource("local", tmp_path)):
        yield path, rates


def test_a_many_point_saturation_curve_agrees(calibrated):
    path, rates = calibrated
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(path.name)])
    corrected = d("monitor_saturation", (loaded, "data"))
    (ours,) = d.run(d("normalize", (corrected, "data"), base="monitor"))
    # reductus is handed the curve in order (it does not sort it): the same file, rates rising
    ordered = path.with_name("ordered.nxs.pbr")
    shutil.copy(path, ordered)
    with h5py.File(ordered, "r+") as f:
        curve = f["DOWN_DOWN/control/countrate_correction"]
        curve["measured_rate"][...] = rates
        curve["correction"][...] = 1 + rates * 12e-6
    (theirs,) = reductus_run("monitor_saturation", [str(ordered)])["datasets"]
    kept = np.array(theirs["mask"]) > 0
    (plain,) = d.run(d.load(path.name))
    rate = plain.monitor / plain.count_time
    assert 0 < kept.sum() < len(kept) and np.array_equal(kept, rate <= rates[-1])
    # the kept points span several segments of the curve
    assert len(np.unique(np.searchsorted(rates, rate[kept]))) >= 4
    for name in ("Qz", "dQ", "v", "dv"):
        expected = np.array(theirs[name], dtype=float)[kept]
        np.testing.assert_allclose(getattr(ours, name), expected, rtol=RTOL, err_msg=name)
    # and the analytic model the curve samples, within its linear interpolation (< 1e-5 here)
    efficiency = 1 / (1 + rate[kept] * 12e-6)
    (raw,) = d.run(d("normalize", (loaded, "data"), base="monitor"))
    np.testing.assert_allclose(ours.v, raw.v[kept] * efficiency, rtol=1e-5)


def test_saturation_without_a_curve_passes_the_data_unchanged(pbr_source):
    """The PBR files hold no saturation curve. reductus' detector saturation then fails
    (it takes its default curve, a number, for a table)."""
    for step in ("monitor_saturation", "detector_saturation"):
        d = Diagram()
        loaded = d("load", filelist=[fileinfo("mli0111.nxs.pbr")])
        (ours,) = d.run(d(step, (loaded, "data")))
        (plain,) = d.run(loaded)
        np.testing.assert_array_equal(ours.monitor, plain.monitor)
        np.testing.assert_array_equal(ours.v, plain.v)
    compare(
        d.run(d("normalize", (d("monitor_saturation", (loaded, "data")), "data"))),
        reductus_run("monitor_saturation", [str(PBR / "mli0111.nxs.pbr")])["datasets"],
    )
    with pytest.raises(AssertionError, match="'float' object has no attribute 'shape'"):
        reductus_run("detector_saturation", [str(PBR / "mli0111.nxs.pbr")])


FB_FILES = [
    "ncnr-pbr/mli0111.nxs.pbr",
    "ncnr-pbr/mli0159.nxs.pbr",
    "ncnr-pbr/mli0181.nxs.pbr",
    "reductus-pbr/fp_slitAperture4.softPosition7377.nxs.pbr",  # slit 4 from 0 to 3.4 mm
    "reductus-pbr/fp_slitAperture3.softPosition7379.nxs.pbr",  # slit 3 from 0 to 1.4 mm
]


@pytest.fixture
def both_folders():
    with data_sources(sources.LocalSource("local", PBR.parent)):
        yield


@pytest.mark.parametrize("distances", [(500.0, 1500.0), (200.0, 2600.0)])
def test_divergence_from_all_four_slits_agrees(both_folders, distances):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(f) for f in FB_FILES])
    fb = d("divergence_fb", (loaded, "data"), distance3=distances[0], distance4=distances[1])
    ours = d.run(d("normalize", (fb, "data"), base="monitor"))
    options = ("--distance3", str(distances[0]), "--distance4", str(distances[1]))
    theirs = reductus_run("divergence_fb", [str(PBR.parent / f) for f in FB_FILES], *options)
    assert len(ours) == len(theirs["datasets"]) == 11
    for mine, ref in zip(ours, theirs["datasets"], strict=True):
        for name in ("Qz", "dQ", "v", "dv", "dT"):
            expected = np.array(ref[name], dtype=float)
            np.testing.assert_allclose(getattr(mine, name), expected, rtol=RTOL, err_msg=name)
    (slit4,) = [x for x in ours if "7377" in x.name]
    (simple,) = d.run(d("load", filelist=[fileinfo(FB_FILES[3])]))
    assert np.any(slit4.dT < simple.dT)  # the closed slit 4 narrows the beam


def test_divergence_of_slits_1_and_2_alone_is_their_trapezoid(both_folders):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(FB_FILES[0])])
    (ours,) = d.run(d("divergence_fb", (loaded, "data")))
    (raw,) = d.run(loaded)
    s1, s2 = raw.slit1, raw.slit2
    half, skew = (s1 + s2) / 2 / 1000.0, np.abs(s1 - s2) / 2 / 1000.0  # 1000 mm apart
    expected = np.degrees(np.sqrt((np.arctan(half) ** 2 + np.arctan(skew) ** 2) / 6))
    np.testing.assert_allclose(ours.dT, expected, rtol=1e-12)


@pytest.fixture
def opening(tmp_path):
    """No PBR slit scan moves slits 1 and 2 (they all scan slit 3 or 4, or nothing): two
    real slit-4 scans (18 and 16 points, counts rising with the opening) with slits 1 and
    2 written to follow slit 4 — the second 0.005 mm wider, within smooth slits' dx."""
    names = []
    for number, extra in (("7377", 0.1), ("7378", 0.105)):
        name = f"fp_slitAperture4.softPosition{number}.nxs.pbr"
        shutil.copy(PBR.parent / "reductus-pbr" / name, tmp_path / name)
        with h5py.File(tmp_path / name, "r+") as f:
            logs = f["entry/DAS_logs"]
            opening = logs["slitAperture4/softPosition"][()] + extra
            for k in (1, 2):
                field = f"slitAperture{k}/softPosition"
                units = dict(logs[field].attrs)
                del logs[field]
                logs[field] = opening
                logs[field].attrs.update(units)
        names.append(name)
    with data_sources(sources.LocalSource("local", tmp_path)):
        yield tmp_path, names


def smoothed(files: list[str], **smooth) -> list:
    d = Diagram()
    return d.run(d("smooth_slits", (d.load(*files), "data"), **smooth))


@pytest.mark.parametrize(
    "smooth", [{}, {"span": 20, "degree": 2}, {"span": 40, "degree": 3, "dx": 0.001}]
)
def test_smoothed_slits_agree(opening, smooth):
    folder, files = opening
    ours = smoothed(files, **smooth)
    options = [f"--{k}={v}" for k, v in smooth.items()]
    theirs = reductus_run("smooth_slits", [str(folder / f) for f in files], *options)
    merged = 18 if smooth.get("dx", 0.01) > 0.005 else 34
    for mine, ref in zip(ours, theirs["datasets"], strict=True):
        assert len(mine) == merged
        for name in ("slit1", "slit2", "v", "dv"):
            expected = np.array(ref[name], dtype=float)
            np.testing.assert_allclose(getattr(mine, name), expected, rtol=RTOL, err_msg=name)


def test_smoothing_a_window_reproduces_a_polynomial_through_its_points(opening):
    """Where reductus fails (a moving window: it evaluates at uninitialized numbers), a
    polynomial of degree span − 1 through each window must give back the data."""
    folder, files = opening
    d = Diagram()
    (raw,) = d.run(d.load(files[0]))
    (ours,) = smoothed(files[:1], span=3, degree=2)
    np.testing.assert_allclose(ours.v, raw.v[np.argsort(raw.dT)], rtol=1e-9, atol=1e-12)


def test_smoothing_real_slit_scans(both_folders):
    """mli0159: the four cross-sections at one setting agree with reductus; a real scan of
    slit 4 (slits 1 and 2 fixed: one setting) becomes its mean (reductus: NaN)."""
    beam = ["ncnr-pbr/mli0159.nxs.pbr"]
    ours = smoothed(beam)
    theirs = reductus_run("smooth_slits", [str(PBR.parent / f) for f in beam])["datasets"]
    compare(ours, theirs)
    scan = "reductus-pbr/fp_slitAperture4.softPosition7377.nxs.pbr"
    d = Diagram()
    (raw,) = d.run(d.load(scan))
    (mean,) = smoothed([scan])
    np.testing.assert_allclose(mean.v, [raw.v.mean()], rtol=1e-12)
    np.testing.assert_allclose(mean.dv, [np.sqrt(np.sum(raw.dv**2)) / len(raw)], rtol=1e-12)


@pytest.mark.parametrize(
    "align", ["auto", "sample", "detector", "sample_target", "detector_target"]
)
def test_interpolated_backgrounds_agree(pbr_source, align):
    for spec in ("mli0115.nxs.pbr", "mli0111.nxs.pbr"):
        d = Diagram()
        back = d.load("mli01120.nxs.pbr", join=True)  # background−, -- and ++
        node = d("interpolate_background", (d.load(spec, join=True), "data"), (back, "backm"))
        d.nodes[node]["config"] = {"align": align}
        ours = _run_terminal(d, node, "outm")
        assert _run_terminal(d, node, "outp") == []
        theirs = reductus_run(
            "interpolate_background", [spec, "mli01120.nxs.pbr"], "--align", align
        )
        compare(ours, theirs["datasets"])
        (specular,) = [x for x in d.run(node) if x.polarization == "--"]
        (minus,) = [x for x in ours if x.polarization == "--"]
        angle = {
            "detector": specular.Td / 2,
            "sample_target": specular.Ti_target,
            "detector_target": specular.Td_target / 2,
        }.get(align, specular.Ti)
        np.testing.assert_array_equal(minus.Ti, angle)


EPSD, SCALE = 0.002, 1.3  # the simulated reservoir


@pytest.fixture
def liquid_cell(tmp_path):
    """No PBR scan saw a liquid cell: the rocking curve mli0181 (Td 0.5°, Ti 0.05–0.45°, all
    four cross-sections) counting the background of a reservoir of εD 0.002 and geometry
    scale 1.3 with the default slit and detector distances (monitor 1e8 a point, Poisson
    counts); specular mli0111 is what it is subtracted from."""
    rng = np.random.default_rng(11)
    path = tmp_path / "mli0181.nxs.pbr"  # reductus names a data set by the file it holds
    shutil.copy(PBR / "mli0181.nxs.pbr", path)
    with h5py.File(path, "r+") as f:
        for entry in f.values():
            logs = entry["DAS_logs"]
            n = logs["counter/liveMonitor"].shape[0]
            ti = np.radians(np.broadcast_to(logs["sampleAngle/softPosition"][()], (n,)))
            td = np.radians(np.broadcast_to(logs["detectorAngle/softPosition"][()], (n,)))
            s4 = float(np.ravel(logs["slitAperture4/softPosition"][()])[0])
            af = td - ti
            A = np.exp(-EPSD * (1 / np.sin(ti) + 1 / np.sin(af)))
            footprint = 76.2  # slits 3 and 4 see more of the sample than it has
            shape = (1 - A) / (1 + np.sin(ti) / np.sin(af)) + 1.109e-4 * footprint / np.cos(ti) * (
                0.5 + 0.5 * A
            )
            solid = np.arctan(150 / 1675) * np.arctan(s4 / 1269) / (4 * np.pi)
            logs["counter/liveMonitor"][...] = 1e8
            logs["counter/liveROI"][...] = rng.poisson(1e8 * SCALE * shape * solid)
    shutil.copy(PBR / "mli0111.nxs.pbr", tmp_path / "mli0111.nxs.pbr")
    with data_sources(sources.LocalSource("local", tmp_path)):
        yield tmp_path, ["mli0181.nxs.pbr", "mli0111.nxs.pbr"]


@pytest.mark.parametrize(
    ("fit", "override"),
    [
        ({"Qcutoff": 0.005}, {}),
        ({"Qcutoff": 0.005, "fit_scale": False, "epsD0": 0.005}, {}),
        ({"Qcutoff": 0.011, "scale": 2.0}, {"epsD": 0.003}),
    ],
)
def test_the_background_field_agrees(liquid_cell, fit, override):
    folder, files = liquid_cell
    d = Diagram()
    back = d.load(files[0])
    fitted = d("fit_background_field", (back, "back"), **fit)
    node = d("subtract_background_field", (d.load(files[1]), "data"))
    d.wires.append({"source": [fitted, "fitparams"], "target": [node, "bfparams"]})
    d.nodes[node]["config"] = override
    (ours,) = _run_terminal(d, fitted, "fitparams")
    options = [
        "--backs=1",
        f"--qcutoff={fit['Qcutoff']}",
        f"--bf-scale={fit.get('scale', 1.0)}",
        f"--epsd0={fit.get('epsD0', 0.01)}",
        "--fit-scale" if fit.get("fit_scale", True) else "--no-fit-scale",
        *([f"--bf-epsd={override['epsD']}"] if override else []),
    ]
    answer = reductus_run("background_field", [str(folder / f) for f in files], *options)
    theirs = answer["params"]["background_field"]
    for mine, key in (("epsD", "epsD"), ("scale", "scale"), ("chisq", "fit_chi-squared")):
        np.testing.assert_allclose(getattr(ours, mine), theirs[key], rtol=RTOL, err_msg=key)
    for mine, key in (
        ("epsD_var", "epsD_var"),
        ("scale_var", "scale_var"),
        ("covariance", "scale_epsD_covar"),
    ):
        np.testing.assert_allclose(getattr(ours, mine), theirs[key], rtol=1e-5, atol=1e-30)
    if fit.get("fit_scale", True):  # the truth within reach
        assert abs(ours.epsD - EPSD) < 4 * np.sqrt(ours.epsD_var)
        assert abs(ours.scale - SCALE) < 4 * np.sqrt(ours.scale_var)
    fits = _run_terminal(d, fitted, "fit")
    compare_in_order(fits + d.run(node), answer["datasets"])


def compare_in_order(ours: list, theirs: list[dict]):
    assert len(ours) == len(theirs)
    for mine, ref in zip(ours, theirs, strict=True):
        assert mine.polarization == ref["polarization"]
        for name in ("Qz", "dQ", "v", "dv"):
            expected = np.array(ref[name], dtype=float)
            np.testing.assert_allclose(getattr(mine, name), expected, rtol=RTOL, err_msg=name)


def test_a_background_field_needs_points_above_qcutoff(liquid_cell):
    d = Diagram()
    fitted = d("fit_background_field", (d.load("mli0181.nxs.pbr"), "back"))  # Qcutoff 0.05
    with pytest.raises(TemplateError, match=r"\(Qcutoff\): too few background points"):
        _run_terminal(d, fitted, "fitparams")


# Sets of one intent each (the harness joins each intent group): overlapping specular
# scans; rocking curves of the same angles (four files, some cross-sections twice); slit
# scans at one setting of slits 1 and 2 (every point merges under the default tolerances).
SPECULAR = ["ncnr-pbr/mli0111.nxs.pbr", "ncnr-pbr/mli0115.nxs.pbr", "ncnr-pbr/mli0164.nxs.pbr"]
ROCKS = [
    "ncnr-pbr/mli0181.nxs.pbr",
    "reductus-pbr/mli0186.nxs.pbr",
    "reductus-pbr/mli0191.nxs.pbr",
    "reductus-pbr/mli0196.nxs.pbr",
]
SLITS = [
    "reductus-pbr/fp_slitAperture4.softPosition7377.nxs.pbr",
    "reductus-pbr/fp_slitAperture4.softPosition7378.nxs.pbr",
    "reductus-pbr/fp_slitAperture3.softPosition7379.nxs.pbr",
]
JOINS = [
    (SPECULAR, {}),
    (SPECULAR, {"Q_tolerance": 2.0}),
    (SPECULAR, {"Q_tolerance": 0.05, "dQ_tolerance": 0.5}),
    (SPECULAR, {"tolerance": 0.0}),  # by target angles and slits
    (SPECULAR, {"order": "theta", "base": "time"}),
    (SPECULAR, {"order": "none", "group_by": "filenumber"}),
    (SPECULAR, {"group_by": "probe"}),  # all neutrons: every cross-section in one
    (SPECULAR, {"group_by": "instrument", "order": "theta"}),  # all "NCNR PBR"
    (ROCKS, {}),
    (ROCKS, {"group_by": "entry", "order": "theta"}),
    (ROCKS, {"group_by": "sample.name", "Q_tolerance": 1.0}),
    (ROCKS, {"group_by": "intent", "tolerance": 0.0}),
    (ROCKS, {"group_by": "instrument"}),
    (SLITS, {}),
    (SLITS, {"base": "time", "dQ_tolerance": 0.0}),
]
OPTION = {
    "Q_tolerance": "--q-tolerance",
    "dQ_tolerance": "--dq-tolerance",
    "tolerance": "--join-tolerance",
    "order": "--order",
    "group_by": "--group-by",
    "base": "--base",
}


@pytest.mark.parametrize(("files", "join"), JOINS)
def test_join_agrees_with_every_tolerance_order_and_grouping(both_folders, files, join):
    options = [f"{OPTION[k]}={v}" for k, v in join.items()]
    theirs = reductus_run("join", [str(PBR.parent / f) for f in files], *options)["datasets"]
    join = dict(join)
    d = Diagram()
    node = d("join", (d.load(*files, base=join.pop("base", "monitor")), "data"), **join)
    ours = d.run(node)
    assert [x.name.split(":")[0].removesuffix(".nxs.pbr") for x in ours] == [
        ref["name"] for ref in theirs
    ]
    assert [x.name.rsplit(":", 1)[1] for x in ours] == [ref["entry"] for ref in theirs]
    compare_in_order(ours, theirs)
    loaded = sum(len(x) for x in d.run(d.load(*files)))
    assert sum(len(x) for x in ours) < loaded  # points did merge


@pytest.mark.parametrize(
    ("order", "failure"),
    [
        ("time", "'NoneType' object is not subscriptable"),  # no monitor start time in NICE
        ("slit", "operands could not be broadcast"),  # compares whole slit arrays
    ],
)
def test_join_in_time_and_slit_order(both_folders, order, failure):
    """reductus 1.0.1 fails on both orders with these files; ours puts first the file
    started first, or with the narrowest first slits, and the numbers stay the same."""
    d = Diagram()
    ours = d.run(d("join", (d.load(*SPECULAR), "data"), order=order))
    by_file = d.run(d("join", (d.load(*SPECULAR), "data")))
    if order == "time":
        starts = {f: h5py.File(PBR.parent / f)["DOWN_DOWN/start_time"][0] for f in SPECULAR}
        first = min(starts, key=starts.get)
    else:
        slits = {f: x.slit1[0] + x.slit2[0] for f in SPECULAR for x in d.run(d.load(f))[:1]}
        first = min(slits, key=slits.get)
    (minus,) = [x for x in ours if x.polarization == "--"]  # all three files
    assert minus.name.startswith(first.split("/")[1])
    for mine, plain in zip(ours, by_file, strict=True):
        np.testing.assert_allclose(mine.v, plain.v, rtol=1e-12)  # the order names, no more
    with pytest.raises(AssertionError, match=failure):
        reductus_run("join", [str(PBR.parent / f) for f in SPECULAR], f"--order={order}")


@pytest.mark.parametrize("group_by", ["probe", "instrument"])
def test_one_probe_and_one_instrument_join_into_one_set(pbr_source, group_by):
    """Both files are of neutrons on NCNR PBR (instrument/name): their ++ and -- join into
    one set of mixed polarization, as reductus joins them."""
    files = ["mli0111.nxs.pbr", "mli0115.nxs.pbr"]
    d = Diagram()
    loaded = d.load(*files)
    assert {(x.probe, x.instrument) for x in d.run(loaded)} == {("neutrons", "NCNR PBR")}
    (ours,) = d.run(d("join", (loaded, "data"), group_by=group_by))
    (theirs,) = reductus_run("join", [str(PBR / f) for f in files], f"--group-by={group_by}")[
        "datasets"
    ]
    assert ours.polarization == theirs["polarization"] == ""
    assert len(ours) == theirs["points"] == 101
    compare_in_order([ours], [theirs])


def test_join_tolerances_cannot_be_negative(pbr_source):
    d = Diagram()
    node = d("join", (d.load("mli0111.nxs.pbr"), "data"), dQ_tolerance=-1.0)
    with pytest.raises(TemplateError, match=r"\(dQ_tolerance\): cannot be negative"):
        d.run(node)
