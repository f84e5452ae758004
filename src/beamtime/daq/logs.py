"""Reading the end of an ECC server's or data router's log file, only from the folders the
facility allows on its host (settings.DAQ_LOG_ROOTS): the path is checked as typed, then
resolved on the host (symbolic links, ``..``) and checked again before a byte is read."""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError

from beamtime.daq import safety
from beamtime.daq.models import DataRouter, ECCServer
from beamtime.daq.workers import UnsafePath, WorkerError, worker_for

log = logging.getLogger("beamtime.daq")


class LogRefused(Exception):
    """The log cannot be shown; the message is for the user (no resolved paths in it)."""


def read_log(component: ECCServer | DataRouter, lines: int = 100) -> str:
    host, path = component.ip_address, component.log_path
    if not safety.host_allowed(host):
        raise LogRefused(f"{component.name} is on a host the facility does not allow")
    try:
        path = safety.check_log_path(host, path)
    except ValidationError as exc:
        raise LogRefused(f"log path of {component.name}: {exc.messages[0]}") from None
    try:
        with worker_for(host) as worker:
            return worker.tail_within(path, safety.roots(settings.DAQ_LOG_ROOTS, host), lines)
    except UnsafePath:
        log.warning("log of %s: %s leads outside the allowed folders", component.name, path)
        raise LogRefused(
            f"the log file of {component.name} leads outside the folders the facility allows"
        ) from None
    except WorkerError as exc:
        raise LogRefused(f"cannot read the log file of {component.name}: {exc}") from None
