"""Beamtime's SOAP client for ECC servers: the document/literal messages of its WSDL
(ecc.wsdl), built and read with lxml, over HTTP/1.0 with a connection per call.

It is written for run control of a few hundred servers from one process: a call costs
about a tenth of the CPU it did through zeep and requests, and a server that is off the
network costs no more than the connect timeout. tests/daq/test_ecc.py proves its messages
against zeep with the original WSDL.
"""

import logging
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from beamtime.daq.ecc.protocol import (
    NAMESPACE,
    PARSER,
    ConfigId,
    DataLink,
    EccProtocolError,
    State,
    data_link_set_xml,
    operation_between,
    parse_config_list,
)

log = logging.getLogger("beamtime.daq")
MAX_MESSAGE = 200
MAX_ANSWER = 1 << 22  # bytes: a configuration list is a few kB
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
# The answer element of each operation (the WSDL's output messages).
ANSWERS = {"ServerExit": "Response", "GetState": "ResponseState"}  # others: ResponseText


def one_line(text) -> str:
    """An ECC server's error message as one short line of printable text."""
    text = " ".join(str(text or "").split())
    text = "".join(c for c in text if c.isprintable())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


class EccError(Exception):
    """An ECC server answered with a non-zero error code, a SOAP fault or nonsense."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class EccUnreachable(EccError):
    """The ECC server did not answer (offline, refused, timed out)."""


class NotAnAnswer(ValueError):
    """What came back is not the SOAP answer the operation has."""


@dataclass(frozen=True)
class EccStatus:
    state: State
    transitioning: bool


def request_envelope(operation: str, **params: str) -> bytes:
    """The SOAP 1.1 request: the operation's element in urn:ecc with its parameters."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap-env": SOAP_ENV})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    call = etree.SubElement(body, f"{{{NAMESPACE}}}{operation}", nsmap={"ecc": NAMESPACE})
    for name, value in params.items():
        etree.SubElement(call, f"{{{NAMESPACE}}}{name}").text = value
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def read_answer(operation: str, status: int, content: bytes) -> dict[str, str]:
    """The fields of the operation's answer; EccError for a SOAP fault."""
    try:
        envelope = etree.fromstring(content, PARSER)
    except etree.XMLSyntaxError:
        raise NotAnAnswer(f"HTTP {status}, not XML") from None
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    if envelope.tag != f"{{{SOAP_ENV}}}Envelope" or body is None or len(body) == 0:
        raise NotAnAnswer(f"HTTP {status}, not a SOAP envelope")
    answer = body[0]
    if answer.tag == f"{{{SOAP_ENV}}}Fault":
        raise EccError(one_line(answer.findtext("faultstring")))
    expected = ANSWERS.get(operation, "ResponseText")
    if status != 200 or answer.tag != f"{{{NAMESPACE}}}{expected}":
        raise NotAnAnswer(f"HTTP {status}, {etree.QName(answer).localname} for {expected}")
    return {etree.QName(child).localname: child.text or "" for child in answer}


class NotConnected(Exception):
    """No connection within the connect timeout, or refused."""


def post(url: str, message: bytes, connect_timeout: float, timeout: float) -> tuple[int, bytes]:
    """POST ``message`` over HTTP/1.0; the status and the body of the answer. NotConnected
    when no connection is made within ``connect_timeout``, TimeoutError when the answer is
    not complete within ``timeout``."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise NotConnected(f"not an http:// address: {url}")
    host, port = parts.hostname, parts.port or 80
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except TimeoutError:
        raise NotConnected(f"no connection within {connect_timeout:g} s") from None
    except OSError as exc:
        raise NotConnected(exc.strerror or type(exc).__name__) from None
    deadline = time.monotonic() + timeout
    data, length = b"", None
    with sock:
        sock.settimeout(timeout)
        head = (
            f"POST {parts.path or '/'} HTTP/1.0\r\nHost: {host}:{port}\r\n"
            f'Content-Type: text/xml; charset=utf-8\r\nSOAPAction: ""\r\n'
            f"Content-Length: {len(message)}\r\n\r\n"
        )
        sock.sendall(head.encode("ascii") + message)
        # The answer ends where the server closes, or after its Content-Length.
        while length is None or len(data) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if len(data) > MAX_ANSWER:
                raise NotAnAnswer(f"an answer larger than {MAX_ANSWER} bytes")
            if length is None and b"\r\n\r\n" in data:
                length = content_length(data)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
    head, _, content = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/"):
        raise NotAnAnswer("not an HTTP answer")
    try:
        return int(status_line[1]), content
    except ValueError:
        raise NotAnAnswer("not an HTTP status") from None


def content_length(data: bytes) -> int | None:
    """The length of the whole answer (head and body) when its head says, else None."""
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(head) + 4 + int(value)
    return None


class EccClient:
    def __init__(
        self, url: str, timeout: float = 10.0, connect_timeout: float = 1.0, name: str = ""
    ):
        self.url, self.timeout, self.connect_timeout = url, timeout, connect_timeout
        self.name = f"{name} ({url})" if name else url  # for the operators' log

    def _call(self, operation: str, **params: str) -> dict[str, str]:
        # What the server said (a fault, its ErrorMessage) goes to the operators' log only,
        # never into messages users see: Beamtime must not relay the answers of whatever
        # listens at an address. Users see the operation and the ECC error code.
        message = request_envelope(operation, **params)
        try:
            status, content = post(self.url, message, self.connect_timeout, self.timeout)
            answer = read_answer(operation, status, content)
            code = int(answer.get("ErrorCode", ""))
        except NotConnected as exc:
            raise EccUnreachable(f"{self.url}: cannot connect ({exc})") from None
        except TimeoutError:
            raise EccUnreachable(f"{self.url}: no answer to {operation} in time") from None
        except OSError as exc:  # reset, closed halfway
            raise EccUnreachable(f"{self.url}: connection lost ({type(exc).__name__})") from None
        except EccError as exc:
            log.warning("%s: %s: SOAP fault %s", self.name, operation, exc)
            raise EccError(f"{self.url}: {operation} failed (SOAP fault)") from None
        except (NotAnAnswer, ValueError) as exc:
            log.warning("%s: %s: unexpected answer: %s", self.name, operation, exc)
            raise EccError(f"{self.url}: not an ECC server's answer to {operation}") from None
        if code != 0:
            log.warning(
                "%s: %s: ECC error code %d: %s",
                self.name,
                operation,
                code,
                one_line(answer.get("ErrorMessage")),
            )
            raise EccError(
                f"{operation} failed (ECC error code {code}); "
                "the server's message is in Beamtime's log",
                code=code,
            )
        return answer

    def status(self) -> EccStatus:
        answer = self._call("GetState")
        try:
            return EccStatus(State(int(answer["State"])), int(answer["Transition"]) != 0)
        except (KeyError, ValueError):
            raise EccError(f"{self.url}: unknown state {answer.get('State')!r}") from None

    def config_ids(self) -> list[ConfigId]:
        try:
            return parse_config_list(self._call("GetConfigIDs").get("Text", ""))
        except EccProtocolError as exc:
            log.warning("%s: configuration list: %s", self.url, exc)
            raise EccError(f"{self.url}: the configuration list is not valid") from None

    def step(self, current: State, target: State, config: ConfigId, links: list[DataLink]) -> None:
        """Ask for the one transition from ``current`` to ``target``; it completes later."""
        operation = operation_between(current, target)
        self._call(operation, configID=config.to_xml(), table=data_link_set_xml(links))

    def special(self, command: str) -> None:
        self._call("Special", command=command, table="")
