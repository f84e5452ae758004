"""Run control against real (simulated) ECC servers over SOAP."""

import pytest

from beamtime.daq import server_control, states
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import ERROR, MIXED, ECCServer, LogEntry
from tests.factory import make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment():
    return make_experiment()


def fresh(server) -> ECCServer:
    return ECCServer.objects.select_related("selected_config").get(pk=server.pk)


class TestRefresh:
    def test_it_records_the_state_the_server_reports(self, ecc_sim, experiment):
        simulator, url = ecc_sim()
        simulator.state = State.PREPARED
        server = make_ecc_server(experiment, url)
        server_control.refresh_state(server)
        assert (fresh(server).state, fresh(server).is_online) == (State.PREPARED, True)

    def test_a_server_going_offline_is_logged_once(self, ecc_sim, experiment):
        simulator, url = ecc_sim()
        server = make_ecc_server(experiment, url)
        simulator.stopped.set()
        import time

        for _ in range(50):
            server_control.refresh_state(server)
            if not fresh(server).is_online:
                break
            time.sleep(0.1)
        server_control.refresh_state(server)
        assert fresh(server).is_online is False
        assert (
            LogEntry.objects.filter(source="ecc0", message__startswith="went offline").count() == 1
        )

    def test_config_sets_follow_the_files_on_the_server(self, ecc_sim, experiment, configs_dir):
        _, url = ecc_sim()
        server = make_ecc_server(experiment, url, config=None)
        assert [str(c) for c in server_control.refresh_configs(server)] == [
            "cobo/standard/beam",
            "mutant/standard/beam",
        ]
        (configs_dir / "describe-mutant.xcfg").unlink()
        (configs_dir / "configure-pulser.xcfg").write_text("<Setup/>")
        assert [str(c) for c in server_control.refresh_configs(server)] == [
            "cobo/standard/beam",
            "cobo/standard/pulser",
        ]


class TestChangeState:
    def test_a_transition_is_requested_and_followed_to_its_end(self, ecc_sim, experiment):
        _, url = ecc_sim(delay=0.3)
        server = make_ecc_server(experiment, url)
        assert server_control.change_state(server, State.DESCRIBED) is True
        server = fresh(server)
        assert (server.state, server.is_transitioning, server.error_message) == (
            State.DESCRIBED,
            False,
            "",
        )

    def test_the_data_links_reach_the_server(self, ecc_sim, experiment):
        simulator, url = ecc_sim()
        server = make_ecc_server(experiment, url, sources=2)
        server_control.change_state(server, State.DESCRIBED)
        assert simulator.senders == ["ecc0-CoBo[0]", "ecc0-CoBo[1]"]

    def test_a_refused_transition_is_an_error_that_changes_no_state(self, ecc_sim, experiment):
        _, url = ecc_sim(fail_rate=1.0)
        server = make_ecc_server(experiment, url)
        assert server_control.change_state(server, State.DESCRIBED) is False
        server = fresh(server)
        assert server.state == State.IDLE
        assert server.error_message.startswith("Describe failed (ECC error code 5)")
        assert LogEntry.objects.get().message == server.error_message
        assert states.overall_state([server]) == (ERROR, "Error")

    def test_a_transition_that_never_finishes_is_an_error(self, ecc_sim, experiment):
        _, url = ecc_sim(delay=600)
        server = make_ecc_server(experiment, url)
        assert server_control.change_state(server, State.DESCRIBED, follow_for=0.5) is False
        assert (
            fresh(server).error_message == "the transition to Described did not finish within 0.5 s"
        )

    def test_without_a_selected_configuration_nothing_is_sent(self, ecc_sim, experiment):
        simulator, url = ecc_sim()
        server = make_ecc_server(experiment, url, config=None)
        assert server_control.change_state(server, State.DESCRIBED) is False
        assert simulator.state == State.IDLE
        assert "no configuration selected" in fresh(server).error_message

    def test_more_than_one_step_is_refused(self, ecc_sim, experiment):
        _, url = ecc_sim()
        server = make_ecc_server(experiment, url)
        assert server_control.change_state(server, State.READY) is False
        assert fresh(server).error_message == "no single transition from IDLE to READY"

    def test_an_offline_server_is_an_error(self, ecc_sim, experiment):
        simulator, url = ecc_sim()
        server = make_ecc_server(experiment, url)
        server.port = 1
        assert server_control.change_state(server, State.DESCRIBED) is False
        assert fresh(server).is_online is False


def record_calls(simulator) -> list[str]:
    """The operations the simulator is asked for from now on, in order."""
    calls, answer = [], simulator.call

    def call(operation, params):
        calls.append(operation)
        return answer(operation, params)

    simulator.call = call
    return calls


def running(ecc_sim, experiment, **options):
    """A simulator Running, as the database knows it to be."""
    simulator, url = ecc_sim(**options)
    simulator.state = State.RUNNING
    server = make_ecc_server(experiment, url)
    ECCServer.objects.update(state=State.RUNNING, target_state=State.RUNNING)
    return simulator, fresh(server)


class TestStop:
    def test_a_server_known_to_run_is_sent_stop_without_being_asked_its_state(
        self, ecc_sim, experiment
    ):
        simulator, server = running(ecc_sim, experiment, delay=0.3)
        calls = record_calls(simulator)
        assert server_control.stop_server(server) is True
        assert calls[0] == "Stop" and set(calls[1:]) == {"GetState"}
        assert simulator.state == State.READY
        server = fresh(server)
        assert (server.state, server.target_state, server.error_message) == (
            State.READY,
            State.READY,
            "",
        )
        assert not LogEntry.objects.exists()

    def test_a_server_stopped_meanwhile_by_other_means_is_fine(self, ecc_sim, experiment):
        simulator, server = running(ecc_sim, experiment)
        simulator.state = State.READY  # stopped at the ECC server itself: Stop is refused
        assert server_control.stop_server(server) is True
        server = fresh(server)
        assert (server.state, server.target_state, server.error_message) == (
            State.READY,
            State.READY,
            "",
        )

    def test_a_start_under_way_is_waited_for_then_stopped(self, ecc_sim, experiment):
        simulator, server = running(ecc_sim, experiment, delay=0.4)
        simulator.state = State.READY
        assert simulator.transition("Start", "", "") == (0, "")  # Stop is refused: busy
        assert server_control.stop_server(server) is True
        assert simulator.state == State.READY and fresh(server).error_message == ""

    def test_a_stop_refused_while_running_is_an_error_and_not_sent_twice(self, ecc_sim, experiment):
        simulator, server = running(ecc_sim, experiment)
        simulator.fail_next = 7
        calls = record_calls(simulator)
        assert server_control.stop_server(server) is False
        assert calls == ["Stop", "GetState"]
        assert simulator.state == State.RUNNING
        server = fresh(server)
        assert server.error_message == (
            "Stop failed (ECC error code 7); the server's message is in Beamtime's log"
        )
        assert LogEntry.objects.get().message == server.error_message
        assert states.overall_state([server]) == (ERROR, "Error")

    def test_a_server_that_does_not_answer_is_logged_as_not_reached(self, ecc_sim, experiment):
        simulator, server = running(ecc_sim, experiment)
        server.port = 1  # nothing listens: refused at once
        assert server_control.stop_server(server) is False
        server = fresh(server)
        assert (server.is_online, server.target_state) == (False, State.RUNNING)
        messages = list(LogEntry.objects.order_by("pk").values_list("message", flat=True))
        assert messages[0].startswith("went offline: http://127.0.0.1:1/: cannot connect")
        assert messages[1].startswith("not reached: it could not be stopped")


def test_overall_state():
    def server(state, **fields):
        return ECCServer(state=state, is_online=True, **fields)

    assert states.overall_state([server(2), server(2)]) == (2, "Described")
    assert states.overall_state([server(2), server(3)]) == (MIXED, "Mixed")
    assert states.overall_state([server(2), server(2, error_message="boom")]) == (ERROR, "Error")
    assert states.overall_state([]) == (None, "No ECC servers")


def test_step_targets():
    assert states.step_target(State.READY, "reset") == State.PREPARED
    assert states.step_target(State.IDLE, "describe") == State.DESCRIBED
    assert states.step_target(State.READY, "start") == State.RUNNING
    with pytest.raises(ValueError, match="Idle already"):
        states.step_target(State.IDLE, "reset")
    with pytest.raises(ValueError, match="unknown action 'explode'"):
        states.step_target(State.IDLE, "explode")


@pytest.mark.django_db(transaction=True)
def test_describe_all_fans_out_through_the_worker(ecc_sim, celery_worker):
    from beamtime.daq import tasks

    experiment = make_experiment()
    servers = [make_ecc_server(experiment, ecc_sim(delay=0.2)[1], name=f"ecc{i}") for i in range(3)]
    result = tasks.change_state.delay([s.pk for s in servers], State.DESCRIBED)
    assert result.get(timeout=60) == [True, True, True]
    assert {fresh(s).state for s in servers} == {State.DESCRIBED}


@pytest.mark.django_db(transaction=True)  # the threads write through connections of their own
def test_a_bug_with_one_server_is_logged_for_operators_and_spares_the_others(ecc_sim, caplog):
    from beamtime.daq import tasks

    experiment = make_experiment()
    good = make_ecc_server(experiment, ecc_sim()[1], name="good")
    bad = make_ecc_server(experiment, ecc_sim()[1], name="bad")

    def step(server):
        if server.name == "bad":
            raise RuntimeError("a bug")
        return server_control.refresh_state(server).is_online

    assert tasks.in_parallel([good, bad], step) == [True, None]
    entry = LogEntry.objects.get()
    # The traceback names files on the web server: operators read it, users see a line.
    assert entry.source == "bad" and entry.traceback == "" and "unexpected" in entry.message
    assert "RuntimeError: a bug" in caplog.text


def test_the_state_refresh_leaves_servers_to_a_transition_under_way(ecc_sim):
    from datetime import timedelta

    from django.utils import timezone

    from beamtime.daq import tasks
    from beamtime.daq.models import Experiment

    experiment = make_experiment()
    make_ecc_server(experiment, ecc_sim()[1])
    Experiment.objects.update(transition="describe", transition_started_at=timezone.now())
    assert tasks.refresh_state_all() == 0  # the transition's task follows them
    # A claim left by a worker that died is no transition under way.
    Experiment.objects.update(transition_started_at=timezone.now() - timedelta(hours=1))
    assert tasks.refresh_state_all() == 1
    Experiment.objects.update(transition="", transition_started_at=None)
    assert tasks.refresh_state_all() == 1


def test_a_state_asked_for_since_the_row_was_read_is_no_error(ecc_sim):
    """Another process (the transition's task) asked for Described after this one read the
    row: the server being Described is what was asked, not an error."""
    simulator, url = ecc_sim()
    server = make_ecc_server(make_experiment(), url)
    ECCServer.objects.update(target_state=State.IDLE)
    stale = fresh(server)
    ECCServer.objects.update(target_state=State.DESCRIBED)
    simulator.state = State.DESCRIBED
    server_control.refresh_state(stale)
    assert fresh(server).error_message == "" and fresh(server).state == State.DESCRIBED
    assert not LogEntry.objects.exists()
    simulator.state = State.PREPARED  # this, nobody asked for
    server_control.refresh_state(stale)
    assert fresh(server).error_message == "is Prepared, expected Described"


@pytest.mark.django_db(transaction=True)  # the threads write through connections of their own
def test_a_fan_out_writes_its_log_entries_together_and_knows_what_it_wrote(ecc_sim):
    """Within a fan-out, entries wait for its Saves (twenty servers not reached by Stop all
    were twenty commits); a server back online before they are written is still said to be."""
    from beamtime.daq.fanout import in_parallel

    server = make_ecc_server(make_experiment(), ecc_sim()[1])

    def away_and_back(server):
        port, server.port = server.port, 1
        server_control.refresh_state(server)
        written = LogEntry.objects.count()
        server.port = port
        server_control.refresh_state(server)
        return written

    assert in_parallel([server], away_and_back) == [0]
    messages = list(LogEntry.objects.order_by("pk").values_list("message", flat=True))
    assert len(messages) == 2 and messages[0].startswith("went offline")
    assert messages[1] == "back online, Idle"
    assert fresh(server).is_online is True
