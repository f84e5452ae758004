import threading
from pathlib import Path

import pytest

from beamtime.daq.ecc.simulator import EccSimulator, make_server, run

SHARED = Path(__file__).resolve().parents[3] / "shared"


@pytest.fixture
def configs_dir(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    for name in [
        "describe-cobo.xcfg",
        "describe-mutant.xcfg",
        "prepare-standard.xcfg",
        "configure-beam.xcfg",
    ]:
        (folder / name).write_text("<Setup/>")
    return folder


@pytest.fixture
def ecc_sim(configs_dir, tmp_path):
    """Start simulated ECC servers on loopback: ecc_sim(delay=…, …) → (simulator, url)."""
    running = []

    def start(**options):
        simulator = EccSimulator(configs_dir, staging=tmp_path / "staging", seed=1, **options)
        server = make_server(simulator)
        thread = threading.Thread(target=run, args=(simulator, server), daemon=True)
        thread.start()
        running.append((simulator, thread))
        host, port = server.server_address[:2]
        return simulator, f"http://{host}:{port}/"

    yield start
    for simulator, thread in running:
        simulator.stopped.set()
        thread.join(30)
