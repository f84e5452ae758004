"""The run record: each run's .xcfg files archived with their SHA-256, and compared between
runs (API and page), with ECC servers simulated over real SOAP/HTTP."""

import hashlib

import pytest

from beamtime.configs import store
from beamtime.daq import server_control
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import DataRouter
from beamtime.daq.runs import ecc_instrument, start_run, stop_run
from tests.factory import make_api_key, make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(ecc_sim, configs_dir, tmp_path, settings, alice):
    """An experiment whose ECC server (a simulator) was brought to Ready over SOAP; the
    facility names the simulator's configuration folder for its host."""
    settings.DAQ_CONFIG_ROOTS = {"127.0.0.1": [str(configs_dir)]}
    (configs_dir / "configure-beam.xcfg").write_text("<Setup>\n  <Gain>120fC</Gain>\n</Setup>\n")
    (tmp_path / "staging").mkdir()
    experiment = make_experiment(members=[alice])
    server = make_ecc_server(experiment, ecc_sim()[1], staging=str(tmp_path / "staging"))
    for target in (State.DESCRIBED, State.PREPARED, State.READY):
        assert server_control.change_state(server, target, follow_for=10), server.error_message
    return experiment


def one_run(experiment, user):
    run = start_run(experiment, user)
    stop_run(experiment)
    DataRouter.objects.update(staging_directory_is_clean=True)  # as if filed
    return run


def test_each_run_archives_its_xcfg_files_with_their_sha256(ready, configs_dir, alice):
    run = one_run(ready, alice)
    archived = store.configuration_at(ecc_instrument(ready), run.start_datetime)["ecc0"]
    for step, name in [("describe", "cobo"), ("prepare", "standard"), ("configure", "beam")]:
        data = (configs_dir / f"{step}-{name}.xcfg").read_bytes()
        assert archived.attributes[f"{step}_xcfg"] == data.decode()
        assert archived.attributes[f"{step}_sha256"] == hashlib.sha256(data).hexdigest()


def test_a_file_edited_between_runs_shows_in_the_diff(ready, configs_dir, alice, client):
    first = one_run(ready, alice)
    (configs_dir / "configure-beam.xcfg").write_text("<Setup>\n  <Gain>240fC</Gain>\n</Setup>\n")
    second = one_run(ready, alice)
    headers = {"Authorization": f"Bearer {make_api_key(alice)[1]}"}
    url = f"/api/daq/runs/{first.run_number}/diff/{second.run_number}"
    (server,) = client.get(url, headers=headers).json()
    assert (server["server"], server["archived"], server["same"]) == ("ecc0", True, False)
    steps = {s["step"]: s for s in server["steps"]}
    assert steps["describe"]["same"] and steps["describe"]["diff"] == []
    configure = steps["configure"]
    assert configure["before"]["name"] == configure["after"]["name"] == "beam"
    assert configure["before"]["sha256"] != configure["after"]["sha256"]
    assert "-  <Gain>120fC</Gain>" in configure["diff"]
    assert "+  <Gain>240fC</Gain>" in configure["diff"]

    client.force_login(alice)
    page = client.get(f"/daq/runs/{first.run_number}/diff/{second.run_number}")
    assert page.status_code == 200
    assert "+  &lt;Gain&gt;240fC&lt;/Gain&gt;" in page.content.decode()


def test_a_run_goes_on_when_the_files_cannot_be_read(ready, settings, tmp_path, alice):
    settings.DAQ_CONFIG_ROOTS = {"127.0.0.1": [str(tmp_path / "elsewhere")]}
    run = one_run(ready, alice)
    archived = store.configuration_at(ecc_instrument(ready), run.start_datetime)["ecc0"]
    assert archived.attributes["configure"] == "beam"
    assert archived.attributes["configure_sha256"] is None
    assert archived.attributes["xcfg_error"] == "the .xcfg files could not be read"


def test_a_symbolic_link_out_of_the_folder_is_not_archived(ready, configs_dir, tmp_path, alice):
    secret = tmp_path / "secret"
    secret.write_text("SECRET_KEY=x")
    (configs_dir / "configure-beam.xcfg").unlink()
    (configs_dir / "configure-beam.xcfg").symlink_to(secret)
    run = one_run(ready, alice)
    archived = store.configuration_at(ecc_instrument(ready), run.start_datetime)["ecc0"]
    assert archived.attributes["configure_xcfg"] is None
    assert "SECRET" not in str(archived.attributes)


def test_runs_of_another_experiment_are_not_compared(ready, alice, bob, client):
    one_run(ready, alice)
    one_run(ready, alice)
    client.force_login(bob)
    assert client.get("/daq/runs/0/diff/1").status_code == 404
