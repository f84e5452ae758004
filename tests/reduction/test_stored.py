"""A computed step as the caches keep it (dataflow.stored): every value comes back bit for bit,
arrays as the same dtype and shape; anything that is not such a blob — damaged, cut short, an
older Beamtime's JSON, random bytes — reads as None (the step is computed again), never as
wrong numbers and never as an error."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beamtime.reduction.dataflow.cache import DiskCache
from beamtime.reduction.dataflow.stored import MARK, decode, encode
from beamtime.reduction.instruments.refl import registry
from beamtime.reduction.instruments.refl.nexus import load_nexus
from beamtime.reduction.instruments.refl.refldata import ReflData
from tests.reduction.conftest import PBR


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()  # bit for bit: NaN, -0.0 and all
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return type(a) is type(b) and a == b


def test_arrays_of_every_numeric_kind_and_shape_come_back_bit_for_bit():
    outputs = {
        "output": [
            {
                "v": np.array([1.5, np.nan, np.inf, -np.inf, -0.0, 5e-324]),
                "counts": np.arange(7, dtype=np.int64),
                "small": np.arange(3, dtype=np.uint8),
                "mask": np.array([True, False, True]),
                "matrix": np.arange(12.0).reshape(3, 4)[:, ::2],  # not contiguous
                "big-endian": np.array([1.0, 2.0], dtype=">f8"),
                "complex": np.array([1 + 2j]),
                "single": np.float32([0.1, 0.2]),
                "scalar": np.array(3.25),
                "empty": np.zeros((0, 3)),
                "text": "mli0170 ++",
                "nothing": None,
                "numbers": [1, 2.5, float("nan")],
                "nested": {"saturation": [[1.0, 2.0], [0.9, 0.8]]},
            }
        ]
    }
    again = decode(encode(outputs))
    assert same(outputs, again)


def test_names_like_the_heads_tags_are_kept_as_names():
    outputs = {"__array__": 0, "inner": {"__dict__": {"__array__": [1, 2]}}, "x": np.ones(2)}
    assert same(outputs, decode(encode(outputs)))


def test_a_real_scan_is_stored_and_read_back_bit_for_bit():
    refl = registry.datatypes["refldata"]
    for scan in load_nexus(PBR / "mli0115.nxs.pbr"):
        data = ReflData.from_scan(scan)
        blob = encode([refl.to_stored(data)])
        (again,) = decode(blob)
        assert same(refl.to_stored(data), again)
        back = refl.from_stored(again)
        assert same(refl.to_stored(back), refl.to_stored(data))
        back.v[0] = 1.0  # a step's own copy: writable, whatever the blob's arrays are
        # 8 bytes a number, not a decimal text of ~20
        assert len(blob) < 8 * len(data) * 30 + 2000


def fitted_and_derived_values():
    """One value of each other refl data type, with the non-finite numbers fits give."""
    from beamtime.reduction.instruments.refl.deadtimedata import DeadTimeFit
    from beamtime.reduction.instruments.refl.fielddata import BackgroundField
    from beamtime.reduction.instruments.refl.fluxdata import FluxData
    from beamtime.reduction.instruments.refl.footprintdata import FootprintFit
    from beamtime.reduction.instruments.refl.poldata import PolData

    nan, inf = float("nan"), float("inf")
    return {
        "footprint": FootprintFit("mli0115", 1.5, 0.2, nan, inf, 0.01, 0.02),
        "poldata": PolData(
            "mli0159", "monitor", [0.01, 0.02], [0.5, 1.0],
            np.arange(8.0).reshape(4, 2), np.full((4, 2), nan), 0.5, 0.0, 0.0, False,
        ),
        "deadtime": DeadTimeFit(
            "att", "detector", "P", 1.2, nan, 3.4, inf, [1.0, 10.0], [0.0, 0.5],
            [100.0, 2000.0], [1.0, nan], [99.0, 1900.0],
        ),
        "backgroundfield": BackgroundField(
            "cell", 0.3, 0.01, 1.1, nan, -inf, 1.4, 0.05, 100.0, 200.0, 400.0, 150.0, 30.0,
            [0.01, 0.02], [1.0, nan], [1.1, 0.9],
        ),
        "flux": FluxData(
            "mli0159", ["a", "b"], [1.0, 2.0], [0.1, nan], [3.0, 4.0], [0.3, 0.4],
            [10.0, 20.0], [0.0, 0.0], {"flux": 3.5, "dflux": nan},
        ),
    }  # fmt: skip


@pytest.mark.parametrize(
    "datatype", ["footprint", "poldata", "deadtime", "backgroundfield", "flux"]
)
def test_every_refl_data_type_comes_back_with_its_nan_and_inf(datatype):
    kind, value = registry.datatypes[datatype], fitted_and_derived_values()[datatype]
    again = kind.from_stored(decode(encode({"output": [kind.to_stored(value)]}))["output"][0])
    assert type(again) is type(value)
    assert same(kind.to_stored(again), kind.to_stored(value))


def test_text_arrays_are_kept_as_lists():
    assert decode(encode({"names": np.array(["a", "bc"])})) == {"names": ["a", "bc"]}


def test_an_older_beamtimes_json_step_reads_as_not_cached():
    assert decode(json.dumps({"output": [1.0]}).encode()) is None


def test_a_head_naming_an_object_dtype_is_refused():
    """The dtypes come from the blob: only numbers are ever made of its bytes."""
    head = json.dumps({"tree": {"__array__": 0}, "arrays": [["|O", [1]]]}).encode()
    blob = MARK + len(head).to_bytes(8, "little") + head + bytes(8)
    assert decode(blob) is None


@given(st.binary(max_size=300))
def test_random_bytes_read_as_not_cached(blob):
    assert decode(blob) is None  # no marker
    decode(MARK + blob)  # never raises


@settings(max_examples=200)
@given(st.data())
def test_a_blob_cut_short_or_grown_reads_as_not_cached(data):
    blob = encode({"output": [{"v": np.arange(10.0), "name": "x"}]})
    cut = data.draw(st.integers(0, len(blob) - 1))
    assert decode(blob[:cut]) is None
    assert decode(blob + data.draw(st.binary(min_size=1, max_size=20))) is None


@given(st.binary(min_size=1, max_size=200), st.integers(0, 10**6))
def test_a_damaged_head_never_raises(garbage, where):
    blob = bytearray(encode({"output": [{"v": np.arange(4.0)}]}))
    position = len(MARK) + where % (len(blob) - len(MARK))
    blob[position : position + len(garbage)] = garbage
    decode(bytes(blob))  # None or some value, never an exception


def test_the_disk_cache_skips_an_older_format_and_evicts_it(tmp_path):
    old = tmp_path / "ab" / ("ab" + "0" * 62 + ".json")
    old.parent.mkdir()
    old.write_text(json.dumps({"output": ["x" * 2000]}))
    cache = DiskCache(tmp_path, max_bytes=1000)
    cache.set_bundle("ab" + "1" * 62, {"output": [np.arange(10.0)]})
    assert not old.exists()  # counted in the folder's size, and the least recently used
    assert same(cache.get_bundle("ab" + "1" * 62), {"output": [np.arange(10.0)]})


def test_a_damaged_disk_step_is_computed_again(tmp_path):
    cache = DiskCache(tmp_path)
    cache.set_bundle("cd" + "2" * 62, {"output": [np.arange(10.0)]})
    path = cache._path("cd" + "2" * 62)
    path.write_bytes(path.read_bytes()[:-3])
    assert cache.get_bundle("cd" + "2" * 62) is None


@pytest.mark.parametrize("points", [1, 1000])
def test_the_arrays_read_back_are_views_of_the_blob(points):
    blob = encode({"v": np.arange(float(points))})
    v = decode(blob)["v"]
    assert not v.flags.writeable and not v.flags.owndata


def test_a_redis_step_of_an_older_format_is_computed_again_and_replaced(redis_server):
    import redis

    from beamtime.reduction.dataflow.cache import RedisCache
    from beamtime.reduction.dataflow.calc import calculate
    from tests.reduction.test_dataflow import calls, chain, toy

    client = redis.Redis.from_url(redis_server)
    client.delete(*client.keys("bt-old:*") or ["none"])
    cache = RedisCache(client, 10**6, "bt-old:")
    template = chain()
    assert calculate(template, toy, 2, "output", cache) == [60.0]
    for key in client.keys("bt-old:*"):  # as an older Beamtime stored them: JSON
        if key not in (b"bt-old:lru", b"bt-old:bytes"):
            client.set(key, json.dumps({"output": [-1.0]}))
    calls.clear()
    assert calculate(template, toy, 2, "output", cache) == [60.0]  # not the old text's -1
    assert calls  # computed again
    calls.clear()
    assert calculate(template, toy, 2, "output", cache) == [60.0]
    assert not calls  # and replaced
