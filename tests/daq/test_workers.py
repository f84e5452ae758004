"""The worker nodes, this host directly and over a real SSH server on loopback."""

import getpass
import hashlib
import os
import random
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import asyncssh
import pytest

from beamtime.daq.workers import (
    LocalWorker,
    SshWorker,
    UnsafePath,
    WorkerError,
    worker_for,
)
from tests.sshd import LoopbackSshServer

RUN_FILES = [f"CoBo[{i}]_2026-11-21T07:00:00.123_000{i}.graw" for i in range(4)]


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory):
    """An SSH server on 127.0.0.1 with SFTP and a shell, accepting one client key."""
    keys = tmp_path_factory.mktemp("ssh")
    server = LoopbackSshServer(keys, "127.0.0.1")
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(keys / "id_other")
    server.start()
    yield SimpleNamespace(
        port=server.port,
        client_key=str(server.key_file),
        other_key=str(keys / "id_other"),
        known_hosts=str(server.known_hosts),
    )
    server.stop()


def ssh_worker(server, port=None, key=None, known_hosts=None) -> SshWorker:
    return SshWorker(
        "127.0.0.1",
        port or server.port,
        username=getpass.getuser(),
        client_keys=[key or server.client_key],
        known_hosts=known_hosts or server.known_hosts,
    )


@pytest.fixture(params=["local", "ssh"])
def worker(request):
    if request.param == "local":
        w = LocalWorker()
    else:
        w = ssh_worker(request.getfixturevalue("ssh_server"))
    with w:
        yield w


@pytest.fixture
def staging(tmp_path) -> Path:
    """A data router's staging folder at the end of a run, with a log beside the data."""
    folder = tmp_path / "staging"
    folder.mkdir()
    rng = random.Random(7)
    for i, name in enumerate(RUN_FILES):
        (folder / name).write_bytes(rng.randbytes(1000 + 100 * i))
    (folder / "dataRouter.log").write_text("started\n")
    return folder


def inventory(root: Path) -> dict[str, str]:
    """Every file below ``root`` (relative path → SHA-256)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_it_lists_run_files_directly_in_a_folder(worker, staging):
    (staging / "e20009" / "run_0001").mkdir(parents=True)
    (staging / "e20009" / "run_0001" / "old.graw").write_bytes(b"x")
    (staging / "folder.graw").mkdir()

    assert worker.list_files(str(staging)) == sorted(RUN_FILES)
    assert worker.list_files(str(staging), "*.log") == ["dataRouter.log"]


def test_a_log_is_read_only_inside_the_allowed_folders_links_resolved(worker, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "ecc.log").write_text("ok\n")
    (logs / "passwd").symlink_to("/etc/passwd")
    (logs / "up").symlink_to(tmp_path)
    (tmp_path / "secret_key").write_text("s3cret\n")
    os.mkfifo(logs / "fifo")

    assert worker.tail_within(str(logs / "ecc.log"), [str(logs)]) == "ok\n"
    for path in ["passwd", "up/secret_key", "../secret_key", "fifo", "."]:
        with pytest.raises(UnsafePath):
            worker.tail_within(str(logs / path), [str(logs)])
    with pytest.raises(WorkerError):
        worker.tail_within(str(logs / "nope.log"), [str(logs)])


def test_it_tells_how_much_of_the_staging_disk_is_free(worker, staging):
    st = os.statvfs(staging)
    expected = st.f_bavail / st.f_blocks
    assert abs(worker.free_fraction(str(staging)) - expected) < 0.01


def test_it_says_whether_the_staging_folder_is_clean(worker, staging):
    assert not worker.staging_is_clean(str(staging))

    for name in RUN_FILES:
        (staging / name).unlink()

    assert worker.staging_is_clean(str(staging))


def test_it_tails_a_log_file(worker, tmp_path):
    log = tmp_path / "ecc.log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    long = tmp_path / "long.log"
    long.write_text("".join(f"{i}" * 100_000 + "\n" for i in range(3)))

    assert worker.tail(str(log), 3) == "line 997\nline 998\nline 999\n"
    assert worker.tail(str(log)).count("\n") == 50
    assert worker.tail(str(long), 2) == "1" * 100_000 + "\n" + "2" * 100_000 + "\n"
    assert worker.tail(str(long), 10) == long.read_text()


def test_it_tells_whether_a_process_runs(worker):
    marker = f"beamtime-test-{uuid.uuid4().hex}"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker])
    try:
        assert worker.process_running(marker)
        assert not worker.process_running(marker + "-absent")
    finally:
        proc.kill()
        proc.wait()


def test_it_moves_run_files_into_the_experiment_run_folder(worker, staging):
    before = inventory(staging)

    result = worker.organize_run(str(staging), "e20009", 7)

    run = staging / "e20009" / "run_0007"
    assert result.destination == str(run)
    assert result.moved == sorted(RUN_FILES)
    assert result.files == sorted(RUN_FILES)
    assert (result.renamed, result.duplicates) == ({}, [])
    assert worker.staging_is_clean(str(staging))
    assert inventory(staging) == {
        (f"e20009/run_0007/{k}" if k in RUN_FILES else k): v for k, v in before.items()
    }


def test_it_keeps_both_files_when_the_name_is_taken_by_other_data(worker, staging):
    run = staging / "e20009" / "run_0007"
    run.mkdir(parents=True)
    taken, same_size = RUN_FILES[0], RUN_FILES[1]
    (run / taken).write_bytes(b"an earlier file of another size")
    (run / same_size).write_bytes(b"\0" * (staging / same_size).stat().st_size)
    before = inventory(staging)

    result = worker.organize_run(str(staging), "e20009", 7)

    assert result.renamed == {taken: f"{taken}.dup1", same_size: f"{same_size}.dup1"}
    assert result.moved == sorted(RUN_FILES[2:])
    after = inventory(staging)
    assert sorted(after.values()) == sorted(before.values())  # every byte is still there
    assert (run / f"{taken}.dup1").read_bytes() != (run / taken).read_bytes()
    assert worker.staging_is_clean(str(staging))


def test_it_drops_a_staging_copy_identical_to_the_filed_one(worker, staging):
    run = staging / "e20009" / "run_0007"
    run.mkdir(parents=True)
    (run / RUN_FILES[0]).write_bytes((staging / RUN_FILES[0]).read_bytes())
    before = inventory(staging)

    result = worker.organize_run(str(staging), "e20009", 7)

    assert result.duplicates == [RUN_FILES[0]]
    assert result.files == sorted(RUN_FILES)
    assert sorted(set(inventory(staging).values())) == sorted(set(before.values()))


class Crash(Exception):
    pass


def test_it_finishes_the_job_when_run_again_after_a_crash(worker, staging, monkeypatch):
    before = inventory(staging)
    rename, calls = worker._rename_new, []

    def crash_on_third(src, dst):
        calls.append(src)
        if len(calls) == 3:
            # Crash between link and unlink: the file is in both places.
            os.link(src, dst)
            raise Crash
        return rename(src, dst)

    monkeypatch.setattr(worker, "_rename_new", crash_on_third)
    with pytest.raises(Crash):
        worker.organize_run(str(staging), "e20009", 7)
    monkeypatch.undo()

    result = worker.organize_run(str(staging), "e20009", 7)
    again = worker.organize_run(str(staging), "e20009", 7)

    assert result.files == again.files == sorted(RUN_FILES)
    assert result.moved == [RUN_FILES[3]]
    assert result.duplicates == [RUN_FILES[2]]
    assert (again.moved, again.duplicates, again.renamed) == ([], [], {})
    assert inventory(staging) == {
        (f"e20009/run_0007/{k}" if k in RUN_FILES else k): v for k, v in before.items()
    }


@pytest.mark.parametrize("name", ["../evil", "..", ".", "/tmp/evil", "a/b", "a\\b", ""])
def test_it_rejects_experiment_names_that_leave_the_staging_folder(worker, staging, name):
    before = inventory(staging.parent)

    with pytest.raises(UnsafePath, match="experiment name"):
        worker.organize_run(str(staging), name, 7)

    assert inventory(staging.parent) == before
    assert not (staging.parent / "evil").exists()


def test_it_names_the_missing_path(worker, tmp_path):
    missing = str(tmp_path / "nowhere")

    for call in (
        lambda: worker.organize_run(missing, "e20009", 7),
        lambda: worker.list_files(missing),
        lambda: worker.staging_is_clean(missing),
        lambda: worker.tail(missing + "/ecc.log"),
    ):
        with pytest.raises(WorkerError, match=missing) as caught:
            call()
        assert worker.host in str(caught.value)
    assert not Path(missing).exists()


def test_it_refuses_a_client_key_the_server_does_not_know(ssh_server, tmp_path):
    with (
        ssh_worker(ssh_server, key=ssh_server.other_key) as w,
        pytest.raises(WorkerError, match="127.0.0.1.*authentication failed"),
    ):
        w.list_files(str(tmp_path))


def test_it_refuses_a_host_key_it_does_not_know(ssh_server, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")

    with (
        ssh_worker(ssh_server, known_hosts=str(empty)) as w,
        pytest.raises(WorkerError, match="127.0.0.1.*host key"),
    ):
        w.list_files(str(tmp_path))


def test_it_reports_a_host_that_does_not_answer(ssh_server, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]

    with (
        ssh_worker(ssh_server, port=closed) as w,
        pytest.raises(WorkerError, match=f"127.0.0.1:{closed}"),
    ):
        w.process_running("dataRouter")


def test_it_picks_the_local_filesystem_for_this_host(settings):
    settings.DAQ_SSH_USER = "daq"
    settings.DAQ_SSH_KEY = "/etc/beamtime/id_ed25519"

    settings.DAQ_HOSTS = ["127.0.0.0/8", "localhost", "daq-node-1"]
    assert isinstance(worker_for("localhost"), LocalWorker)
    assert isinstance(worker_for("127.0.0.1"), LocalWorker)
    remote = worker_for("daq-node-1")
    assert isinstance(remote, SshWorker)
    assert (remote.host, remote.port, remote.username) == ("daq-node-1", 22, "daq")
    with pytest.raises(WorkerError):
        worker_for(" ")
    with pytest.raises(WorkerError, match="not a host the facility allows"):
        worker_for("daq-node-2")


def test_it_finds_the_folder_a_process_works_in(worker, tmp_path):
    marker = f"beamtime-test-{uuid.uuid4().hex}"
    folder = tmp_path / "staging"
    folder.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)", marker], cwd=folder
    )
    try:
        assert worker.process_directory(marker) == str(folder.resolve())
        assert worker.process_directory(marker + "-absent") is None
    finally:
        proc.kill()
        proc.wait()
