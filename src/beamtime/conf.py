"""Typed readers for the ``BEAMTIME_*`` environment variables.

Every reader raises :class:`ConfigError` with one line naming the variable when a
value is malformed, so that start-up can stop with that line instead of a traceback.
This module does not import Django: the command line validates the configuration
before it starts any process.
"""

import ipaddress
import os
import re
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "BEAMTIME_"
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
# sun_path in struct sockaddr_un holds 108 bytes including the trailing NUL.
MAX_UNIX_SOCKET_PATH = 107
HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*"
)


class ConfigError(Exception):
    """A configuration value that stops start-up; str() is the one line to show."""


def env(name: str, default: str = "") -> str:
    return os.environ.get(PREFIX + name, default)


def envbool(name: str, default: bool = False) -> bool:
    raw = env(name, "1" if default else "0").strip().lower()
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise ConfigError(f"{PREFIX}{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def envint(name: str, default: int) -> int:
    raw = env(name, str(default)).strip()
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not a whole number") from None


def envfloat(name: str, default: float) -> float:
    raw = env(name, str(default)).strip()
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not a number") from None


def envchoice(name: str, choices: tuple[str, ...], default: str) -> str:
    raw = env(name, default).strip().lower()
    if raw not in choices:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not one of {', '.join(choices)}")
    return raw


def envzone(name: str, default: str) -> str:
    """An IANA time zone name (``Europe/Paris``), checked against the zone database."""
    raw = env(name, default).strip()
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{PREFIX}{name}={raw!r} is not a time zone (use a name like Europe/Paris or UTC)"
        ) from None
    return raw


def envmap(name: str) -> dict[str, str]:
    """``NAME=VALUE,NAME=VALUE`` as a dict (values may hold "=", not ",")."""
    found = {}
    for item in envlist(name, ""):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{PREFIX}{name}: {item!r} is not NAME=VALUE")
        found[key.strip()] = value.strip()
    return found


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def envhosts(name: str, default: str) -> list[str]:
    """Host names and networks (``10.0.0.0/24``, ``192.168.1.7``, ``daq1.lab``), normalised:
    networks in CIDR form, names in lower case."""
    found = []
    for item in envlist(name, default):
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
            continue
        except ValueError:
            pass
        if not HOST_NAME.fullmatch(item):
            raise ConfigError(
                f"{PREFIX}{name}: {item!r} is neither a network, an address nor a host name"
            )
        found.append(item.lower())
    return found


def envpathmap(name: str) -> dict[str, list[str]]:
    """``HOST=/DIR,HOST=/DIR`` as host → absolute directories; a host may appear more than
    once, ``*`` stands for every host."""
    found: dict[str, list[str]] = {}
    for item in envlist(name, ""):
        host, sep, path = (part.strip() for part in item.partition("="))
        if not sep or not host or not path:
            raise ConfigError(f"{PREFIX}{name}: {item!r} is not HOST=/DIRECTORY")
        if not path.startswith("/") or any(p in ("..", ".") for p in path.split("/")):
            raise ConfigError(f"{PREFIX}{name}: {path!r} is not an absolute, normal path")
        found.setdefault(host.lower(), []).append(path.rstrip("/") or "/")
    return found


def envaddresses(name: str) -> list[str]:
    """A comma-separated list of IP addresses (e.g. the proxies whose X-Forwarded-For counts)."""
    found = []
    for item in envlist(name, ""):
        try:
            found.append(str(ipaddress.ip_address(item)))
        except ValueError:
            raise ConfigError(f"{PREFIX}{name}: {item!r} is not an IP address") from None
    return found


def envheader(name: str, default: str) -> str:
    """An HTTP header name such as X-Forwarded-Proto ("" or "none": no header)."""
    raw = env(name, default).strip()
    if raw.lower() in ("", "none"):
        return ""
    if not re.fullmatch(r"[A-Za-z0-9-]+", raw):
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not an HTTP header name")
    return raw


def envsecret(name: str) -> str:
    """The value of BEAMTIME_<name>, or the contents of the file named by BEAMTIME_<name>_FILE."""
    path = env(name + "_FILE")
    if not path:
        return env(name)
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{PREFIX}{name}_FILE={path}: {exc.strerror}") from None


def home() -> Path:
    """The data directory, created when missing; it must be writable."""
    path = Path(env("HOME", "var")).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        # A probe of its own: the processes `serve` starts check the same folder at once.
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(
            f"{PREFIX}HOME={path} is not a writable directory: {exc.strerror}"
        ) from None
    return path


def secret_key(data_dir: Path) -> str:
    """BEAMTIME_SECRET_KEY(_FILE), else a key generated on first start and kept in the data dir."""
    key = envsecret("SECRET_KEY")
    if key:
        return key
    path = data_dir / "secret_key"
    if not path.exists():
        # O_EXCL: two processes starting at once must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def database(data_dir: Path) -> dict:
    """DATABASES["default"] from BEAMTIME_DATABASE_URL; SQLite in the data dir by default."""
    import dj_database_url

    url = env("DATABASE_URL")
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(data_dir / "beamtime.sqlite3"),
            # A file, not memory, so that a Celery worker started by a test sees the test data.
            "TEST": {"NAME": str(data_dir / "test.sqlite3")},
            # IMMEDIATE: a transaction takes the write lock when it begins, so two that
            # read-then-write (a configuration change) are serialized instead of deadlocking.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            # Kept open across requests, as with a URL: opening one costs more than the
            # query of a cached fplane file (bench/fplane.py).
            "CONN_MAX_AGE": 60,
        }
    scheme = urlsplit(url).scheme
    if scheme not in ("postgres", "postgresql", "sqlite"):
        raise ConfigError(
            f"{PREFIX}DATABASE_URL: unsupported scheme {scheme!r} "
            "(use postgresql://user:password@host:port/name or sqlite:////absolute/path)"
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{PREFIX}DATABASE_URL is malformed: {exc}") from None
    if not config.get("NAME"):
        raise ConfigError(f"{PREFIX}DATABASE_URL names no database")
    return config


def redis_url(data_dir: Path) -> str:
    """BEAMTIME_REDIS_URL, else the unix socket of the embedded Redis in the data dir."""
    url = env("REDIS_URL")
    if url:
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                f"{PREFIX}REDIS_URL={url!r} is not a redis://, rediss:// or unix:// URL"
            )
        return url
    socket = data_dir / "redis" / "redis.sock"
    if len(str(socket)) > MAX_UNIX_SOCKET_PATH:
        raise ConfigError(
            f"{PREFIX}HOME={data_dir} is too long a path for the embedded Redis socket; "
            f"choose a shorter {PREFIX}HOME or set {PREFIX}REDIS_URL"
        )
    return f"unix://{socket}"


def embedded_redis() -> bool:
    return not env("REDIS_URL")


def celery_url(redis: str) -> str:
    """The Celery/kombu spelling of a redis-py URL (kombu names unix sockets redis+socket://)."""
    if redis.startswith("unix://"):
        return "redis+socket://" + redis.removeprefix("unix://")
    return redis
