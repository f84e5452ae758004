"""The first faults of a night shift, against simulated ECC servers over real HTTP, injected
through the simulator's own Special operation (fail-next, hang-next, go-offline). The global
controls run as they do in production — actions → claimed transition → task — with the task
executed in the test's process (Celery eager mode) so each test reads the end state."""

import threading
import time

import pytest

from beamtime.celery import app
from beamtime.daq import actions, server_control
from beamtime.daq.ecc.client import EccClient
from beamtime.daq.ecc.protocol import State
from beamtime.daq.ecc.simulator import make_server, run
from beamtime.daq.models import Alarm, DataRouter, ECCServer, Experiment, LogEntry, RunMetadata
from beamtime.daq.status import status
from tests.factory import make_api_key, make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db(transaction=True)  # the worker threads use own connections


@pytest.fixture(autouse=True)
def eager(settings):
    settings.DAQ_ECC_TIMEOUT = 1.0
    settings.DAQ_TRANSITION_TIMEOUT = 10.0
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def daq(ecc_sim, tmp_path, alice):
    """Three simulated ECC servers, all Ready, each writing into a router's staging folder."""
    experiment = make_experiment(members=[alice])
    sims = []
    for i in range(3):
        simulator, url = ecc_sim(delay=0.05)
        simulator.staging = tmp_path / f"staging{i}"
        simulator.staging.mkdir()
        simulator.state = State.READY
        make_ecc_server(experiment, url, name=f"ecc{i}")
        DataRouter.objects.filter(name=f"ecc{i}-router0").update(
            staging_directory=str(simulator.staging), staging_directory_is_clean=True
        )
        sims.append((simulator, url))
    ECCServer.objects.update(state=State.READY, target_state=State.READY)
    return experiment, sims


def fresh(experiment) -> Experiment:
    return Experiment.objects.get(pk=experiment.pk)


def states(experiment) -> dict[str, int]:
    return dict(experiment.ecc_servers.values_list("name", "state"))


def refresh_all(experiment):
    for server in experiment.ecc_servers.select_related("selected_config"):
        server_control.refresh_state(server)


def auth(user):
    return {"Authorization": f"Bearer {make_api_key(user)[1]}"}


def messages(source=None) -> list[str]:
    entries = LogEntry.objects.order_by("pk")
    if source:
        entries = entries.filter(source=source)
    return list(entries.values_list("message", flat=True))


def test_a_failed_start_is_rolled_back_and_its_number_never_reused(daq, alice):
    experiment, sims = daq
    EccClient(sims[1][1]).special("fail-next")

    actions.global_action(experiment, "start", alice)

    run = RunMetadata.objects.get()
    assert (run.run_number, run.state) == (0, "aborted")
    assert run.stop_datetime is not None and "ecc1: Start failed" in run.abort_reason
    assert all(s.state == State.READY for s, _ in sims)  # those that started were stopped
    assert states(experiment) == {"ecc0": State.READY, "ecc1": State.READY, "ecc2": State.READY}
    assert any("start failed and was rolled back" in m for m in messages("run 0000"))
    body = status(fresh(experiment))
    assert body["running"] is False and body["run_state"] == "aborted"
    assert fresh(experiment).transition == ""
    # what the servers that did start wrote is filed under the aborted run's number
    assert (sims[0][0].staging / "e20009" / "run_0000").is_dir()

    refresh_all(experiment)  # ecc1's error clears: it is Ready, as asked
    actions.global_action(fresh(experiment), "start", alice)
    run = RunMetadata.objects.get(run_number=1)
    assert run.state == "recording" and status(fresh(experiment))["running"] is True
    assert all(s.state == State.RUNNING for s, _ in sims)


def test_a_start_that_hangs_past_the_timeout_ends_in_a_clear_state(daq, alice):
    experiment, sims = daq
    EccClient(sims[2][1]).special("hang-next 2")

    actions.global_action(experiment, "start", alice)

    run = RunMetadata.objects.get()
    assert run.state == "aborted" and "ecc2" in run.abort_reason
    time.sleep(2.5)  # the hung server now carries out the Start it was sent
    refresh_all(experiment)
    ecc2 = ECCServer.objects.get(name="ecc2")
    assert ecc2.state == State.RUNNING and "expected Ready" in ecc2.error_message
    assert status(fresh(experiment))["overall_state_name"] == "Error"

    actions.global_action(fresh(experiment), "stop", alice)  # Stop works from Error
    refresh_all(experiment)
    assert all(s.state == State.READY for s, _ in sims)
    assert status(fresh(experiment))["overall_state_name"] == "Ready"


def test_stop_all_from_error_stops_every_reachable_server_and_files_the_run(daq, alice):
    experiment, sims = daq
    actions.global_action(experiment, "start", alice)
    time.sleep(0.3)  # some data written
    EccClient(sims[1][1]).special("go-offline")
    time.sleep(0.3)
    refresh_all(experiment)
    assert status(fresh(experiment))["overall_state_name"] == "Error"

    actions.global_action(fresh(experiment), "stop", alice)

    run = RunMetadata.objects.get()
    assert run.state == "stopped" and run.stop_datetime is not None
    assert sims[0][0].state == State.READY and sims[2][0].state == State.READY
    assert any(m.startswith("not reached") for m in messages("ecc1"))
    for simulator, _ in (sims[0], sims[2]):
        filed = simulator.staging / "e20009" / "run_0000"
        assert [p.suffix for p in filed.iterdir()] == [".graw"]
        assert not list(simulator.staging.glob("*.graw"))  # nothing left in staging
    assert fresh(experiment).transition == ""


def test_an_offline_server_back_again_clears_its_error_and_says_so(daq, ecc_sim, configs_dir):
    experiment, sims = daq
    simulator, url = sims[1]
    EccClient(url).special("go-offline")
    time.sleep(0.3)
    refresh_all(experiment)
    assert status(fresh(experiment))["overall_state_name"] == "Error"

    # the ECC process is restarted on the same port, in the state it was in
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    simulator.stopped.clear()
    server = make_server(simulator, port=port)
    threading.Thread(target=run, args=(simulator, server), daemon=True).start()
    try:
        refresh_all(experiment)
        assert status(fresh(experiment))["overall_state_name"] == "Ready"
        assert messages("ecc1")[-1] == "back online, Ready"
    finally:
        simulator.stopped.set()


def test_a_failed_step_is_an_error_until_the_server_gets_there(daq, alice):
    experiment, sims = daq
    for simulator, _ in sims:
        simulator.state = State.IDLE
    ECCServer.objects.update(state=State.IDLE, target_state=None)
    EccClient(sims[0][1]).special("fail-next")
    actions.global_action(experiment, "describe", alice)
    ecc0 = ECCServer.objects.get(name="ecc0")
    assert ecc0.state == State.IDLE and "Describe failed" in ecc0.error_message
    refresh_all(experiment)  # still not where it was asked to be: the error stays
    assert ECCServer.objects.get(name="ecc0").error_message

    actions.server_action(ECCServer.objects.get(name="ecc0"), "describe")
    refresh_all(experiment)
    assert status(fresh(experiment))["overall_state_name"] == "Described"


@pytest.mark.parametrize("action", ["configure", "reset", "prepare", "describe", "start"])
def test_while_a_run_records_only_stop_acts(daq, alice, action):
    experiment, sims = daq
    actions.global_action(experiment, "start", alice)
    with pytest.raises(actions.ActionRefused, match="run 0000 is recording: only Stop all"):
        actions.global_action(fresh(experiment), action, alice)
    assert all(s.state == State.RUNNING for s, _ in sims)
    assert RunMetadata.objects.get().state == "recording"


def test_an_ecc_servers_own_message_reaches_the_log_file_only(daq, alice, client, caplog):
    """What a server answers is not relayed to users (anything may listen at an address):
    they see the server, the transition and the ECC error code; the operators' log (the
    worker's log file) has the server's words."""
    experiment, sims = daq
    remote = "secret-token-4711 from the remote side"
    EccClient(sims[1][1]).special(f"fail-next 9 {remote}")

    actions.global_action(experiment, "start", alice)

    wording = "Start failed (ECC error code 9); the server's message is in Beamtime's log"
    run = RunMetadata.objects.get()
    assert run.state == "aborted" and run.abort_reason == f"ecc1: {wording}"
    assert wording in messages("ecc1")
    api = client.get("/api/daq/status", headers=auth(alice)).content.decode()
    client.force_login(alice)
    page = client.get("/daq/panels").content.decode()
    seen = [*messages(), api, page, *Alarm.objects.values_list("message", flat=True)]
    assert "ECC error code 9" in api and "ECC error code 9" in page
    assert not any("secret-token-4711" in text for text in seen)
    logged = [r for r in caplog.records if r.name == "beamtime.daq" and "4711" in r.getMessage()]
    expected = f"ecc1 ({sims[1][1]}): Start: ECC error code 9: {remote}"
    assert [r.getMessage() for r in logged] == [expected]
