"""Run control of a hundred simulated ECC servers, served by one simulator process's loop
(run_all) over real HTTP, as `beamtime ecc-sim --count 100` serves them. Stop all with a
tenth of them offline — five refusing connections, five leaving them unanswered like hosts
off the network — stops every reachable one and logs the others. How fast is the bench's
business (bench/daq_scale.py, two hundred servers)."""

import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from beamtime.celery import app
from beamtime.daq import actions
from beamtime.daq.ecc.client import EccClient
from beamtime.daq.ecc.protocol import State
from beamtime.daq.ecc.simulator import EccSimulator, make_server, run_all
from beamtime.daq.models import ECCServer, Experiment, LogEntry, RunMetadata
from tests.factory import make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db(transaction=True)  # the worker threads use own connections
SERVERS = 100


@pytest.fixture(autouse=True)
def eager(settings):
    settings.DAQ_ECC_CONNECT_TIMEOUT = 0.5
    settings.DAQ_ECC_TIMEOUT = 5.0
    settings.DAQ_TRANSITION_TIMEOUT = 20.0
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def hundred(configs_dir, alice):
    """A hundred Ready simulators on one loop, and an experiment with a server for each."""
    pairs = []
    for _ in range(SERVERS):
        simulator = EccSimulator(configs_dir, delay=0.05)
        simulator.state = State.READY
        pairs.append((simulator, make_server(simulator)))
    loop = threading.Thread(target=run_all, args=(pairs,), daemon=True)
    loop.start()
    experiment = make_experiment(members=[alice])
    urls = []
    for i, (_, server) in enumerate(pairs):
        host, port = server.server_address[:2]
        urls.append(f"http://{host}:{port}/")
        make_ecc_server(experiment, urls[-1], name=f"ecc{i:03d}", sources=0)
    ECCServer.objects.update(state=State.READY, target_state=State.READY)
    yield experiment, [simulator for simulator, _ in pairs], urls
    for simulator, _ in pairs:
        simulator.stopped.set()
    loop.join(30)


def wait_until_closed(url: str, timeout: float = 10) -> None:
    """Until the simulator's loop has closed the port (its next tick): connections are
    refused or go unanswered. Before, a request is still taken, or reset by the closing."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((parts.hostname, parts.port), timeout=0.2).close()
        except OSError:  # refused, or no answer within 0.2 s
            return
        time.sleep(0.05)
    raise AssertionError(f"{url} still takes connections after {timeout} s")


def test_stop_all_with_a_tenth_offline_stops_every_reachable_server(hundred, alice):
    experiment, simulators, urls = hundred
    actions.global_action(experiment, "start", alice)
    assert RunMetadata.objects.get().state == "recording"
    assert all(s.state == State.RUNNING for s in simulators)

    offline = {f"ecc{i:03d}": i for i in range(0, SERVERS, SERVERS // 10)}
    for n, i in enumerate(offline.values()):
        EccClient(urls[i]).special("go-silent" if n % 2 else "go-offline")
        assert simulators[i].stopped.wait(5)
    for i in offline.values():
        wait_until_closed(urls[i])

    actions.global_action(Experiment.objects.get(pk=experiment.pk), "stop", alice)

    run = RunMetadata.objects.get()
    assert run.state == "stopped" and run.stop_datetime is not None
    reachable = [s for i, s in enumerate(simulators) if i not in offline.values()]
    assert len(reachable) == 90 and all(s.state == State.READY for s in reachable)
    rows = {s.name: s for s in ECCServer.objects.all()}
    assert all(
        (row.state, row.is_online, row.error_message) == (State.READY, True, "")
        for name, row in rows.items()
        if name not in offline
    )
    assert all(not rows[name].is_online for name in offline)
    not_reached = LogEntry.objects.filter(message__startswith="not reached")
    assert sorted(not_reached.values_list("source", flat=True)) == sorted(offline)
    silent = [name for n, name in enumerate(offline) if n % 2]
    for name in silent:  # unanswered, not refused: only the connect timeout was waited for
        went = LogEntry.objects.get(source=name, message__startswith="went offline")
        assert "no connection within 0.5 s" in went.message
    assert Experiment.objects.get(pk=experiment.pk).transition == ""
