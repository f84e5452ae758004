"""Shared fixtures: personas, a real Redis (the embedded one), a real Celery worker,
and a headless Chromium. Settings: tests/settings.py."""

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from beamtime.daq.ecc.simulator import EccSimulator, make_server, run

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests
# make around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.factory import make_user  # noqa: E402

# Fuzzers judge inputs, not speed: a busy machine (CI, two suites side by side) must not fail
# an example for taking over hypothesis' default 200 ms.
settings.register_profile("beamtime", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("beamtime")

IN_CI = bool(os.environ.get("CI"))
CHROMIUM = "/usr/bin/chromium"
# The project's shared folder (manuals, data, protocols), beside the clone.
SHARED = Path(__file__).resolve().parents[2] / "shared"


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(os.environ["BEAMTIME_TEST_HOME"], ignore_errors=True)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``host`` now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def require(condition: bool, what: str):
    """Skip when an optional system part is missing on a developer's machine; fail in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is missing, and CI must run every test")
    pytest.skip(f"{what} is not installed on this machine")


@pytest.fixture
def alice(db):
    """Owns the data in a test."""
    return make_user("alice")


@pytest.fixture
def bob(db):
    """A member: may see what is shared with him."""
    return make_user("bob")


@pytest.fixture
def charlie(db):
    """Has no access to alice's things."""
    return make_user("charlie")


@pytest.fixture(scope="session")
def redis_server():
    """The embedded Redis server, started exactly as `beamtime serve` starts it."""
    from django.conf import settings

    from beamtime import embedded_redis

    if not settings.EMBEDDED_REDIS:  # a developer pointed the suite at a Redis of their own
        yield settings.REDIS_URL
        return
    sock = embedded_redis.socket_path(settings.REDIS_URL)
    sock.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(embedded_redis.command(sock), stdout=subprocess.DEVNULL)
    try:
        embedded_redis.wait_until_ready(settings.REDIS_URL, proc)
        yield settings.REDIS_URL
    finally:
        proc.terminate()
        proc.wait(10)


def database_url(settings_dict) -> str:
    """A BEAMTIME_DATABASE_URL naming the database this test session uses."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    d = settings_dict
    host = f"{d['HOST'] or 'localhost'}:{d['PORT'] or 5432}"
    return f"postgresql://{d['USER']}:{d['PASSWORD']}@{host}/{d['NAME']}"


def reduction_data() -> Path:
    """The reduction worker's local data folder (tests/reduction/test_pool.py fills it)."""
    folder = Path(os.environ["BEAMTIME_TEST_HOME"]) / "reduction-data"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, redis_server):
    """A real Celery worker process on the test database and the test Redis.

    Tests that use it must also use ``transactional_db`` so that what they write is
    committed where the worker can read it.
    """
    from django.db import connection

    from beamtime.celery import app

    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    env = {
        **os.environ,
        "BEAMTIME_DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "beamtime.settings",
        # The reduction pool's tests: their files, and a step cache the tests' process shares.
        "BEAMTIME_REDUCTION_LOCAL_DATA": str(reduction_data()),
        "BEAMTIME_REDUCTION_CACHE": "redis",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "beamtime", "worker", "--concurrency", "1"], env=env
    )
    try:
        for _ in range(60):
            if app.control.ping(timeout=0.5):
                break
            if proc.poll() is not None:
                pytest.fail(f"the Celery worker exited with code {proc.returncode}")
        else:
            pytest.fail("the Celery worker did not answer a ping within 30 s")
        yield proc
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright."""
    require(Path(CHROMIUM).exists(), "Chromium (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def csp_violations() -> list[str]:
    """What the browser reported as refused by the Content Security Policy in a test."""
    return []


@pytest.fixture
def page(browser, csp_violations):
    """A browser tab; a test whose pages break the Content Security Policy fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            csp_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    context.close()
    assert csp_violations == [], "the pages broke the Content Security Policy"


@pytest.fixture
def configs_dir(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    for name in [
        "describe-cobo.xcfg",
        "describe-mutant.xcfg",
        "prepare-standard.xcfg",
        "configure-beam.xcfg",
    ]:
        (folder / name).write_text("<Setup/>")
    return folder


@pytest.fixture
def ecc_sim(configs_dir, tmp_path):
    """Start simulated ECC servers on loopback: ecc_sim(delay=…, …) → (simulator, url)."""
    running = []

    def start(**options):
        simulator = EccSimulator(configs_dir, staging=tmp_path / "staging", seed=1, **options)
        server = make_server(simulator)
        thread = threading.Thread(target=run, args=(simulator, server), daemon=True)
        thread.start()
        running.append((simulator, thread))
        host, port = server.server_address[:2]
        return simulator, f"http://{host}:{port}/"

    yield start
    for simulator, thread in running:
        simulator.stopped.set()
        thread.join(30)
