"""One transition at a time per experiment, claimed with one conditional UPDATE."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from beamtime.celery import app
from beamtime.daq import actions
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import ECCServer, Experiment, RunMetadata
from beamtime.daq.transitions import Busy, claim, release
from tests.factory import make_api_key, make_ecc_server, make_experiment


def auth(user):
    return {"Authorization": f"Bearer {make_api_key(user)[1]}"}


@pytest.mark.django_db(transaction=True)
def test_of_requests_at_once_exactly_one_claims_and_the_others_learn_which():
    experiment = make_experiment()
    names = [f"describe #{i}" for i in range(8)]
    won, lost = [], []
    start = threading.Barrier(len(names))

    def request(name):
        try:
            start.wait()
            claim(Experiment.objects.get(pk=experiment.pk), name)
            won.append(name)
        except Busy as exc:
            lost.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(won) == 1 and len(lost) == len(names) - 1
    assert all(m == f"{won[0]} is in progress: wait for it to end" for m in lost)
    assert Experiment.objects.get(pk=experiment.pk).transition == won[0]


@pytest.mark.django_db
class TestClaims:
    def test_a_second_request_gets_409_naming_the_one_in_progress(self, client, alice):
        experiment = make_experiment(members=[alice])
        make_ecc_server(experiment, "http://127.0.0.1:9/")
        claim(experiment, "describe")
        for action in ["prepare", "describe", "stop"]:
            response = client.post(f"/api/daq/actions/{action}", headers=auth(alice))
            assert response.status_code == 409
            assert response.json()["error"] == "describe is in progress: wait for it to end"
        server = ECCServer.objects.get()
        response = client.post(
            f"/api/daq/servers/{server.pk}/actions/describe", headers=auth(alice)
        )
        assert response.status_code == 409
        assert client.get("/api/daq/status", headers=auth(alice)).json()["transition"] == "describe"

    def test_a_claim_is_released_only_by_its_owner_and_expires(self, settings):
        experiment = make_experiment()
        claim(experiment, "start")
        release(experiment.pk, "describe")
        with pytest.raises(Busy):
            claim(experiment, "describe")
        Experiment.objects.update(
            transition_started_at=timezone.now() - timedelta(seconds=10_000)
        )  # its worker died
        claim(experiment, "describe")
        release(experiment.pk, "describe")
        assert Experiment.objects.get().transition == ""

    def test_a_refused_action_gives_its_claim_back(self, alice):
        experiment = make_experiment()
        make_ecc_server(experiment, "http://127.0.0.1:9/")
        with pytest.raises(actions.ActionRefused, match="no single transition"):
            actions.global_action(experiment, "configure", alice)
        assert Experiment.objects.get().transition == ""


@pytest.mark.django_db(transaction=True)
def test_stop_takes_over_a_start_that_hangs(ecc_sim, settings, alice):
    """A Start that hangs holds the claim; Stop all still proceeds and ends the run."""
    settings.DAQ_ECC_TIMEOUT = 1.0
    experiment = make_experiment(members=[alice])
    simulator, url = ecc_sim(delay=0.05)
    simulator.state = State.READY
    make_ecc_server(experiment, url)
    ECCServer.objects.update(state=State.READY, target_state=State.READY)
    claim(experiment, "start")  # as if a Start were under way
    RunMetadata.objects.create(experiment=experiment, run_number=0)  # starting
    app.conf.task_always_eager = True
    try:
        actions.global_action(Experiment.objects.get(), "stop", alice)
    finally:
        app.conf.task_always_eager = False
    run = RunMetadata.objects.get()
    assert run.state == "stopped" and run.stop_datetime is not None
    assert Experiment.objects.get().transition == ""


@pytest.mark.django_db
def test_the_pages_ask_before_ending_a_run(client, alice):
    experiment = make_experiment(members=[alice])
    make_ecc_server(experiment, "http://127.0.0.1:9/")
    ECCServer.objects.update(state=State.RUNNING)
    RunMetadata.objects.create(experiment=experiment, run_number=3, state="recording")
    client.force_login(alice)
    page = client.get("/daq/").content.decode()
    assert 'hx-confirm="End run 3 and stop every ECC server?"' in page
    assert 'hx-confirm="ecc0 is Running: stop it?' in page
    assert 'hx-confirm="ecc0 is Running: reset it?' in page
    assert page.count("hx-confirm") == 3  # nothing else ends a run
