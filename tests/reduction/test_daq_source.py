"""The daq source over a real SSH server on loopback: one connection per request, however many
of a run's files the request reads."""

import json
import shutil

import pytest
from django.test import Client
from django.utils import timezone

from beamtime.daq.models import DataRouter, RunMetadata
from beamtime.reduction import sources
from tests.factory import make_experiment
from tests.reduction.conftest import PBR, refl_template
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
    saved = dict(sources.SOURCES)
    sources.configure([sources.DaqSource()])
    yield ssh_router_host
    sources.configure(list(saved.values()))


def post(client, path, body):
    return client.post(f"/api/reduction/{path}", json.dumps(body), content_type="application/json")


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
