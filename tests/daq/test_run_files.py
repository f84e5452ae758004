"""A run's page lists what each data router filed, with sizes; *Reduce* appears only where a
reduction instrument reads the files. The files are written by the ECC simulator (over real
SOAP/HTTP) and filed as after Stop."""

import shutil
import time
from pathlib import Path

import pytest

from beamtime.daq import router_control, server_control
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import DataRouter
from beamtime.daq.runs import start_run, stop_run
from beamtime.reduction.instruments.refl.nexus import NexusError, load_nexus
from tests.factory import make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db
NEXUS = Path("/work/shared/data/ncnr-pbr/mli0115.nxs.pbr")


@pytest.fixture
def filed_run(ecc_sim, tmp_path, alice):
    """Run 0 recorded by a simulated ECC server and filed into STAGING/EXPERIMENT/run_0000."""
    staging = tmp_path / "staging"
    staging.mkdir()
    experiment = make_experiment(members=[alice])
    server = make_ecc_server(experiment, ecc_sim()[1], staging=str(staging))
    for target in (State.DESCRIBED, State.PREPARED, State.READY):
        assert server_control.change_state(server, target, follow_for=10), server.error_message
    run = start_run(experiment, alice)
    assert server_control.change_state(server, State.RUNNING, follow_for=10), server.error_message
    time.sleep(0.5)  # the simulator writes while it runs
    assert server_control.change_state(server, State.READY, follow_for=10), server.error_message
    stop_run(experiment)
    (router,) = DataRouter.objects.filter(experiment=experiment)
    assert router_control.organize_files(router, experiment.name, run.run_number)
    return run, staging / experiment.name / "run_0000"


def test_graw_files_are_listed_with_their_sizes_and_no_reduce_link(filed_run, client, alice):
    run, folder = filed_run
    files = sorted(folder.iterdir())
    assert files and all(f.suffix == ".graw" for f in files)
    with pytest.raises(NexusError):  # indeed no reduction instrument reads them
        load_nexus(str(files[0]))
    client.force_login(alice)
    page = client.get(f"/daq/runs/{run.run_number}/files").content.decode()
    for f in files:
        assert f"<code>{f.name}</code>" in page
        assert f'data-bytes="{f.stat().st_size}"' in page
    assert f.stat().st_size > 0
    assert "Reduce</a>" not in page
    assert "No reduction instrument reads these files" in page
    runs = client.get("/daq/runs/").content.decode()
    assert "source=daq" not in runs and f"/daq/runs/{run.run_number}/files" in runs


def test_nexus_files_offer_reduce_on_their_router(filed_run, client, alice):
    run, folder = filed_run
    shutil.copy(NEXUS, folder / NEXUS.name)
    assert load_nexus(str(folder / NEXUS.name))  # the reduction reads it
    client.force_login(alice)
    page = client.get(f"/daq/runs/{run.run_number}/files").content.decode()
    experiment, router = run.experiment.name, run.experiment.data_routers.get().name
    link = f"?source=daq&amp;path={experiment}/{router}/run_0000"
    assert link in page and "Reduce</a>" in page
    assert f'data-bytes="{NEXUS.stat().st_size}"' in page


def test_a_router_that_filed_nothing_says_so(filed_run, client, alice):
    run, folder = filed_run
    shutil.rmtree(folder)
    client.force_login(alice)
    page = client.get(f"/daq/runs/{run.run_number}/files").content.decode()
    assert "no files filed here (yet)" in page and "Reduce</a>" not in page


def test_another_experiments_people_see_no_files(filed_run, client, bob):
    client.force_login(bob)
    assert client.get(f"/daq/runs/{filed_run[0].run_number}/files").status_code == 404


def test_stalled_routers_are_asked_at_once(stalled_hosts, tmp_path, client, alice):
    from beamtime.daq.models import RunMetadata

    hosts = stalled_hosts(4)

    experiment = make_experiment(members=[alice])
    make_ecc_server(experiment, "http://127.0.0.1:9/", sources=4, staging=str(tmp_path))
    for router, host in zip(experiment.data_routers.order_by("name"), hosts, strict=True):
        DataRouter.objects.filter(pk=router.pk).update(ip_address=host)
    RunMetadata.objects.create(experiment=experiment, run_number=1, state="complete")
    client.force_login(alice)
    began = time.monotonic()
    page = client.get("/daq/runs/1/files").content.decode()
    took = time.monotonic() - began
    assert page.count("the router&#x27;s host cannot be reached") == 4
    assert took < 5, f"{took:.1f} s for four routers of a 2 s timeout (one each: 8 s)"
