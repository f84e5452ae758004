"""With BEAMTIME_SENTRY_DSN set, an exception logged with its traceback reaches Sentry: here a
real HTTP server on loopback that takes what the Sentry SDK sends, as sentry.io would."""

import gzip
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LOG_AN_EXCEPTION = """
import logging, django, sentry_sdk
django.setup()
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("beamtime.fitting").exception("fit 7 stopped")
sentry_sdk.flush(10)
"""


def received_by_sentry(dsn_env: dict) -> list[bytes]:
    bodies = []

    class Envelopes(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            bodies.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Envelopes)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if k != "BEAMTIME_SENTRY_DSN"}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    )
    for key, value in dsn_env.items():
        env[key] = value.format(port=server.server_address[1])
    try:
        done = subprocess.run(
            [sys.executable, "-c", LOG_AN_EXCEPTION],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "fit 7 stopped" in done.stderr  # logged as before, with its traceback
        assert "ZeroDivisionError" in done.stderr
    finally:
        server.shutdown()
    return bodies


def test_a_logged_exception_is_sent_to_sentry_when_a_dsn_is_set():
    bodies = received_by_sentry({"BEAMTIME_SENTRY_DSN": "http://public@127.0.0.1:{port}/7"})
    event = b"".join(bodies)
    assert b"fit 7 stopped" in event and b"ZeroDivisionError" in event


def test_nothing_is_sent_without_a_dsn():
    assert received_by_sentry({}) == []
