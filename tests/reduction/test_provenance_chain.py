"""One provenance chain: a DAQ run's filed files → the reduction → a data set in the fitting
app that remembers the reduction, and back. Other users see none of it."""

import shutil

import pytest
from django.test import Client
from django.utils import timezone

from beamtime.daq.models import DataRouter, RunMetadata
from beamtime.fitting.models import Dataset
from beamtime.reduction import sources
from tests.factory import make_experiment
from tests.reduction.conftest import PBR, data_sources, fileinfo, post, refl_template


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def filed_run(alice, tmp_path):
    """Run 7 of experiment e1 (alice is a member), its files filed on this host by the DAQ."""
    experiment = make_experiment("e1", members=[alice])
    staging = tmp_path / "staging"
    run_dir = staging / "e1" / "run_0007"
    run_dir.mkdir(parents=True)
    shutil.copy(PBR / "mli0115.nxs.pbr", run_dir / "mli0115.nxs.pbr")
    DataRouter.objects.create(
        experiment=experiment,
        name="router0",
        ip_address="localhost",
        staging_directory=str(staging),
    )
    RunMetadata.objects.create(experiment=experiment, run_number=7, stop_datetime=timezone.now())
    with data_sources(sources.DaqSource()):
        yield "e1/router0/run_0007/mli0115.nxs.pbr"


def daq_template(path: str) -> dict:
    template = refl_template(
        ("load", {"filelist": [{"source": "daq", "path": path, "mtime": 0}]}),
        ("normalize", {"base": "monitor"}),
        ("join", {}),
        wires=[(0, 1, "data"), (1, 2, "data")],
    )
    return template


def test_a_run_is_reduced_and_fitted_and_the_fit_leads_back(
    alice, charlie, filed_run, fresh_cache, tmp_path
):
    client = signed_in(alice)
    assert "/daq/runs/7/files" in client.get("/daq/runs/").content.decode()
    files = client.get("/daq/runs/7/files").content.decode()
    assert "/reduction/?source=daq&amp;path=e1/router0/run_0007" in files

    listing = client.get("/api/reduction/sources/daq/files", {"path": "e1/router0/run_0007"}).json()
    assert [e["name"] for e in listing["entries"]] == ["mli0115.nxs.pbr"]

    template = daq_template(filed_run)
    # join's groups come sorted by polarization, as in reductus: ++ (UP_UP) first
    answer = post(client, "fit", {"template": template, "node": 2, "index": 0})
    assert answer.status_code == 201, answer.content
    dataset = Dataset.objects.get(pk=answer.json()["dataset"])
    assert answer.json()["url"] == f"/fit/refl/{dataset.pk}"
    assert dataset.owner == alice and dataset.name == "mli0115.nxs.pbr:UP_UP"
    assert dataset.provenance["template"] == template and dataset.provenance["node"] == 2
    # the file as it was read (its version now), not as the client named it (mtime 0)
    filed = (tmp_path / "staging" / "e1" / "run_0007" / "mli0115.nxs.pbr").stat()
    read = {"source": "daq", "path": filed_run, "mtime": filed.st_mtime, "size": filed.st_size}
    assert dataset.provenance_files() == [read]
    assert dataset.points == 14

    page = client.get(answer.json()["url"]).content.decode()
    assert f"daq:{filed_run}" in page and f"/reduction/?dataset={dataset.pk}" in page
    back = client.get(f"/api/fitting/datasets/{dataset.pk}/provenance").json()
    assert back["template"] == template

    # charlie is no member: the run's files, the data set and its provenance do not exist for him
    other = signed_in(charlie)
    assert other.get("/api/reduction/sources/daq/files", {"path": "e1"}).status_code == 404
    assert other.get("/api/reduction/sources/daq/files").json()["entries"] == []
    refused = post(other, "calculate", {"template": template, "node": 2})
    assert refused.status_code == 422 and refused.json()["field"] == "filelist"
    assert other.get(f"/api/fitting/datasets/{dataset.pk}/provenance").status_code == 404
    assert other.get(f"/fit/refl/{dataset.pk}").status_code == 404


def test_an_uploaded_export_keeps_its_provenance(alice, pbr_source, fresh_cache):
    client = signed_in(alice)
    template = refl_template(
        ("load", {"filelist": [fileinfo("mli0111.nxs.pbr")]}),
        ("normalize", {}),
        ("join", {}),
        ("mask_points", {"mask_indices": [[0]]}),  # the scan starts at Q = 0, which can't be fitted
        wires=[(0, 1, "data"), (1, 2, "data"), (2, 3, "data")],
    )
    export = post(client, "calculate", {"template": template, "node": 3, "export": "text"})
    upload = client.post("/api/fitting/datasets", {"file": _file("mli0111.txt", export.content)})
    assert upload.status_code == 201, upload.content
    dataset = Dataset.objects.get(pk=upload.json()["id"])
    assert dataset.provenance["template"] == template and dataset.instrument == "refl"
    plain = client.post(  # 3 columns: the resolution is the uploader's to say (fitting)
        "/api/fitting/datasets?dq_over_q=0",
        {"file": _file("plain.txt", b"0.01 1 0.1\n0.02 0.5 0.05\n")},
    )
    assert Dataset.objects.get(pk=plain.json()["id"]).provenance == {}


def _file(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="text/plain")
