import pytest

from beamtime.daq.models import DataRouter, DataSource, ECCServer, RunMetadata
from tests.factory import make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db

FORM = {
    "num_cobos": "3",
    "first_cobo_ecc_ip": "192.168.1.10",
    "first_cobo_data_router_ip": "192.168.2.60",
    "staging_directory": "/data/staging",
}


@pytest.fixture
def member(client, alice):
    experiment = make_experiment(members=[alice], coordinators=[alice])
    make_ecc_server(experiment, "http://10.9.9.9:8083/", name="old")
    client.force_login(alice)
    return client


def test_one_ecc_server_per_cobo_with_increasing_addresses(member):
    assert member.post("/daq/setup/easy", FORM).status_code == 302
    assert list(ECCServer.objects.values_list("name", "ip_address")) == [
        ("ECC0", "192.168.1.10"),
        ("ECC1", "192.168.1.11"),
        ("ECC2", "192.168.1.12"),
    ]
    assert list(DataRouter.objects.values_list("ip_address", flat=True)) == [
        "192.168.2.60",
        "192.168.2.61",
        "192.168.2.62",
    ]
    assert DataSource.objects.get(name="CoBo[1]").ecc_server.name == "ECC1"


def test_one_shared_ecc_server_and_a_mutant(member):
    member.post(
        "/daq/setup/easy",
        {
            **FORM,
            "one_ecc_server": "on",
            "mutant_is_present": "on",
            "mutant_data_router_ip": "192.168.2.99",
        },
    )
    assert list(ECCServer.objects.values_list("name", flat=True)) == ["ECC"]
    assert ECCServer.objects.get().data_sources.count() == 4
    assert DataSource.objects.get(name="MuTAnT").data_router.ip_address == "192.168.2.99"


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"first_cobo_ecc_ip": "192.168.1.300"}, "first_cobo_ecc_ip", "Enter a valid IPv4 address"),
        (
            {"first_cobo_ecc_ip": "192.168.1.253"},
            "first_cobo_ecc_ip",
            "run past the end of its subnet",
        ),
        ({"num_cobos": "0"}, "num_cobos", "greater than or equal to 1"),
        (
            {
                "mutant_is_present": "on",
                "mutant_ecc_ip": "192.168.1.11",
                "mutant_data_router_ip": "192.168.2.99",
            },
            "mutant_ecc_ip",
            "overlaps the CoBos' ECC servers (192.168.1.10 … 192.168.1.12)",
        ),
        (
            {
                "mutant_is_present": "on",
                "mutant_ecc_ip": "192.168.1.50",
                "mutant_data_router_ip": "192.168.2.61",
            },
            "mutant_data_router_ip",
            "overlaps the CoBos' data routers",
        ),
        ({"mutant_is_present": "on"}, "mutant_data_router_ip", "needed when there is a MuTAnT"),
    ],
)
def test_bad_forms_name_the_field_and_keep_the_old_set(member, extra, field, message):
    response = member.post("/daq/setup/easy", {**FORM, **extra})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert list(ECCServer.objects.values_list("name", flat=True)) == ["old"]


def test_it_refuses_while_a_run_is_in_progress(member):
    RunMetadata.objects.create(experiment=ECCServer.objects.get().experiment, run_number=0)
    response = member.post("/daq/setup/easy", FORM)
    assert "a run is in progress" in response.content.decode()
    assert list(ECCServer.objects.values_list("name", flat=True)) == ["old"]


def test_charlie_cannot_replace_the_set(client, charlie, alice):
    make_experiment(members=[alice])
    client.force_login(charlie)
    assert client.post("/daq/setup/easy", FORM).status_code == 404


def test_the_form_starts_from_the_current_set_up(member):
    member.post(
        "/daq/setup/easy",
        {
            **FORM,
            "mutant_is_present": "on",
            "mutant_ecc_ip": "192.168.1.99",
            "mutant_data_router_ip": "192.168.2.99",
        },
    )
    initial = member.get("/daq/setup/easy").context["form"].initial
    assert initial == {
        "num_cobos": 3,
        "one_ecc_server": False,
        "first_cobo_ecc_ip": "192.168.1.10",
        "first_cobo_data_router_ip": "192.168.2.60",
        "staging_directory": "/data/staging",
        "mutant_is_present": True,
        "mutant_ecc_ip": "192.168.1.99",
        "mutant_data_router_ip": "192.168.2.99",
    }


@pytest.mark.parametrize("router_host", ["127.0.0.1", "ssh"])
def test_an_empty_staging_folder_is_found_from_the_running_data_router(
    member, tmp_path, router_host, request
):
    """As the original DAQ did: the folder the dataRouter process works in, asked of its
    host (this one directly, another over SSH)."""
    import subprocess
    import sys

    host = request.getfixturevalue("ssh_host") if router_host == "ssh" else router_host
    folder = tmp_path / "router-cwd"
    folder.mkdir()
    router = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)", "dataRouter"], cwd=folder
    )
    try:
        form = {
            **FORM,
            "num_cobos": "1",
            "first_cobo_data_router_ip": host,
            "staging_directory": "",
        }
        assert member.post("/daq/setup/easy", form).status_code == 302
    finally:
        router.kill()
        router.wait()
    assert list(DataRouter.objects.values_list("ip_address", "staging_directory")) == [
        (host, str(folder.resolve()))
    ]


def test_no_running_data_router_and_no_folder_names_the_host(member, ssh_host):
    form = {
        **FORM,
        "num_cobos": "1",
        "first_cobo_data_router_ip": ssh_host,
        "staging_directory": "",
    }
    response = member.post("/daq/setup/easy", form)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["staging_directory"])
    assert "127.0.0.2: no dataRouter process runs there" in errors
    assert list(ECCServer.objects.values_list("name", flat=True)) == ["old"]


def test_stalled_hosts_are_asked_at_once(member, stalled_hosts):
    """64 routers' hosts hung: the form answers after about one SSH timeout (2 s here), not
    one per wave of 16 hosts (8 s)."""
    import time

    hosts = stalled_hosts(64)
    form = {**FORM, "num_cobos": "64", "first_cobo_data_router_ip": hosts[0]}
    began = time.monotonic()
    response = member.post("/daq/setup/easy", {**form, "staging_directory": ""})
    took = time.monotonic() - began
    errors = " ".join(response.context["form"].errors["staging_directory"])
    assert "not found on every data router's host" in errors and "(and 61 more)" in errors
    assert took < 5, f"{took:.1f} s for 64 hosts of a 2 s timeout"
