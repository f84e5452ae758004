"""The configuration sets: fetched when a server is added or changed and whenever it is Idle,
on demand through the API, and chosen for one server or every server offering a set."""

import pytest

from beamtime.celery import app
from beamtime.daq import server_control
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import ECCServer
from tests.factory import make_api_key, make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db


def auth(user):
    return {"Authorization": f"Bearer {make_api_key(user)[1]}"}


def offered(server) -> list[str]:
    return [str(c) for c in ECCServer.objects.get(pk=server.pk).configs.all()]


def test_a_new_server_found_idle_lists_its_sets_unasked(ecc_sim):
    _, url = ecc_sim()
    server = make_ecc_server(make_experiment(), url, config=None)
    ECCServer.objects.filter(pk=server.pk).update(is_online=False)
    server_control.refresh_state(ECCServer.objects.get(pk=server.pk))
    assert offered(server) == ["cobo/standard/beam", "mutant/standard/beam"]


def test_back_to_idle_the_list_follows_the_files(ecc_sim, configs_dir):
    _, url = ecc_sim()
    server = make_ecc_server(make_experiment(), url)
    assert server_control.change_state(server, State.DESCRIBED)
    (configs_dir / "configure-pulser.xcfg").write_text("<Setup/>")
    server_control.refresh_state(server)  # Described: not fetched
    assert "cobo/standard/pulser" not in offered(server)
    assert server_control.change_state(ECCServer.objects.get(pk=server.pk), State.IDLE)
    assert "cobo/standard/pulser" in offered(server)


def test_a_script_sets_up_and_chooses_configurations_through_the_api_alone(
    client, ecc_sim, alice, django_capture_on_commit_callbacks
):
    experiment = make_experiment(members=[alice], coordinators=[alice])
    headers = auth(alice)
    pks = []
    app.conf.task_always_eager = True
    try:
        for i in range(3):
            port = int(ecc_sim()[1].rstrip("/").rsplit(":", 1)[1])
            with django_capture_on_commit_callbacks(execute=True):
                created = client.post(
                    "/api/daq/setup/servers",
                    {"name": f"ecc{i}", "ip_address": "127.0.0.1", "port": port},
                    content_type="application/json",
                    headers=headers,
                )
            assert created.status_code == 201
            pks.append(created.json()["id"])
    finally:
        app.conf.task_always_eager = False
    # fetched when added, without anyone asking
    listed = client.get(f"/api/daq/servers/{pks[0]}/configs", headers=headers).json()
    assert [c["config"] for c in listed] == ["cobo/standard/beam", "mutant/standard/beam"]
    refreshed = client.post(f"/api/daq/servers/{pks[1]}/configs/refresh", headers=headers)
    assert len(refreshed.json()) == 2

    ECCServer.objects.filter(pk=pks[2]).update(state=State.DESCRIBED)
    response = client.post(
        f"/api/daq/servers/{pks[0]}/config",
        {"config": "mutant/standard/beam", "for_all": True},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200
    chosen = {r["name"]: r["selected_config"] for r in response.json()["individual_results"]}
    assert chosen == {"ecc0": "mutant/standard/beam", "ecc1": "mutant/standard/beam", "ecc2": None}
    assert experiment.ecc_servers.count() == 3


def test_charlie_reads_no_configuration_list(client, ecc_sim, charlie):
    server = make_ecc_server(make_experiment(), ecc_sim()[1])
    for method, path in [("get", "configs"), ("post", "configs/refresh")]:
        response = getattr(client, method)(
            f"/api/daq/servers/{server.pk}/{path}", headers=auth(charlie)
        )
        assert response.status_code == 404


@pytest.mark.django_db(transaction=True)  # the task's threads use connections of their own
def test_the_lists_of_idle_servers_are_fetched_again_periodically(ecc_sim, configs_dir, settings):
    """Beat fetches the lists of the Idle, online servers again (files are edited on the ECC
    hosts while nobody looks); a server elsewhere, offline, or any while a transition is
    under way or a run records, is not asked."""
    from beamtime.daq import tasks, transitions
    from beamtime.daq.models import ConfigId, RunMetadata
    from tests.daq.test_control import record_calls

    entry = settings.CELERY_BEAT_SCHEDULE["refresh-ecc-configs"]
    assert entry["task"] == "beamtime.daq.tasks.refresh_configs_idle"
    assert entry["schedule"] == entry["options"]["expires"] == settings.DAQ_CONFIG_REFRESH_SECONDS

    experiment = make_experiment()
    sims, servers = [], []
    for i in range(3):  # ecc0 Idle, ecc1 Described, ecc2 Idle but last seen offline
        simulator, url = ecc_sim()
        server = make_ecc_server(experiment, url, name=f"ecc{i}")
        server_control.refresh_configs(server)
        sims.append(simulator)
        servers.append(server)
    sims[1].state = State.DESCRIBED
    ECCServer.objects.filter(name="ecc1").update(state=State.DESCRIBED)
    ECCServer.objects.filter(name="ecc2").update(is_online=False)
    calls = [record_calls(simulator) for simulator in sims]
    before = set(ConfigId.objects.values_list("pk", "last_fetched"))

    assert tasks.refresh_configs_idle() == 1  # nothing new: nothing written
    assert set(ConfigId.objects.values_list("pk", "last_fetched")) == before
    (configs_dir / "configure-pulser.xcfg").write_text("<Setup/>")
    assert tasks.refresh_configs_idle() == 1

    assert "cobo/standard/pulser" in offered(servers[0])
    assert "cobo/standard/pulser" not in offered(servers[1]) + offered(servers[2])
    assert calls == [["GetConfigIDs", "GetConfigIDs"], [], []]

    (configs_dir / "configure-cosmics.xcfg").write_text("<Setup/>")
    transitions.claim(experiment, "describe")
    assert tasks.refresh_configs_idle() == 0
    transitions.release(experiment.pk, "describe")
    run = RunMetadata.objects.create(experiment=experiment, run_number=0, state="recording")
    assert tasks.refresh_configs_idle() == 0
    assert calls == [["GetConfigIDs", "GetConfigIDs"], [], []]
    assert "cobo/standard/cosmics" not in offered(servers[0])

    RunMetadata.objects.filter(pk=run.pk).update(state="stopped", stop_datetime=run.start_datetime)
    assert tasks.refresh_configs_idle() == 1
    assert "cobo/standard/cosmics" in offered(servers[0])
