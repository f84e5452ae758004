import json
import os
import time

import pytest

from beamtime import worker_heartbeat
from beamtime.core import health


@pytest.fixture(autouse=True)
def fresh_reports(settings):
    settings.HEALTH_CACHE_SECONDS = 0
    health._cached = None
    yield
    health._cached = None


@pytest.mark.django_db(transaction=True)
def test_it_reports_all_green_with_redis_and_a_worker(client, celery_worker):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["ok"] is True and body["status"] == "ok"
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert any(name.startswith("beamtime@") for name in body["workers"]["workers"])
    # `beamtime worker` consumes every queue: each pool has it (from its heartbeat in Redis)
    assert body["pools"]["ok"] is True
    for pool in ("daq", "fits", "reduction"):
        assert any(name.startswith("beamtime@") for name in body["pools"]["pools"][pool])


@pytest.mark.django_db(transaction=True)
def test_a_fresh_answer_takes_less_than_200_ms(client, celery_worker):
    client.get("/healthz")  # connections made once
    start = time.perf_counter()
    assert client.get("/healthz").json()["status"] == "ok"  # computed again (cache off)
    assert time.perf_counter() - start < 0.2


@pytest.mark.django_db
def test_it_names_a_pool_without_a_live_worker(client, settings, redis_server):
    # An empty Redis database of the same server: only the worker published below is alive.
    settings.REDIS_URL = redis_server + ("&" if "?" in redis_server else "?") + "db=9"
    redis = worker_heartbeat.connect()
    redis.flushdb()
    try:
        worker_heartbeat.publish(redis, "probe@here", ["daq", "reduction"])
        response = client.get("/healthz")
        body = response.json()
        assert response.status_code == 503 and body["status"] == "degraded"
        assert body["pools"] == {
            "ok": False,
            "pools": {"daq": ["probe@here"], "fits": [], "reduction": ["probe@here"]},
            "error": "no live worker in the pool: fits, reduction (queue default)",
        }
        assert 0 < redis.ttl(worker_heartbeat.PREFIX + "probe@here") <= worker_heartbeat.TTL
    finally:
        redis.flushdb()


@pytest.mark.django_db(transaction=True)
def test_it_answers_fast_and_caches_its_answer(client, celery_worker, settings):
    client.get("/healthz")  # a first answer, with the worker found
    start = time.perf_counter()
    assert client.get("/healthz").status_code == 200
    assert time.perf_counter() - start < 0.5  # the ping returns at the first reply

    settings.HEALTH_CACHE_SECONDS = 60
    client.get("/healthz")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # would be red if checked again
    start = time.perf_counter()
    assert client.get("/healthz").json()["ok"] is True
    assert time.perf_counter() - start < 0.05


@pytest.mark.django_db
def test_it_reports_an_unreachable_redis_with_503(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["ok"] is False and body["status"] == "degraded"
    assert body["redis"]["ok"] is False and "127.0.0.1:1" in body["redis"]["error"]
    assert body["workers"]["ok"] is False and body["pools"]["ok"] is False
    assert body["database"]["ok"] is True


@pytest.mark.django_db
def test_it_says_degraded_while_serve_restarts_a_process(client, settings, tmp_path):
    settings.SERVE_STATUS_FILE = tmp_path / "serve-status.json"
    settings.SERVE_STATUS_FILE.write_text(
        json.dumps(
            {
                "pid": os.getpid(),  # a live supervisor
                "children": {
                    "redis": {"state": "running", "pid": 1, "restarts": 0},
                    "celery beat": {"state": "restarting", "pid": 2, "restarts": 3},
                },
            }
        )
    )
    body = client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["processes"] == {
        "ok": False,
        "restarts": {"redis": 0, "celery beat": 3},
        "error": "restarting: celery beat",
    }


@pytest.mark.django_db
def test_it_ignores_the_status_of_a_serve_that_is_gone(client, settings, tmp_path):
    settings.SERVE_STATUS_FILE = tmp_path / "serve-status.json"
    settings.SERVE_STATUS_FILE.write_text(
        json.dumps({"pid": 2**22 + 1, "children": {"redis": {"state": "restarting"}}})
    )
    assert "processes" not in client.get("/healthz").json()


@pytest.mark.django_db
def test_it_needs_no_login(client):
    assert client.get("/healthz").status_code in (200, 503)
