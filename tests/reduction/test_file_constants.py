"""Instrument constants read from the file — slit distances, the wavelength spread, the
monitor's and detector's dead times — as reductus 1.0.1 reads them (run side by side through
bench/reductus_harness.py), to 1e-6 relative. No PBR file holds them: copies of real files
carry them, written in by h5py in the units and shapes NICE writes."""

import shutil

import h5py
import numpy as np
import pytest

from beamtime.reduction import sources
from beamtime.reduction.dataflow.template import TemplateError
from beamtime.reduction.instruments.refl.nexus import NexusError, ReflScan, load_nexus
from tests.reduction.conftest import PBR, data_sources, fileinfo
from tests.reduction.test_reductus import RTOL, Diagram, _run_terminal, reductus_run
from tests.reduction.test_reductus_corrections import (  # noqa: F401  (a fixture)
    compare_in_order,
    liquid_cell,
)

FILES = ("mli0111.nxs.pbr", "mli0115.nxs.pbr")  # one cross-section; four
# field → (value, units): lengths in several units, as the NeXus "units" attribute says
CONSTANTS = {
    "instrument/presample_slit1/distance": ([-1.759], "m"),
    "instrument/presample_slit2/distance": ([-33.0], "cm"),
    "instrument/predetector_slit1/distance": ([356.0], "mm"),
    "instrument/predetector_slit2/distance": ([1214.0], "mm"),
    "instrument/monochromator/wavelength_error": ([0.0047], "nm"),  # 1-σ 0.047 Å
    "control/monitor/dead_time": ([30.0, 8.0], "us"),  # τ_NP, τ_P
    # τ_NP 20 µs, as a scalar: reductus 1.0.1 fails on a one-element array here (its τ_NP
    # becomes the array); Beamtime reads both
    "instrument/single_detector/dead_time": (0.02, "ms"),
}


def write_constants(path, constants=CONSTANTS):
    with h5py.File(path, "r+") as f:
        for entry in f:
            for field, (value, units) in constants.items():
                f[f"{entry}/{field}"] = np.array(value, dtype="f4")
                if units is not None:
                    f[f"{entry}/{field}"].attrs["units"] = units.encode()


@pytest.fixture
def constants(tmp_path):
    """Copies of real files with every constant written in (mli0111 with the first four of
    them only: the distances), beside the originals."""
    for name in FILES:
        shutil.copy(PBR / name, tmp_path / name)
        shutil.copy(PBR / name, tmp_path / f"plain_{name}")
        (tmp_path / name).chmod(0o644)
    write_constants(tmp_path / FILES[1])
    write_constants(tmp_path / FILES[0], dict(list(CONSTANTS.items())[:4]))
    with data_sources(sources.LocalSource("local", tmp_path)):
        yield tmp_path


def theirs_by_polarization(case, files, *options):
    found = reductus_run(case, [str(f) for f in files], *options)["datasets"]
    return {d["polarization"]: d for d in found}


def agree(ours: list, theirs: dict, names=("Qz", "dQ", "v", "dv", "dT", "dL")):
    assert len(ours) == len(theirs) > 0
    for mine in ours:
        ref = theirs[mine.polarization]
        for name in names:
            mine_value = np.broadcast_to(getattr(mine, name), np.shape(mine.v))
            expected = np.array(ref[name], dtype=float)
            np.testing.assert_allclose(mine_value, expected, rtol=RTOL, err_msg=f"{name}")


@pytest.mark.parametrize("file", FILES)
def test_the_loader_uses_the_files_constants_as_reductus(constants, file):
    d = Diagram()
    ours = d.run(d("load", filelist=[fileinfo(file)]))
    agree(ours, theirs_by_polarization("load", [constants / file]))
    (plain,) = d.run(d("load", filelist=[fileinfo(f"plain_{file}")]))[:1]
    assert not np.allclose(ours[0].dT, plain.dT)  # the file's distances count
    if file == FILES[1]:
        assert ours[0].dL == pytest.approx(0.047, rel=1e-6)  # the file's spread, in Å
    else:
        assert ours[0].dL == plain.dL  # 1.5 % FWHM where the file has none


def test_the_resolution_step_uses_the_files_constants_unless_given(constants):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(FILES[1])])
    file_based = d.run(d("angular_resolution", (loaded, "data")))
    agree(file_based, theirs_by_polarization("load", [constants / FILES[1]]))
    # the old explicit controls of saved templates: reductus' fallbacks, as without the fields
    old = dict(distance1=2000.0, distance2=1000.0, wavelength_spread=0.015)
    given = d("angular_resolution", (loaded, "data"), **old)
    overridden = d.run(d("normalize", (given, "data"), base="monitor"))
    plain = theirs_by_polarization("normalize_monitor", [PBR / FILES[1]])
    agree(overridden, plain, names=("Qz", "dQ", "dT", "dL"))


def test_the_four_slit_divergence_uses_the_files_distances(constants):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(f) for f in FILES])
    ours = d.run(d("normalize", (d("divergence_fb", (loaded, "data")), "data"), base="monitor"))
    theirs = reductus_run("divergence_fb", [str(constants / f) for f in FILES])
    distances = theirs["params"]["divergence_fb"]["distances"]
    assert distances == [[-1759.0], [-330.0], [356.0], [1214.0]]
    by_file = {(d["name"], d["polarization"]): d for d in theirs["datasets"]}
    assert len(ours) == len(by_file) == 3  # mli0115: -- and ++
    for mine in ours:
        ref = by_file[(mine.name.split(".")[0], mine.polarization)]
        for name in ("Qz", "dQ", "v", "dv", "dT"):
            expected = np.array(ref[name], dtype=float)
            np.testing.assert_allclose(getattr(mine, name), expected, rtol=RTOL, err_msg=name)


def test_the_footprint_uses_the_files_distances(constants):
    d = Diagram()
    normalized = d.load(FILES[1])
    ours = d.run(d("footprint", (normalized, "data"), sample_width=10.0))
    agree(ours, theirs_by_polarization("footprint", [constants / FILES[1]], "--width", "10"))


@pytest.mark.parametrize("counter", ["detector", "monitor"])
def test_the_dead_time_steps_use_the_files_dead_times(constants, counter):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(FILES[1])])
    corrected = d(f"{counter}_dead_time", (loaded, "data"))
    ours = d.run(d("normalize", (corrected, "data"), base="monitor"))
    agree(ours, theirs_by_polarization(f"{counter}_dead_time", [constants / FILES[1]]))
    (raw,) = d.run(d.load(FILES[1]))[:1]
    assert not np.allclose(ours[0].v, raw.v)  # the correction did something
    # a constant given wins over the file's: 0.0 is "not given", as in reductus
    given = d(f"{counter}_dead_time", (loaded, "data"), nonparalyzing=1.0)
    ours = d.run(d("normalize", (given, "data"), base="monitor"))
    options = ("--nonparalyzing", "1.0")
    agree(ours, theirs_by_polarization(f"{counter}_dead_time", [constants / FILES[1]], *options))


def test_a_file_without_dead_times_still_needs_one_for_the_detector(constants):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(FILES[0])])
    with pytest.raises(TemplateError, match="nonparalyzing"):
        d.run(d("detector_dead_time", (loaded, "data")))


@pytest.mark.parametrize(
    ("field", "value", "units", "says"),
    [
        ("instrument/presample_slit1/distance", [0.0], "mm", "0 is not a slit's distance"),
        ("instrument/presample_slit2/distance", [np.nan], "mm", "not a number"),
        ("instrument/predetector_slit1/distance", [b"far"], None, "not numbers"),
        ("instrument/predetector_slit2/distance", [1.0, 2.0], "mm", "2 values, not one"),
        ("instrument/presample_slit1/distance", [-2.0], "s", "unit 's' is not a length"),
        ("instrument/monochromator/wavelength_error", [-0.1], "Ang", "is negative"),
        ("control/monitor/dead_time", [-1.0], "us", "is negative"),
        ("instrument/single_detector/dead_time", [1.0, 2.0, 3.0], "us", "not one to 2"),
        ("instrument/single_detector/dead_time", [1.0], "furlong", "not a time"),
    ],
)
def test_a_bad_constant_is_named(tmp_path, field, value, units, says):
    path = tmp_path / "bad.nxs.pbr"
    shutil.copy(PBR / FILES[0], path)
    path.chmod(0o644)
    with h5py.File(path, "r+") as f:
        f[f"DOWN_DOWN/{field}"] = np.array(value)
        if units is not None:
            f[f"DOWN_DOWN/{field}"].attrs["units"] = units
    with pytest.raises(NexusError) as caught:
        load_nexus(path)
    e = caught.value
    assert "\n" not in str(e)
    assert (e.file, e.entry, e.field) == ("bad.nxs.pbr", "DOWN_DOWN", field)
    assert says in e.message


def test_a_negative_control_distance_is_refused(constants):
    d = Diagram()
    loaded = d("load", filelist=[fileinfo(FILES[1])])
    with pytest.raises(TemplateError, match=r"\(distance1\): must be positive"):
        d.run(d("angular_resolution", (loaded, "data"), distance1=-5.0))


def test_the_background_field_uses_the_files_slit_distances(liquid_cell):  # noqa: F811
    folder, files = liquid_cell
    slits = dict(list(CONSTANTS.items())[2:4])  # slits 3 and 4: 356 and 1214 mm
    write_constants(folder / files[0], slits)
    d = Diagram()
    fitted = d("fit_background_field", (d.load(files[0]), "back"), Qcutoff=0.005)
    (ours,) = _run_terminal(d, fitted, "fitparams")
    assert (ours.LS3, ours.LS4, ours.L4D) == (356.0, 1214.0, 1675.0 - 1214.0)
    options = ["--backs=1", "--qcutoff=0.005"]
    answer = reductus_run("background_field", [str(folder / f) for f in files], *options)
    theirs = answer["params"]["background_field"]
    for mine, key in (("epsD", "epsD"), ("scale", "scale"), ("chisq", "fit_chi-squared")):
        np.testing.assert_allclose(getattr(ours, mine), theirs[key], rtol=RTOL, err_msg=key)
    compare_in_order(_run_terminal(d, fitted, "fit"), answer["datasets"][:4])
    # given, the controls win (reductus 1.0.1 would take the file's)
    d.nodes[fitted]["config"] |= {"LS3": 380.0, "LS4": 1269.0}
    (given,) = _run_terminal(d, fitted, "fitparams")
    assert (given.LS3, given.LS4) == (380.0, 1269.0) and given.epsD != ours.epsD


def test_the_constants_survive_a_round_trip(constants):
    (scan, *_) = load_nexus(constants / FILES[1])
    assert (scan.distance1, scan.distance3) == (pytest.approx(-1759.0), 356.0)
    assert (scan.monitor_tau_NP, scan.monitor_tau_P) == (30.0, 8.0)
    assert scan.detector_tau_NP == pytest.approx(20.0) and scan.detector_tau_P == 0.0
    assert ReflScan.from_dict(scan.to_dict()) == scan
    (plain, *_) = load_nexus(constants / f"plain_{FILES[1]}")
    assert np.isnan(plain.distance1) and ReflScan.from_dict(plain.to_dict()) == plain
