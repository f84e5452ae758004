"""Run the platform's processes together, restart any that dies, stop them together.

Each child gets its own session (so a Ctrl-C in the terminal reaches only the
supervisor, which then stops the children in order) and is asked by the kernel to
die with the supervisor (PR_SET_PDEATHSIG), so that even a killed supervisor leaves
no orphans behind. A child that exits while the platform runs is started again after a
back-off (1 s, doubling up to 30 s while it keeps dying within a minute of its start),
and the supervisor keeps a status file that /healthz reads to say "degraded" meanwhile.
Each child's output goes to its own log file (``<name>.log`` in the log folder, rotated by
size); the console shows only the supervisor's own messages.
"""

import contextlib
import ctypes
import fcntl
import json
import logging
import logging.handlers
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from beamtime.conf import ConfigError

log = logging.getLogger("beamtime.serve")

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT = 20.0
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
HEALTHY_AFTER = 60.0  # a child that ran this long before dying starts the back-off afresh
POLL = 0.2
LOG_MAX_BYTES = 10 * 2**20  # each child's log file is rotated at this size …
LOG_BACKUPS = 5  # … keeping this many old ones


def _die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict | None
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_deaths: int = 0  # deaths in a row, each within HEALTHY_AFTER of its start
    restarts: int = 0
    restart_at: float | None = None
    exit_codes: list[int] = field(default_factory=list)
    log: logging.Handler | None = None


def log_file_handler(path: Path) -> logging.Handler:
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.terminator = ""  # the lines keep their own newline
    return handler


def _copy_output(pipe, handler: logging.Handler) -> None:
    for line in iter(pipe.readline, b""):
        handler.emit(logging.makeLogRecord({"msg": line.decode(errors="replace")}))
    pipe.close()


class Supervisor:
    def __init__(
        self,
        status_file: Path | None = None,
        log_dir: Path | None = None,
        lock: "HomeLock | None" = None,
    ):
        self.children: list[Child] = []
        self.status_file = status_file
        self.log_dir = log_dir
        # Every child holds the home's lock too, so that a serve started again at once
        # waits for the processes of one that was killed (HomeLock.acquire).
        self.inherited = (lock.file.fileno(),) if lock is not None else ()
        self.stop_requested = threading.Event()

    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        child = Child(name, argv, env)
        if self.log_dir is not None:
            child.log = log_file_handler(self.log_path(name))
        self.children.append(child)
        self._spawn(child)
        return child.proc

    def log_path(self, name: str) -> Path:
        return self.log_dir / (name.replace(" ", "-") + ".log")

    def _spawn(self, child: Child) -> None:
        output = (
            {} if child.log is None else {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
        )
        child.proc = subprocess.Popen(
            child.argv,
            env=child.env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            pass_fds=self.inherited,
            **output,
        )
        if child.log is not None:
            threading.Thread(
                target=_copy_output, args=(child.proc.stdout, child.log), daemon=True
            ).start()
        child.started_at = time.monotonic()
        child.restart_at = None
        self.write_status()

    def handle_signals(self):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda signum, frame: self.stop_requested.set())

    def wait(self) -> int:
        """Watch the children until a signal asks to stop; return 0 then."""
        while not self.stop_requested.wait(POLL):
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.restarts += 1
                        self._spawn(child)
                        log.warning("%s restarted (pid %d)", child.name, child.proc.pid)
                elif child.proc.poll() is not None:
                    self._schedule_restart(child, now)
        return 0

    def _schedule_restart(self, child: Child, now: float) -> None:
        code = child.proc.returncode
        _kill_group(child.proc)  # its helpers (pool processes, gunicorn workers) too
        child.exit_codes.append(code)
        if now - child.started_at < HEALTHY_AFTER:
            child.quick_deaths += 1
        else:
            child.quick_deaths = 1
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (child.quick_deaths - 1))
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        where = f" (its log: {self.log_path(child.name)})" if child.log else ""
        log.error("%s %s; restarting it in %g s%s", child.name, how, delay, where)
        child.restart_at = now + delay
        self.write_status()

    def status(self) -> dict:
        return {
            "pid": os.getpid(),
            "children": {
                c.name: {
                    "state": "restarting" if c.restart_at is not None else "running",
                    "pid": c.proc.pid if c.proc else None,
                    "restarts": c.restarts,
                }
                for c in self.children
            },
        }

    def write_status(self) -> None:
        if self.status_file is None:
            return
        partial = self.status_file.with_name(self.status_file.name + ".tmp")
        partial.write_text(json.dumps(self.status()))
        partial.replace(self.status_file)

    def stop(self) -> None:
        """Stop the children, last started first, each within STOP_TIMEOUT seconds, and
        remove the status file; nothing else (what the children made, they remove)."""
        for child in reversed(self.children):
            proc = child.proc
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop within %g s; killing it", child.name, STOP_TIMEOUT)
            _kill_group(proc)
        if self.status_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.status_file.unlink()


def _kill_group(proc: subprocess.Popen) -> None:
    # The child led its own process group: take its helpers with it, whatever state it
    # left them in.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def read_status(status_file: Path) -> dict | None:
    """The status a running supervisor keeps in ``status_file``; None without a live one."""
    try:
        status = json.loads(status_file.read_text())
        os.kill(status["pid"], 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return status


class HomeLock:
    """One `beamtime serve` per data directory: an exclusive lock on ``serve.lock`` in it,
    held by serve and every process it starts (they inherit it), and released by the kernel
    once the last of them has ended, however serve ended. The file stays.

    A serve started while the lock is held refuses at once if the serve holding it runs;
    if that one was killed and only its processes are still stopping (each got SIGTERM from
    the kernel), it waits up to LEFTOVERS_WAIT seconds for them, so that no old Redis,
    web server or worker overlaps the new ones (the same socket, port and data files)."""

    LEFTOVERS_WAIT = 30.0

    def __init__(self, home: Path):
        self.path = home / "serve.lock"
        self.file = None

    def acquire(self) -> None:
        f = open(self.path, "a+")  # noqa: SIM115  (held open for the life of serve)
        try:
            if not _try_lock(f):
                f.seek(0)
                holder = f.read().strip()
                if not holder.isdigit() or _alive(int(holder)):
                    raise ConfigError(
                        f"another beamtime serve (pid {holder or '?'}) is running on "
                        f"BEAMTIME_HOME={self.path.parent}; stop it first"
                    )
                log.warning(
                    "waiting for the processes of a stopped beamtime serve (pid %s) to end",
                    holder,
                )
                deadline = time.monotonic() + self.LEFTOVERS_WAIT
                while not _try_lock(f):
                    if time.monotonic() > deadline:
                        raise ConfigError(
                            f"processes of a stopped beamtime serve (pid {holder}) still run "
                            f"on BEAMTIME_HOME={self.path.parent} after "
                            f"{self.LEFTOVERS_WAIT:g} s; stop them first"
                        )
                    time.sleep(POLL)
        except BaseException:
            f.close()
            raise
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self.file = f


def _try_lock(f) -> bool:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
