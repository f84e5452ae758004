from html.parser import HTMLParser

import pytest
from django.utils import timezone

from beamtime.daq.actions import ACTIONS
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import ECCServer, Experiment, LogEntry
from beamtime.daq.transitions import claim, claim_ttl, release
from tests.factory import make_api_key, make_ecc_server, make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client, alice):
    experiment = make_experiment(members=[alice])
    make_ecc_server(experiment, "http://127.0.0.1:11/", name="ecc0")
    make_ecc_server(experiment, "http://127.0.0.1:12/", name="ecc1")
    client.force_login(alice)
    return client


def test_the_status_page_shows_every_panel(member):
    ECCServer.objects.filter(name="ecc1").update(is_transitioning=True)
    page = member.get("/daq/").content.decode()
    for text in [
        "Run information",
        "ECC server status",
        "Data router status",
        "Log entries",
        "Describe all",
        "cobo/standard/beam",
        'class="spinner"',
        'hx-trigger="every 2s"',
    ]:
        assert text in page


def test_the_panels_show_the_overall_state(member):
    ECCServer.objects.update(state=State.READY)
    assert (
        '<p class="overall badge state-4" id="overall-state">Ready</p>'
        in member.get("/daq/panels").content.decode()
    )
    ECCServer.objects.filter(name="ecc1").update(state=State.PREPARED)
    assert ">Mixed</p>" in member.get("/daq/panels").content.decode()


def test_a_refused_action_is_explained_on_the_page(member):
    ECCServer.objects.filter(name="ecc1").update(state=State.PREPARED)
    page = member.post("/daq/actions/start").content.decode()
    assert "share one state; now: Mixed" in page


def test_a_refused_server_action_is_explained(member):
    server = ECCServer.objects.get(name="ecc0")
    page = member.post(f"/daq/servers/{server.pk}/actions/start").content.decode()
    assert "no single transition from IDLE to RUNNING" in page


def test_clearing_the_log(member):
    LogEntry.objects.create(
        experiment=ECCServer.objects.first().experiment, source="ecc0", message="boom"
    )
    assert "boom" in member.get("/daq/panels").content.decode()
    assert "boom" not in member.post("/daq/log/clear").content.decode()
    assert member.get("/daq/log/clear").status_code == 405


def test_choosing_a_configuration(member):
    server = ECCServer.objects.get(name="ecc0")
    assert "cobo/standard/beam" in member.get(f"/daq/servers/{server.pk}/config").content.decode()
    response = member.post(f"/daq/servers/{server.pk}/config", {"config": "x/y/z"})
    assert "offers no configuration set" in response.content.decode()
    assert (
        member.post(
            f"/daq/servers/{server.pk}/config", {"config": "cobo/standard/beam"}
        ).status_code
        == 302
    )


def test_choosing_asks_the_server_for_its_sets_on_request(member, ecc_sim):
    _, url = ecc_sim()
    server = make_ecc_server(ECCServer.objects.first().experiment, url, name="live", config=None)
    page = member.get(f"/daq/servers/{server.pk}/config?refresh=1").content.decode()
    assert "mutant/standard/beam" in page


def test_someone_not_in_the_experiment_sees_no_controls(client, charlie, alice):
    experiment = make_experiment(members=[alice])
    server = make_ecc_server(experiment, "http://127.0.0.1:11/")
    client.force_login(charlie)
    assert "no active experiment of yours" in client.get("/daq/").content.decode()
    assert client.get("/daq/panels").status_code == 404
    assert client.post("/daq/actions/describe").status_code == 404
    assert client.post(f"/daq/servers/{server.pk}/actions/describe").status_code == 404
    assert client.get(f"/daq/servers/{server.pk}/config").status_code == 404


def test_the_end_of_a_log_file(member, tmp_path, settings):
    settings.DAQ_LOG_ROOTS = {"127.0.0.1": [str(tmp_path)]}
    log = tmp_path / "ecc.log"
    log.write_text("".join(f"line {i}\n" for i in range(500)))
    ECCServer.objects.filter(name="ecc0").update(log_path=str(log))
    server = ECCServer.objects.get(name="ecc0")
    page = member.get(f"/daq/servers/{server.pk}/log").content.decode()
    assert "line 499" in page and "line 400" in page and "line 399\n" not in page


def test_a_missing_log_file_is_explained(member, tmp_path, settings):
    settings.DAQ_LOG_ROOTS = {"127.0.0.1": [str(tmp_path)]}
    ECCServer.objects.filter(name="ecc0").update(log_path=str(tmp_path / "nope.log"))
    server = ECCServer.objects.get(name="ecc0")
    page = member.get(f"/daq/servers/{server.pk}/log").content.decode()
    assert "nope.log" in page and 'role="alert"' in page
    other = make_ecc_server(
        make_experiment("other", active=False), "http://127.0.0.1:13/", name="x"
    )
    assert member.get(f"/daq/servers/{other.pk}/log").status_code == 404
    assert member.get(f"/daq/nonsense/{server.pk}/log").status_code == 404


def global_buttons(page: str) -> dict[str, str | None]:
    """Each global control's label and why it is disabled (None: enabled)."""
    found = {}

    class Buttons(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "button" and "control" in attrs.get("class", "").split():
                self.why = attrs.get("title") if "disabled" in attrs else None
                self.label = ""

        def handle_data(self, data):
            if hasattr(self, "label"):
                self.label += data

        def handle_endtag(self, tag):
            if tag == "button" and hasattr(self, "label"):
                found[self.label.strip()] = self.why
                del self.label

    Buttons().feed(page)
    return found


def test_while_a_transition_is_under_way_its_buttons_say_so_and_wait(member):
    experiment = ECCServer.objects.first().experiment
    claim(experiment, "describe")
    buttons = global_buttons(member.get("/daq/panels").content.decode())
    assert buttons == {f"{a.capitalize()} all": "describe is in progress" for a in ACTIONS}
    # what the page shows is what the server does: each is refused while describe holds
    for action in ACTIONS:
        assert "describe is in progress" in member.post(f"/daq/actions/{action}").content.decode()
    page = member.get("/daq/panels").content.decode()
    assert page.count('disabled title="describe is in progress"') == len(ACTIONS) * 3

    release(experiment.pk, "describe")
    claim(experiment, "start")  # Stop may always take a Start over
    buttons = global_buttons(member.get("/daq/panels").content.decode())
    assert buttons["Stop all"] is None
    assert buttons["Prepare all"] == "start is in progress"

    release(experiment.pk, "start")
    assert set(global_buttons(member.get("/daq/panels").content.decode()).values()) == {None}


def test_a_claim_left_by_a_dead_worker_stops_showing_once_it_expires(member, client, alice):
    experiment = ECCServer.objects.first().experiment
    claim(experiment, "prepare")
    Experiment.objects.update(transition_started_at=timezone.now() - 2 * claim_ttl())
    assert set(global_buttons(member.get("/daq/panels").content.decode()).values()) == {None}
    headers = {"Authorization": f"Bearer {make_api_key(alice)[1]}"}
    assert client.get("/api/daq/status", headers=headers).json()["transition"] == ""
    # and the server agrees: the expired claim is taken over
    page = member.post("/daq/actions/describe").content.decode()
    assert "prepare is in progress" not in page
