"""Demo: an experiment with 10 CoBos and a MuTAnT, each behind its own simulated ECC server,
which `beamtime serve --demo` starts next to the platform on ports free at that moment."""

import socket
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from beamtime.daq.models import ConfigId, DataRouter, DataSource, ECCServer, Experiment, Observable

PORT = 18083  # where the demo's servers are recorded until serve starts their simulators
COBOS = 10
CONFIG_FILES = [
    "describe-cobo",
    "describe-mutant",
    "prepare-experiment",
    "configure-beam",
    "configure-pulser",
]
OBSERVABLES = [
    ("Beam current", "float", "pA", "read off the Faraday cup before the run"),
    ("Gas pressure", "float", "torr", ""),
    ("Mesh voltage", "int", "V", ""),
    ("Beam species", "str", "", "e.g. 10Be"),
]


def demo_dir(home: Path) -> Path:
    return home / "demo"


def server_names() -> list[str]:
    """The demo's ECC servers, in the order of their simulators."""
    return [f"ecc{i}" for i in range(COBOS)] + ["ecc_mutant"]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports nothing listens on now, as the system hands them out (all held at once, so
    distinct)."""
    probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((host, 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def start_simulators(supervisor, home: Path) -> list[int]:
    """Start the demo's simulators on free ports and record those ports in the demo
    experiment's servers; returns the ports."""
    ports = free_ports(COBOS + 1)
    experiment = Experiment.objects.get(name="demo")
    for name, port in zip(server_names(), ports, strict=True):
        ECCServer.objects.filter(experiment=experiment, name=name).update(port=port)
    supervisor.start("ECC simulators", simulator_argv(home, ports))
    return ports


def simulator_argv(home: Path, ports: list[int]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "beamtime",
        "ecc-sim",
        "--ports",
        ",".join(map(str, ports)),
        "--configs",
        str(demo_dir(home) / "ecc-configs"),
        "--staging",
        str(demo_dir(home) / "staging"),
        "--delay",
        "0.5",
    ]


def load(stdout) -> None:
    folder = demo_dir(settings.HOME) / "ecc-configs"
    folder.mkdir(parents=True, exist_ok=True)
    for name in CONFIG_FILES:
        (folder / f"{name}.xcfg").write_text("<Setup/>\n")
    if Experiment.objects.filter(name="demo").exists():
        return
    experiment = Experiment.objects.create(
        name="demo", is_active=not Experiment.objects.filter(is_active=True).exists()
    )
    experiment.members.set(get_user_model().objects.all())
    experiment.coordinators.set(get_user_model().objects.all())  # a demo: everyone sets up
    names = [f"CoBo[{i}]" for i in range(COBOS)] + ["MuTAnT"]
    for i, source in enumerate(names):
        mutant = source == "MuTAnT"
        server = ECCServer.objects.create(
            experiment=experiment,
            name=server_names()[i],
            ip_address="127.0.0.1",
            port=PORT + i,
        )
        router = DataRouter.objects.create(
            experiment=experiment,
            name="DataRouter_mutant" if mutant else f"DataRouter{i}",
            ip_address="127.0.0.1",
            port=46005 + i,
            staging_directory=str(demo_dir(settings.HOME) / "staging" / f"ecc{i}"),
            process_name="ecc-sim",  # the simulator is the demo's data router
        )
        DataSource.objects.create(
            experiment=experiment, name=source, ecc_server=server, data_router=router
        )
        server.selected_config = ConfigId.objects.create(
            ecc_server=server,
            describe="mutant" if mutant else "cobo",
            prepare="experiment",
            configure="beam",
        )
        server.save()
    for order, (name, value_type, units, comment) in enumerate(OBSERVABLES):
        Observable.objects.create(
            experiment=experiment,
            name=name,
            value_type=value_type,
            units=units,
            comment=comment,
            order=order,
        )
    stdout.write(
        f"Demo: experiment 'demo' with {COBOS} CoBos and a MuTAnT on simulated ECC servers "
        "(on ports chosen free when serve starts).\n"
    )
