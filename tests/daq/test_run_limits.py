"""Run limits: a run recording past its limit is stopped as Stop all would, and the next one
started when asked — against simulated ECC servers over HTTP."""

import time

import pytest

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
