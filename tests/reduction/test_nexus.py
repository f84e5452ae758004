"""The NICE NeXus loader for reflectometry (beamtime.reduction.instruments.refl.nexus)."""

import json
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from beamtime.reduction.instruments.refl.nexus import (
    COUNTS,
    MONITOR,
    NexusError,
    ReflScan,
    load_nexus,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "ncnr-pbr"
ALL_FOUR = ("--", "-+", "+-", "++")  # DOWN_DOWN, DOWN_UP, UP_DOWN, UP_UP

# The README's table: scan type, cross-sections (points), Ti range in degrees.
README = {
    "mli0111.nxs.pbr": ("SPEC", {"--": 101}, "0", "2.166"),
    "mli0115.nxs.pbr": ("SPEC", {"--": 15, "++": 14}, "0.22", "0.52"),
    "mli01120.nxs.pbr": ("BG", {"--": 16, "++": 16}, "0.41", "0.73"),
    "mli01121.nxs.pbr": ("BG", {"--": 6, "++": 6}, "0.73", "1.82"),
    "mli0159.nxs.pbr": ("SLIT", dict.fromkeys(ALL_FOUR, 1), "0", "0"),
    "mli0164.nxs.pbr": ("SPEC", {"--": 21}, "-1.9", "2.4"),
    "mli0181.nxs.pbr": ("ROCK", dict.fromkeys(ALL_FOUR, 21), "0.05", "0.45"),
}
# The README's slits: s1, s2, s3, s4 in mm.
SLITS = ("0.9984", "1.0005", "0.6991", "2.0003")
NARROW_SLITS = ("0.9984", "1.0005", "0.7493", "1.5")  # mli0111, mli0115


def as_written(text: str):
    """A number as the README rounds it: equal to within half a unit of its last digit."""
    decimals = len(text.partition(".")[2])
    return pytest.approx(float(text), abs=0.5 * 10**-decimals)


def copy_of(tmp_path: Path, file: str = "mli0115.nxs.pbr") -> Path:
    path = tmp_path / file
    path.write_bytes((DATA / file).read_bytes())  # not shutil.copy: the originals are read-only
    return path


def error(source, name: str = "") -> NexusError:
    with pytest.raises(NexusError) as caught:
        load_nexus(source, name)
    assert "\n" not in str(caught.value)
    return caught.value


# The real files


@pytest.mark.parametrize("file", sorted(README))
def test_it_reads_each_file_as_the_readme_describes_it(file):
    intent, points, ti_min, ti_max = README[file]
    scans = load_nexus(DATA / file)
    assert {s.polarization: len(s) for s in scans} == points
    assert [s.polarization for s in scans] == list(points)  # in the file's entry order
    assert {s.intent for s in scans} == {intent}
    angles = np.concatenate([s.sample_angle for s in scans])
    assert angles.min() == as_written(ti_min) and angles.max() == as_written(ti_max)
    for scan in scans:
        assert scan.name == f"{file}:{scan.name.partition(':')[2]}"
        assert scan.wavelength == 4.75
        assert scan.wavelength_spread == pytest.approx(0.015 * 4.75 / 2.3548, rel=1e-4)
        slits = NARROW_SLITS if file in ("mli0111.nxs.pbr", "mli0115.nxs.pbr") else SLITS
        openings = (scan.slit1, scan.slit2, scan.slit3, scan.slit4)
        for value, opening in zip(slits, openings, strict=True):
            assert len(opening) == len(scan) and np.all(opening == as_written(value))
        for array in (scan.counts, scan.monitor, scan.count_time, scan.detector_angle):
            assert array.shape == (len(scan),) and array.dtype == np.float64
        assert np.all(np.isfinite(scan.counts)) and np.all(scan.count_time > 0)
        assert scan.sample_name == "mli01"
        assert scan.start.startswith("2014-10-0")


def test_it_names_scans_by_file_and_entry():
    names = [s.name for s in load_nexus(DATA / "mli0159.nxs.pbr")]
    assert names == [f"mli0159.nxs.pbr:{e}" for e in ("DOWN_DOWN", "DOWN_UP", "UP_DOWN", "UP_UP")]
    assert [s.polarization for s in load_nexus(DATA / "mli0159.nxs.pbr")] == list(ALL_FOUR)


def test_it_reads_bytes_like_the_path():
    raw = (DATA / "mli0115.nxs.pbr").read_bytes()
    assert load_nexus(raw, "mli0115.nxs.pbr") == load_nexus(DATA / "mli0115.nxs.pbr")
    assert load_nexus(raw)[0].name == "<upload>:DOWN_DOWN"


def test_it_reads_a_bytearray_or_memoryview_that_is_gone_afterwards():
    """HDF5 reads the bytes where they are (no copy): a buffer the caller drops or changes
    after the call must change nothing in the scans, and a failure mid-file must close it."""
    import gc

    raw = (DATA / "mli0115.nxs.pbr").read_bytes()
    expected = load_nexus(raw, "mli0115.nxs.pbr")
    for _ in range(20):
        changing = bytearray(raw)
        scans = load_nexus(memoryview(changing), "mli0115.nxs.pbr")
        changing[:] = bytes(len(changing))  # the caller reuses its buffer
        del changing
        gc.collect()
        assert scans == expected
        with pytest.raises(NexusError):
            load_nexus(bytearray(raw), "mli0115.nxs.pbr", entries=["UP_DOWN"])


def test_it_reads_the_per_point_values_not_the_first_point_summary():
    down, up = load_nexus(DATA / "mli0115.nxs.pbr")
    # control/ and data/ hold the first point only; DAS_logs has all 15.
    assert down.counts[:4].tolist() == [584, 579, 730, 777]
    assert down.monitor[0] == 43160 and down.monitor.min() == 33603
    assert down.count_time[-1] == pytest.approx(7.752)  # the last point was cut short
    assert up.count_time.tolist() == [10.0] * 14  # stored once: the same for every point
    assert down.detector_angle[0] == pytest.approx(0.4329)


def test_it_repeats_the_detector_angle_of_a_rocking_curve():
    for scan in load_nexus(DATA / "mli0181.nxs.pbr"):
        assert scan.detector_angle.tolist() == [pytest.approx(0.5)] * 21
        assert len(np.unique(scan.sample_angle)) == 21


def test_it_reads_the_offset_scan_with_its_constant_offset():
    (scan,) = load_nexus(DATA / "mli0164.nxs.pbr")
    assert scan.intent == "SPEC"  # as stored, although it is an offset scan
    np.testing.assert_allclose(scan.sample_angle - scan.detector_angle / 2, 0.25, atol=1e-3)


def test_it_loads_the_aborted_scan_whose_monitor_collapses():
    for scan in load_nexus(DATA / "mli01121.nxs.pbr"):
        assert len(scan) == 6
        assert scan.monitor[0] > 300_000 and scan.monitor.min() < 10


def test_it_reads_the_sample_description():
    (scan,) = load_nexus(DATA / "mli0111.nxs.pbr")
    assert scan.description == "unpol 4nm ABO3/5nm Eus/Sb1.94V0.07Te3"
    assert load_nexus(DATA / "mli0115.nxs.pbr")[0].description == "0.7 T"


# Variations a valid file may have


def replace(path: Path, field: str, value) -> None:
    with h5py.File(path, "r+") as f:
        del f[field]
        f[field] = value


# How a writer may store one string: NICE uses 1x1 arrays for some fields, 1-arrays for others.
SHAPES = {
    "bytes": lambda text: text.encode(),
    "str": lambda text: text,
    "1": lambda text: np.array([text.encode()]),
    "1x1": lambda text: np.array([[text.encode()]]),
    "vlen": lambda text: np.array([text], dtype=h5py.string_dtype()),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_it_reads_a_string_as_a_scalar_or_a_one_element_array(tmp_path, shape):
    path = copy_of(tmp_path)
    replace(path, "UP_UP/sample/name", SHAPES[shape]("mli01"))
    replace(path, "UP_UP/DAS_logs/frontPolarization/direction", SHAPES[shape]("UP"))
    replace(path, "UP_UP/DAS_logs/trajectoryData/_scanType", SHAPES[shape]("SPEC"))
    scan = load_nexus(path)[1]
    assert (scan.sample_name, scan.polarization, scan.intent) == ("mli01", "++", "SPEC")


@pytest.mark.parametrize(
    ("front", "back", "signs"),
    [
        ("UP", "BEAM_OUT", "+"),  # half polarized
        ("BEAM_OUT", "DOWN", "-"),
        ("UNPOLARIZED", "", ""),  # unpolarized
        (None, None, ""),  # no flipper in the file
        (None, "UP", "+"),
        ("up", "Up", "++"),
    ],
)
def test_a_flipper_out_of_the_beam_adds_no_sign(tmp_path, front, back, signs):
    """As reductus' get_pol: a direction missing, empty, BEAM_OUT or UNPOLARIZED adds no sign
    (the real files are checked against reductus in test_reductus.py)."""
    path = copy_of(tmp_path)
    with h5py.File(path, "r+") as f:
        for side, direction in (("front", front), ("back", back)):
            field = f"UP_UP/DAS_logs/{side}Polarization/direction"
            del f[field]
            if direction is not None:
                f[field] = np.array([[direction.encode()]])
    assert [s.polarization for s in load_nexus(path)] == ["--", signs]


def test_it_reads_the_nexus_wavelength_first(tmp_path):
    path = copy_of(tmp_path)
    with h5py.File(path, "r+") as f:
        f["DOWN_DOWN/instrument/monochromator/wavelength"] = np.array([5.0], "f4")
    assert [s.wavelength for s in load_nexus(path)] == [5.0, 4.75]


def test_it_takes_optional_text_as_empty(tmp_path):
    path = copy_of(tmp_path)
    with h5py.File(path, "r+") as f:
        for field in ("DAS_logs/trajectoryData/_scanType", "start_time", "sample/description"):
            del f[f"DOWN_DOWN/{field}"]
        del f["DOWN_DOWN/DAS_logs/sample/description"]
    scan = load_nexus(path)[0]
    assert (scan.intent, scan.start, scan.description) == ("", "", "")


# Serialization


@pytest.mark.parametrize("file", sorted(README))
def test_it_round_trips_every_scan_through_json(file):
    for scan in load_nexus(DATA / file):
        d = scan.to_dict()
        assert set(d) == set(ReflScan.__dataclass_fields__)
        again = ReflScan.from_dict(json.loads(json.dumps(d, allow_nan=False)))
        assert again == scan
        assert again.to_dict() == d


def test_it_round_trips_nan_and_infinity():
    scan = load_nexus(DATA / "mli0159.nxs.pbr")[0]
    scan.slit3[0], scan.slit4[0] = np.nan, -np.inf
    d = json.loads(json.dumps(scan.to_dict(), allow_nan=False))
    assert d["slit3"] == ["nan"] and d["slit4"] == ["-inf"]
    assert ReflScan.from_dict(d) == scan


def test_it_tells_scans_apart_by_any_value():
    scan = load_nexus(DATA / "mli0115.nxs.pbr")[0]
    other = ReflScan.from_dict(scan.to_dict())
    other.monitor[3] += 1
    assert other != scan
    assert ReflScan.from_dict({**scan.to_dict(), "wavelength": 4.7500001}) != scan


def test_a_scan_keeps_no_reference_to_the_arrays_it_was_made_from():
    scan = load_nexus(DATA / "mli0115.nxs.pbr")[0]
    counts = scan.counts
    copy = ReflScan(**{name: getattr(scan, name) for name in ReflScan.__dataclass_fields__})
    counts[0] = -1
    assert copy.counts[0] == 584


def test_a_scan_needs_one_value_per_point():
    d = load_nexus(DATA / "mli0115.nxs.pbr")[0].to_dict()
    with pytest.raises(ValueError, match="slit2"):
        ReflScan.from_dict({**d, "slit2": d["slit2"][:-1]})


# Bad input


def test_it_refuses_a_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Q R dR\n0.01 1.0 0.1\n")
    e = error(path)
    assert e.file == "notes.txt" and "HDF5" in str(e)


def test_it_refuses_a_path_that_does_not_exist(tmp_path):
    assert error(tmp_path / "gone.nxs.pbr").file == "gone.nxs.pbr"


@pytest.mark.parametrize("size", [0, 100, 8 * 1024, 64 * 1024, 512 * 1024])
def test_it_refuses_a_truncated_file(size):
    raw = (DATA / "mli0115.nxs.pbr").read_bytes()[:size]
    assert str(error(raw, "mli0115.nxs.pbr")).startswith("mli0115.nxs.pbr: ")


@pytest.mark.parametrize(
    "field",
    [
        COUNTS,
        MONITOR,
        "DAS_logs/counter/liveTime",
        "DAS_logs/sampleAngle/softPosition",
        "DAS_logs/detectorAngle/softPosition",
        "DAS_logs/slitAperture3/softPosition",
        "DAS_logs/wavelength/wavelength",
    ],
)
def test_it_names_a_missing_field(tmp_path, field):
    path = copy_of(tmp_path)
    with h5py.File(path, "r+") as f:
        del f[f"UP_UP/{field}"]
    e = error(path)
    assert (e.file, e.entry, e.message) == ("mli0115.nxs.pbr", "UP_UP", "missing")
    assert field in e.field
    assert str(e).startswith(f"mli0115.nxs.pbr: entry UP_UP: field {e.field}: missing")


def test_it_names_an_array_of_the_wrong_length(tmp_path):
    path = copy_of(tmp_path)
    replace(path, f"DOWN_DOWN/{MONITOR}", np.arange(14, dtype="i4"))
    e = error(path)
    assert (e.entry, e.field) == ("DOWN_DOWN", MONITOR)
    assert "14 values for 15 points" in str(e)


def test_a_count_written_once_is_repeated_over_the_monitors_points(tmp_path):
    path = copy_of(tmp_path)
    replace(path, f"UP_UP/{COUNTS}", np.array([[7]], "i4"))
    scan = load_nexus(path)[1]
    assert len(scan) == 14 and set(scan.counts) == {7.0}


def test_the_scan_length_nice_writes_decides_the_points(tmp_path):
    path = copy_of(tmp_path)
    with h5py.File(path, "r+") as f:
        f["UP_UP/trajectory/liveScanLength"] = np.int32(14)
        f["DOWN_DOWN/trajectory/liveScanLength"] = np.int32(16)
    assert len(load_nexus(path, entries=["UP_UP"])[0]) == 14
    e = error(path)
    assert (e.entry, e.field) == ("DOWN_DOWN", COUNTS)
    assert "15 values for 16 points (as in trajectory/liveScanLength)" in e.message


def test_it_reads_only_the_entries_asked_for():
    scans = load_nexus(DATA / "mli0159.nxs.pbr", entries=["UP_UP", "DOWN_DOWN"])
    assert [s.polarization for s in scans] == ["--", "++"]  # in the file's order
    e = error_of(lambda: load_nexus(DATA / "mli0115.nxs.pbr", entries=["DOWN_UP"]))
    assert str(e) == "mli0115.nxs.pbr: has no entry DOWN_UP (it has DOWN_DOWN, UP_UP)"


def error_of(action) -> NexusError:
    with pytest.raises(NexusError) as caught:
        action()
    return caught.value


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        (COUNTS, np.array([b"lots"]), "not numbers"),
        (COUNTS, np.zeros((15, 2)), "not one value per point"),
        (COUNTS, np.zeros(0), "no points"),
        ("DAS_logs/wavelength/wavelength", np.array([4.75, 5.0]), "not one"),
        ("DAS_logs/wavelength/wavelength", np.array([-1.0]), "not a wavelength"),
        ("DAS_logs/trajectoryData/_scanType", np.array([b"a", b"b"]), "not one string"),
        ("sample/name", np.array([1.0]), "not text"),
        ("sample/name", np.array([b"\xff"]), "not UTF-8"),
        ("DAS_logs/frontPolarization/direction", b"SIDEWAYS", "none of UP, DOWN, BEAM_OUT"),
        ("DAS_logs/frontPolarization/direction", b"UP", "contradict the entry name"),
    ],
)
def test_it_names_a_bad_field(tmp_path, field, value, says):
    path = copy_of(tmp_path)
    replace(path, f"DOWN_DOWN/{field}", value)
    e = error(path)
    assert (e.entry, e.field) == ("DOWN_DOWN", field)
    assert says in e.message


def test_it_refuses_a_group_where_a_dataset_belongs(tmp_path):
    path = copy_of(tmp_path)
    with h5py.File(path, "r+") as f:
        del f[f"UP_UP/{MONITOR}"]
        f.create_group(f"UP_UP/{MONITOR}")
    assert "is a group" in error(path).message


def test_it_refuses_a_field_that_claims_gigabytes(tmp_path):
    path = copy_of(tmp_path)
    with h5py.File(path, "r+") as f:
        del f[f"UP_UP/{MONITOR}"]
        f.create_dataset(f"UP_UP/{MONITOR}", shape=(10**9,), dtype="f8", chunks=True)
    e = error(path)
    assert e.field == MONITOR and "far too large" in e.message


# An uploaded file must not make the server read its other files.


def test_it_refuses_a_dataset_stored_in_another_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"hunter2")
    path = copy_of(tmp_path)
    with h5py.File(path, "r+") as f:
        del f["DOWN_DOWN/sample/name"]
        f.create_dataset("DOWN_DOWN/sample/name", (1,), "S7", external=[(str(secret), 0, 7)])
    e = error(path)
    assert e.field == "sample/name" and "other files" in e.message
    assert "hunter2" not in str(e)


def test_it_refuses_a_link_to_another_file(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["name"] = np.array([b"hunter2"])
    for where in ("DOWN_DOWN/sample/name", "DOWN_DOWN/DAS_logs", "ELSEWHERE"):
        path = copy_of(tmp_path)
        with h5py.File(path, "r+") as f:
            if where in f:
                del f[where]
            f[where] = h5py.ExternalLink(str(other), "/" if where == "ELSEWHERE" else "/name")
        e = error(path)
        assert "another file" in e.message and "hunter2" not in str(e)


def test_it_refuses_an_hdf5_file_without_entries(tmp_path):
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as f:
        f["x"] = 1
    assert "no entries" in error(path).message


def test_it_refuses_an_argument_that_is_no_file():
    with pytest.raises(TypeError):
        load_nexus(42)


def test_the_error_survives_pickling():
    e = NexusError("a.nxs", "missing", "UP_UP", MONITOR)
    again = pickle.loads(pickle.dumps(e))
    assert str(again) == str(e) == f"a.nxs: entry UP_UP: field {MONITOR}: missing"


# Fuzzing: anything at all is a scan or a NexusError, never another exception

ORIGINAL = (DATA / "mli0115.nxs.pbr").read_bytes()


def loads_or_refuses(raw: bytes) -> None:
    try:
        scans = load_nexus(raw, "fuzz")
    except NexusError as e:
        assert "\n" not in str(e) and str(e).startswith("fuzz: ")
    else:
        assert all(isinstance(s, ReflScan) for s in scans)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_it_refuses_arbitrary_bytes(raw):
    loads_or_refuses(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_it_refuses_arbitrary_bytes_behind_an_hdf5_signature(tail):
    loads_or_refuses(ORIGINAL[:512] + tail)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(ORIGINAL)))
def test_it_refuses_or_reads_a_file_cut_anywhere(size):
    loads_or_refuses(ORIGINAL[:size])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example([(48, 0)])  # h5py's file-object driver raised OverflowError
@given(st.lists(st.tuples(st.integers(0, len(ORIGINAL) - 1), st.integers(0, 255)), max_size=20))
def test_it_refuses_or_reads_a_damaged_file(changes):
    raw = bytearray(ORIGINAL)
    for position, byte in changes:
        raw[position] = byte
    loads_or_refuses(bytes(raw))
