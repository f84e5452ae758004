"""Beamtime on several machines: a web host and a compute host sharing one PostgreSQL and one
external Redis (Debian's redis-server), each with a home of its own, as README's *Several
machines* section sets them up."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
import requests

from tests.conftest import SHARED, free_port, require
from tests.fitting.test_layers import session_model
from tests.reduction.conftest import refl_template
from tests.test_serve import Server, beamtime_env, run

pytestmark = pytest.mark.slow

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
POSTGRESQL_URL = os.environ.get("BEAMTIME_TEST_POSTGRESQL_URL", "")
DOUBLE_LAYER = SHARED / "data" / "reflectivity" / "double_layer.txt"


# load → normalize (monitor) → join, on a specular scan with two cross-sections
REDUCTION = refl_template(
    ("load", {"filelist": [{"source": "local", "path": "mli0115.nxs.pbr", "mtime": 0}]}),
    ("normalize", {"base": "monitor"}),
    ("join", {}),
    wires=[(0, 1, "data"), (1, 2, "data")],
)


@pytest.fixture
def external_redis(tmp_path):
    require(Path(REDIS_SERVER).exists(), "Debian's redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
        + ["--appendonly", "yes", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def shared_postgresql():
    """A database of its own on the PostgreSQL server CI runs (BEAMTIME_TEST_POSTGRESQL_URL)."""
    require(bool(POSTGRESQL_URL), "a PostgreSQL server (BEAMTIME_TEST_POSTGRESQL_URL)")
    name = f"beamtime_machines_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRESQL_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRESQL_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRESQL_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def homes():
    # Short paths: nothing here needs a unix socket, but logs and keys live inside.
    with tempfile.TemporaryDirectory(prefix="bt-") as path:
        yield Path(path) / "web", Path(path) / "compute"


def wait_for_pools(web: Server, pools: list[str]) -> dict:
    """/healthz once a live worker serves each of ``pools`` (whatever the other pools)."""
    deadline = time.monotonic() + 120
    body = None
    while time.monotonic() < deadline:
        assert web.proc.poll() is None, f"serve exited early:\n{web.output()}"
        try:
            body = requests.get(web.url + "healthz", timeout=5).json()
            if all(body["pools"]["pools"].get(pool) for pool in pools):
                return body
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    pytest.fail(f"no worker in {pools} within 120 s: {body}\n{web.output()}")


def test_a_compute_host_runs_the_web_hosts_fits_and_reductions(
    homes, external_redis, shared_postgresql
):
    web_home, compute_home = homes
    shared = {
        "BEAMTIME_DATABASE_URL": shared_postgresql,
        "BEAMTIME_REDIS_URL": external_redis,
        "BEAMTIME_SECRET_KEY": "the-same-secret-on-every-host-" + uuid.uuid4().hex,
        "BEAMTIME_REDUCTION_CACHE": "redis",
        # the same raw files on both hosts (a shared mount, at a site)
        "BEAMTIME_REDUCTION_LOCAL_DATA": str(SHARED / "data" / "ncnr-pbr"),
    }
    compute_env = beamtime_env(compute_home, **shared)
    migrated = run(["manage", "migrate", "--no-input"], compute_env, timeout=300)
    assert migrated.returncode == 0, migrated.stderr

    compute_log = compute_home.parent / "compute-worker.log"
    with compute_log.open("w") as out:
        compute = subprocess.Popen(
            [sys.executable, "-m", "beamtime", "worker", "--queues", "fits,reduction"],
            env=compute_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    web = Server(web_home, "--web-only", env=shared)
    try:
        health = wait_for_pools(web, ["fits", "reduction"])
        # The web host sees the compute host's worker; run control has no worker in this
        # set-up, and /healthz says so rather than "ok".
        assert health["database"]["vendor"] == "postgresql"
        assert health["status"] == "degraded" and health["pools"]["pools"]["daq"] == []
        assert "no live worker in the pool: daq" in health["pools"]["error"]
        assert not (web_home / "redis").exists()  # no Redis of its own with BEAMTIME_REDIS_URL
        key = run(["manage", "add_api_user", "-u", "night-shift"], beamtime_env(web_home, **shared))
        assert key.returncode == 0, key.stderr
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {key.stdout.strip()}"

        created = api.post(
            web.url + "api/fitting/datasets",
            files={"file": ("double_layer.txt", DOUBLE_LAYER.read_bytes())},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        submitted = api.post(
            web.url + "api/fitting/fits",
            json={"dataset": created.json()["id"], "model": session_model(), "engine": "lm"},
            timeout=30,
        )
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()
        deadline = time.monotonic() + 180
        while job["state"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.5)
            job = api.get(web.url + f"api/fitting/fits/{job['id']}", timeout=30).json()
        assert job["state"] == "done", job
        # The manual's solution, found on the compute host: the web host runs no worker.
        assert job["chisq"] == pytest.approx(0.862, abs=0.01)
        assert "beamtime.fitting.tasks" in compute_log.read_text()

        # A reduction: computed on the compute host, its result read by the web host from
        # the shared cache.
        calculation = {"template": REDUCTION, "config": {}, "node": 2}
        answer = api.post(web.url + "api/reduction/calculate", json=calculation, timeout=30)
        if answer.status_code == 202:  # not done within the request's moment of waiting
            job = answer.json()
            deadline = time.monotonic() + 120
            while job["state"] in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.2)
                job = api.get(web.url + job["url"].lstrip("/"), timeout=30).json()
            assert job["state"] == "done", job
            answer = api.post(web.url + "api/reduction/calculate", json=calculation, timeout=30)
        assert answer.status_code == 200, answer.text
        curves = answer.json()["values"]
        assert [c["ylabel"] for c in curves] == ["counts per monitor count"] * 2
        assert "beamtime.reduction.tasks" in compute_log.read_text()
        assert not list((web_home / "logs").glob("*worker*"))
        assert not (web_home / "reduction-cache").exists()  # nothing cached on the web host
        # The compute host kept the steps (load, normalize, join) in the shared Redis, where
        # every host reads them, and none on its own disk.
        cached = redis.Redis.from_url(external_redis)
        deadline = time.monotonic() + 30
        while cached.zcard("reduction:lru") < 3 and time.monotonic() < deadline:
            time.sleep(0.2)  # the job hands its plot back before it writes its steps
        assert cached.zcard("reduction:lru") >= 3
        assert not (compute_home / "reduction-cache").exists()
    finally:
        web.close()
        compute.terminate()
        compute.wait(30)
