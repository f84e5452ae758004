"""What the facility allows the DAQ to reach: the hosts ECC servers and data routers may be on
(settings.DAQ_HOSTS) and the folders their log files may be read from (settings.DAQ_LOG_ROOTS).

Users type host names and log paths into the set-up; these checks refuse anything outside
the facility's lists when it is saved, and again when it is used (the lists may have
changed since), so no request can make Beamtime connect to or read from elsewhere.
"""

import ipaddress
import posixpath

from django.conf import settings
from django.core.exceptions import ValidationError


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


def log_roots(host: str) -> list[str]:
    """The folders log files may be read from on ``host``."""
    roots = settings.DAQ_LOG_ROOTS
    return [*roots.get(host.strip().lower(), []), *roots.get("*", [])]


def within(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root if root == "/" else root + "/")


def check_log_path(host: str, path: str) -> str:
    """``path`` if it is an absolute, plain path inside a log folder of ``host``, else a
    ValidationError for the form's log path field. (Symbolic links are resolved and checked
    again when the file is read, on its host.)"""
    path = path.strip()
    if not path:
        return ""
    if not path.startswith("/") or any(part in (".", "..") for part in path.split("/")):
        raise ValidationError("must be an absolute path without . or .. parts")
    path = posixpath.normpath(path)
    roots = log_roots(host)
    if not roots:
        raise ValidationError(
            f"the facility allows no log folder on {host or 'this host'} (BEAMTIME_DAQ_LOG_ROOTS)"
        )
    if not any(within(path, root) for root in roots):
        raise ValidationError(
            f"must be inside a log folder the facility allows on {host}: {', '.join(roots)}"
        )
    return path


def check_staging(path: str) -> str:
    """Where a router's run files land: an absolute path without . or .. parts."""
    path = path.strip()
    if not path.startswith("/") or any(part in (".", "..") for part in path.split("/")):
        raise ValidationError("must be an absolute path without . or .. parts")
    return path.rstrip("/") or "/"
