"""Run the platform's processes together and stop them together.

Each child gets its own session (so a Ctrl-C in the terminal reaches only the
supervisor, which then stops the children in order) and is asked by the kernel to
die with the supervisor (PR_SET_PDEATHSIG), so that even a killed supervisor leaves
no orphans behind.
"""

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import threading

log = logging.getLogger("beamtime.serve")

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT = 20.0


def _die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(self):
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.stop_requested = threading.Event()

    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(argv, env=env, start_new_session=True, preexec_fn=_die_with_parent)
        self.children.append((name, proc))
        return proc

    def handle_signals(self):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda signum, frame: self.stop_requested.set())

    def wait(self) -> int:
        """Block until a signal asks to stop (return 0) or a child exits (return 1)."""
        while not self.stop_requested.wait(0.5):
            for name, proc in self.children:
                if proc.poll() is not None:
                    log.error("%s exited with code %s; stopping Beamtime", name, proc.returncode)
                    return 1
        return 0

    def stop(self) -> None:
        """Stop the children, last started first, each within STOP_TIMEOUT seconds."""
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop within %g s; killing it", name, STOP_TIMEOUT)
            # The child led its own process group: take its helpers (worker pool, gunicorn
            # workers) with it, whatever state it left them in.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
