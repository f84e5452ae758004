"""ORSO reflectivity text files (.ort) upload: written here with orsopy, and exported by
Beamtime's reduction, each compared with the numbers it was written from."""

import io
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from orsopy import fileio

from beamtime.fitting.models import Dataset
from tests.reduction.conftest import fileinfo, fresh_cache, pbr_source  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

SIGMA_TO_FWHM = 2 * np.sqrt(2 * np.log(2))  # a Gaussian's FWHM over its σ


def orso_file(*tables, q_unit="1/angstrom", dq_is="sigma", with_dq=True) -> bytes:
    datasets = []
    for number, table in enumerate(tables, start=1):
        info = fileio.Orso.empty()
        info.data_set = f"set {number}"
        info.data_source.sample.name = "Ni on Si"
        info.columns = [
            fileio.Column("Qz", q_unit),
            fileio.Column("R"),
            fileio.ErrorColumn("R", "uncertainty", "sigma"),
        ]
        if with_dq:
            info.columns.append(fileio.ErrorColumn("Qz", "resolution", dq_is))
        datasets.append(fileio.OrsoDataset(info, table))
    buffer = io.StringIO()
    fileio.save_orso(datasets, buffer)
    return buffer.getvalue().encode()


def table(offset=0.0, points=20) -> np.ndarray:
    q = np.linspace(0.01, 0.2, points)
    r = np.exp(-q * 50) + offset
    return np.column_stack([q, r, r * 0.05, q * 0.01])


def upload(client, content: bytes, name="data.ort", **fields):
    return client.post(
        "/fitting/upload", {"file": SimpleUploadedFile(name, content), **fields}, follow=True
    )


def test_an_orso_file_uploads_with_its_header(client, alice):
    first, second = table(), table(offset=1e-3, points=10)
    client.force_login(alice)
    response = upload(client, orso_file(first, second))
    dataset = Dataset.objects.get()
    data = dataset.data()
    np.testing.assert_allclose(data.q, first[:, 0], rtol=1e-12)
    np.testing.assert_allclose(data.r, first[:, 1], rtol=1e-12)
    np.testing.assert_allclose(data.dr, first[:, 2], rtol=1e-12)
    np.testing.assert_allclose(data.dq, first[:, 3] * SIGMA_TO_FWHM, rtol=1e-12)  # 1-σ in ORSO
    assert dataset.points == 20 and dataset.dq_column == "sigma"
    assert dataset.metadata["data_sets"] == ["set 1", "set 2"]
    assert "Ni on Si" in dataset.metadata["header"]
    page = response.content.decode()
    assert "χ² =" in page and "20 points" in page
    assert "ORSO data set “set 1” of 2 in the file" in page
    # The data set's page shows the header, and that the file held another data set.
    page = client.get(f"/fitting/data/{dataset.pk}/").content.decode()
    assert "Ni on Si" in page and "2 data sets; this is number 1, &#x27;set 1&#x27;" in page


def test_an_orso_file_uploads_through_the_api(client, alice):
    from tests.fitting.test_api import auth

    created = client.post(
        "/api/fitting/datasets",
        {"file": SimpleUploadedFile("data.ort", orso_file(table()))},
        headers=auth(alice),
    )
    assert created.status_code == 201, created.content
    assert created.json()["points"] == 20 and created.json()["metadata"]["data_set"] == "set 1"
    damaged = orso_file(table()).replace(b"# columns:", b"# columns: [", 1)
    refused = client.post(
        "/api/fitting/datasets",
        {"file": SimpleUploadedFile("bad.ort", damaged)},
        headers=auth(alice),
    )
    assert refused.status_code == 422 and "bad.ort: ORSO: the file cannot be read" in refused.text


def test_the_uploader_chooses_another_data_set(client, alice):
    first, second = table(), table(offset=1e-3, points=10)
    client.force_login(alice)
    upload(client, orso_file(first, second), data_set="2")
    dataset = Dataset.objects.get()
    np.testing.assert_allclose(dataset.data().r, second[:, 1], rtol=1e-12)
    assert dataset.metadata["data_set"] == "set 2" and "number 2" in dataset.metadata["note"]
    for asked, message in [
        ("3", "ORSO data set: 3 asked for, the file holds 2"),
        ("two", "ORSO data set: &#x27;two&#x27; is not a whole number"),
    ]:
        page = upload(client, orso_file(first, second), data_set=asked).content.decode()
        assert message in page
    assert Dataset.objects.count() == 1


def test_q_in_inverse_nanometres_and_fwhm_resolution_are_converted(client, alice):
    data = table()
    client.force_login(alice)
    upload(client, orso_file(data, q_unit="1/nm", dq_is="FWHM"))
    read = Dataset.objects.get().data()
    np.testing.assert_allclose(read.q, data[:, 0] / 10, rtol=1e-12)  # 10 nm⁻¹ = 1 Å⁻¹
    np.testing.assert_allclose(read.dq, data[:, 3] / 10, rtol=1e-12)  # already FWHM


def test_an_orso_file_without_dq_needs_a_resolution(client, alice):
    content = orso_file(table()[:, :3], with_dq=False)
    client.force_login(alice)
    page = upload(client, content).content.decode()
    assert "3 columns: there is no dQ" in page and not Dataset.objects.exists()
    upload(client, content, dq_over_q="0.03")
    read = Dataset.objects.get().data()
    np.testing.assert_allclose(read.dq, table()[:, 0] * 0.03, rtol=1e-12)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t.__setitem__((3, 2), -1.0),
            "ORSO data set &#x27;set 1&#x27;: data row 4: dR -1.0 is not",
        ),
        (lambda t: t.__setitem__((5, 0), 0.001), "data row 6: Q 0.001 is less than the Q before"),
    ],
)
def test_bad_orso_data_are_refused_naming_the_row(client, alice, change, message):
    data = table()
    change(data)
    client.force_login(alice)
    page = upload(client, orso_file(data)).content.decode()
    assert message in page and not Dataset.objects.exists()


def test_a_damaged_orso_header_is_refused_in_words(client, alice):
    content = orso_file(table()).replace(b"# columns:", b"# columns: [", 1)
    client.force_login(alice)
    page = upload(client, content).content.decode()
    assert "data.ort: ORSO: the file cannot be read" in page and not Dataset.objects.exists()


@pytest.mark.usefixtures("pbr_source", "fresh_cache")
def test_beamtimes_own_orso_export_uploads_with_its_provenance(client, alice):
    """The reduction's ORSO export (two cross-sections) against its column-text export."""
    client.force_login(alice)
    (refl,) = client.get("/api/reduction/instruments").json()
    full = {t["name"]: t for t in refl["templates"]}["Unpolarized (reductus)"]
    files = {"specular": "mli0115.nxs.pbr", "direct beam": "mli0159.nxs.pbr"}
    config = {
        str(i): {"filelist": [fileinfo(files[n["title"]])] if n["title"] in files else []}
        for i, n in enumerate(full["nodes"])
        if n["module"] == "refl.load"
    }
    body = {"template": full, "config": config, "node": len(full["nodes"]) - 1}

    def export(form):
        answer = client.post(
            "/api/reduction/calculate", {**body, "export": form}, content_type="application/json"
        )
        assert answer.status_code == 200, answer.content
        return answer.content

    with zipfile.ZipFile(io.BytesIO(export("text"))) as z:
        first = np.loadtxt(z.read(sorted(z.namelist())[0]).decode().splitlines())
    upload(client, export("orso"), name="reduced.ort")
    dataset = Dataset.objects.get()
    data = dataset.data()
    np.testing.assert_allclose(data.q, first[:, 0], rtol=1e-9)
    np.testing.assert_allclose(data.r, first[:, 1], rtol=1e-9)
    np.testing.assert_allclose(data.dr, first[:, 2], rtol=1e-9)
    np.testing.assert_allclose(data.dq, first[:, 3], rtol=1e-9)  # FWHM in the text export
    # its two data sets are the ++ and -- cross-sections: one polarized data set, ++ first
    assert len(dataset.metadata["data_sets"]) == 2 and list(dataset.cross_sections()) == [
        "++",
        "--",
    ]
    assert dataset.provenance["template"] == full
    page = client.get(f"/fit/{dataset.instrument}/{dataset.pk}").content.decode()
    assert "local:mli0115.nxs.pbr" in page  # the fit page names the raw files
