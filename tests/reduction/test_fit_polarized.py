""" "Fit this data" on a polarization-corrected output: reductus' stock polarized template on
real PBR files (mli0170's four cross-sections, mli0159's direct beam) becomes ONE polarized
data set, its provenance naming the efficiencies the correction used."""

import io
import zipfile

import numpy as np
import pytest

from beamtime.fitting.models import Dataset
from tests.fitting.test_polarized import expected, pbr_data, reduce, stock_polarized  # noqa: F401
from tests.reduction.conftest import fresh_cache, post  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("pbr_data", "fresh_cache")
def test_the_corrected_cross_sections_become_one_polarized_data_set(client, alice, charlie):
    client.force_login(alice)
    template, node = stock_polarized()
    answer = post(client, "fit", {"template": template, "node": node, "together": True})
    assert answer.status_code == 201, answer.content
    dataset = Dataset.objects.get(pk=answer.json()["dataset"])
    assert answer.json()["url"] == f"/fit/refl/{dataset.pk}"
    assert dataset.owner == alice and dataset.is_polarized
    assert dataset.name == "mli0170.nxs.pbr (++ +- -+ --)"

    # the cross-sections are the reduction's text export, column for column (dQ FWHM)
    exported = zipfile.ZipFile(io.BytesIO(reduce(client, export="text").content))
    tables = expected({n: exported.read(n) for n in exported.namelist()})
    sections = dataset.cross_sections()
    assert list(sections) == ["++", "+-", "-+", "--"]
    for xs, table in tables.items():
        for column, read in zip(table.T, ("q", "r", "dr", "dq"), strict=True):
            np.testing.assert_array_equal(getattr(sections[xs], read), column)
    assert dataset.points == 4 * 10  # 21 points each, 11 at Q ≤ 0 masked

    # provenance: the template and node, the raw files as read, and the efficiencies used
    assert dataset.provenance["template"] == template and dataset.provenance["node"] == node
    paths = sorted(f["path"] for f in dataset.provenance_files())
    assert paths == ["ncnr-pbr/mli0159.nxs.pbr", "reductus-pbr/mli0170.nxs.pbr"]
    (used,) = dataset.provenance["polarization"]
    titles = [n["title"] for n in template["nodes"]]
    assert used["node"] == titles.index("estimate polarization")
    assert used["corrected_by"] == node and used["module"] == "refl.estimate_polarization"
    # the efficiency node's values, as its own export gives them (one row per slit setting)
    estimate = post(
        client,
        "calculate",
        {"template": template, "node": used["node"], "terminal": "polarization", "export": "text"},
    )
    assert estimate.status_code == 200, estimate.content
    text = estimate.content.decode()
    columns = [ln for ln in text.split("\n") if ln.startswith("# columns:")][0].split()[2:]
    rows = np.loadtxt(io.StringIO(text), ndmin=2)
    (value,) = used["values"]
    for name, column in zip(columns, rows.T, strict=True):
        np.testing.assert_allclose(value[name], column, rtol=1e-9)
    assert 0.5 < value["fp"][0] <= 1 and 0.5 < value["rp"][0] <= 1  # polarizers work
    assert {"FRbalance", "Emin", "Imin", "clip"} <= set(value)

    # one cross-section alone keeps them too; a plot (no export) does not compute them
    alone = post(client, "fit", {"template": template, "node": node, "index": 3})
    assert alone.status_code == 201, alone.content
    single = Dataset.objects.get(pk=alone.json()["dataset"])
    assert not single.is_polarized and single.name == "mli0170.nxs.pbr:DOWN_DOWN"
    assert single.provenance["polarization"] == dataset.provenance["polarization"]
    np.testing.assert_array_equal(single.data().r, sections["--"].r)

    # charlie sees none of it
    client.force_login(charlie)
    assert client.get(f"/fitting/data/{dataset.pk}/").status_code == 404
    assert client.get(f"/api/fitting/datasets/{dataset.pk}/provenance").status_code == 404


@pytest.mark.usefixtures("pbr_data", "fresh_cache")
def test_outputs_that_are_no_set_of_cross_sections_are_refused(client, alice):
    client.force_login(alice)
    template, node = stock_polarized()
    titles = [n["title"] for n in template["nodes"]]
    # the unmasked specular data: the scan's Q ≤ 0 points cannot be fitted
    template["nodes"][2]["config"]["mask_indices"] = []
    answer = post(client, "fit", {"template": template, "node": node, "together": True})
    assert answer.status_code == 422
    body = answer.json()
    assert body["field"] == "index" and body["node"] == node
    assert body["error"].startswith("not fit for fitting: mli0170.nxs.pbr:UP_UP (++): line ")
    assert "is not greater than 0" in body["error"]
    # two specular scans of ++ and -- normalized, not joined: each cross-section twice
    template, node = stock_polarized()
    both = ["ncnr-pbr/mli0115.nxs.pbr", "ncnr-pbr/mli01120.nxs.pbr"]
    spec = template["nodes"][titles.index("specular")]["config"]
    spec["filelist"] = [{"source": "local", "path": f, "mtime": 0} for f in both]
    normalized = 1  # the specular branch's normalize
    answer = post(client, "fit", {"template": template, "node": normalized, "together": True})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error == (
        "mli01120.nxs.pbr:DOWN_DOWN: mli0115.nxs.pbr:DOWN_DOWN is -- already: "
        "fit one data set at a time"
    )
    assert not Dataset.objects.exists()
