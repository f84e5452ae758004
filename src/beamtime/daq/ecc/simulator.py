"""An ECC server simulator: a real SOAP-over-HTTP server with the ECC state machine.

No GET electronics exist here, so Beamtime ships this stand-in (``beamtime ecc-sim``).
It lists the configurations found as describe-/prepare-/configure-NAME.xcfg files in a
folder, takes ``delay`` seconds for every transition (``Transition`` is non-zero
meanwhile), fails a fraction ``fail_rate`` of requests with an error code, and acts as
its data router too: while Running it writes run data files into a staging folder.

Faults can also be injected on demand with the ``Special`` operation:
``fail-next [CODE [MESSAGE]]``, ``hang-next SECONDS``, ``go-offline`` (the port closes: connections
are refused) and ``go-silent`` (connections go unanswered, as to a host off the network).
"""

import itertools
import logging
import random
import selectors
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path

from lxml import etree

from beamtime.daq.ecc.protocol import (
    NAMESPACE,
    PARSER,
    TRANSITIONS,
    UNDO,
    ConfigId,
    EccProtocolError,
    State,
    config_list_xml,
    parse_config_id,
    parse_data_link_set,
)

log = logging.getLogger("beamtime.ecc_sim")

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
MAX_REQUEST = 1 << 20
BLOCK = 64 * 1024  # bytes a data source "sends" per tick while running
TICK = 0.1

# Error codes the simulator answers with.
WRONG_STATE, BUSY, UNKNOWN_CONFIG, BAD_INPUT, INJECTED = 1, 2, 3, 4, 5


class EccSimulator:
    """The state of one simulated ECC server and its data sources."""

    def __init__(
        self, configs: Path, delay=0.0, fail_rate=0.0, staging: Path | None = None, seed=None
    ):
        self.configs, self.delay, self.fail_rate, self.staging = (
            Path(configs),
            delay,
            fail_rate,
            staging,
        )
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.state = State.IDLE
        self.target: State | None = None
        self.done_at = 0.0
        self.config: ConfigId | None = None
        self.senders: list[str] = []
        self.fail_next: int | None = None
        self.fail_message = ""
        self.hang_next = 0.0
        self.run_files: list[Path] = []
        self.stopped = threading.Event()
        self.silent = False  # after stopping: leave the port unanswered rather than closed

    # -- state machine -----------------------------------------------------------------------
    def advance(self):
        """Finish a transition whose time has come; write data while running."""
        with self.lock:
            if self.target is not None and time.monotonic() >= self.done_at:
                self.state, self.target = self.target, None
                if self.state == State.RUNNING:
                    self.open_run_files()
            if self.state == State.RUNNING and self.target is None:
                for path in self.run_files:
                    with path.open("ab") as f:
                        f.write(self.rng.randbytes(BLOCK))

    def open_run_files(self):
        self.run_files = []
        if self.staging is None:
            return
        self.staging.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        for sender in self.senders or ["CoBo"]:
            path = self.staging / f"{sender}_{stamp}_0000.graw"
            path.touch()
            self.run_files.append(path)

    def available_configs(self) -> list[ConfigId]:
        names = {
            step: sorted(p.name[len(step) + 1 : -5] for p in self.configs.glob(f"{step}-*.xcfg"))
            for step in ("describe", "prepare", "configure")
        }
        return [
            ConfigId(*combo)
            for combo in itertools.product(names["describe"], names["prepare"], names["configure"])
        ]

    def transition(self, operation: str, config_xml: str, table: str) -> tuple[int, str]:
        with self.lock:
            if self.target is not None:
                return (
                    BUSY,
                    f"{operation} refused: a transition to {self.target.name} is in progress",
                )
            if operation == "Undo":
                target = UNDO.get(self.state)
                source = self.state
            else:
                source, target = TRANSITIONS.get(operation, (None, None))
            if target is None or source != self.state:
                return WRONG_STATE, f"cannot {operation} from state {self.state.name.capitalize()}"
            try:
                if operation == "Describe":
                    config = parse_config_id(config_xml)
                    if config not in self.available_configs():
                        return UNKNOWN_CONFIG, f"no configuration files for {config}"
                    self.config = config
                if table.strip():
                    self.senders = [link.sender for link in parse_data_link_set(table)]
            except EccProtocolError as exc:
                return BAD_INPUT, str(exc)
            if self.fail_next is not None or self.rng.random() < self.fail_rate:
                code, self.fail_next = self.fail_next or INJECTED, None
                message, self.fail_message = self.fail_message, ""
                return code, message or f"{operation} failed (simulated fault)"
            self.target, self.done_at = target, time.monotonic() + self.delay
        self.advance()
        return 0, ""

    def special(self, command: str) -> tuple[int, str]:
        word, _, argument = command.strip().partition(" ")
        try:
            if word == "fail-next":
                code, _, message = argument.strip().partition(" ")
                self.fail_next = int(code or INJECTED)
                self.fail_message = message.strip()
            elif word == "hang-next":
                self.hang_next = float(argument)
            elif word in ("go-offline", "go-silent"):
                self.silent = word == "go-silent"
                self.stopped.set()
            else:
                return (
                    BAD_INPUT,
                    f"unknown special command {word!r} "
                    "(fail-next, hang-next, go-offline, go-silent)",
                )
        except ValueError:
            return BAD_INPUT, f"bad argument {argument!r} for {word}"
        return 0, ""

    # -- SOAP operations: name → (response element, fields) ------------------------------------
    def call(self, operation: str, params: dict[str, str]) -> tuple[str, dict]:
        if self.hang_next:
            pause, self.hang_next = self.hang_next, 0.0
            time.sleep(pause)
        self.advance()
        if operation == "GetState":
            with self.lock:
                return "ResponseState", {
                    "ErrorCode": 0,
                    "ErrorMessage": "",
                    "State": int(self.state),
                    "Transition": 0 if self.target is None else int(self.target),
                }
        if operation == "GetConfigIDs":
            return "ResponseText", {
                "ErrorCode": 0,
                "ErrorMessage": "",
                "Text": config_list_xml(self.available_configs()),
            }
        if operation == "ServerExit":
            self.stopped.set()
            return "Response", {"ErrorCode": 0, "ErrorMessage": ""}
        if operation == "Special":
            code, message = self.special(params.get("command", ""))
        elif operation in TRANSITIONS or operation == "Undo":
            code, message = self.transition(
                operation, params.get("configID", ""), params.get("table", "")
            )
        elif operation in ("Pause", "Resume"):
            code, message = WRONG_STATE, f"{operation} is not supported by this ECC server"
        else:
            raise EccProtocolError(f"unknown operation {operation!r}")
        return "ResponseText", {"ErrorCode": code, "ErrorMessage": message, "Text": ""}


def soap_response(element: str, fields: dict) -> bytes:
    envelope = etree.Element(
        f"{{{SOAP_ENV}}}Envelope", nsmap={"SOAP-ENV": SOAP_ENV, "ecc": NAMESPACE}
    )
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    node = etree.SubElement(body, f"{{{NAMESPACE}}}{element}")
    for name, value in fields.items():
        etree.SubElement(node, f"{{{NAMESPACE}}}{name}").text = str(value)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def soap_fault(message: str) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"SOAP-ENV": SOAP_ENV})
    fault = etree.SubElement(
        etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault"
    )
    etree.SubElement(fault, "faultcode").text = "SOAP-ENV:Client"
    etree.SubElement(fault, "faultstring").text = message
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def read_request(data: bytes) -> tuple[str, dict[str, str]]:
    """The operation and its parameters in a SOAP request envelope."""
    try:
        envelope = etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as exc:
        raise EccProtocolError(f"the request is not well-formed XML: {exc}") from None
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    if envelope.tag != f"{{{SOAP_ENV}}}Envelope" or body is None or len(body) == 0:
        raise EccProtocolError("the request is not a SOAP 1.1 envelope with a Body")
    call = body[0]
    name = etree.QName(call)
    if name.namespace != NAMESPACE:
        raise EccProtocolError(f"operation {name.localname!r} is not in namespace {NAMESPACE}")
    return name.localname, {etree.QName(child).localname: child.text or "" for child in call}


def make_server(simulator: EccSimulator, host="127.0.0.1", port=0) -> ThreadingHTTPServer:
    wsdl = files("beamtime.daq.ecc").joinpath("ecc.wsdl").read_text()

    class Handler(BaseHTTPRequestHandler):
        def reply(self, status: int, body: bytes, content_type="text/xml; charset=utf-8"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            host, port = self.server.server_address[:2]
            self.reply(
                200, wsdl.replace("http://localhost:8083", f"http://{host}:{port}/").encode()
            )

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST:
                self.reply(413, soap_fault(f"request larger than {MAX_REQUEST} bytes"))
                return
            try:
                operation, params = read_request(self.rfile.read(length))
                element, fields = simulator.call(operation, params)
            except EccProtocolError as exc:
                self.reply(500, soap_fault(str(exc)))
                return
            self.reply(200, soap_response(element, fields))

        def log_message(self, format, *args):
            log.debug("%s %s", self.address_string(), format % args)

    return ThreadingHTTPServer((host, port), Handler)


def run(simulator: EccSimulator, server: ThreadingHTTPServer) -> None:
    """Serve until ServerExit, go-offline or ``simulator.stopped`` is set from outside."""
    run_all([(simulator, server)])


def run_all(pairs: list[tuple[EccSimulator, ThreadingHTTPServer]]) -> None:
    """Serve simulators until each is stopped; one that stops closes its port, the others go on.

    One thread accepts on every port and ticks every simulator; each request is answered in
    a thread of its own. Two hundred simulators in one process thus answer at once and cost
    next to nothing while idle (a thread each, waking ten times a second, cost a core).
    """
    selector, silent = selectors.DefaultSelector(), []
    for simulator, server in pairs:
        server.timeout = 0  # handle_request: the selector here said a client is waiting
        selector.register(server, selectors.EVENT_READ, simulator)
    next_tick = time.monotonic()
    try:
        while selector.get_map():
            for key, _ in selector.select(max(0.0, next_tick - time.monotonic())):
                key.fileobj.handle_request()
            if time.monotonic() < next_tick:
                continue
            next_tick = time.monotonic() + TICK
            for key in list(selector.get_map().values()):
                if key.data.stopped.is_set():
                    selector.unregister(key.fileobj)
                    key.fileobj.server_close()
                    if key.data.silent:
                        silent += unanswered(key.fileobj)
                else:
                    key.data.advance()
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.server_close()
        selector.close()
        for sock in silent:
            sock.close()


def unanswered(server: ThreadingHTTPServer) -> list[socket.socket]:
    """A listener at the (closed) server's address whose queue, one place, is full: the
    kernel leaves further connection requests unanswered. Both sockets stay open until
    closed."""
    address = server.server_address[:2]
    listener = socket.socket(server.address_family)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(address)
    listener.listen(0)
    return [listener, socket.create_connection(address, timeout=1)]
