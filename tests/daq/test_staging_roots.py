"""Staging folders only where the facility allows them (BEAMTIME_DAQ_STAGING_ROOTS), and
never inside or around another experiment's (its filed runs): refused on save (form, API,
easy setup), and again on use (filing, run files), so a folder saved before the list existed
moves and shows nothing. The very same folder may be shared, as a dataRouter's working
directory serves one experiment after another."""

import pytest

from beamtime.daq import router_control
from beamtime.daq.models import Alarm, DataRouter, RunMetadata
from tests.factory import make_api_key, make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db


def auth(user):
    return {"Authorization": f"Bearer {make_api_key(user)[1]}"}


@pytest.fixture
def roots(tmp_path, settings):
    """The facility's one staging root, with expB's folder in it holding a run file."""
    root = tmp_path / "stage"
    (root / "stB").mkdir(parents=True)
    (root / "stB" / "b-secret.graw").write_bytes(b"expB's data")
    settings.DAQ_STAGING_ROOTS = {"127.0.0.1": [str(root)], "localhost": [str(root)]}
    return root


@pytest.fixture
def expA(alice):
    return make_experiment("expA", coordinators=[alice], members=[alice])


@pytest.fixture
def expB(roots, bob):
    experiment = make_experiment("expB", active=False, coordinators=[bob], members=[bob])
    make_ecc_server(experiment, "http://127.0.0.1:9/", staging=str(roots / "stB"))
    return experiment


def router_form(staging: str, host="127.0.0.1") -> dict:
    return {
        "name": "r9",
        "ip_address": host,
        "port": 46005,
        "connection_type": "TCP",
        "staging_directory": staging,
    }


@pytest.mark.parametrize(
    "staging, message",
    [
        ("/etc", "BEAMTIME_DAQ_STAGING_ROOTS"),
        ("/", "BEAMTIME_DAQ_STAGING_ROOTS"),
        ("ROOT/stB/expB/run_0001", "another experiment"),  # filing would move expB's run
        ("ROOT/stB/expB", "another experiment"),  # inside expB's filed runs
        ("ROOT", "another experiment"),  # around expB's folder
    ],
)
def test_a_staging_folder_outside_the_roots_or_anothers_is_refused_on_save(
    client, roots, expA, expB, alice, staging, message
):
    staging = staging.replace("ROOT", str(roots))
    response = client.post(
        "/api/daq/setup/routers",
        router_form(staging),
        content_type="application/json",
        headers=auth(alice),
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error.startswith("Staging directory:") and message in error
    client.force_login(alice)
    page = client.post("/daq/setup/routers/add", router_form(staging))
    assert message in " ".join(page.context["form"].errors["staging_directory"])
    assert not expA.data_routers.exists()


def test_this_hosts_other_name_is_the_same_host(client, roots, expA, expB, alice):
    response = client.post(
        "/api/daq/setup/routers",
        router_form(str(roots / "stB" / "expB"), host="localhost"),
        content_type="application/json",
        headers=auth(alice),
    )
    assert response.status_code == 422
    assert "another experiment" in response.json()["error"]


@pytest.mark.parametrize("folder", ["stA", "stB"])
def test_a_folder_of_its_own_or_the_very_one_of_another_experiment_is_saved(
    client, roots, expA, expB, alice, folder
):
    """The very folder of another experiment may be shared: one dataRouter's working directory
    serves one experiment after another (the original DAQ files each run under
    ./EXPERIMENT/run_NNNN), and no run starts while it holds unfiled files."""
    response = client.post(
        "/api/daq/setup/routers",
        router_form(f"{roots}/{folder}/"),
        content_type="application/json",
        headers=auth(alice),
    )
    assert response.status_code == 201
    assert expA.data_routers.get().staging_directory == f"{roots}/{folder}"


@pytest.mark.parametrize("staging", ["/etc", "ROOT/stB/expB"])
def test_easy_setup_refuses_it_naming_the_field(client, roots, expA, expB, alice, staging):
    response = client.post(
        "/api/daq/easy-setup",
        {
            "num_cobos": 1,
            "first_cobo_ecc_ip": "127.0.0.1",
            "first_cobo_data_router_ip": "127.0.0.1",
            "staging_directory": staging.replace("ROOT", str(roots)),
        },
        content_type="application/json",
        headers=auth(alice),
    )
    assert response.status_code == 422
    assert response.json()["error"].startswith("Staging folder of the data routers:")
    assert not expA.data_routers.exists()


def test_a_folder_saved_before_the_list_is_refused_on_use(client, roots, expA, expB, alice):
    """The reproduced attack: expA's router saved (before the upgrade) with a folder of
    expB's filed run. Filing expA's run takes nothing of expB's, and expA's run files page
    shows nothing."""
    filed = roots / "stB" / "expB" / "run_0001"
    (filed / "expA" / "run_0006").mkdir(parents=True)
    (filed / "b-filed.graw").write_bytes(b"expB's filed data")
    (filed / "expA" / "run_0006" / "b-old.graw").write_bytes(b"expB's older data")
    make_ecc_server(expA, "http://127.0.0.1:9/", staging=str(filed))
    router = expA.data_routers.get()
    DataRouter.objects.filter(pk=router.pk).update(staging_directory="/etc")
    router.refresh_from_db()
    assert not router_control.organize_files(router, "expA", 7)
    router.refresh_from_db()
    assert "BEAMTIME_DAQ_STAGING_ROOTS" in router.filing_error
    # Saved inside a root but inside expB's folder: refused on use as well.
    DataRouter.objects.filter(pk=router.pk).update(staging_directory=str(filed))
    router.refresh_from_db()
    assert not router_control.organize_files(router, "expA", 7)
    assert (filed / "b-filed.graw").read_bytes() == b"expB's filed data"
    assert not (filed / "expA" / "run_0007").exists()
    # The router check looks nowhere in it, raises an alarm, and keeps the router unclean.
    DataRouter.objects.filter(pk=router.pk).update(filing_run=None, staging_directory_is_clean=True)
    router.refresh_from_db()
    assert not router_control.check_router(router).staging_directory_is_clean
    (alarm,) = Alarm.objects.filter(experiment=expA, cleared_at=None, key__startswith="staging:")
    assert "another experiment" in alarm.message
    RunMetadata.objects.create(experiment=expA, run_number=6, state="complete")
    client.force_login(alice)
    page = client.get("/daq/runs/6/files").content.decode()
    assert "b-old.graw" not in page and "another experiment" in page


def test_a_folder_found_on_the_routers_host_is_checked_too(client, roots, expA, alice, tmp_path):
    """Easy setup left empty takes the folder the running dataRouter works in: outside the
    roots, it is refused naming the host and the setting."""
    import subprocess
    import sys

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    router = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)", "dataRouter"], cwd=elsewhere
    )
    try:
        response = client.post(
            "/api/daq/easy-setup",
            {
                "num_cobos": 1,
                "first_cobo_ecc_ip": "127.0.0.1",
                "first_cobo_data_router_ip": "127.0.0.1",
            },
            content_type="application/json",
            headers=auth(alice),
        )
    finally:
        router.kill()
        router.wait()
    assert response.status_code == 422
    error = response.json()["error"]
    assert error.startswith("Staging folder of the data routers:")
    assert "127.0.0.1: dataRouter works in" in error and "BEAMTIME_DAQ_STAGING_ROOTS" in error
    assert not expA.data_routers.exists()
