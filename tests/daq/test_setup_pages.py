import pytest

from beamtime.daq.models import DataRouter, DataSource, ECCServer, Experiment, RunMetadata
from tests.factory import make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client, alice):
    experiment = make_experiment(members=[alice], coordinators=[alice])
    make_ecc_server(experiment, "http://10.0.0.1:8083/", name="ecc0")
    client.force_login(alice)
    return client


def test_list_add_edit_and_delete_an_ecc_server(member):
    assert "ecc0" in member.get("/daq/setup/servers/").content.decode()
    assert (
        member.post(
            "/daq/setup/servers/add",
            {"name": "ecc1", "ip_address": "10.0.0.2", "port": "8083", "log_path": ""},
        ).status_code
        == 302
    )
    server = ECCServer.objects.get(name="ecc1")
    assert server.experiment.name == "e20009"
    member.post(
        f"/daq/setup/servers/{server.pk}/",
        {"name": "ecc1", "ip_address": "10.0.0.3", "port": "8084", "log_path": ""},
    )
    server.refresh_from_db()
    assert (server.ip_address, server.port) == ("10.0.0.3", 8084)
    member.post(f"/daq/setup/servers/{server.pk}/delete")
    assert not ECCServer.objects.filter(name="ecc1").exists()


def test_a_duplicate_name_is_refused_with_the_field_named(member):
    response = member.post(
        "/daq/setup/servers/add", {"name": "ecc0", "ip_address": "10.0.0.2", "port": "8083"}
    )
    assert response.status_code == 200
    assert "this name or link is in use already" in response.content.decode()
    assert ECCServer.objects.filter(name="ecc0").count() == 1


def test_bad_values_name_the_field(member):
    response = member.post(
        "/daq/setup/routers/add",
        {"name": "r", "ip_address": "h", "port": "-1", "connection_type": "UDP"},
    )
    errors = response.context["form"].errors
    assert set(errors) == {"ip_address", "port", "connection_type", "staging_directory"}


def test_a_source_links_only_components_of_the_same_experiment(member):
    other = make_experiment("other", active=False)
    foreign = make_ecc_server(other, "http://10.1.0.1:8083/", name="foreign", sources=0)
    router = DataRouter.objects.create(
        experiment=ECCServer.objects.get(name="ecc0").experiment, name="r9", ip_address="10.0.0.9"
    )
    response = member.post(
        "/daq/setup/sources/add",
        {"name": "CoBo[9]", "ecc_server": foreign.pk, "data_router": router.pk},
    )
    assert "ecc_server" in response.context["form"].errors
    assert not DataSource.objects.filter(name="CoBo[9]").exists()


def test_components_of_another_experiment_are_404(member):
    other = make_experiment("other", active=False)
    foreign = make_ecc_server(other, "http://10.1.0.1:8083/", name="foreign")
    assert member.get(f"/daq/setup/servers/{foreign.pk}/").status_code == 404
    assert member.post(f"/daq/setup/servers/{foreign.pk}/delete").status_code == 404
    assert ECCServer.objects.filter(pk=foreign.pk).exists()


def test_charlie_sees_no_set_up(client, charlie, member):
    client.force_login(charlie)
    assert client.get("/daq/setup/servers/").status_code == 404


class TestExperiments:
    def test_only_staff_manage_experiments(self, member):
        assert member.get("/daq/experiments/").status_code == 302  # to the admin login

    def test_staff_create_and_switch(self, client, alice, member):
        alice.is_staff = True
        alice.save()
        client.force_login(alice)
        client.post("/daq/experiments/", {"name": "e21000", "members": [alice.pk]})
        new = Experiment.objects.get(name="e21000")
        assert client.post(f"/daq/experiments/{new.pk}/activate").status_code == 302
        assert list(Experiment.objects.filter(is_active=True).values_list("name", flat=True)) == [
            "e21000"
        ]

    def test_no_switch_while_a_run_is_in_progress(self, client, alice, member):
        alice.is_staff = True
        alice.save()
        client.force_login(alice)
        current = Experiment.objects.get(is_active=True)
        RunMetadata.objects.create(experiment=current, run_number=0)
        new = make_experiment("e21000", active=False)
        response = client.post(f"/daq/experiments/{new.pk}/activate")
        assert response.status_code == 409
        assert "is taking run 0000: stop it first" in response.content.decode()
        assert Experiment.objects.get(is_active=True) == current
