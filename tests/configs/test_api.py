from datetime import UTC, datetime

import pytest

from tests.factory import make_api_key, make_history, make_unit

T0 = datetime(2017, 1, 10, 18, tzinfo=UTC)
T1 = datetime(2018, 3, 2, 20, tzinfo=UTC)


@pytest.fixture
def key(alice):
    make_history(
        (T0, {"013": make_unit("024"), "014": make_unit("025", specslot="043")}),
        (T1, {"013": make_unit("031")}),
    )
    return {"Authorization": f"Bearer {make_api_key(alice)[1]}"}


@pytest.mark.django_db
class TestConfigsApi:
    def test_it_lists_instruments(self, client, key):
        names = [i["name"] for i in client.get("/api/configs/", headers=key).json()]
        assert "hetdex" in names

    def test_it_returns_the_configuration_at_a_date(self, client, key):
        body = client.get("/api/configs/hetdex/at?when=20180101", headers=key).json()
        assert body["at"] == "2018-01-02T06:00:00Z"  # midnight of that night in Texas (CST)
        assert [(e["slot"], e["attributes"]["ifuid"]) for e in body["entries"]] == [
            ("013", "024"),
            ("014", "025"),
        ]
        assert body["entries"][0]["valid_until"] == "2018-03-02T20:00:00Z"

    def test_it_returns_a_slots_history(self, client, key):
        history = client.get("/api/configs/hetdex/slots/013/history", headers=key).json()
        assert [h["attributes"]["ifuid"] for h in history] == ["024", "031"]
        assert history[1]["valid_from"] == history[0]["valid_until"]

    def test_it_diffs_two_dates(self, client, key):
        body = client.get(
            "/api/configs/hetdex/diff?before=20170601&after=latest", headers=key
        ).json()
        assert [(s["slot"], s["after"] is None) for s in body["slots"]] == [
            ("013", False),
            ("014", True),
        ]
        assert body["slots"][0]["fields"] == ["ifuid"]

    def test_it_returns_the_audit_trail(self, client, key):
        changes = client.get("/api/configs/hetdex/changes", headers=key).json()
        assert [c["valid_from"] for c in changes] == [
            "2018-03-02T20:00:00Z",
            "2017-01-10T18:00:00Z",
        ]

    def test_a_bad_date_names_the_parameter(self, client, key):
        response = client.get("/api/configs/hetdex/at?when=someday", headers=key)
        assert response.status_code == 400
        assert response.json()["error"].startswith("when: cannot read the date 'someday'")

    def test_unknown_instruments_and_slots_are_404(self, client, key):
        assert client.get("/api/configs/nope/at", headers=key).status_code == 404
        assert client.get("/api/configs/hetdex/slots/999/history", headers=key).status_code == 404

    def test_it_needs_authentication(self, client, key):
        assert client.get("/api/configs/hetdex/at").status_code == 401


@pytest.mark.django_db
def test_the_configuration_of_a_run_is_the_one_valid_when_it_started(client, alice, bob):
    from beamtime.configs import store
    from beamtime.configs.models import Instrument
    from beamtime.daq.models import RunMetadata
    from tests.factory import make_experiment

    experiment = make_experiment("e20009", members=[alice])
    ecc = Instrument.objects.create(name="ecc-e20009", title="ECC configurations")
    first = store.apply_change(ecc, {"cobo-0": {"describe": "d1"}}, valid_from=T0)
    second = store.apply_change(ecc, {"cobo-0": {"describe": "d2"}}, valid_from=T1)
    for number, start, change in [(11, T0 + (T1 - T0) / 2, first), (12, T1, second)]:
        RunMetadata.objects.create(
            experiment=experiment, run_number=number, start_datetime=start, config_change=change
        )
    key = {"Authorization": f"Bearer {make_api_key(alice)[1]}"}
    body = client.get("/api/configs/ecc-e20009/runs/11", headers=key).json()
    assert (body["run"], body["experiment"]) == (11, "e20009")
    assert [e["attributes"] for e in body["entries"]] == [{"describe": "d1"}]
    body = client.get("/api/configs/ecc-e20009/runs/12", headers=key).json()
    assert [e["attributes"] for e in body["entries"]] == [{"describe": "d2"}]
    assert client.get("/api/configs/ecc-e20009/runs/13", headers=key).status_code == 404
    outsider = {"Authorization": f"Bearer {make_api_key(bob)[1]}"}
    assert client.get("/api/configs/ecc-e20009/runs/11", headers=outsider).status_code == 404


@pytest.mark.django_db
def test_a_coordinator_who_is_no_member_reads_the_runs_configuration(client, alice, bob, charlie):
    """The one rule of core.access.experiments_for_user: member, coordinator or staff."""
    from beamtime.configs import store
    from beamtime.daq.models import RunMetadata
    from beamtime.daq.runs import ecc_instrument
    from tests.factory import make_experiment

    experiment = make_experiment("e20009", members=[alice], coordinators=[bob])
    ecc = ecc_instrument(experiment)
    change = store.apply_change(ecc, {"cobo-0": {"describe": "d1"}}, valid_from=T0)
    RunMetadata.objects.create(
        experiment=experiment, run_number=3, start_datetime=T0, config_change=change
    )
    url = f"/api/configs/{ecc.name}/runs/3"
    for user, status in [(alice, 200), (bob, 200), (charlie, 404)]:
        client.force_login(user)
        assert client.get(url).status_code == status
