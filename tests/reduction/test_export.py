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
from beamtime.reduction.instruments.refl.corrections import average_flux, normalize
from beamtime.reduction.instruments.refl.join import join
from beamtime.reduction.instruments.refl.nexus import load_nexus
from beamtime.reduction.instruments.refl.polarization import estimate_polarization
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


def _reduced(*files: str, base: str = "monitor") -> list:
    """The files' data sets normalized and joined, as the predefined templates have them."""
    data = [ReflData.from_scan(s) for f in files for s in load_nexus(PBR / f)]
    return join([normalize(d, base) for d in data])


def _text_table(text: str) -> tuple[dict, dict]:
    """The columns and the facts of an exported text file."""
    lines = text.splitlines()
    facts = dict(line[2:].split(": ", 1) for line in lines[1:] if line.startswith("# "))
    names = facts.pop("columns").split()
    table = np.loadtxt(io.StringIO(text), ndmin=2)
    return dict(zip(names, table.T, strict=True)), {k: json.loads(v) for k, v in facts.items()}


@pytest.mark.parametrize("resolution", ["FWHM", "sigma"])
def test_the_hdf5_export_holds_the_text_columns_of_polarization_efficiencies(resolution):
    """The efficiencies of the polarizers and flippers from the direct beam mli0159 (all four
    cross-sections): the HDF5 export has each column of the text export (the efficiencies
    and their uncertainties, not only the beam they come from) with the same numbers, and
    the same facts."""
    pol = estimate_polarization(_reduced("mli0159.nxs.pbr"))
    poldata = registry.datatypes["poldata"]
    header = {**provenance({}, {}, 2, "output"), "resolution": resolution}
    text = export([pol], poldata, header, "text")[1].decode()
    columns, facts = _text_table(text)
    names = ["slit1", "dT", "beta", "dbeta", "fp", "dfp", "rp", "drp", "ff", "dff", "rf", "drf"]
    assert list(columns) == names and len(columns["fp"]) == len(pol.slit1) == 1  # one setting
    assert 0.9 < columns["fp"][0] < 1 and 0 < columns["dfp"][0] < 0.01
    with h5py.File(io.BytesIO(export([pol], poldata, header, "hdf5")[1]), "r") as f:
        (group,) = f.values()
        assert group.attrs["columns"].split() == names
        for name, column in columns.items():
            np.testing.assert_allclose(group[name][()], column, rtol=5e-10, err_msg=name)
        for key, value in facts.items():
            assert group.attrs[key] == value, key
        np.testing.assert_array_equal(group["beam"][()], pol.beam)  # and the raw beam


@pytest.mark.parametrize("resolution", ["FWHM", "sigma"])
def test_the_hdf5_export_holds_the_text_columns_of_reflectivity(scans, resolution):
    header = {**provenance({}, {}, 2, "output"), "resolution": resolution}
    columns, _ = _text_table(export(scans[:1], REFL, header, "text")[1].decode())
    assert list(columns) == ["Qz", "v", "dv", f"dQ_{resolution}"]
    with h5py.File(io.BytesIO(export(scans[:1], REFL, header, "hdf5")[1]), "r") as f:
        (group,) = f.values()
        for name, column in columns.items():
            np.testing.assert_allclose(group[name][()], column, rtol=5e-10, err_msg=name)
        np.testing.assert_array_equal(group["Ti"][()], scans[0].Ti)


def test_the_hdf5_export_of_the_incident_flux_keeps_its_names():
    """The flux during mli0115 (two cross-sections) from the direct beam mli0159's −−: the
    data sets' names (text) and the totals (a dict) are kept too."""
    beam = next(d for d in _reduced("mli0159.nxs.pbr", base="time") if d.polarization == "--")
    flux = average_flux(_reduced("mli0115.nxs.pbr"), beam)
    fluxtype = registry.datatypes["flux"]
    header = provenance({}, {}, 2, "flux")
    columns, _ = _text_table(export([flux], fluxtype, header, "text")[1].decode())
    with h5py.File(io.BytesIO(export([flux], fluxtype, header, "hdf5")[1]), "r") as f:
        (group,) = f.values()
        for name, column in columns.items():
            np.testing.assert_allclose(group[name][()], column, rtol=5e-10, err_msg=name)
        assert [n.decode() for n in group["names"][()]] == flux.names
        assert json.loads(group.attrs["total"]) == pytest.approx(flux.total)


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
