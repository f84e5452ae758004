"""Data routers' hosts as the run-control tasks use them: here through the local
filesystem (the SSH path of the same worker code is tested in test_workers.py)."""

import subprocess
import sys

import pytest

from beamtime.daq import router_control
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import DataRouter, ECCServer, LogEntry
from beamtime.daq.runs import start_run, stop_run
from tests.factory import make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def router(tmp_path):
    experiment = make_experiment()
    make_ecc_server(experiment, "http://127.0.0.1:11/")
    staging = tmp_path / "staging"
    staging.mkdir()
    DataRouter.objects.update(staging_directory=str(staging), process_name="bt-test-router-7f3a")
    return DataRouter.objects.get()


def test_a_running_router_process_is_online(router):
    assert router_control.check_router(router).is_online is False
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "bt-test-router-7f3a"]
    )
    try:
        assert router_control.check_router(router).is_online is True
    finally:
        proc.kill()
        proc.wait()


def test_run_files_in_staging_make_a_router_unclean(router, tmp_path):
    assert router_control.check_router(router).staging_directory_is_clean is True
    (tmp_path / "staging" / "CoBo[0]_2026_0000.graw").write_bytes(b"data")
    assert router_control.check_router(router).staging_directory_is_clean is False


def test_stopping_files_the_run_and_cleans_the_router(router, tmp_path):
    ECCServer.objects.update(state=State.READY)
    run = start_run(router.experiment)
    (tmp_path / "staging" / "CoBo[0]_2026_0000.graw").write_bytes(b"run data")
    stop_run(router.experiment)
    assert router_control.organize_files(DataRouter.objects.get(), "e20009", run.run_number) is True
    assert (
        tmp_path / "staging" / "e20009" / "run_0000" / "CoBo[0]_2026_0000.graw"
    ).read_bytes() == b"run data"
    assert DataRouter.objects.get().staging_directory_is_clean is True
    ECCServer.objects.update(state=State.READY)
    assert start_run(router.experiment).run_number == 1  # the next run may start


def test_a_file_already_at_the_destination_is_kept_and_reported(router, tmp_path):
    destination = tmp_path / "staging" / "e20009" / "run_0003"
    destination.mkdir(parents=True)
    (destination / "a.graw").write_bytes(b"old")
    (tmp_path / "staging" / "a.graw").write_bytes(b"new")
    assert router_control.organize_files(router, "e20009", 3) is True
    assert (destination / "a.graw").read_bytes() == b"old"
    assert (destination / "a.graw.dup1").read_bytes() == b"new"
    assert "a.graw existed already" in LogEntry.objects.get().message


def test_an_unsafe_experiment_name_files_nothing_and_says_why(router, tmp_path):
    (tmp_path / "staging" / "a.graw").write_bytes(b"data")
    assert router_control.organize_files(router, "../elsewhere", 0) is False
    assert (tmp_path / "staging" / "a.graw").exists()
    assert "run 0000 not filed" in LogEntry.objects.get().message


def test_an_unreachable_host_is_logged_once(router):
    DataRouter.objects.update(ip_address="127.0.0.2", is_online=True)  # not this host: SSH, refused
    router = DataRouter.objects.get()
    router_control.check_router(router)
    router_control.check_router(router)
    assert router.is_online is False
    assert LogEntry.objects.count() == 1
