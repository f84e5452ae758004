"""The open doors of issue 12, each tried as an attack: log files outside the facility's log
folders, hosts outside its networks, another experiment's configuration archive, and
members doing what belongs to the experiment's coordinators."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from beamtime import conf
from beamtime.daq import server_control
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import DataRouter, ECCServer, LogEntry, Observable, RunMetadata
from beamtime.daq.runs import start_run
from tests.factory import make_api_key, make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db


def auth(user):
    return {"Authorization": f"Bearer {make_api_key(user)[1]}"}


@pytest.fixture
def experiment(alice, bob):
    """alice coordinates, bob is a shifter; the server's log folder is allowed on loopback."""
    experiment = make_experiment(members=[bob], coordinators=[alice])
    make_ecc_server(experiment, "http://127.0.0.1:9/", name="ecc0")
    return experiment


@pytest.fixture
def logs(tmp_path, settings):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "ecc.log").write_text("the ECC server started\n")
    settings.DAQ_LOG_ROOTS = {"127.0.0.1": [str(folder)]}
    return folder


def server_form(**changes) -> dict:
    return {"name": "ecc0", "ip_address": "127.0.0.1", "port": 9, "log_path": "", **changes}


class TestLogFiles:
    @pytest.mark.parametrize(
        "path",
        ["/etc/passwd", "/proc/self/environ", "LOGS/../../secret_key", "LOGS/./ecc.log", "ecc.log"],
    )
    def test_a_log_path_outside_the_log_folders_is_refused_at_save(
        self, client, experiment, alice, logs, path
    ):
        path = path.replace("LOGS", str(logs))
        server = experiment.ecc_servers.get()
        response = client.put(
            f"/api/daq/setup/servers/{server.pk}",
            server_form(log_path=path),
            content_type="application/json",
            headers=auth(alice),
        )
        assert response.status_code == 422
        assert response.json()["error"].startswith("Log path:")
        client.force_login(alice)
        page = client.post(f"/daq/setup/servers/{server.pk}/", server_form(log_path=path))
        assert "log_path" in page.context["form"].errors
        assert ECCServer.objects.get(pk=server.pk).log_path == ""

    def test_a_log_path_inside_is_saved_and_read(self, client, experiment, alice, logs):
        server = experiment.ecc_servers.get()
        client.force_login(alice)
        client.post(f"/daq/setup/servers/{server.pk}/", server_form(log_path=f"{logs}/ecc.log"))
        page = client.get(f"/daq/servers/{server.pk}/log").content.decode()
        assert "the ECC server started" in page

    def test_without_log_folders_no_log_path_is_accepted(self, client, experiment, alice):
        response = client.post(
            "/api/daq/setup/servers",
            server_form(name="ecc9", log_path="/var/log/ecc.log"),
            content_type="application/json",
            headers=auth(alice),
        )
        assert response.status_code == 422
        assert "BEAMTIME_DAQ_LOG_ROOTS" in response.json()["error"]

    @pytest.mark.parametrize("target", ["/etc/passwd", "SECRET"])
    def test_a_path_saved_before_or_a_link_out_of_the_folder_is_refused_at_read(
        self, client, experiment, bob, logs, tmp_path, target
    ):
        (tmp_path / "secret_key").write_text("s3cret-key\n")
        (logs / "link.log").symlink_to(target.replace("SECRET", str(tmp_path / "secret_key")))
        server = experiment.ecc_servers.get()
        client.force_login(bob)
        for path in [target.replace("SECRET", str(tmp_path / "secret_key")), f"{logs}/link.log"]:
            ECCServer.objects.filter(pk=server.pk).update(log_path=path)
            page = client.get(f"/daq/servers/{server.pk}/log").content.decode()
            assert 'role="alert"' in page
            assert "root:" not in page and "s3cret" not in page
            assert str(tmp_path / "secret_key") not in page.replace(path, "")


class TestHosts:
    @pytest.mark.parametrize("host", ["8.8.8.8", "10.0.0.7", "db.internal", "169.254.169.254"])
    def test_by_default_only_this_host_is_allowed(self, client, experiment, alice, host, settings):
        settings.DAQ_HOSTS = conf.envhosts("DAQ_HOSTS_UNSET", "127.0.0.0/8,::1,localhost")
        response = client.post(
            "/api/daq/setup/routers",
            {"name": "r9", "ip_address": host, "port": 46005, "connection_type": "TCP"},
            content_type="application/json",
            headers=auth(alice),
        )
        assert response.status_code == 422
        assert response.json()["error"].startswith("Host:")
        assert "BEAMTIME_DAQ_HOSTS" in response.json()["error"]

    def test_networks_and_names_the_facility_lists_are_allowed(
        self, client, experiment, alice, settings
    ):
        settings.DAQ_HOSTS = ["192.168.40.0/24", "cobo-ecc.lab"]
        for name, host, status in [
            ("a", "192.168.40.17", 201),
            ("b", "192.168.41.17", 422),
            ("c", "COBO-ECC.lab", 201),
            ("d", "cobo-ecc.lab.evil.org", 422),
        ]:
            response = client.post(
                "/api/daq/setup/servers",
                server_form(name=name, ip_address=host),
                content_type="application/json",
                headers=auth(alice),
            )
            assert response.status_code == status, (host, response.json())

    @pytest.mark.parametrize("port", [0, 65536, 99999999999])
    def test_a_port_outside_1_to_65535_is_refused_naming_the_field(
        self, client, experiment, alice, tmp_path, port
    ):
        for kind, form in [
            ("servers", server_form(name="s4", port=port)),
            (
                "routers",
                {"name": "r4", "ip_address": "127.0.0.1", "port": port, "connection_type": "TCP"}
                | {"staging_directory": str(tmp_path)},
            ),
        ]:
            response = client.post(
                f"/api/daq/setup/{kind}",
                form,
                content_type="application/json",
                headers=auth(alice),
            )
            assert response.status_code == 422, response.json()
            assert response.json()["error"].startswith("Port:")
            client.force_login(alice)
            page = client.post(f"/daq/setup/{kind}/add", form)
            assert "port" in page.context["form"].errors
        assert not experiment.ecc_servers.filter(name="s4").exists()
        assert not experiment.data_routers.filter(name="r4").exists()

    def test_easy_setup_refuses_addresses_outside_naming_the_field(
        self, client, experiment, alice, settings
    ):
        settings.DAQ_HOSTS = ["192.168.1.0/24"]
        response = client.post(
            "/api/daq/easy-setup",
            {
                "num_cobos": 2,
                "first_cobo_ecc_ip": "192.168.1.1",
                "first_cobo_data_router_ip": "10.2.0.1",
                "staging_directory": "/data/staging",
            },
            content_type="application/json",
            headers=auth(alice),
        )
        assert response.status_code == 422
        assert response.json()["error"].startswith("IP address of the first CoBo's data router")

    def test_a_server_saved_before_on_a_host_now_refused_is_never_contacted(
        self, experiment, ecc_sim, settings
    ):
        simulator, url = ecc_sim()
        simulator.state = State.PREPARED
        server = make_ecc_server(experiment, url, name="old")
        settings.DAQ_HOSTS = ["10.0.0.0/8"]
        server_control.refresh_state(server)
        server_control.refresh_state(server)
        server.refresh_from_db()
        assert (
            server.state == State.IDLE and "not a host the facility allows" in server.error_message
        )
        assert LogEntry.objects.filter(source="old").count() == 1
        assert server_control.change_state(server, State.DESCRIBED) is False

    def test_what_a_stranger_at_an_address_answers_is_not_shown(self, experiment):
        class Chatty(BaseHTTPRequestHandler):
            def do_POST(self):
                body = b"<html>root:x:0:0 internal admin panel</html>"
                self.send_response(500)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Chatty)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            server = make_ecc_server(
                experiment, f"http://127.0.0.1:{httpd.server_address[1]}/", name="chatty"
            )
            server_control.refresh_state(server)
            server_control.change_state(server, State.DESCRIBED)
        finally:
            httpd.shutdown()
            httpd.server_close()
        shown = " ".join(LogEntry.objects.values_list("message", flat=True))
        shown += ECCServer.objects.get(name="chatty").error_message
        assert "root:" not in shown and "admin panel" not in shown
        assert "not an ECC server's answer" in shown or "SOAP fault" in shown

    def test_bad_facility_settings_stop_start_up_naming_the_variable(self, monkeypatch):
        monkeypatch.setenv("BEAMTIME_DAQ_HOSTS", "10.0.0.0/8,not a host!")
        with pytest.raises(conf.ConfigError, match="BEAMTIME_DAQ_HOSTS: 'not a host!'"):
            conf.envhosts("DAQ_HOSTS", "")
        monkeypatch.setenv("BEAMTIME_DAQ_LOG_ROOTS", "daq1=var/log")
        with pytest.raises(conf.ConfigError, match="BEAMTIME_DAQ_LOG_ROOTS: 'var/log'"):
            conf.envpathmap("DAQ_LOG_ROOTS")
        monkeypatch.setenv("BEAMTIME_DAQ_LOG_ROOTS", "daq1=/var/log/get,*=/srv/logs,daq1=/tmp/x")
        assert conf.envpathmap("DAQ_LOG_ROOTS") == {
            "daq1": ["/var/log/get", "/tmp/x"],
            "*": ["/srv/logs"],
        }


class TestArchive:
    def test_the_ecc_archive_follows_the_experiments_permissions(
        self, client, experiment, alice, bob, charlie
    ):
        ECCServer.objects.update(state=State.READY)
        DataRouter.objects.update(staging_directory="/data/staging")
        start_run(experiment, alice)
        name = experiment.config_instrument.name if experiment.config_instrument else "ecc-e20009"
        for user, status in [(bob, 200), (charlie, 404)]:
            assert client.get(f"/api/configs/{name}/at", headers=auth(user)).status_code == status
            listed = [i["name"] for i in client.get("/api/configs/", headers=auth(user)).json()]
            assert (name in listed) is (status == 200)
            client.force_login(user)
            assert client.get(f"/configs/{name}/").status_code == status
            assert client.get(f"/configs/{name}/diff/?before=2020-01-01").status_code == status

    def test_two_experiments_with_one_slug_keep_two_archives(self, experiment, alice):
        other = make_experiment("E20009", active=False)
        ECCServer.objects.update(state=State.READY)
        make_ecc_server(other, "http://127.0.0.1:9/", name="x")
        from beamtime.daq.runs import ecc_instrument

        assert ecc_instrument(experiment) != ecc_instrument(other)
        assert ecc_instrument(experiment) == ecc_instrument(experiment)


class TestRoles:
    def test_a_shifter_runs_controls_but_cannot_change_the_set_up(
        self, client, experiment, bob, logs
    ):
        server = experiment.ecc_servers.get()
        headers = auth(bob)
        for method, path, body in [
            ("put", f"/api/daq/setup/servers/{server.pk}", server_form(ip_address="10.0.0.1")),
            ("post", "/api/daq/setup/servers", server_form(name="ecc9")),
            ("delete", f"/api/daq/setup/servers/{server.pk}", {}),
            ("delete", "/api/daq/log", {}),
            (
                "post",
                "/api/daq/easy-setup",
                {
                    "num_cobos": 1,
                    "first_cobo_ecc_ip": "127.0.0.2",
                    "first_cobo_data_router_ip": "127.0.0.3",
                },
            ),
        ]:
            response = getattr(client, method)(
                path, body, content_type="application/json", headers=headers
            )
            assert response.status_code == 403, (path, response.content)
            assert "coordinators" in response.json()["error"]
        client.force_login(bob)
        assert client.post(f"/daq/setup/servers/{server.pk}/", server_form()).status_code == 403
        assert client.get("/daq/setup/easy").status_code == 403
        assert client.post("/daq/log/clear").status_code == 403
        assert client.get("/daq/setup/servers/").status_code == 200
        assert ECCServer.objects.get(pk=server.pk).ip_address == "127.0.0.1"
        # …but runs the controls and fills in the run sheet
        assert client.post("/api/daq/actions/configure", headers=headers).status_code == 409
        RunMetadata.objects.create(experiment=experiment, run_number=0)
        patched = client.patch(
            "/api/daq/runs/0", {"title": "t"}, content_type="application/json", headers=headers
        )
        assert patched.status_code == 200

    def test_a_shifter_cannot_hide_an_observable(self, client, experiment, bob, alice):
        observable = Observable.objects.create(experiment=experiment, name="Beam current")
        response = client.delete(f"/api/daq/observables/{observable.pk}", headers=auth(bob))
        assert response.status_code == 403
        assert (
            client.delete(f"/api/daq/observables/{observable.pk}", headers=auth(alice)).status_code
            == 204
        )
        assert Observable.objects.get(pk=observable.pk).is_hidden

    def test_the_set_up_is_locked_while_a_run_records(self, client, experiment, alice):
        RunMetadata.objects.create(experiment=experiment, run_number=0)
        server = experiment.ecc_servers.get()
        response = client.put(
            f"/api/daq/setup/servers/{server.pk}",
            server_form(port=10),
            content_type="application/json",
            headers=auth(alice),
        )
        assert response.status_code == 409 and "recording" in response.json()["error"]
        client.force_login(alice)
        assert (
            client.post(f"/daq/setup/servers/{server.pk}/", server_form(port=10)).status_code == 409
        )
        assert client.post(f"/daq/setup/servers/{server.pk}/delete").status_code == 409
        RunMetadata.objects.update(stop_datetime=timezone.now())
        assert (
            client.post(f"/daq/setup/servers/{server.pk}/", server_form(port=10)).status_code == 302
        )
        assert ECCServer.objects.get(pk=server.pk).port == 10


def test_staff_find_runs_log_entries_and_alarms_in_the_admin(client, experiment):
    from tests.factory import make_user

    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    RunMetadata.objects.create(experiment=experiment, run_number=0, state="aborted")
    for model in ["runmetadata", "logentry", "alarm"]:
        assert client.get(f"/admin/daq/{model}/").status_code == 200
