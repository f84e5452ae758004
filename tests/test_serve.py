"""`beamtime serve` and `beamtime worker` as a user runs them: real processes, real ports."""

import http.cookiejar
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow

START_TIMEOUT = 120  # a loaded CI machine takes a while to start every process


def beamtime_env(home: Path, **extra) -> dict:
    """The environment of a user's shell: only their BEAMTIME_* settings, none of the suite's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEAMTIME_")}
    env.update(DJANGO_SETTINGS_MODULE="beamtime.settings", BEAMTIME_HOME=str(home), **extra)
    return env


@pytest.fixture
def home():
    # Short: the embedded Redis socket lives in here, and unix socket paths are limited.
    with tempfile.TemporaryDirectory(prefix="bt-") as path:
        yield Path(path) / "var"


def run(args, env, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "beamtime", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid``, as {pid: start time}, read from /proc."""
    parents, starts = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
            starts[int(entry.name)] = fields[19]
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = starts[child]
                frontier.append(child)
    return found


def still_running(processes: dict[int, str]) -> list[int]:
    alive = []
    for pid, start in processes.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[19] == start and fields[0] != "Z":
            alive.append(pid)
    return alive


def wait_gone(processes: dict[int, str], timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    while still_running(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    return still_running(processes)


class Server:
    """A `beamtime serve` process with its output in a file."""

    def __init__(self, home: Path, *args: str, env: dict | None = None, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = Path(tempfile.mkstemp(prefix="bt-serve-", suffix=".log")[1])
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "beamtime", "serve", "--port", str(self.port), *args],
                env=beamtime_env(home, **(env or {})),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text()

    def wait_healthy(self) -> dict:
        deadline = time.monotonic() + START_TIMEOUT
        body = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited early:\n{self.output()}"
            try:
                with urllib.request.urlopen(self.url + "healthz", timeout=5) as response:
                    body = json.load(response)
                    if body["ok"]:
                        return body
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        pytest.fail(f"/healthz not green within {START_TIMEOUT} s: {body}\n{self.output()}")

    def wait_printed(self, pattern: str, timeout: float = 30) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output())
            if match:
                return match
            time.sleep(0.2)
        pytest.fail(f"serve never printed {pattern!r}:\n{self.output()}")

    def stop(self, sig=signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(60)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.unlink()


def wait_in_file(path: Path, pattern: str, timeout: float = 30) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, path.read_text() if path.exists() else "")
        if match:
            return match
        time.sleep(0.2)
    pytest.fail(f"{path} never held {pattern!r}")


def log_in(url: str, username: str, password: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(url + "accounts/login/").read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token}
    )
    opener.open(url + "accounts/login/", data=form.encode()).read()
    return opener


def test_serve_starts_everything_and_stops_it_all(home):
    home.mkdir(parents=True)
    (home / "notes.txt").write_text("the operator's own file")
    server = Server(home)
    try:
        health = server.wait_healthy()
        assert health["database"]["vendor"] == "sqlite"
        assert health["workers"]["workers"]

        password = server.wait_printed(r'log in as "admin" with password "([^"]+)"').group(1)
        # Also in a file only the owner reads; every process logs to a file of its own.
        kept = home / "admin-password"
        assert kept.read_text().strip() == password
        assert kept.stat().st_mode & 0o777 == 0o600
        logs = {p.name for p in (home / "logs").iterdir()}
        assert {"serve.log", "redis.log", "gunicorn.log", "celery-beat.log"} <= logs
        assert {"daq-worker.log", "fits-worker.log", "reduction-worker.log"} <= logs
        assert "beamtime-daq@" in (home / "logs" / "daq-worker.log").read_text()
        assert "celery.beat" not in server.output()  # the console stays calm
        # Beat sends a task every few seconds and says so only when something is wrong.
        assert "Sending due task" not in (home / "logs" / "celery-beat.log").read_text()
        page = log_in(server.url, "admin", password).open(server.url).read().decode()
        assert "Run control" in page and "Log out" in page

        children = descendants(server.proc.pid)
        # redis, three celery workers (+ their pools), beat, gunicorn (+ its workers)
        assert len(children) >= 10, children
        assert server.stop(signal.SIGTERM) == 0
        assert wait_gone(children) == []
        # What runs is gone (status, beat's pid file, Redis' socket); the data stays, and
        # so does what serve did not make.
        left = {p.name for p in home.iterdir() if not p.name.startswith("celerybeat-schedule")}
        assert left == {
            *("notes.txt", "beamtime.sqlite3", "secret_key", "admin-password", "static"),
            *("logs", "redis", "serve.lock"),
        }
        assert {p.name for p in (home / "redis").iterdir()} == {"appendonly.aof", "dump.rdb"}
    finally:
        server.close()

    # Second start on the same data: the admin exists, so no password is printed again.
    server = Server(home, "--demo")
    try:
        server.wait_healthy()
        password = server.wait_printed(
            r'Demo: log in as "scientist" with password "([^"]+)"'
        ).group(1)
        assert "First start" not in server.output()
        # The demo experiment's eleven simulated ECC servers answer; beat keeps them refreshed.
        browser = log_in(server.url, "scientist", password)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            status = json.load(browser.open(server.url + "api/daq/status"))
            if all(s["online"] for s in status["individual_results"]):
                break
            time.sleep(0.5)
        assert status["experiment"] == "demo"
        assert len(status["individual_results"]) == 11
        assert all(
            s["online"] and s["state_name"] == "Idle" for s in status["individual_results"]
        ), status
        children = descendants(server.proc.pid)
        assert server.stop(signal.SIGINT) == 0  # Ctrl-C
        assert wait_gone(children) == []
    finally:
        server.close()


def test_a_killed_serve_leaves_no_orphans_and_starts_again_at_once(home):
    fresh = {"BEAMTIME_HEALTH_CACHE_SECONDS": "0.2"}
    server = Server(home, env=fresh)
    again = None
    try:
        server.wait_healthy()
        children = descendants(server.proc.pid)
        # A browser's open connection: the web server takes a moment to stop.
        with socket.create_connection(("127.0.0.1", server.port)):
            server.proc.kill()  # no chance to clean up: the kernel's parent-death signal must
            server.proc.wait()  # stop the others
            # Started again at once, on the same port and data: it waits for the old
            # processes to end instead of failing on the port or sharing Redis' files.
            again = Server(home, env=fresh, port=server.port)
            again.wait_printed("Beamtime is running", timeout=START_TIMEOUT)
            again.wait_healthy()
        assert still_running(children) == []
        time.sleep(3)
        assert (home / "redis" / "redis.sock").exists()
        assert health(again.url)["ok"]
        children = descendants(again.proc.pid)
        assert again.stop() == 0
        assert wait_gone(children) == []
    finally:
        server.close()
        if again is not None:
            again.close()


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


class TestStartupErrors:
    def test_a_malformed_database_url(self, home):
        result = run(
            ["serve"], beamtime_env(home, BEAMTIME_DATABASE_URL="postgresql://u:p@h:notaport/db")
        )
        assert "BEAMTIME_DATABASE_URL is malformed" in one_line_error(result)

    def test_an_unreachable_database(self, home):
        result = run(
            ["serve", "--port", str(free_port())],
            beamtime_env(home, BEAMTIME_DATABASE_URL="postgresql://u:p@127.0.0.1:1/db"),
        )
        assert "cannot use the database (postgresql)" in one_line_error(result)

    def test_an_unreachable_redis(self, home):
        result = run(
            ["serve", "--port", str(free_port())],
            beamtime_env(home, BEAMTIME_REDIS_URL="redis://:secret@127.0.0.1:1/0"),
        )
        line = one_line_error(result)
        assert "cannot reach Redis at BEAMTIME_REDIS_URL=redis://:***@127.0.0.1:1/0" in line
        assert "secret" not in line

    def test_a_port_in_use(self, home):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = run(["serve", "--port", str(port)], beamtime_env(home))
        assert f"port {port} on 127.0.0.1 is already in use" in one_line_error(result)

    def test_an_unwritable_home(self, tmp_path):
        (tmp_path / "file").write_text("")
        result = run(["serve"], beamtime_env(tmp_path / "file" / "var"))
        assert "BEAMTIME_HOME=" in one_line_error(result)

    def test_a_worker_for_an_unknown_queue(self, home):
        result = run(["worker", "--queues", "fits,dac"], beamtime_env(home))
        assert one_line_error(result) == (
            "beamtime: --queues: unknown queue dac (one of daq, fits, reduction, default)"
        )

    def test_a_worker_without_redis(self, home):
        result = run(["worker"], beamtime_env(home, BEAMTIME_REDIS_URL="redis://127.0.0.1:1/0"))
        assert "cannot reach Redis at BEAMTIME_REDIS_URL=redis://127.0.0.1:1/0" in one_line_error(
            result
        )


def test_manage_passes_through_to_django(home):
    result = run(["manage", "check"], beamtime_env(home))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url + "healthz", timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        return json.load(exc)
    except OSError:
        return None


def child_pids(home: Path) -> dict[str, int]:
    status = json.loads((home / "serve-status.json").read_text())
    return {name: child["pid"] for name, child in status["children"].items()}


# Every process serve starts (the demo's simulators too), the web server last.
KILLED = [
    "redis",
    "daq worker",
    "fits worker",
    "reduction worker",
    "celery beat",
    "ECC simulators",
    "gunicorn",
]


def test_every_process_that_dies_is_restarted(home):
    server = Server(home, "--demo", env={"BEAMTIME_HEALTH_CACHE_SECONDS": "0.2"})
    try:
        server.wait_healthy()
        assert set(child_pids(home)) == set(KILLED)
        for name in KILLED:
            before = child_pids(home)
            os.kill(before[name], signal.SIGKILL)
            seen = set()
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                body = health(server.url)
                seen.add(body["status"] if body else "unreachable")
                if child_pids(home)[name] != before[name] and body and body["ok"]:
                    break
                time.sleep(0.1)
            else:
                pytest.fail(f"{name} was not restarted: {body}\n{server.output()}")
            assert server.proc.poll() is None
            assert f"{name} was killed by signal 9; restarting it in 1 s" in server.output()
            # Meanwhile /healthz said so (without its web server, nothing answered).
            assert ("unreachable" if name == "gunicorn" else "degraded") in seen, (name, seen)
            # The others were left alone.
            after = child_pids(home)
            assert {n: p for n, p in after.items() if n != name} == {
                n: p for n, p in before.items() if n != name
            }
        restarts = health(server.url)["processes"]["restarts"]
        assert restarts == {name: 1 for name in KILLED}
        children = descendants(server.proc.pid)
        assert server.stop() == 0
        assert wait_gone(children) == []
        assert not (home / "serve-status.json").exists()
        assert not (home / "redis" / "redis.sock").exists()
    finally:
        server.close()


def test_a_second_serve_on_the_same_home_refuses_and_a_quick_restart_works(home):
    # Each gunicorn worker keeps its own /healthz answer for the cache period: a short one, so
    # an answer cached by another worker while the platform was still starting cannot linger.
    fresh = {"BEAMTIME_HEALTH_CACHE_SECONDS": "0.2"}
    server = Server(home, env=fresh)
    try:
        server.wait_healthy()
        children = child_pids(home)
        second = run(["serve", "--port", str(free_port())], beamtime_env(home))
        line = one_line_error(second)
        assert line == (
            f"beamtime: another beamtime serve (pid {server.proc.pid}) is running on "
            f"BEAMTIME_HOME={home}; stop it first"
        )
        # The first one is untouched: the same processes, still healthy.
        assert child_pids(home) == children
        server.wait_healthy()
        assert server.stop() == 0
    finally:
        server.close()
    # Started again at once: the old Redis is gone for good and takes nothing of the new one.
    server = Server(home, env=fresh)
    try:
        server.wait_healthy()
        time.sleep(3)
        assert (home / "redis" / "redis.sock").exists()
        assert health(server.url)["ok"]
    finally:
        server.stop()
        server.close()


# Run by `beamtime manage shell` on a running serve: two long DREAM fits of the manual's session.
LONG_FITS = """
import time
from django.contrib.auth import get_user_model
from beamtime.fitting import jobs
from beamtime.fitting.layers import LayerModel
from beamtime.fitting.models import Dataset, FitJob
from tests.fitting.test_layers import session_model
from tests.fitting.test_pages import DOUBLE_LAYER

def two_long_fits(burn):
    user = get_user_model().objects.create_user("fitter")
    content = DOUBLE_LAYER.decode()
    data = Dataset.objects.create(owner=user, name="d.txt", content=content, points=300)
    model = LayerModel.from_dict(session_model())
    options = {"samples": 1000000, "burn": burn}
    return [jobs.submit(user, data, model, "dream", options) for _ in range(2)]
"""

FITS_THEN_DESCRIBE = (
    LONG_FITS
    + """
from beamtime.daq import actions
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import ECCServer, Experiment

def wait(condition, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)

experiment = Experiment.objects.get(name="demo")
idle = ECCServer.objects.filter(experiment=experiment, is_online=True, state=State.IDLE)
wait(lambda: idle.count() == 11, "the demo's ECC servers are not all Idle")
two_long_fits(burn=100000)
running = FitJob.objects.filter(state="running")
wait(lambda: running.count() == 2, "the two fits did not start")
print("RUNNING", running.count())
time.sleep(2)
sent = time.time()
actions.global_action(experiment, "describe", get_user_model().objects.get(username="scientist"))
print("SENT", sent, flush=True)
described = ECCServer.objects.filter(experiment=experiment, state=State.DESCRIBED)
wait(lambda: described.count() == 11, "the servers were not all Described")
print("DESCRIBED; fits still running:", running.count())
"""
)


def shell(home: Path, code: str, fit_workers: str, timeout: float):
    """``code`` run by `beamtime manage shell` against the serve running on ``home``."""
    return run(
        ["manage", "shell", "--no-imports", "-c", code],
        beamtime_env(home, BEAMTIME_FIT_WORKERS=fit_workers),
        timeout=timeout,
    )


def test_a_transition_starts_within_a_second_while_two_fits_run(home):
    server = Server(home, "--demo", env={"BEAMTIME_FIT_WORKERS": "2"})
    try:
        server.wait_healthy()
        # Two long DREAM fits occupy the fits pool; then a user clicks Describe all.
        result = shell(home, FITS_THEN_DESCRIBE, fit_workers="2", timeout=300)
        assert result.returncode == 0, result.stderr
        assert "RUNNING 2" in result.stdout
        assert "DESCRIBED; fits still running: 2" in result.stdout
        sent = float(re.search(r"SENT ([\d.]+)", result.stdout).group(1))
        received = wait_in_file(
            home / "logs" / "daq-worker.log",
            r"(\S+ \S+) INFO celery.worker.strategy: Task beamtime.daq.tasks.transition\[",
        ).group(1)
        started = datetime.strptime(received, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)
        assert started.timestamp() - sent < 1.0
        # The periodic refresh ran every 3 s meanwhile, without a line in the log.
        log = (home / "logs" / "daq-worker.log").read_text()
        assert "Task beamtime.daq.tasks.transition[" in log
        assert "Task beamtime.daq.tasks.refresh_state_all[" not in log
    finally:
        server.stop()
        server.close()


TWO_LONG_FITS = (
    LONG_FITS
    + """
first, second = two_long_fits(burn=1000000)
deadline = time.monotonic() + 120
while FitJob.objects.get(pk=first.pk).state != "running" and time.monotonic() < deadline:
    time.sleep(0.2)
print("JOBS", first.pk, second.pk, FitJob.objects.get(pk=first.pk).state)
"""
)


def fit_state(home: Path, pk: int) -> str:
    with sqlite3.connect(home / "beamtime.sqlite3") as db:
        return db.execute("SELECT state FROM fitting_fitjob WHERE id = ?", (pk,)).fetchone()[0]


def test_a_fit_queued_behind_one_whose_worker_is_killed_runs_on_the_restarted_worker(home):
    server = Server(home, env={"BEAMTIME_FIT_WORKERS": "1"})
    try:
        server.wait_healthy()
        result = shell(home, TWO_LONG_FITS, fit_workers="1", timeout=240)
        assert result.returncode == 0, result.stderr
        first, second, state = re.search(r"JOBS (\d+) (\d+) (\w+)", result.stdout).groups()
        assert state == "running"
        time.sleep(2)  # the worker has had time to take what it would take of the queue
        assert fit_state(home, int(second)) == "queued"
        os.kill(child_pids(home)["fits worker"], signal.SIGKILL)
        # The second fit was not held by the dead worker: the restarted one runs it (the
        # first is failed by beat once its heartbeat is two minutes old).
        deadline = time.monotonic() + START_TIMEOUT
        while fit_state(home, int(second)) == "queued" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert fit_state(home, int(second)) == "running"
    finally:
        server.stop()
        server.close()


def test_a_web_only_host_runs_no_workers_and_no_beat(home):
    server = Server(home, "--web-only")
    try:
        server.wait_printed(r"Beamtime is running", timeout=START_TIMEOUT)
        body = None
        deadline = time.monotonic() + START_TIMEOUT
        while body is None and time.monotonic() < deadline:
            body = health(server.url)
            time.sleep(0.5)
        assert set(child_pids(home)) == {"redis", "gunicorn"}
        assert body["status"] == "degraded"
        assert body["database"]["ok"] and body["redis"]["ok"]
        assert body["workers"]["error"] == "no Celery worker answered within 1 s"
    finally:
        server.stop()
        server.close()
