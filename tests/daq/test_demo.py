import io
import socket
import time

import pytest
from django.core.management import call_command

from beamtime.daq import demo
from beamtime.daq.ecc.client import EccClient, EccUnreachable
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import DataSource, ECCServer, Experiment
from beamtime.supervisor import Supervisor


@pytest.mark.django_db
def test_the_demo_experiment_has_ten_cobos_and_a_mutant_each_with_a_configuration(alice):
    call_command("load_demo", stdout=io.StringIO())
    experiment = Experiment.objects.get(name="demo")
    assert experiment.is_active and alice in experiment.members.all()
    assert alice in experiment.coordinators.all()
    assert sorted(DataSource.objects.values_list("name", flat=True)) == sorted(
        [f"CoBo[{i}]" for i in range(10)] + ["MuTAnT"]
    )
    assert len({s.port for s in ECCServer.objects.all()}) == 11
    assert str(ECCServer.objects.get(name="ecc_mutant").selected_config) == "mutant/experiment/beam"
    call_command("load_demo", stdout=io.StringIO())
    assert Experiment.objects.count() == 1


@pytest.mark.django_db
def test_the_demo_simulators_start_on_free_ports_even_with_18083_taken(alice, settings):
    # A running demo (or anything) holds the old fixed first port: the demo still starts.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", demo.PORT))
        taken.listen()
        call_command("load_demo", stdout=io.StringIO())
        supervisor = Supervisor()
        try:
            ports = demo.start_simulators(supervisor, settings.HOME)
            assert demo.PORT not in ports and len(set(ports)) == 11
            servers = ECCServer.objects.filter(experiment__name="demo")
            assert sorted(s.port for s in servers) == sorted(ports)
            # each recorded server answers over SOAP, as the platform will ask it
            deadline = time.monotonic() + 30
            for server in servers:
                client = EccClient(server.url, timeout=2)
                while True:
                    try:
                        assert client.status().state == State.IDLE
                        break
                    except EccUnreachable:
                        assert time.monotonic() < deadline, f"{server.name} never answered"
                        time.sleep(0.2)
        finally:
            supervisor.stop()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ports", "18083,x"], "--ports 18083,x: not a list of port numbers"),
        ([], "ecc-sim needs --port (or --ports)"),
    ],
)
def test_the_simulator_refuses_ports_it_cannot_read(args, message, tmp_path, capsys):
    from beamtime.cli import main

    assert main(["ecc-sim", "--configs", str(tmp_path), *args]) == 2
    assert capsys.readouterr().err == f"beamtime: {message}\n"
