"""What the facility allows the DAQ to reach: the hosts ECC servers and data routers may be on
(settings.DAQ_HOSTS), the folders their log files may be read from (settings.DAQ_LOG_ROOTS)
and the folders data routers may file run files in (settings.DAQ_STAGING_ROOTS).

Users type host names and log paths into the set-up; these checks refuse anything outside
the facility's lists when it is saved, and again when it is used (the lists may have
changed since), so no request can make Beamtime connect to or read from elsewhere.
"""

import functools
import ipaddress
import operator
import posixpath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q


def host_allowed(host: str) -> bool:
    """True if ``host`` is an address in an allowed network or an allowed host name.

    Names are compared as written, never resolved: a name that resolves to an allowed
    address today may resolve elsewhere tomorrow."""
    host = host.strip().lower().strip("[]")
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host in settings.DAQ_HOSTS
    for entry in settings.DAQ_HOSTS:
        try:
            if address in ipaddress.ip_network(entry):
                return True
        except ValueError:  # a host name
            continue
    return False


def check_host(host: str) -> str:
    """``host`` if allowed, else a ValidationError for the form's host field."""
    if not host_allowed(host):
        raise ValidationError(
            f"{host!r} is not on a network the facility allows for the DAQ (BEAMTIME_DAQ_HOSTS)"
        )
    return host.strip()


def roots(setting: dict[str, list[str]], host: str) -> list[str]:
    """The folders a per-host setting (DAQ_LOG_ROOTS, DAQ_STAGING_ROOTS) allows on ``host``."""
    return [*setting.get(host.strip().lower(), []), *setting.get("*", [])]


def within(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root if root == "/" else root + "/")


def check_inside(host: str, path: str, setting: str, what: str) -> str:
    """``path``, normalized, if it is an absolute, plain path inside a folder that
    ``settings.<setting>`` allows on ``host``; else a ValidationError for the form's field."""
    path = path.strip()
    if not path.startswith("/") or any(part in (".", "..") for part in path.split("/")):
        raise ValidationError("must be an absolute path without . or .. parts")
    path = posixpath.normpath(path)
    allowed = roots(getattr(settings, setting), host)
    if not allowed:
        raise ValidationError(
            f"the facility allows no {what} on {host or 'this host'} (BEAMTIME_{setting})"
        )
    if not any(within(path, root) for root in allowed):
        raise ValidationError(
            f"must be inside a {what} the facility allows on {host} (BEAMTIME_{setting}): "
            + ", ".join(allowed)
        )
    return path


def check_log_path(host: str, path: str) -> str:
    """``path`` if it is inside a log folder of ``host``. (Symbolic links are resolved and
    checked again when the file is read, on its host.)"""
    return check_inside(host, path, "DAQ_LOG_ROOTS", "log folder") if path.strip() else ""


def check_staging(host: str, path: str, experiment_id: int | None = None) -> str:
    """Where a router on ``host`` lets its run files land: inside a staging folder of the
    facility's (DAQ_STAGING_ROOTS). With ``experiment_id``, also not inside or around another
    experiment's staging folder on that host: its filed runs (STAGING/EXPERIMENT/run_NNNN) lie
    inside its folder, and filing moves what lies in the folder. The very same folder may be
    shared, as a dataRouter's working directory serves one experiment after another: each
    files its runs under its own name, and a run starts only once the folder holds no
    unfiled file."""
    path = check_inside(host, path, "DAQ_STAGING_ROOTS", "staging folder")
    if experiment_id is not None:
        from beamtime.daq.models import DataRouter
        from beamtime.daq.workers import LOCAL_HOSTS

        name = host.strip().lower()
        same = LOCAL_HOSTS if name in LOCAL_HOSTS else {name}  # this host has three names
        others = DataRouter.objects.filter(
            functools.reduce(operator.or_, (Q(ip_address__iexact=h) for h in same))
        ).exclude(experiment_id=experiment_id)
        for other in others.exclude(staging_directory="").values_list(
            "staging_directory", flat=True
        ):
            if path != other and (within(path, other) or within(other, path)):
                raise ValidationError(
                    f"is inside or around the staging folder of another experiment's data "
                    f"router on {host} ({other}): use that folder itself, or one apart"
                )
    return path


def staging_of(router) -> str:
    """The router's staging folder if the facility still allows it (the list may have
    changed since it was saved), else a WorkerError saying why, for the caller's error path."""
    from beamtime.daq.workers import UnsafePath

    try:
        return check_staging(router.ip_address, router.staging_directory, router.experiment_id)
    except ValidationError as exc:
        raise UnsafePath(
            f"{router.name}: staging folder {router.staging_directory!r} refused: {exc.messages[0]}"
        ) from None
