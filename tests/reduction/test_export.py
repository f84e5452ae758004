"""Store/load, display and export forms of the refl data type, and the provenance header."""

import io
import json

import h5py
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamtime.reduction.export import export, provenance, read_provenance
from beamtime.reduction.instruments.refl import registry
from beamtime.reduction.instruments.refl.nexus import load_nexus
from beamtime.reduction.instruments.refl.refldata import ReflData
from tests.reduction.conftest import PBR

REFL = registry.datatypes["refldata"]


@pytest.fixture(scope="module")
def scans():
    return [ReflData.from_scan(s) for s in load_nexus(PBR / "mli0115.nxs.pbr")]


def test_the_display_form_is_plottable_json(scans):
    shown = REFL.display(scans[0])
    assert shown["xlabel"] == "Qz (1/Å)" and shown["ylabel"] == "counts"
    assert shown["y"] == scans[0].v.tolist() and len(shown["x"]) == len(shown["dy"]) == 15
    json.dumps(shown, allow_nan=False)


def test_text_and_hdf5_exports_carry_the_provenance(scans):
    header = provenance({"nodes": [], "wires": []}, {"0": {"x": 1}}, 3, "output")
    name, text, media = export(scans[:1], REFL, header, "text")
    assert media == "text/plain" and name == "mli0115.nxs.pbr_DOWN_DOWN.txt"
    assert read_provenance(text.decode()) == {**header, "index": 0}
    table = np.loadtxt(io.StringIO(text.decode()))
    np.testing.assert_allclose(table[:, 0], scans[0].Qz, rtol=1e-9)
    np.testing.assert_allclose(table[:, 1], scans[0].v, rtol=1e-9)
    np.testing.assert_allclose(table[:, 3], scans[0].dQ * 2.3548200450309493, rtol=1e-9)

    name, data, media = export(scans, REFL, header, "hdf5")
    assert media == "application/x-hdf5"
    with h5py.File(io.BytesIO(data), "r") as f:
        assert json.loads(f.attrs["provenance"]) == header
        groups = sorted(f)
        assert len(groups) == 2
        np.testing.assert_array_equal(f[groups[1]]["v"][()], scans[1].v)
        assert f[groups[1]].attrs["polarization"] == "++"

    name, data, media = export(scans, REFL, header, "text")
    assert media == "application/zip" and name == "reduced.zip"


@pytest.mark.parametrize(
    "text, message",
    [
        ("0.01 1 0.1\n", "no provenance header"),
        ("# {not json\n", "damaged"),
        ('# {"template": {}}\n', "lacks config, node, terminal"),
        ("# [1, 2]\n", "no provenance header"),
    ],
)
def test_a_file_without_good_provenance_is_refused_with_the_reason(text, message):
    with pytest.raises(ValueError, match=message):
        read_provenance(text)


@given(st.text(max_size=200))
def test_any_text_gives_provenance_or_a_line_1_error(text):
    try:
        header = read_provenance(text)
    except ValueError as exc:
        assert str(exc).startswith("line 1: ")
    else:
        assert {"template", "config", "node", "terminal"} <= set(header)


def test_orso_names_half_polarized_and_unpolarized_data(scans, tmp_path):
    from dataclasses import replace

    from orsopy import fileio

    signs = ["+", "-", ""]
    values = [replace(scans[0], polarization=s) for s in signs]
    path = tmp_path / "half.ort"
    path.write_bytes(export(values, REFL, provenance({}, {}, 0, "output"), "orso")[1])
    datasets = fileio.load_orso(str(path))
    settings = [d.info.data_source.measurement.instrument_settings for d in datasets]
    assert [s.polarization for s in settings] == ["po", "mo", "unpolarized"]
    assert datasets[2].info.data_set == scans[0].name  # no sign to add
