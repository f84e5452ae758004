"""The ECC SOAP interface, proven on the wire both ways with a real HTTP server:
a zeep client built from the real ECC WSDL drives Beamtime's simulator, and Beamtime's
client (built from its own WSDL) drives the simulator too."""

import signal
import subprocess
import sys
import time
import urllib.request

import pytest
import zeep
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from zeep.transports import Transport

from beamtime.daq.ecc.client import EccClient, EccError, EccUnreachable, request_envelope
from beamtime.daq.ecc.protocol import (
    ConfigId,
    DataLink,
    EccProtocolError,
    State,
    data_link_set_xml,
    parse_config_list,
    parse_data_link_set,
)
from tests.conftest import SHARED

LINKS = [
    DataLink("CoBo[0]", "router0", "127.0.0.1", 46005, "TCP"),
    DataLink("CoBo[1]", "router1", "127.0.0.1", 46006, "TCP"),
]
COBO = ConfigId("cobo", "standard", "beam")
SOAP_ENC_STUB = b"""<?xml version="1.0"?>
<schema xmlns="http://www.w3.org/2001/XMLSchema" targetNamespace="http://schemas.xmlsoap.org/soap/encoding/"/>"""


class OfflineTransport(Transport):
    """The real WSDL imports the SOAP encoding schema from the internet, which this machine
    cannot reach; the ECC types do not use it, so an empty schema stands in."""

    def load(self, url):
        if url.startswith("http://schemas.xmlsoap.org/soap/encoding"):
            return SOAP_ENC_STUB
        return super().load(url)


def real_wsdl_service(url):
    client = zeep.Client(str(SHARED / "protocols" / "ecc.wsdl"), transport=OfflineTransport())
    return client.create_service("{urn:ecc}ecc", url)


def test_a_client_from_the_real_wsdl_runs_the_simulator_through_a_whole_run(ecc_sim):
    simulator, url = ecc_sim()
    ecc = real_wsdl_service(url)
    answer = ecc.GetState()
    assert (answer.ErrorCode, answer.State, answer.Transition) == (0, 1, 0)
    configs = parse_config_list(ecc.GetConfigIDs().Text)
    assert configs == [ConfigId("cobo", "standard", "beam"), ConfigId("mutant", "standard", "beam")]

    table = data_link_set_xml(LINKS)
    for operation, state in [("Describe", 2), ("Prepare", 3), ("Configure", 4), ("Start", 5)]:
        answer = getattr(ecc, operation)(configID=COBO.to_xml(), table=table)
        assert answer.ErrorCode == 0, answer.ErrorMessage
        assert ecc.GetState().State == state

    # The data router writes one file per data source while running.
    simulator.advance()
    files = sorted((p.name.split("_")[0], p.stat().st_size) for p in simulator.staging.iterdir())
    assert [name for name, _ in files] == ["CoBo[0]", "CoBo[1]"]
    assert all(size > 0 for _, size in files)

    for operation, state in [("Stop", 4), ("Breakup", 3), ("Undo", 2), ("Undo", 1)]:
        assert getattr(ecc, operation)(configID=COBO.to_xml(), table=table).ErrorCode == 0
        assert ecc.GetState().State == state
    sizes = [p.stat().st_size for p in simulator.staging.iterdir()]
    simulator.advance()
    assert [p.stat().st_size for p in simulator.staging.iterdir()] == sizes  # stopped writing


def test_the_real_wsdl_client_sees_error_codes(ecc_sim):
    _, url = ecc_sim()
    answer = real_wsdl_service(url).Start(configID=COBO.to_xml(), table="")
    assert answer.ErrorCode == 1
    assert answer.ErrorMessage == "cannot Start from state Idle"


def shape(element) -> tuple:
    """An element's names, text and children: what a SOAP server reads (not the prefixes)."""
    return (element.tag, (element.text or "").strip(), [shape(child) for child in element])


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("GetState", {}),
        ("GetConfigIDs", {}),
        ("ServerExit", {}),
        ("Describe", {"configID": COBO.to_xml(), "table": data_link_set_xml(LINKS)}),
        ("Stop", {"configID": COBO.to_xml(), "table": ""}),
        ("Special", {"command": "fail-next 7", "table": ""}),
    ],
)
def test_beamtimes_requests_are_those_zeep_makes_from_the_real_wsdl(operation, params):
    client = zeep.Client(str(SHARED / "protocols" / "ecc.wsdl"), transport=OfflineTransport())
    service = client.create_service("{urn:ecc}ecc", "http://127.0.0.1:1/")
    theirs = client.create_message(service, operation, **params)
    assert shape(etree.fromstring(request_envelope(operation, **params))) == shape(theirs)


def test_beamtimes_client_drives_the_simulator(ecc_sim):
    _, url = ecc_sim()
    ecc = EccClient(url)
    assert ecc.config_ids()[0] == COBO
    state = State.IDLE
    for target in [
        State.DESCRIBED,
        State.PREPARED,
        State.READY,
        State.RUNNING,
        State.READY,
        State.PREPARED,
        State.DESCRIBED,
        State.IDLE,
    ]:
        ecc.step(state, target, COBO, LINKS)
        status = ecc.status()
        assert (status.state, status.transitioning) == (target, False)
        state = target


class TestFaults:
    def test_a_request_in_the_wrong_state_fails_and_changes_nothing(self, ecc_sim, caplog):
        _, url = ecc_sim()
        ecc = EccClient(url)
        with pytest.raises(EccError, match=r"Configure failed \(ECC error code 1\)") as raised:
            ecc.step(State.PREPARED, State.READY, COBO, LINKS)
        assert raised.value.code == 1
        assert "cannot Configure from state Idle" not in str(raised.value)  # in the log only
        assert "ECC error code 1: cannot Configure from state Idle" in caplog.text
        assert ecc.status().state == State.IDLE

    def test_an_unknown_configuration_is_refused(self, ecc_sim, caplog):
        _, url = ecc_sim()
        with pytest.raises(EccError, match="Describe failed") as raised:
            EccClient(url).step(
                State.IDLE, State.DESCRIBED, ConfigId("nope", "standard", "beam"), LINKS
            )
        assert raised.value.code == 3
        assert "no configuration files for nope/standard/beam" in caplog.text

    def test_injected_failures_leave_the_state_alone(self, ecc_sim):
        _, url = ecc_sim(fail_rate=1.0)
        ecc = EccClient(url)
        with pytest.raises(EccError, match="Describe failed") as raised:
            ecc.step(State.IDLE, State.DESCRIBED, COBO, LINKS)
        assert raised.value.code == 5
        assert ecc.status().state == State.IDLE

    def test_a_failure_on_demand_with_its_code(self, ecc_sim):
        _, url = ecc_sim()
        ecc = EccClient(url)
        ecc.special("fail-next 7")
        with pytest.raises(EccError) as raised:
            ecc.step(State.IDLE, State.DESCRIBED, COBO, LINKS)
        assert raised.value.code == 7
        ecc.step(State.IDLE, State.DESCRIBED, COBO, LINKS)  # only the next one failed
        assert ecc.status().state == State.DESCRIBED

    def test_a_servers_message_is_logged_on_one_line_and_truncated(self, ecc_sim, caplog):
        _, url = ecc_sim()
        ecc = EccClient(url, name="ecc3")
        ecc.special("fail-next 6 first line\n" + "x" * 500)
        with pytest.raises(EccError) as raised:
            ecc.step(State.IDLE, State.DESCRIBED, COBO, LINKS)
        assert str(raised.value) == (
            "Describe failed (ECC error code 6); the server's message is in Beamtime's log"
        )
        [record] = [r for r in caplog.records if "ECC error code 6" in r.getMessage()]
        prefix = f"ecc3 ({url}): Describe: ECC error code 6: "
        said = record.getMessage().removeprefix(prefix)
        assert said.startswith("first line xxx") and said.endswith("…") and len(said) == 200

    def test_a_slow_transition_is_reported_as_in_progress_and_blocks_others(self, ecc_sim, caplog):
        _, url = ecc_sim(delay=600)  # far longer than the test takes
        ecc = EccClient(url)
        ecc.step(State.IDLE, State.DESCRIBED, COBO, LINKS)
        assert ecc.status() == type(ecc.status())(State.IDLE, True)
        with pytest.raises(EccError, match=r"ECC error code 2\)") as raised:
            ecc.step(State.IDLE, State.DESCRIBED, COBO, LINKS)
        assert raised.value.code == 2
        assert "a transition to DESCRIBED is in progress" in caplog.text

    def test_a_server_that_hangs_is_a_timeout(self, ecc_sim):
        _, url = ecc_sim()
        EccClient(url).special("hang-next 3")
        with pytest.raises(EccUnreachable, match="no answer to GetState in time"):
            EccClient(url, timeout=0.5).status()

    def test_a_server_gone_offline_is_unreachable(self, ecc_sim):
        simulator, url = ecc_sim()
        EccClient(url).special("go-offline")
        simulator.stopped.wait(10)
        for _ in range(50):  # the listener closes right after answering
            try:
                EccClient(url, timeout=1).status()
            except EccUnreachable as exc:
                if "connection lost" in str(exc):  # taken into the queue as the port closed
                    continue
                assert "cannot connect" in str(exc)
                break
            time.sleep(0.1)
        else:
            pytest.fail("the simulator kept answering after go-offline")

    def test_a_host_off_the_network_costs_the_connect_timeout_only(self):
        import socket

        # A listener whose one-place queue is full: the kernel drops further connection
        # requests unanswered, as a host that is off the network does.
        with socket.socket() as listener, socket.socket() as first:
            listener.bind(("127.0.0.1", 0))
            listener.listen(0)
            first.connect(listener.getsockname())
            url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
            with pytest.raises(EccUnreachable, match=r"no connection within 0.3 s"):
                EccClient(url, timeout=30, connect_timeout=0.3).status()

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"not xml", b"not well-formed XML"),
            (b"<a/>", b"not a SOAP 1.1 envelope"),
            (
                b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/">'
                b'<e:Body><x:Boom xmlns:x="urn:ecc"/></e:Body></e:Envelope>',
                b"unknown operation 'Boom'",
            ),
        ],
    )
    def test_malformed_requests_get_a_soap_fault(self, ecc_sim, body, message):
        _, url = ecc_sim()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "text/xml"})
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=10)
        assert raised.value.code == 500
        text = raised.value.read()
        assert b"Fault" in text and message in text


class TestXml:
    def test_config_ids_round_trip(self):
        assert parse_config_list(f"<List>{COBO.to_xml()}</List>") == [COBO]

    def test_data_links_round_trip(self):
        assert parse_data_link_set(data_link_set_xml(LINKS)) == LINKS

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (
                "<ConfigId><SubConfigId type='describe'>a</SubConfigId></ConfigId>",
                "without a configure",
            ),
            (
                "<ConfigId><SubConfigId type='other'>a</SubConfigId></ConfigId>",
                "unknown type 'other'",
            ),
            (
                "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><ConfigId>&e;</ConfigId>",
                "without a",
            ),
            ("<unclosed>", "not well-formed"),
        ],
    )
    def test_bad_config_lists_are_refused_with_a_reason(self, text, message):
        with pytest.raises(EccProtocolError, match=message):
            parse_config_list(text)

    @given(st.text(max_size=200))
    def test_any_text_is_a_config_list_or_a_protocol_error(self, text):
        try:
            configs = parse_config_list(text)
        except EccProtocolError:
            return
        assert all(isinstance(c, ConfigId) for c in configs)

    @given(
        st.lists(
            st.builds(
                DataLink,
                st.text(max_size=8),
                st.text(max_size=8),
                st.text(max_size=8),
                st.integers(0, 65535),
                st.sampled_from(["FDT", "ICE", "TCP", "ZBUF"]),
            ),
            max_size=4,
        )
    )
    def test_any_links_survive_the_round_trip(self, links):
        # XML attributes cannot hold control characters; the names come from validated forms.
        clean = [k for k in links if (k.sender + k.router + k.ip_address).isprintable()]
        assert parse_data_link_set(data_link_set_xml(clean)) == clean


def test_the_ecc_sim_command_serves_until_sigterm(configs_dir, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "beamtime",
            "ecc-sim",
            "--port",
            str(port),
            "--configs",
            str(configs_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "with 2 configurations" in proc.stdout.readline()
        # The simulator serves its WSDL, and a client built from it works.
        client = zeep.Client(f"http://127.0.0.1:{port}/?wsdl")
        assert client.service.GetState().State == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()


def test_the_ecc_sim_command_names_a_missing_config_folder(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "beamtime",
            "ecc-sim",
            "--port",
            "1",
            "--configs",
            str(tmp_path / "nope"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().endswith("nope: no such folder")
