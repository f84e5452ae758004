"""Data routers: a staging folder is required, Start waits for every router, and a filing that
fails (SSH down, the staging mount gone) is retried with back-off until it succeeds."""

from datetime import timedelta

import pytest
from django.utils import timezone

from beamtime.daq import router_control
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import DataRouter, ECCServer, RunMetadata
from beamtime.daq.runs import RunRefused, start_run
from beamtime.daq.status import status
from tests.factory import make_api_key, make_ecc_server, make_experiment
from tests.sshd import LoopbackSshServer

pytestmark = pytest.mark.django_db

RUN_FILES = [
    "CoBo[0]_2026-12-07T01:00:00.000_0000.graw",
    "CoBo[0]_2026-12-07T01:00:00.000_0001.graw",
]


def auth(user):
    return {"Authorization": f"Bearer {make_api_key(user)[1]}"}


@pytest.fixture
def staging(tmp_path):
    folder = tmp_path / "staging"
    folder.mkdir()
    for name in RUN_FILES:
        (folder / name).write_bytes(name.encode() * 100)
    return folder


@pytest.fixture
def experiment(alice, staging):
    experiment = make_experiment(members=[alice], coordinators=[alice])
    make_ecc_server(experiment, "http://127.0.0.1:9/", staging=str(staging))
    ECCServer.objects.update(state=State.READY)
    return experiment


class TestStagingFolder:
    @pytest.mark.parametrize(
        ("staging", "message"),
        [
            ("", "Staging directory: This field is required."),
            ("data/staging", "Staging directory: must be an absolute path"),
            ("/data/../etc", "Staging directory: must be an absolute path without . or .. parts"),
        ],
    )
    def test_a_router_needs_a_plain_absolute_staging_folder(
        self, client, experiment, alice, staging, message
    ):
        response = client.post(
            "/api/daq/setup/routers",
            {
                "name": "r9",
                "ip_address": "127.0.0.1",
                "port": 46009,
                "connection_type": "TCP",
                "staging_directory": staging,
            },
            content_type="application/json",
            headers=auth(alice),
        )
        assert response.status_code == 422 and response.json()["error"].startswith(message)

    def test_easy_setup_gives_every_router_the_staging_folder(self, client, experiment, alice):
        form = {
            "num_cobos": 2,
            "first_cobo_ecc_ip": "10.1.0.1",
            "first_cobo_data_router_ip": "10.2.0.1",
        }
        response = client.post(
            "/api/daq/easy-setup", form, content_type="application/json", headers=auth(alice)
        )
        assert response.json()["error"].startswith("Staging folder of the data routers:")
        response = client.post(
            "/api/daq/easy-setup",
            {**form, "staging_directory": "/data/staging/"},
            content_type="application/json",
            headers=auth(alice),
        )
        assert response.status_code == 200
        assert set(DataRouter.objects.values_list("staging_directory", flat=True)) == {
            "/data/staging"
        }


class TestStartWaitsForTheRouters:
    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"is_online": False}, "data routers are offline: ecc0-router0"),
            ({"staging_directory_is_clean": False}, "data routers are not clean yet"),
            (
                {"staging_directory": ""},
                "data routers have no staging folder (Set-up): ecc0-router0",
            ),
        ],
    )
    def test_start_is_refused_naming_the_router(self, experiment, alice, change, message):
        DataRouter.objects.update(**change)
        with pytest.raises(RunRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
            start_run(experiment, alice)
        assert not RunMetadata.objects.exists()

    def test_a_router_never_checked_shows_as_unknown(self, experiment):
        DataRouter.objects.update(last_checked=None)
        assert status(experiment)["data_routers"][0]["online"] is None


class TestFilingRetries:
    def test_the_staging_mount_gone_is_retried_with_back_off_until_it_works(
        self, experiment, staging, client, alice, redis_server
    ):
        router = DataRouter.objects.get()
        away = staging.with_name("unmounted")
        staging.rename(away)

        assert router_control.organize_files(router, "e20009", 7) is False
        router.refresh_from_db()
        assert (router.filing_run, router.filing_attempts) == (7, 1)
        assert "No such file or directory" in router.filing_error
        shown = status(experiment)["data_routers"][0]["filing"]
        assert shown.startswith("run 7: retry 2 in ") and "No such file" in shown
        assert not router.staging_directory_is_clean
        router_control.check_router(router)  # the folder is not there: still waiting, not clean
        assert not DataRouter.objects.get().staging_directory_is_clean

        # not due yet: nothing happens; when due, it fails again and waits longer
        assert router_control.retry_filing(router) is None
        later = timezone.now() + timedelta(seconds=11)
        assert router_control.retry_filing(router, now=later) is False
        router.refresh_from_db()
        assert router.filing_attempts == 2
        assert router.filing_next_try - timezone.now() > timedelta(seconds=15)

        away.rename(staging)  # mounted again; "Retry now" makes it due at once
        client.force_login(alice)
        assert 'role="alert"' not in client.post(f"/daq/routers/{router.pk}/retry").content.decode()
        router.refresh_from_db()
        assert router.filing_next_try <= timezone.now()
        assert router_control.retry_filing(router) is True
        router.refresh_from_db()
        assert router.filing_run is None and router.staging_directory_is_clean
        assert sorted(p.name for p in (staging / "e20009" / "run_0007").iterdir()) == RUN_FILES
        assert status(experiment)["data_routers"][0]["filing"] == ""

    def test_retry_now_with_nothing_waiting_is_refused(self, client, experiment, alice):
        router = DataRouter.objects.get()
        response = client.post(f"/api/daq/routers/{router.pk}/retry-filing", headers=auth(alice))
        assert response.status_code == 409
        assert response.json()["error"] == "ecc0-router0 has no run waiting to be filed"

    def test_back_off_grows_to_five_minutes(self):
        assert [router_control.backoff(n) for n in range(1, 9)] == [
            10,
            20,
            40,
            80,
            160,
            300,
            300,
            300,
        ]


def test_a_filing_over_ssh_waits_for_the_ssh_server_to_come_back(
    experiment, staging, tmp_path, settings
):
    """The router's host is 127.0.0.2, reached over SSH; its SSH server is down at first."""
    server = LoopbackSshServer(tmp_path, "127.0.0.2")
    server.configure(settings)
    DataRouter.objects.update(ip_address=server.host)
    router = DataRouter.objects.get()

    assert router_control.organize_files(router, "e20009", 3) is False
    router.refresh_from_db()
    assert "Connection refused" in router.filing_error or "cannot reach" in router.filing_error

    server.start()
    try:
        assert (
            router_control.retry_filing(router, now=timezone.now() + timedelta(minutes=1)) is True
        )
    finally:
        server.stop()
    assert sorted(p.name for p in (staging / "e20009" / "run_0003").iterdir()) == RUN_FILES
    assert DataRouter.objects.get().staging_directory_is_clean
