"""Run limits: a run recording past its limit is stopped as Stop all would, and the next one
started when asked — against simulated ECC servers over HTTP."""

import time

import pytest
from django.utils import timezone

from beamtime.celery import app
from beamtime.daq import actions
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import DataRouter, ECCServer, Experiment, LogEntry, RunMetadata
from beamtime.daq.transitions import enforce_run_limit
from tests.factory import make_api_key, make_ecc_server, make_experiment


def auth(user):
    return {"Authorization": f"Bearer {make_api_key(user)[1]}"}


@pytest.fixture
def recording(ecc_sim, tmp_path, alice, settings):
    settings.DAQ_ECC_TIMEOUT = 2.0
    experiment = make_experiment(members=[alice])
    sims = []
    for i in range(2):
        simulator, url = ecc_sim(delay=0.05)
        simulator.state = State.READY
        simulator.staging = tmp_path / f"staging{i}"
        simulator.staging.mkdir()
        make_ecc_server(experiment, url, name=f"ecc{i}", staging=str(simulator.staging))
        sims.append(simulator)
    ECCServer.objects.update(state=State.READY, target_state=State.READY)
    app.conf.task_always_eager = True
    try:
        actions.global_action(experiment, "start", alice)
    finally:
        app.conf.task_always_eager = False
    assert RunMetadata.objects.get().state == "recording"
    return experiment, sims


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("restart", [False, True])
def test_a_run_past_its_limit_is_stopped_and_the_next_started_if_asked(recording, restart):
    experiment, sims = recording
    Experiment.objects.update(run_limit_seconds=1, restart_after_limit=restart)
    experiment = Experiment.objects.get()
    # as if it had started now: on a loaded machine the start itself may have taken a second
    RunMetadata.objects.update(start_datetime=timezone.now())
    assert enforce_run_limit(experiment) == ""  # not yet
    time.sleep(1.2)
    assert enforce_run_limit(experiment) == ("restarted" if restart else "stopped")
    first = RunMetadata.objects.get(run_number=0)
    assert first.state == "stopped"
    assert LogEntry.objects.filter(message="stopped after its limit of 1 s").exists()
    assert (sims[0].staging / "e20009" / "run_0000").is_dir()  # filed
    if restart:
        assert RunMetadata.objects.get(run_number=1).state == "recording"
        assert all(s.state == State.RUNNING for s in sims)
    else:
        assert RunMetadata.objects.count() == 1 and all(s.state == State.READY for s in sims)
        assert DataRouter.objects.filter(staging_directory_is_clean=True).count() == 2
    assert Experiment.objects.get().transition == ""


@pytest.mark.django_db
def test_coordinators_set_the_limit_within_bounds(client, alice, bob):
    make_experiment(members=[bob], coordinators=[alice])
    body = {"run_limit_seconds": 3600, "restart_after_limit": True}
    assert (
        client.put("/api/daq/run-limit", body, content_type="application/json", headers=auth(bob))
    ).status_code == 403
    response = client.put(
        "/api/daq/run-limit", body, content_type="application/json", headers=auth(alice)
    )
    assert response.status_code == 200 and Experiment.objects.get().run_limit_seconds == 3600
    bad = client.put(
        "/api/daq/run-limit",
        {"run_limit_seconds": 5},
        content_type="application/json",
        headers=auth(alice),
    )
    assert bad.status_code == 422 and bad.json()["field"] == "run_limit_seconds"


def filed_bytes(sims) -> int:
    return sum(
        f.stat().st_size for s in sims for f in (s.staging / "e20009" / "run_0000").glob("*.graw")
    )


@pytest.mark.django_db(transaction=True)
def test_a_run_is_stopped_once_its_files_reach_the_data_volume_limit(recording):
    experiment, sims = recording
    Experiment.objects.update(run_limit_bytes=10**12)
    assert enforce_run_limit(Experiment.objects.get()) == ""  # far from a terabyte
    for _ in range(100):  # the simulators write while they run
        if all(f.stat().st_size for s in sims for f in s.staging.glob("*.graw")):
            break
        time.sleep(0.05)
    Experiment.objects.update(run_limit_bytes=1)
    assert enforce_run_limit(Experiment.objects.get()) == "stopped"
    assert RunMetadata.objects.get().state == "stopped"
    assert LogEntry.objects.filter(message="stopped after its limit of 1 bytes").exists()
    assert filed_bytes(sims) >= 1


@pytest.mark.django_db
def test_staged_bytes_counts_the_run_files_waiting_in_each_staging_folder(tmp_path):
    from beamtime.daq.transitions import staged_bytes

    experiment = make_experiment()
    for i, sizes in enumerate([[100, 2500], [7]]):
        staging = tmp_path / f"s{i}"
        (staging / "e20009" / "run_0000").mkdir(parents=True)
        (staging / "e20009" / "run_0000" / "old.graw").write_bytes(b"x" * 999)  # filed
        (staging / "notes.txt").write_bytes(b"x" * 50)  # not a run file
        for j, size in enumerate(sizes):
            (staging / f"CoBo{j}.graw").write_bytes(b"x" * size)
        make_ecc_server(experiment, f"http://127.0.0.1:1{i}/", name=f"ecc{i}", staging=str(staging))
    assert staged_bytes(experiment) == 100 + 2500 + 7


@pytest.mark.django_db(transaction=True)
def test_a_limit_that_does_not_stop_raises_an_alarm_until_the_run_ends(recording, alice):
    from beamtime.daq.models import Alarm

    experiment, sims = recording
    Experiment.objects.update(run_limit_seconds=1, stop_at_limit=False)
    time.sleep(1.2)
    assert enforce_run_limit(Experiment.objects.get()) == "alarm"
    assert enforce_run_limit(Experiment.objects.get()) == "alarm"  # raised once
    (alarm,) = Alarm.objects.all()
    assert alarm.message == "run 0 is past its limit of 1 s" and alarm.cleared_at is None
    assert RunMetadata.objects.get().state == "recording"
    assert all(s.state == State.RUNNING for s in sims)
    app.conf.task_always_eager = True
    try:
        actions.global_action(Experiment.objects.get(), "stop", alice)
    finally:
        app.conf.task_always_eager = False
    assert enforce_run_limit(Experiment.objects.get()) == ""
    alarm.refresh_from_db()
    assert alarm.cleared_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_run_past_its_limit_while_another_transition_holds_raises_an_alarm(recording):
    from beamtime.daq.models import Alarm
    from beamtime.daq.transitions import claim, release

    experiment, sims = recording
    Experiment.objects.update(run_limit_seconds=1)
    time.sleep(1.2)
    claim(Experiment.objects.get(), "stop")  # e.g. an operator's Stop that hangs
    assert enforce_run_limit(Experiment.objects.get()) == ""
    (alarm,) = Alarm.objects.filter(cleared_at=None)
    assert alarm.message == "run 0 is past its limit of 1 s and still records"
    release(experiment.pk, "stop")
    assert enforce_run_limit(Experiment.objects.get()) == "stopped"
    assert enforce_run_limit(Experiment.objects.get()) == ""
    alarm.refresh_from_db()
    assert alarm.cleared_at is not None


@pytest.mark.django_db
def test_coordinators_set_a_data_volume_limit_or_an_alarm_only(client, alice):
    make_experiment(members=[alice], coordinators=[alice])
    body = {"run_limit_bytes": 50 * 10**9, "stop_at_limit": False}
    response = client.put(
        "/api/daq/run-limit", body, content_type="application/json", headers=auth(alice)
    )
    assert response.status_code == 200
    experiment = Experiment.objects.get()
    assert (experiment.run_limit_bytes, experiment.stop_at_limit) == (50 * 10**9, False)
    status = client.get("/api/daq/status", headers=auth(alice)).json()
    assert status["run_limit_bytes"] == 50 * 10**9
    assert status["stop_at_limit"] is False
    client.force_login(alice)
    assert "(an alarm after 46.6\xa0GB)" in client.get("/daq/").content.decode()
    bad = client.put(
        "/api/daq/run-limit",
        {"run_limit_bytes": 0},
        content_type="application/json",
        headers=auth(alice),
    )
    assert bad.status_code == 422 and bad.json()["field"] == "run_limit_bytes"


@pytest.mark.django_db
def test_coordinators_set_the_limit_on_a_page_too(client, alice, bob):
    make_experiment(members=[bob], coordinators=[alice])
    client.force_login(bob)
    assert client.get("/daq/run-limit").status_code == 403
    assert 'href="/daq/run-limit"' not in client.get("/daq/").content.decode()
    client.force_login(alice)
    assert 'href="/daq/run-limit"' in client.get("/daq/").content.decode()
    form = {"minutes": "90", "gigabytes": "2.5", "stop_at_limit": "on"}
    assert client.post("/daq/run-limit", form).status_code == 302
    experiment = Experiment.objects.get()
    assert (experiment.run_limit_seconds, experiment.run_limit_bytes) == (5400, 2_500_000_000)
    assert (experiment.stop_at_limit, experiment.restart_after_limit) == (True, False)
    # The page starts from what is set, here through the API: 45 s, an alarm only.
    body = {"run_limit_seconds": 45, "stop_at_limit": False}
    client.put("/api/daq/run-limit", body, content_type="application/json", headers=auth(alice))
    initial = client.get("/daq/run-limit").context["form"].initial
    assert (initial["minutes"], initial["gigabytes"], initial["stop_at_limit"]) == (
        0.75,
        None,
        False,
    )
    # The API's bounds: at least 10 s.
    response = client.post("/daq/run-limit", {"minutes": "0.1"})
    assert response.status_code == 200
    assert "greater than or equal to" in " ".join(response.context["form"].errors["minutes"])
    assert Experiment.objects.get().run_limit_seconds == 45
