import pytest
from django.utils import timezone

from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import ConfigId, ECCServer, LogEntry, RunMetadata
from tests.factory import make_api_key, make_ecc_server, make_experiment


@pytest.fixture
def setup(alice, bob, charlie):
    """alice coordinates the active experiment, bob is a member (a shifter); charlie is not."""
    experiment = make_experiment(members=[alice, bob], coordinators=[alice])
    # Addresses nobody answers on: the status must come from the database alone.
    servers = [
        make_ecc_server(experiment, f"http://127.0.0.1:1{i}/", name=f"ecc{i}") for i in range(2)
    ]
    return experiment, servers


def auth(user):
    return {"Authorization": f"Bearer {make_api_key(user)[1]}"}


@pytest.mark.django_db
class TestStatus:
    def test_it_reports_what_the_database_knows_in_the_manuals_fields(self, client, setup, alice):
        ECCServer.objects.update(state=State.PREPARED)
        body = client.get("/api/daq/status", headers=auth(alice)).json()
        assert (body["overall_state"], body["overall_state_name"]) == (3, "Prepared")
        assert body["run_number"] is None
        result = body["individual_results"][0]
        assert set(result) >= {
            "success",
            "pk",
            "error_message",
            "state",
            "state_name",
            "transitioning",
        }
        assert (result["state_name"], result["selected_config"]) == (
            "Prepared",
            "cobo/standard/beam",
        )

    def test_a_running_run_is_shown_with_its_duration(self, client, setup, alice):
        experiment, _ = setup
        RunMetadata.objects.create(experiment=experiment, run_number=7, state="recording")
        body = client.get("/api/daq/status", headers=auth(alice)).json()
        assert body["run_number"] == 7 and body["running"] is True
        assert body["run_duration"].count(":") == 2

    def test_charlie_sees_nothing_and_staff_see_all(self, client, setup, charlie):
        assert client.get("/api/daq/status", headers=auth(charlie)).status_code == 404
        charlie.is_staff = True
        charlie.save()
        assert client.get("/api/daq/status", headers=auth(charlie)).status_code == 200


@pytest.mark.django_db
class TestControls:
    def test_global_controls_need_one_shared_state(self, client, setup, alice):
        ECCServer.objects.filter(name="ecc1").update(state=State.DESCRIBED)
        response = client.post("/api/daq/actions/prepare", headers=auth(alice))
        assert response.status_code == 409
        assert "share one state; now: Mixed" in response.json()["error"]

    def test_an_action_that_does_not_fit_the_state_is_refused(self, client, setup, alice):
        response = client.post("/api/daq/actions/configure", headers=auth(alice))
        assert response.status_code == 409
        assert response.json()["error"] == "no single transition from IDLE to READY"

    def test_start_is_refused_unless_ready_and_takes_no_run_number(self, client, setup, alice):
        ECCServer.objects.update(state=State.PREPARED)
        response = client.post("/api/daq/actions/start", headers=auth(alice))
        assert response.status_code == 409
        assert not RunMetadata.objects.exists()

    def test_unknown_actions_are_404(self, client, setup, alice):
        assert client.post("/api/daq/actions/explode", headers=auth(alice)).status_code == 404

    def test_charlie_cannot_control_anything(self, client, setup, charlie):
        _, servers = setup
        assert client.post("/api/daq/actions/describe", headers=auth(charlie)).status_code == 404
        assert (
            client.post(
                f"/api/daq/servers/{servers[0].pk}/actions/describe", headers=auth(charlie)
            ).status_code
            == 404
        )
        response = client.post(
            f"/api/daq/servers/{servers[0].pk}/config",
            {"config": "cobo/standard/beam"},
            content_type="application/json",
            headers=auth(charlie),
        )
        assert response.status_code == 404

    def test_a_server_of_another_experiment_is_not_found(self, client, setup, alice):
        other = make_experiment("old", active=False)
        server = make_ecc_server(other, "http://127.0.0.1:19/", name="old-ecc")
        assert (
            client.post(
                f"/api/daq/servers/{server.pk}/actions/describe", headers=auth(alice)
            ).status_code
            == 404
        )


@pytest.mark.django_db
class TestConfigChoice:
    def test_a_member_chooses_an_offered_configuration(self, client, setup, bob):
        _, servers = setup
        ConfigId.objects.create(
            ecc_server=servers[0], describe="mutant", prepare="standard", configure="beam"
        )
        response = client.post(
            f"/api/daq/servers/{servers[0].pk}/config",
            {"config": "mutant/standard/beam"},
            content_type="application/json",
            headers=auth(bob),
        )
        assert response.status_code == 200
        assert (
            str(ECCServer.objects.get(pk=servers[0].pk).selected_config) == "mutant/standard/beam"
        )

    @pytest.mark.parametrize("config", ["nope/standard/beam", "cobo/standard", "a/b/c/d"])
    def test_an_unknown_configuration_is_refused(self, client, setup, bob, config):
        _, servers = setup
        response = client.post(
            f"/api/daq/servers/{servers[0].pk}/config",
            {"config": config},
            content_type="application/json",
            headers=auth(bob),
        )
        assert response.status_code == 422
        assert "offers no configuration set" in response.json()["error"]

    def test_only_an_idle_server_changes_configuration(self, client, setup, bob):
        _, servers = setup
        ECCServer.objects.update(state=State.READY)
        response = client.post(
            f"/api/daq/servers/{servers[0].pk}/config",
            {"config": "cobo/standard/beam"},
            content_type="application/json",
            headers=auth(bob),
        )
        assert response.status_code == 409


@pytest.mark.django_db
def test_clearing_the_log(client, setup, alice):
    experiment, _ = setup
    LogEntry.objects.create(experiment=experiment, source="ecc0", message="boom")
    body = client.delete("/api/daq/log", headers=auth(alice)).json()
    assert body["log_entries"] == [] and not LogEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_whole_run_through_the_api_with_real_servers_and_worker(
    client, ecc_sim, celery_worker, alice, tmp_path
):
    import time

    experiment = make_experiment(members=[alice])
    (tmp_path / "staging").mkdir()
    for i in range(2):
        make_ecc_server(
            experiment, ecc_sim(delay=0.1)[1], name=f"ecc{i}", staging=str(tmp_path / "staging")
        )
    headers = auth(alice)

    def wait_for(name):
        for _ in range(300):
            body = client.get("/api/daq/status", headers=headers).json()
            # The servers reach the state before the task that moved them releases the
            # experiment's transition: the next action is taken only once it is released.
            if (
                body["overall_state_name"] == name
                and not body["transition"]
                and not any(r["transitioning"] for r in body["individual_results"])
            ):
                return body
            time.sleep(0.1)
        pytest.fail(f"never reached {name}: {body}")

    for action, state in [
        ("describe", "Described"),
        ("prepare", "Prepared"),
        ("configure", "Ready"),
    ]:
        assert client.post(f"/api/daq/actions/{action}", headers=headers).status_code == 200
        wait_for(state)
    assert client.post("/api/daq/actions/start", headers=headers).status_code == 200
    body = wait_for("Running")
    assert (body["run_number"], body["running"]) == (0, True)
    assert client.post("/api/daq/actions/stop", headers=headers).status_code == 200
    body = wait_for("Ready")
    assert body["running"] is False
    assert RunMetadata.objects.get().configs == {
        "ecc0": "cobo/standard/beam",
        "ecc1": "cobo/standard/beam",
    }


@pytest.mark.django_db
class TestRunLogApi:
    @pytest.fixture
    def headers(self, setup, alice):
        from beamtime.daq.models import Observable

        experiment, _ = setup
        Observable.objects.create(
            experiment=experiment, name="Beam current", value_type="float", units="pA"
        )
        RunMetadata.objects.create(experiment=experiment, run_number=0)
        return auth(alice)

    def test_fill_in_and_read_a_run(self, client, headers):
        response = client.patch(
            "/api/daq/runs/0",
            {"title": "10Be", "run_class": "beam", "values": {"Beam current": 12.5}},
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 200, response.json()
        (run,) = client.get("/api/daq/runs", headers=headers).json()
        assert (run["title"], run["run_class"], run["values"]) == (
            "10Be",
            "beam",
            {"Beam current": 12.5},
        )

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({"values": {"Beam current": "lots"}}, "Beam current [pA]: Enter a number."),
            ({"values": {"Colour": 1}}, "values: no observable 'Colour' in this experiment"),
            ({"run_class": "party"}, "Run class: Select a valid choice."),
        ],
    )
    def test_bad_values_name_the_field(self, client, headers, body, message):
        response = client.patch(
            "/api/daq/runs/0", body, content_type="application/json", headers=headers
        )
        assert response.status_code == 422
        assert response.json()["error"].startswith(message)

    def test_observables_add_change_order_delete(self, client, headers):
        created = client.post(
            "/api/daq/observables",
            {"name": "Gas pressure", "units": "torr"},
            content_type="application/json",
            headers=headers,
        )
        assert created.status_code == 201
        pk = created.json()["id"]
        duplicate = client.post(
            "/api/daq/observables",
            {"name": "gas pressure"},
            content_type="application/json",
            headers=headers,
        )
        assert duplicate.status_code == 422
        ordered = client.post(
            "/api/daq/observables/order",
            {"order": [pk]},
            content_type="application/json",
            headers=headers,
        ).json()
        assert [o["name"] for o in ordered] == ["Gas pressure", "Beam current"]
        assert client.delete(f"/api/daq/observables/{pk}", headers=headers).status_code == 204

    def test_easy_setup(self, client, headers):
        RunMetadata.objects.update(stop_datetime=timezone.now())
        response = client.post(
            "/api/daq/easy-setup",
            {
                "num_cobos": 2,
                "first_cobo_ecc_ip": "10.1.0.1",
                "first_cobo_data_router_ip": "10.2.0.1",
                "staging_directory": "/data/staging",
            },
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 200, response.json()
        assert [s["name"] for s in response.json()["individual_results"]] == ["ECC0", "ECC1"]
        bad = client.post(
            "/api/daq/easy-setup",
            {
                "num_cobos": 2,
                "first_cobo_ecc_ip": "10.1.0.999",
                "first_cobo_data_router_ip": "10.2.0.1",
                "staging_directory": "/data/staging",
            },
            content_type="application/json",
            headers=headers,
        )
        assert (
            bad.status_code == 422
            and "IP address of the first CoBo's ECC server" in bad.json()["error"]
        )

    def test_charlie_reaches_none_of_it(self, client, headers, charlie):
        for method, path in [
            ("get", "/api/daq/runs"),
            ("patch", "/api/daq/runs/0"),
            ("get", "/api/daq/observables"),
            ("post", "/api/daq/easy-setup"),
        ]:
            response = getattr(client, method)(
                path, {}, content_type="application/json", headers=auth(charlie)
            )
            assert response.status_code in (404, 422), (path, response.status_code)
            assert response.status_code == 404 or method != "get"


@pytest.mark.django_db
class TestSetupApi:
    def test_add_change_list_and_delete_a_router(self, client, setup, alice):
        headers = auth(alice)
        created = client.post(
            "/api/daq/setup/routers",
            {
                "name": "r9",
                "ip_address": "10.0.0.9",
                "port": 46005,
                "connection_type": "TCP",
                "staging_directory": "/data/staging",
            },
            content_type="application/json",
            headers=headers,
        )
        assert created.status_code == 201, created.json()
        pk = created.json()["id"]
        changed = client.put(
            f"/api/daq/setup/routers/{pk}",
            {
                "name": "r9",
                "ip_address": "10.0.0.10",
                "port": 46006,
                "connection_type": "FDT",
                "staging_directory": "/data/staging",
            },
            content_type="application/json",
            headers=headers,
        )
        assert changed.json()["connection_type"] == "FDT"
        names = [r["name"] for r in client.get("/api/daq/setup/routers", headers=headers).json()]
        assert "r9" in names
        assert client.delete(f"/api/daq/setup/routers/{pk}", headers=headers).status_code == 204

    def test_bad_input_names_the_field(self, client, setup, alice):
        response = client.post(
            "/api/daq/setup/servers",
            {"name": "ecc9", "ip_address": "127.0.0.1", "port": "x"},
            content_type="application/json",
            headers=auth(alice),
        )
        assert response.status_code == 422 and response.json()["error"].startswith("Port:")
        duplicate = client.post(
            "/api/daq/setup/servers",
            {"name": "ecc0", "ip_address": "127.0.0.1", "port": 1},
            content_type="application/json",
            headers=auth(alice),
        )
        assert duplicate.status_code == 409
        assert client.get("/api/daq/setup/widgets", headers=auth(alice)).status_code == 404

    def test_experiments_are_staff_business(self, client, setup, alice):
        assert client.get("/api/daq/experiments", headers=auth(alice)).status_code == 403
        alice.is_staff = True
        alice.save()
        other = make_experiment("e21000", active=False)
        response = client.post(f"/api/daq/experiments/{other.pk}/activate", headers=auth(alice))
        assert response.json()["is_active"] is True
