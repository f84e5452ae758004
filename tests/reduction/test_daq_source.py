"""The daq source over a real SSH server on loopback: one connection per request, however many
of a run's files the request reads."""

import os
import shutil

import numpy as np
import pytest
from django.test import Client
from django.utils import timezone

from beamtime.daq.models import DataRouter, RunMetadata
from beamtime.reduction import sources
from beamtime.reduction.export import read_provenance
from tests.factory import make_experiment
from tests.reduction.conftest import PBR, data_sources, post, refl_template
from tests.sshd import LoopbackSshServer

HOST = "127.0.0.2"  # not this host's name: reached over SSH
FILES = ["mli0111.nxs.pbr", "mli0115.nxs.pbr"]


@pytest.fixture
def ssh_router_host(settings, tmp_path):
    """An SSH server on 127.0.0.2 that counts the connections it accepts."""
    server = LoopbackSshServer(tmp_path, HOST)
    server.configure(settings)
    server.start()
    yield server.accepted
    server.stop()


@pytest.fixture
def run_on_ssh_host(alice, tmp_path, ssh_router_host):
    experiment = make_experiment("e1", members=[alice])
    staging = tmp_path / "staging"
    (staging / "e1" / "run_0007").mkdir(parents=True)
    for name in FILES:
        shutil.copy(PBR / name, staging / "e1" / "run_0007" / name)
    DataRouter.objects.create(
        experiment=experiment, name="router0", ip_address=HOST, staging_directory=str(staging)
    )
    RunMetadata.objects.create(experiment=experiment, run_number=7, stop_datetime=timezone.now())
    with data_sources(sources.DaqSource()):
        yield ssh_router_host


def test_a_request_reads_a_runs_files_over_one_connection(alice, run_on_ssh_host, fresh_cache):
    accepted = run_on_ssh_host
    client = Client()
    client.force_login(alice)
    files = [{"source": "daq", "path": f"e1/router0/run_0007/{n}", "mtime": 0} for n in FILES]

    listing = client.get("/api/reduction/sources/daq/files", {"path": "e1/router0/run_0007"})
    assert [e["name"] for e in listing.json()["entries"]] == FILES
    assert len(accepted) == 1

    described = post(client, "files/describe", {"instrument": "refl", "files": files})
    assert described.status_code == 200, described.content
    assert [s.get("error") for s in described.json()] == [None, None]
    assert len(accepted) == 2  # both files: listed once, read over the same connection

    template = refl_template(("load", {"filelist": files}), ("join", {}), wires=[(0, 1, "data")])
    answer = post(client, "calculate", {"template": template, "node": 1, "terminal": "output"})
    assert answer.status_code == 200, answer.content
    assert len(accepted) == 3  # two files' versions and contents: one handshake


def _rewrite_wavelength(path, wavelength: float) -> None:
    """Write a new wavelength into the PBR file's bytes where it is stored: new content, the
    same size."""
    import h5py

    with h5py.File(path, "r") as f:
        stored = f["DOWN_DOWN/DAS_logs/wavelength/wavelength"]
        offset, raw = stored.id.get_offset(), np.array([wavelength], stored.dtype).tobytes()
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(raw)


def test_a_run_file_written_again_with_the_same_size_is_read_again(
    alice, run_on_ssh_host, fresh_cache, tmp_path
):
    client = Client()
    client.force_login(alice)
    path = tmp_path / "staging" / "e1" / "run_0007" / FILES[0]
    info = {"source": "daq", "path": f"e1/router0/run_0007/{FILES[0]}", "mtime": 0}
    template = refl_template(("load", {"filelist": [info]}))

    def q_and_provenance():
        body = {"template": template, "node": 0}
        (shown,) = post(client, "calculate", body).json()["values"]
        text = post(client, "calculate", {**body, "export": "text"}).content.decode()
        (read,) = read_provenance(text)["config"]["0"]["filelist"]
        return np.array(shown["x"]), read

    os.utime(path, (1_700_000_000, 1_700_000_000))
    q, read = q_and_provenance()
    assert read["mtime"] == path.stat().st_mtime == 1_700_000_000

    size = path.stat().st_size
    _rewrite_wavelength(path, 5.0)  # was 4.75 Å: Q = 4π sin θ / λ shrinks by 4.75/5
    os.utime(path, (1_700_000_100, 1_700_000_100))
    assert path.stat().st_size == size
    q_again, read = q_and_provenance()
    assert read["mtime"] == path.stat().st_mtime == 1_700_000_100
    assert read["size"] == size
    assert np.allclose(q_again, q * 4.75 / 5.0, rtol=1e-6) and q.max() > 0

    # written again within the same second (SFTP's times are whole seconds), longer this time
    _rewrite_wavelength(path, 5.5)
    with open(path, "ab") as f:
        f.write(bytes(512))  # HDF5 ignores bytes past the file's end address
    os.utime(path, (1_700_000_100, 1_700_000_100))
    q_again, read = q_and_provenance()
    assert read == {**read, "mtime": 1_700_000_100, "size": size + 512}
    assert np.allclose(q_again, q * 4.75 / 5.5, rtol=1e-6)


def test_a_coordinator_reads_the_run_files_and_a_stranger_does_not(
    alice, bob, run_on_ssh_host, fresh_cache
):
    from beamtime.daq.models import Experiment
    from tests.factory import make_user

    Experiment.objects.get(name="e1").coordinators.add(bob)  # a coordinator, not a member
    files = [{"source": "daq", "path": f"e1/router0/run_0007/{n}", "mtime": 0} for n in FILES]
    template = refl_template(("load", {"filelist": files}))
    for user, allowed in ((bob, True), (make_user("carol"), False)):
        client = Client()
        client.force_login(user)
        experiments = client.get("/api/reduction/sources/daq/files").json()["entries"]
        assert [e["name"] for e in experiments] == (["e1"] if allowed else [])
        listing = client.get("/api/reduction/sources/daq/files", {"path": "e1/router0/run_0007"})
        answer = post(client, "calculate", {"template": template, "node": 0})
        if allowed:
            assert [e["name"] for e in listing.json()["entries"]] == FILES
            assert answer.status_code == 200, answer.content
            assert {v["name"].split(":")[0] for v in answer.json()["values"]} == set(FILES)
        else:
            assert (
                listing.status_code == 404
                and "no experiment 'e1' of yours" in listing.json()["error"]
            )
            assert answer.status_code == 422
            assert answer.json()["field"] == "filelist" and "not yours" in answer.json()["error"]
