"""The daq source over a real SSH server on loopback: one connection per request, however many
of a run's files the request reads."""

import asyncio
import getpass
import json
import shutil
import threading

import asyncssh
import pytest
from django.test import Client
from django.utils import timezone

from beamtime.daq.models import DataRouter, RunMetadata
from beamtime.reduction import sources
from tests.daq.test_routers import free_port
from tests.daq.test_workers import run_in_shell
from tests.factory import make_experiment
from tests.reduction.conftest import PBR, refl_template

HOST = "127.0.0.2"  # not this host's name: reached over SSH
FILES = ["mli0111.nxs.pbr", "mli0115.nxs.pbr"]


@pytest.fixture
def ssh_router_host(settings, tmp_path):
    """An SSH server on 127.0.0.2 that counts the connections it accepts."""
    port = free_port(HOST)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key.write_private_key(tmp_path / "id_ed25519")
    (tmp_path / "known_hosts").write_text(
        f"[{HOST}]:{port} {host_key.export_public_key().decode()}"
    )
    settings.DAQ_SSH_USER = getpass.getuser()
    settings.DAQ_SSH_KEY = str(tmp_path / "id_ed25519")
    settings.DAQ_SSH_KNOWN_HOSTS = str(tmp_path / "known_hosts")
    settings.DAQ_SSH_PORT = port
    accepted = []

    class Counting(asyncssh.SSHServer):
        def connection_made(self, conn):
            accepted.append(conn)

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def listen():
        return await asyncssh.listen(
            HOST,
            port,
            server_factory=Counting,
            server_host_keys=[host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(
                client_key.export_public_key().decode()
            ),
            sftp_factory=True,
            process_factory=run_in_shell,
        )

    acceptor = asyncio.run_coroutine_threadsafe(listen(), loop).result(30)
    try:
        yield accepted
    finally:
        acceptor.close()
        asyncio.run_coroutine_threadsafe(acceptor.wait_closed(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


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
