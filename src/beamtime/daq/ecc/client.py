"""Beamtime's SOAP client for ECC servers, built with zeep from Beamtime's own WSDL.

zeep and requests are imported on first use: a web worker that never drives a server does not
load them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import as_file, files
from typing import TYPE_CHECKING

from beamtime.daq.ecc.protocol import (
    ConfigId,
    DataLink,
    EccProtocolError,
    State,
    data_link_set_xml,
    operation_between,
    parse_config_list,
)

if TYPE_CHECKING:
    import zeep

log = logging.getLogger("beamtime.daq")
MAX_MESSAGE = 200


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


@dataclass(frozen=True)
class EccStatus:
    state: State
    transitioning: bool


@lru_cache
def wsdl_client(timeout: float) -> zeep.Client:
    """One parsed WSDL per process and timeout, shared by every server's client: parsing it
    for each of fifty servers polled at once would cost more than the calls themselves."""
    import requests
    import zeep
    from zeep.transports import Transport

    session = requests.Session()
    session.trust_env = False  # never route the electronics network through a proxy
    transport = Transport(session=session, timeout=timeout, operation_timeout=timeout)
    with as_file(files("beamtime.daq.ecc").joinpath("ecc.wsdl")) as path:
        return zeep.Client(str(path), transport=transport)


class EccClient:
    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url
        self.service = wsdl_client(timeout).create_service("{urn:ecc}ecc", url)

    def _call(self, operation: str, **params):
        # What the server said goes to the operators' log, not into messages users see: a
        # user must not make Beamtime relay the answers of whatever listens at an address.
        import requests
        from zeep.exceptions import Error as ZeepError
        from zeep.exceptions import Fault

        try:
            answer = getattr(self.service, operation)(**params)
        except requests.Timeout:
            raise EccUnreachable(f"{self.url}: no answer to {operation} in time") from None
        except requests.ConnectionError as exc:
            raise EccUnreachable(f"{self.url}: cannot connect ({type(exc).__name__})") from None
        except Fault as exc:
            log.warning("%s: %s: SOAP fault %s", self.url, operation, exc.message)
            raise EccError(f"{self.url}: {operation} failed (SOAP fault)") from None
        except (ZeepError, ValueError) as exc:
            log.warning("%s: %s: unexpected answer: %s", self.url, operation, exc)
            raise EccError(f"{self.url}: not an ECC server's answer to {operation}") from None
        if answer.ErrorCode != 0:
            raise EccError(
                f"{operation} failed with error {answer.ErrorCode}: "
                f"{one_line(answer.ErrorMessage)}",
                code=answer.ErrorCode,
            )
        return answer

    def status(self) -> EccStatus:
        answer = self._call("GetState")
        try:
            state = State(answer.State)
        except ValueError:
            raise EccError(f"{self.url}: unknown state code {answer.State}") from None
        return EccStatus(state, answer.Transition != 0)

    def config_ids(self) -> list[ConfigId]:
        try:
            return parse_config_list(self._call("GetConfigIDs").Text or "")
        except EccProtocolError as exc:
            log.warning("%s: configuration list: %s", self.url, exc)
            raise EccError(f"{self.url}: the configuration list is not valid") from None

    def step(self, current: State, target: State, config: ConfigId, links: list[DataLink]) -> None:
        """Ask for the one transition from ``current`` to ``target``; it completes later."""
        operation = operation_between(current, target)
        self._call(operation, configID=config.to_xml(), table=data_link_set_xml(links))

    def special(self, command: str) -> None:
        self._call("Special", command=command, table="")
