"""Alarms: raised once, e-mailed to the coordinators through a real SMTP server on loopback
(aiosmtpd), shown on every page until acknowledged, cleared with their condition."""

import threading
import time

import pytest
from aiosmtpd.controller import Controller

from beamtime.daq import router_control, server_control
from beamtime.daq.ecc.client import EccClient
from beamtime.daq.ecc.simulator import make_server, run
from beamtime.daq.models import Alarm, DataRouter, ECCServer
from tests.conftest import free_port
from tests.factory import make_ecc_server, make_experiment, make_user

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def inbox(settings):
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    yield handler
    controller.stop()


@pytest.fixture
def people(alice, bob):
    alice.email = "alice@lab.example"
    alice.save()
    return alice, bob


def test_an_offline_server_alarms_once_mails_the_coordinators_and_clears_when_back(
    client, ecc_sim, inbox, people, django_capture_on_commit_callbacks
):
    alice, bob = people
    experiment = make_experiment(members=[bob], coordinators=[alice])
    simulator, url = ecc_sim()
    server = make_ecc_server(experiment, url)
    EccClient(url).special("go-offline")
    time.sleep(0.3)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            server_control.refresh_state(ECCServer.objects.get(pk=server.pk))
    alarm = Alarm.objects.get()
    assert alarm.message == "ECC server ecc0 is offline" and alarm.cleared_at is None
    assert len(inbox.messages) == 1
    to, mail = inbox.messages[0]
    assert to == ["alice@lab.example"] and "Subject: [Beamtime e20009] ECC server ecc0" in mail

    client.force_login(bob)  # a shifter sees it on every page, also far from run control
    page = client.get("/configs/").content.decode()
    assert "ECC server ecc0 is offline" in page and "Acknowledge" in page
    client.post(f"/daq/alarms/{alarm.pk}/acknowledge")
    assert "ECC server ecc0 is offline" not in client.get("/configs/").content.decode()

    port = int(url.rstrip("/").rsplit(":", 1)[1])
    simulator.stopped.clear()
    httpd = make_server(simulator, port=port)
    threading.Thread(target=run, args=(simulator, httpd), daemon=True).start()
    try:
        server_control.refresh_state(ECCServer.objects.get(pk=server.pk))
    finally:
        simulator.stopped.set()
    assert Alarm.objects.get().cleared_at is not None


def test_a_failed_filing_alarms_and_clears_once_filed(
    tmp_path, inbox, people, client, django_capture_on_commit_callbacks
):
    alice, bob = people
    experiment = make_experiment(members=[bob], coordinators=[alice])
    staging = tmp_path / "staging"
    make_ecc_server(experiment, "http://127.0.0.1:9/", staging=str(staging))
    router = DataRouter.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert router_control.organize_files(router, "e20009", 4) is False
        assert router_control.organize_files(router, "e20009", 4) is False
    assert [a.message for a in Alarm.objects.all()] == [
        "run 4 could not be filed on ecc0-router0; retrying"
    ]
    assert len(inbox.messages) == 1
    client.force_login(bob)
    listed = client.get("/api/daq/alarms").json()
    assert [a["key"] for a in listed] == ["filing:ecc0-router0"]
    staging.mkdir()
    assert router_control.organize_files(router, "e20009", 4) is True
    assert client.get("/api/daq/alarms").json() == []


def test_a_mail_server_down_does_not_stop_run_control(
    settings, people, django_capture_on_commit_callbacks
):
    alice, bob = people
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    experiment = make_experiment(coordinators=[alice])
    make_ecc_server(experiment, "http://127.0.0.1:9/", staging="/nonexistent/staging")
    with django_capture_on_commit_callbacks(execute=True):
        assert router_control.organize_files(DataRouter.objects.get(), "e20009", 0) is False
    assert Alarm.objects.count() == 1


def test_charlie_sees_no_alarm_of_an_experiment_not_his(client, charlie):
    experiment = make_experiment(members=[make_user("dora")])
    Alarm.objects.create(experiment=experiment, key="x", message="secret trouble")
    client.force_login(charlie)
    assert "secret trouble" not in client.get("/configs/").content.decode()
    alarm = Alarm.objects.get()
    assert client.post(f"/daq/alarms/{alarm.pk}/acknowledge").status_code == 404


def test_a_nearly_full_staging_disk_alarms_and_clears(tmp_path, settings):
    experiment = make_experiment()
    make_ecc_server(experiment, "http://127.0.0.1:9/", staging=str(tmp_path))
    router = DataRouter.objects.get()
    settings.DAQ_STAGING_MIN_FREE = 1.01  # every disk is "nearly full"
    router_control.check_router(router)
    (alarm,) = Alarm.objects.filter(key="disk:ecc0-router0")
    assert alarm.message.startswith("the staging disk of ecc0-router0 is nearly full (")
    settings.DAQ_STAGING_MIN_FREE = 0.0
    router_control.check_router(DataRouter.objects.get())
    assert Alarm.objects.get(key="disk:ecc0-router0").cleared_at is not None


def test_run_files_left_between_runs_alarm_until_they_are_gone(tmp_path):
    from django.utils import timezone

    from beamtime.daq.models import Experiment, RunMetadata

    experiment = make_experiment()
    make_ecc_server(experiment, "http://127.0.0.1:9/", staging=str(tmp_path))
    left = tmp_path / "CoBo[0]_2026-12-07T08:00:00.000_0000.graw"
    left.write_bytes(b"data")

    # expected while a transition (a Stop filing its run) is under way, or a run records
    Experiment.objects.update(transition="stop", transition_started_at=timezone.now())
    router_control.check_router(DataRouter.objects.get())
    Experiment.objects.update(transition="", transition_started_at=None)
    run = RunMetadata.objects.create(experiment=experiment, run_number=4, state="recording")
    router_control.check_router(DataRouter.objects.get())
    assert not Alarm.objects.filter(key="dirty:ecc0-router0").exists()

    # between runs, with nothing filing them: an alarm, once
    RunMetadata.objects.filter(pk=run.pk).update(state="stopped", stop_datetime=timezone.now())
    router_control.check_router(DataRouter.objects.get())
    router_control.check_router(DataRouter.objects.get())
    (alarm,) = Alarm.objects.filter(key="dirty:ecc0-router0")
    assert alarm.message.startswith("run files wait in the staging folder of ecc0-router0")
    assert alarm.cleared_at is None

    left.unlink()  # moved by someone
    router_control.check_router(DataRouter.objects.get())
    assert Alarm.objects.get(key="dirty:ecc0-router0").cleared_at is not None


def test_a_failed_filing_is_not_also_a_dirty_router(tmp_path):
    experiment = make_experiment()
    make_ecc_server(experiment, "http://127.0.0.1:9/", staging=str(tmp_path))
    (tmp_path / "CoBo[0]_2026-12-07T08:00:00.000_0000.graw").write_bytes(b"data")
    DataRouter.objects.update(filing_run=3, filing_attempts=1)
    router_control.check_router(DataRouter.objects.get())
    assert not Alarm.objects.filter(key__startswith="dirty:").exists()
