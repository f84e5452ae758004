import pytest

from beamtime.configs import store
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import DataRouter, ECCServer, RunMetadata
from beamtime.daq.runs import RunRefused, ecc_instrument, start_run, stop_run
from tests.factory import make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready():
    """An experiment whose two ECC servers are Ready and whose routers are clean."""
    experiment = make_experiment()
    for i in range(2):
        make_ecc_server(experiment, f"http://10.0.0.{i + 1}:8083/", name=f"ecc{i}")
    ECCServer.objects.update(state=State.READY)
    DataRouter.objects.update(staging_directory="/data/staging")
    return experiment


def test_runs_are_numbered_from_zero_without_gaps(ready, alice):
    numbers = []
    for _ in range(3):
        numbers.append(start_run(ready, alice).run_number)
        stop_run(ready)
        DataRouter.objects.update(staging_directory_is_clean=True)  # files organized
    assert numbers == [0, 1, 2]


def test_a_run_records_and_archives_the_configurations_in_use(ready, alice):
    run = start_run(ready, alice)
    assert run.configs == {"ecc0": "cobo/standard/beam", "ecc1": "cobo/standard/beam"}
    archived = store.configuration_at(ecc_instrument(ready), run.start_datetime)
    assert archived["ecc1"].attributes == {
        "host": "10.0.0.2:8083",
        "describe": "cobo",
        "prepare": "standard",
        "configure": "beam",
    }
    assert run.config_change.reason == "run 0 started" and run.config_change.made_by == alice


def test_an_unchanged_configuration_links_the_existing_record(ready):
    first = start_run(ready)
    stop_run(ready)
    DataRouter.objects.update(staging_directory_is_clean=True)
    second = start_run(ready)
    assert second.config_change == first.config_change


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda e: ECCServer.objects.filter(name="ecc1").update(state=State.PREPARED),
            "the system is Mixed",
        ),
        (lambda e: ECCServer.objects.update(state=State.PREPARED), "the system is Prepared"),
        (
            lambda e: ECCServer.objects.filter(name="ecc1").update(error_message="boom"),
            "the system is Error",
        ),
        (
            lambda e: DataRouter.objects.filter(name="ecc0-router0").update(
                staging_directory_is_clean=False
            ),
            "not clean yet (the last run's files are moving): ecc0-router0",
        ),
    ],
)
def test_a_run_starts_only_when_everything_is_ready(ready, setup, message):
    setup(ready)
    with pytest.raises(RunRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        start_run(ready)
    assert not RunMetadata.objects.exists()


def test_a_second_start_while_running_is_refused_and_takes_no_number(ready):
    start_run(ready)
    with pytest.raises(RunRefused, match="run 0000 is still running"):
        start_run(ready)
    stop_run(ready)
    DataRouter.objects.update(staging_directory_is_clean=True)
    assert start_run(ready).run_number == 1


def test_stopping_marks_the_routers_for_cleaning(ready):
    start_run(ready)
    run = stop_run(ready)
    assert run.stop_datetime is not None
    assert not DataRouter.objects.filter(staging_directory_is_clean=True).exists()
    with pytest.raises(RunRefused, match="no run is in progress"):
        stop_run(ready)


def test_the_run_table_links_the_configuration_history_at_the_start(client, ready, alice):
    ready.members.add(alice)
    run = start_run(ready, alice)
    client.force_login(alice)
    page = client.get("/daq/runs/").content.decode()
    link = f"/configs/ecc-e20009/?at={run.start_datetime:%Y%m%dT%H:%M:%S.%f}"
    assert link in page
    history = client.get(link).content.decode()
    assert "cobo" in history and "run 0 started" in history
